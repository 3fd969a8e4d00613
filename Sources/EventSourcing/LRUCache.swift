/// A bounded map that forgets its least recently used entry when full. O(1) per operation.
///
/// Entries live in one array linked as a doubly linked list by index, most recently used at the
/// head; a full cache reuses the tail's slot, so a steady state allocates nothing.
struct LRUCache<Key: Hashable, Value> {
    private struct Node {
        var key: Key
        var value: Value
        var previous: Int
        var next: Int
    }

    private var indexes: [Key: Int] = [:]
    private var nodes: [Node] = []
    private var head = -1
    private var tail = -1
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        indexes.reserveCapacity(min(self.capacity, 4_096))
    }

    var count: Int { nodes.count }

    /// The value for `key`, which becomes the most recently used.
    mutating func value(forKey key: Key) -> Value? {
        guard let index = indexes[key] else { return nil }
        moveToFront(index)
        return nodes[index].value
    }

    /// Stores `value` for `key` as the most recently used, evicting the least recently used entry
    /// when the cache is full.
    mutating func setValue(_ value: Value, forKey key: Key) {
        if let index = indexes[key] {
            nodes[index].value = value
            moveToFront(index)
            return
        }
        if nodes.count < capacity {
            nodes.append(Node(key: key, value: value, previous: -1, next: -1))
            let index = nodes.count - 1
            indexes[key] = index
            linkAtFront(index)
            return
        }
        let index = tail
        unlink(index)
        indexes[nodes[index].key] = nil
        nodes[index] = Node(key: key, value: value, previous: -1, next: -1)
        indexes[key] = index
        linkAtFront(index)
    }

    /// Stores `value` for `key` as ``setValue(_:forKey:)`` does, unless the entry already held is
    /// to be kept (`keep` answers true for it); the held value is judged in place, not copied out.
    mutating func setValue(_ value: Value, forKey key: Key, unlessKeeping keep: (Value) -> Bool) {
        if let index = indexes[key], keep(nodes[index].value) { return }
        setValue(value, forKey: key)
    }

    /// Forgets everything.
    mutating func removeAll() {
        indexes.removeAll()
        nodes.removeAll()
        head = -1
        tail = -1
    }

    private mutating func moveToFront(_ index: Int) {
        guard index != head else { return }
        unlink(index)
        linkAtFront(index)
    }

    private mutating func unlink(_ index: Int) {
        let previous = nodes[index].previous
        let next = nodes[index].next
        if previous >= 0 { nodes[previous].next = next } else { head = next }
        if next >= 0 { nodes[next].previous = previous } else { tail = previous }
        nodes[index].previous = -1
        nodes[index].next = -1
    }

    private mutating func linkAtFront(_ index: Int) {
        nodes[index].next = head
        nodes[index].previous = -1
        if head >= 0 { nodes[head].previous = index }
        head = index
        if tail < 0 { tail = index }
    }
}
