import EventStore

/// The row id and current version of recently written streams, kept by the writer so an append to
/// a known stream skips a query.
///
/// Only the single writer reads and updates it, inside its transactions, after each append's writes
/// succeeded; a transaction that fails to commit empties it, since it may hold versions that were
/// rolled back. The schema's trigger still checks every version against the table, so a stale entry
/// could only make an append fail, never write a hole. Bounded: when full, it starts over.
struct StreamCache {
    struct Entry {
        var id: Int64
        var version: Int64
    }

    private var entries: [StreamName: Entry] = [:]
    private let capacity: Int
    /// The position of the log's last event as of the writer's last commit; nil when unknown (at
    /// first, and after a transaction failed). Saves each transaction a query for it.
    var logHead: Int64?

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    subscript(stream: StreamName) -> Entry? {
        get { entries[stream] }
        set {
            if newValue != nil && entries.count >= capacity && entries[stream] == nil {
                entries.removeAll(keepingCapacity: true)
            }
            entries[stream] = newValue
        }
    }

    mutating func removeAll() {
        entries.removeAll()
        logHead = nil
    }
}
