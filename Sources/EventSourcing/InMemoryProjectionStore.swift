import Foundation
import Synchronization

/// Read models and checkpoints in memory, for tests and tools; nothing survives the process.
///
/// A commit runs its body against an overlay of the collections and applies the overlay only when
/// the body returns, together with the new checkpoint, so it is as atomic as a database transaction.
public final class InMemoryProjectionStore: ProjectionStore {
    private struct State: Sendable {
        var collections: [String: [String: Data]] = [:]
        var checkpoints: [String: Int64] = [:]
    }

    private let state = Mutex(State())

    /// Makes an empty store.
    public init() {}

    public func checkpoint(of projection: String) async throws -> Int64 {
        state.withLock { $0.checkpoints[projection] ?? 0 }
    }

    public func commit(
        _ projection: String,
        from expected: Int64,
        to position: Int64,
        _ body: @escaping @Sendable (any ReadModelWriter) throws -> Void
    ) async throws {
        try state.withLock { state in
            let found = state.checkpoints[projection] ?? 0
            guard found == expected else {
                throw CheckpointMismatch(projection: projection, expected: expected, found: found)
            }
            try Self.apply(body, to: &state)
            state.checkpoints[projection] = position
        }
    }

    public func write(_ body: @escaping @Sendable (any ReadModelWriter) throws -> Void) async throws {
        try state.withLock { state in try Self.apply(body, to: &state) }
    }

    /// Runs `body` against an overlay and applies its changes only when it returns.
    private static func apply(_ body: (any ReadModelWriter) throws -> Void, to state: inout State) throws {
        let writer = OverlayWriter(base: state.collections)
        try body(writer)
        for (collection, changes) in writer.changes {
            for (key, value) in changes {
                state.collections[collection, default: [:]][key] = value
            }
        }
    }

    public func reset(_ projection: String, collections: [String]) async throws {
        state.withLock { state in
            for collection in collections { state.collections[collection] = nil }
            state.checkpoints[projection] = nil
        }
    }

    public func read<Result: Sendable>(
        _ body: @escaping @Sendable (any ReadModelReader) throws -> Result
    ) async throws -> Result {
        let collections = state.withLock { $0.collections }
        return try body(OverlayWriter(base: collections))
    }
}

/// The collections as they stand plus the changes made so far in one commit.
private final class OverlayWriter: ReadModelWriter {
    let base: [String: [String: Data]]
    /// Per collection and key: the new value, or `nil` for a removal.
    var changes: [String: [String: Data?]] = [:]

    init(base: [String: [String: Data]]) {
        self.base = base
    }

    func value(in collection: String, key: String) throws -> Data? {
        if let change = changes[collection]?[key] { return change }
        return base[collection]?[key]
    }

    func entries(in collection: String, prefix: String, after: String?, limit: Int) throws -> [ReadModelEntry] {
        var merged = base[collection] ?? [:]
        for (key, value) in changes[collection] ?? [:] { merged[key] = value }
        let prefixBytes = Array(prefix.utf8)
        let keys = merged.keys
            .filter { key in
                key.utf8.starts(with: prefixBytes) && after.map { ReadModelKeys.precedes($0, key) } ?? true
            }
            .sorted(by: ReadModelKeys.precedes)
        return keys.prefix(max(limit, 0)).compactMap { key in merged[key].map { ReadModelEntry(key: key, value: $0) } }
    }

    func put(_ value: Data, in collection: String, key: String) throws {
        changes[collection, default: [:]][key] = .some(value)
    }

    func remove(from collection: String, key: String) throws {
        changes[collection, default: [:]][key] = .some(nil)
    }
}
