import EventSourcing
import EventStore
import EventStoreSQLite
import Foundation
import GRDB

/// Read models and projection checkpoints in the SQLite event store's own database.
///
/// Each commit is one SQLite transaction on the store's writer connection: the checkpoint check,
/// the projection's rows (table `read_models`, keys as UTF-8 blobs so they order by bytes) and the
/// new checkpoint (table `projection_checkpoints`) commit together, or not at all. That commit is
/// not synced on its own: the store's next synced commit makes it durable (see
/// ``ProjectionStore/commit(_:from:to:_:)``), so a projection costs no fsync per batch. The
/// tables belong to the store's schema (its migration v2), so the store's own checks on open
/// cover them. Writes share SQLite's one writer with the store's appends, between
/// the writer thread's batches; reads run on the store's reader connections.
public final class SQLiteProjectionStore: ProjectionStore {
    private let store: SQLiteEventStore

    /// Keeps read models in `store`'s database.
    public init(store: SQLiteEventStore) {
        self.store = store
    }

    public func checkpoint(of projection: String) async throws -> Int64 {
        try await store.read("reading the checkpoint of projection \(projection)") { db in
            try Self.checkpoint(db, projection)
        }
    }

    public func commit(
        _ projection: String,
        from expected: Int64,
        to position: Int64,
        _ body: @escaping @Sendable (any ReadModelWriter) throws -> Void
    ) async throws {
        try await store.write("applying events to projection \(projection)", synced: false) { db in
            let found = try Self.checkpoint(db, projection)
            guard found == expected else {
                throw PassThroughError(CheckpointMismatch(projection: projection, expected: expected, found: found))
            }
            try Self.passingErrors { try body(SQLiteReadModels(db)) }
            try db.cachedStatement(
                sql: """
                    INSERT INTO projection_checkpoints (projection, position) VALUES (?, ?) \
                    ON CONFLICT (projection) DO UPDATE SET position = excluded.position
                    """
            ).execute(arguments: [projection, position])
        }
    }

    public func write(_ body: @escaping @Sendable (any ReadModelWriter) throws -> Void) async throws {
        try await store.write("writing read-model entries") { db in
            try Self.passingErrors { try body(SQLiteReadModels(db)) }
        }
    }

    public func reset(_ projection: String, collections: [String]) async throws {
        try await store.write("resetting projection \(projection)") { db in
            for collection in collections {
                try db.cachedStatement(sql: "DELETE FROM read_models WHERE collection = ?").execute(arguments: [
                    collection
                ])
            }
            try db.cachedStatement(sql: "DELETE FROM projection_checkpoints WHERE projection = ?")
                .execute(arguments: [projection])
        }
    }

    public func read<Result: Sendable>(
        _ body: @escaping @Sendable (any ReadModelReader) throws -> Result
    ) async throws -> Result {
        try await store.read("reading read models") { db in try Self.passingErrors { try body(SQLiteReadModels(db)) } }
    }

    /// Runs the caller's code so that what it throws reaches the caller as it is, while database
    /// errors (also those of the read-model rows it touched) still become ``EventStoreError``s.
    private static func passingErrors<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw error
        } catch {
            throw PassThroughError(error)
        }
    }

    private static func checkpoint(_ db: Database, _ projection: String) throws -> Int64 {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT position FROM projection_checkpoints WHERE projection = ?"),
            arguments: [projection]
        ) ?? 0
    }
}

/// Read-model rows through one GRDB connection, inside the transaction it was made for.
private final class SQLiteReadModels: ReadModelWriter {
    private let db: Database
    // The statements of the point reads and writes, each looked up once it is first used. A
    // projection reads and puts rows by the hundred per transaction: bound through SQLite's C
    // API, GRDB's arguments (existentials, a `Data` copy of the key) and its per-statement
    // bookkeeping cost more than SQLite's own work here.
    private var lookup: RawStatement?
    private var upsert: RawStatement?
    private var delete: RawStatement?

    init(_ db: Database) {
        self.db = db
    }

    func value(in collection: String, key: String) throws -> Data? {
        let lookup = try statement(
            \.lookup, "SELECT value FROM read_models WHERE collection = ? AND key = ?", collection, key)
        defer { lookup.reset() }
        return try lookup.step() ? lookup.data(at: 0) : nil
    }

    /// The statement in `slot` (prepared from `sql` on first use), started with its first two
    /// parameters bound to a row's collection and key.
    private func statement(
        _ slot: ReferenceWritableKeyPath<SQLiteReadModels, RawStatement?>, _ sql: String, _ collection: String,
        _ key: String
    ) throws -> RawStatement {
        let statement = try self[keyPath: slot] ?? RawStatement(db, sql: sql)
        self[keyPath: slot] = statement
        statement.start()
        statement.bind(collection, at: 1)
        statement.bind(utf8Of: key, at: 2)
        return statement
    }

    func entries(in collection: String, prefix: String, after: String?, limit: Int) throws -> [ReadModelEntry] {
        let prefixBytes = Array(prefix.utf8)
        var conditions = ["collection = ?", "key >= ?"]
        var arguments: [any DatabaseValueConvertible] = [collection, Data(prefixBytes)]
        if let upper = ReadModelKeys.upperBound(ofPrefix: prefixBytes) {
            conditions.append("key < ?")
            arguments.append(Data(upper))
        }
        if let after {
            conditions.append("key > ?")
            arguments.append(Data(after.utf8))
        }
        arguments.append(Int64(clamping: max(limit, 0)))
        let statement = try db.cachedStatement(
            sql:
                "SELECT key, value FROM read_models WHERE \(conditions.joined(separator: " AND ")) ORDER BY key LIMIT ?"
        )
        var entries: [ReadModelEntry] = []
        let rows = try Row.fetchCursor(statement, arguments: StatementArguments(arguments))
        while let row = try rows.next() {
            let key: Data = try row.decode(Data.self, atIndex: 0)
            entries.append(
                ReadModelEntry(
                    key: String(decoding: key, as: UTF8.self), value: try row.decode(Data?.self, atIndex: 1) ?? Data()))
        }
        return entries
    }

    func put(_ value: Data, in collection: String, key: String) throws {
        let upsert = try statement(
            \.upsert,
            """
            INSERT INTO read_models (collection, key, value) VALUES (?, ?, ?) \
            ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value
            """, collection, key)
        defer { upsert.reset() }
        upsert.bind(value, at: 3)
        _ = try upsert.step()
    }

    func remove(from collection: String, key: String) throws {
        let delete = try statement(
            \.delete, "DELETE FROM read_models WHERE collection = ? AND key = ?", collection, key)
        defer { delete.reset() }
        _ = try delete.step()
    }
}
