import Foundation

/// One row of a read model: a key and its encoded value.
public struct ReadModelEntry: Sendable, Hashable {
    /// The key, unique in its collection.
    public let key: String
    /// The encoded value.
    public let value: Data

    /// Makes an entry.
    public init(key: String, value: Data) {
        self.key = key
        self.value = value
    }
}

/// Reads read models: collections of keyed values.
///
/// Keys order by their UTF-8 bytes, on every backend, so a key built as `user/<id>/account/<id>`
/// lists a user's accounts with one prefix scan.
public protocol ReadModelReader {
    /// The value under `key` in `collection`, or `nil`.
    func value(in collection: String, key: String) throws -> Data?

    /// Up to `limit` entries of `collection` whose keys start with `prefix`, in key order, starting
    /// after the key `after` (for paging; `nil` from the first).
    func entries(in collection: String, prefix: String, after: String?, limit: Int) throws -> [ReadModelEntry]
}

/// Writes read models, inside a projection's transaction (see ``ProjectionStore/commit(_:from:to:_:)``).
public protocol ReadModelWriter: ReadModelReader {
    /// Stores `value` under `key` in `collection`, replacing what was there.
    func put(_ value: Data, in collection: String, key: String) throws

    /// Removes `key` from `collection`, if present.
    func remove(from collection: String, key: String) throws
}

/// Where projections keep their read models and checkpoints: on SQLite, in the event store's
/// own database (`EventSourcingSQLite`); in memory for tests.
///
/// A projection's rows and its checkpoint change in one transaction (``commit(_:from:to:_:)``), so
/// after a crash the read model reflects exactly the events up to its checkpoint: a restart
/// resumes after it, neither skipping nor applying anything twice.
public protocol ProjectionStore: Sendable {
    /// The global position up to which `projection` has applied the log; 0 when it has applied nothing.
    func checkpoint(of projection: String) async throws -> Int64

    /// In one transaction: checks that the checkpoint of `projection` is `expected`, runs `body`
    /// (the projection's writes), and sets the checkpoint to `position`. When `body` throws, or
    /// the checkpoint is not `expected` (``CheckpointMismatch``: another runner or a rebuild moved
    /// it), nothing is changed.
    ///
    /// The commit need not be durable when this returns, only atomic and in order with the
    /// store's other commits: what it wrote is derived from the log, so after a power loss that
    /// takes it back, the runner finds the earlier checkpoint with the rows that go with it and
    /// applies the events after it again, as after a crash between two batches. A backend may
    /// therefore leave its sync to the next durable commit.
    func commit(
        _ projection: String,
        from expected: Int64,
        to position: Int64,
        _ body: @escaping @Sendable (any ReadModelWriter) throws -> Void
    ) async throws

    /// In one transaction, durably: writes entries that no projection derives from the log (sealed
    /// secrets, say), moving no checkpoint. Keep them in collections no projection owns, so no
    /// rebuild empties them. Bodies run one at a time, also across servers sharing the store: one
    /// that reads and then writes decides on what the one before it committed.
    func write(_ body: @escaping @Sendable (any ReadModelWriter) throws -> Void) async throws

    /// In one transaction: removes every entry of `collections` and sets the checkpoint of
    /// `projection` back to 0. A ``commit(_:from:to:_:)`` running at the same time either
    /// lands wholly before the reset (its entries removed with the others) or finds the
    /// checkpoint moved.
    func reset(_ projection: String, collections: [String]) async throws

    /// Reads, from a consistent view.
    func read<Result: Sendable>(
        _ body: @escaping @Sendable (any ReadModelReader) throws -> Result
    ) async throws
        -> Result
}

/// A projection's checkpoint was not where its runner expected: a rebuild reset it, or another
/// runner of the same projection moved it. The runner starts again from the stored checkpoint.
public struct CheckpointMismatch: Error, Sendable, Hashable, CustomStringConvertible {
    /// The projection.
    public let projection: String
    /// The checkpoint the runner expected.
    public let expected: Int64
    /// The checkpoint stored.
    public let found: Int64

    /// Makes the error.
    public init(projection: String, expected: Int64, found: Int64) {
        self.projection = projection
        self.expected = expected
        self.found = found
    }

    public var description: String {
        "the checkpoint of projection \(projection) is \(found), not \(expected): it was moved by a rebuild or "
            + "another runner"
    }
}

extension ReadModelReader {
    /// Every entry of `collection` whose key starts with `prefix`, in key order.
    public func entries(in collection: String, prefix: String = "") throws -> [ReadModelEntry] {
        try entries(in: collection, prefix: prefix, after: nil, limit: .max)
    }

    /// The value under `key`, decoded from JSON.
    public func decode<Value: Decodable>(_ type: Value.Type, in collection: String, key: String) throws -> Value? {
        guard let data = try value(in: collection, key: key) else { return nil }
        return try JSONDecoder().decode(type, from: data)
    }
}

extension ReadModelWriter {
    /// Stores `value` as JSON.
    public func put<Value: Encodable>(encoding value: Value, in collection: String, key: String) throws {
        try put(JSONEncoder().encode(value), in: collection, key: key)
    }
}

/// Key ranges by UTF-8 bytes, shared by the backends.
package enum ReadModelKeys {
    /// The smallest byte string greater than every string starting with `prefix`; `nil` when there
    /// is none (an empty prefix, or one of only 0xFF bytes).
    package static func upperBound(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var bytes = prefix
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return nil
    }

    /// Whether `lhs` sorts before `rhs` by UTF-8 bytes.
    package static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}
