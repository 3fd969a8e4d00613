import EventSourcing
import EventStore
import EventStorePostgres
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Read models and projection checkpoints in the PostgreSQL event store's schema, so every server
/// sharing the database reads the same read models.
///
/// A projection's rows and its checkpoint commit in one transaction, after the checkpoint row is
/// locked and checked, as on SQLite. The read-model protocols are synchronous (a projection is a
/// plain function of an event and the rows it reads) while PostgreSQL is reached asynchronously, so
/// a body is *replayed*: it runs against the rows fetched so far, and a row or range it asks for
/// that has not been fetched yet is noted and reads as absent (empty) for the rest of that run,
/// which goes on to find what else it needs; then everything it missed is fetched (the points in
/// one query, each range in one) and the body runs again from the start. Only a run that missed
/// nothing counts: its result or its error is the call's, its writes are applied; a run that
/// missed a row is only a probe, whatever it returned, threw or wrote. So a batch whose events read
/// a hundred different rows takes two runs, not a hundred. Bodies must therefore be deterministic,
/// touch nothing but the reader or writer they are given, and cope with rows that are absent,
/// which projections and query handlers do. All the fetches of one call run in one transaction
/// (REPEATABLE READ for reads), so a body sees one consistent state.
///
/// Writes outside projections (``write(_:)``: a ledger's balance, a value recorded once) read and
/// then write rows that another server may be writing too. Each holds a transaction lock of the
/// schema's (`pg_advisory_xact_lock`, keyed apart from the leadership's locks) before its first
/// fetch, so they decide one at a time, across servers, on what the one before committed; a write
/// that waits 5 s for it fails (`lock_timeout`) rather than hold a pooled connection. (A
/// projection's commit is serialised by its checkpoint's row lock, and one server at a time runs
/// it.)
public final class PostgresProjectionStore: ProjectionStore {
    private let store: PostgresEventStore
    /// The most runs of one body before it is given up (a body that asks for new rows on every run).
    static let maxRuns = 64

    /// Keeps read models in `store`'s schema.
    public init(store: PostgresEventStore) {
        self.store = store
    }

    public func checkpoint(of projection: String) async throws -> Int64 {
        try await store.withConnection("reading the checkpoint of projection \(projection)") { connection, logger in
            try await Self.checkpoint(projection, connection, logger, lock: false)
        }
    }

    public func commit(
        _ projection: String,
        from expected: Int64,
        to position: Int64,
        _ body: @escaping @Sendable (any ReadModelWriter) throws -> Void
    ) async throws {
        try await store.withConnection("applying events to projection \(projection)") { connection, logger in
            try await Self.transaction(connection, logger, readOnly: false) {
                // The row is locked until commit: a second runner of the projection waits here,
                // then finds the checkpoint moved.
                try await connection.execute(
                    """
                    INSERT INTO projection_checkpoints (projection, position) VALUES (\(projection), 0) \
                    ON CONFLICT (projection) DO NOTHING
                    """, logger: logger)
                let found = try await Self.checkpoint(projection, connection, logger, lock: true)
                guard found == expected else {
                    throw CallerError(CheckpointMismatch(projection: projection, expected: expected, found: found))
                }
                let models = try await Self.replay(connection, logger) { try body($0) }.models
                try await Self.apply(models, connection, logger)
                try await connection.execute(
                    "UPDATE projection_checkpoints SET position = \(position) WHERE projection = \(projection)",
                    logger: logger)
            }
        }
    }

    public func write(_ body: @escaping @Sendable (any ReadModelWriter) throws -> Void) async throws {
        let schema = store.configuration.schema
        try await store.withConnection("writing read-model entries") { connection, logger in
            try await Self.transaction(connection, logger, readOnly: false) {
                try await connection.execute("SET LOCAL lock_timeout = '5s'", logger: logger)
                try await connection.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('tradecore read-model writes ' || \(schema), 0))",
                    logger: logger)
                let models = try await Self.replay(connection, logger) { try body($0) }.models
                try await Self.apply(models, connection, logger)
            }
        }
    }

    /// Takes the checkpoint's row lock first, as ``commit(_:from:to:_:)`` does, and only then
    /// empties the collections. A batch committing meanwhile either commits before the reset (and
    /// the delete, whose snapshot is taken after the lock, removes its rows too) or waits and then
    /// finds the checkpoint at 0. Deleting first left the rows that such a batch inserted, which
    /// the delete's snapshot did not see: the rebuild then applied their events a second time.
    /// The checkpoint row stays, at 0, so that a batch waiting on it finds where it stands.
    public func reset(_ projection: String, collections: [String]) async throws {
        try await store.withConnection("resetting projection \(projection)") { connection, logger in
            try await Self.transaction(connection, logger, readOnly: false) {
                try await connection.execute(
                    """
                    INSERT INTO projection_checkpoints (projection, position) VALUES (\(projection), 0) \
                    ON CONFLICT (projection) DO UPDATE SET position = 0
                    """, logger: logger)
                try await connection.execute(
                    "DELETE FROM read_models WHERE collection = ANY(\(collections))", logger: logger)
            }
        }
    }

    public func read<Result: Sendable>(
        _ body: @escaping @Sendable (any ReadModelReader) throws -> Result
    ) async throws -> Result {
        try await store.withConnection("reading read models") { connection, logger in
            try await Self.transaction(connection, logger, readOnly: true) {
                try await Self.replay(connection, logger) { try body($0) }.result
            }
        }
    }

    // MARK: - Transactions, replays, fetches

    /// Runs `body` in a transaction on `connection`: committed when it returns, rolled back when it
    /// throws or is cancelled.
    ///
    /// The connection goes back to the pool afterwards, so it must never go back inside a
    /// transaction: the next user's statements would run in it, holding its locks, and a lone
    /// statement (an append) would seem done but never commit. So the rollback runs in a task of its
    /// own, unaffected by the caller's cancellation, and a connection that does not confirm it is
    /// closed (the pool then drops it, and the server rolls back).
    private static func transaction<T>(
        _ connection: PostgresConnection, _ logger: Logger, readOnly: Bool, _ body: () async throws -> T
    ) async throws -> T {
        do {
            try await connection.execute(
                readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", logger: logger)
            let value = try await body()
            try await connection.execute("COMMIT", logger: logger)
            return value
        } catch {
            await abandon(connection, logger)
            throw error
        }
    }

    /// Rolls back whatever `connection` has open, or closes it.
    private static func abandon(_ connection: PostgresConnection, _ logger: Logger) async {
        await Task.detached {
            do {
                try await Deadline.run(.seconds(2)) {
                    try await connection.execute("ROLLBACK", logger: logger)
                } timedOut: {
                    EventStoreError(code: .storageFailure, message: "the rollback got no answer")
                }
            } catch {
                logger.warning(
                    "closing a connection whose transaction could not be rolled back",
                    metadata: ["eventstore.error": "\(error)"])
                _ = try? await Deadline.run(.seconds(2)) {
                    try await connection.close()
                } timedOut: {
                    error
                }
            }
        }.value
    }

    private static func checkpoint(
        _ projection: String, _ connection: PostgresConnection, _ logger: Logger, lock: Bool
    ) async throws -> Int64 {
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: "SELECT position FROM projection_checkpoints WHERE projection = $1"
                    + (lock ? " FOR UPDATE" : ""),
                binds: try binds(projection)),
            logger: logger)
        var position: Int64 = 0
        for try await value in rows.decode(Int64.self) { position = value }
        return position
    }

    /// Runs `body` until a run misses no row; see the type's documentation.
    private static func replay<Result>(
        _ connection: PostgresConnection, _ logger: Logger, _ body: (FetchedReadModels) throws -> Result
    ) async throws -> (result: Result, models: FetchedReadModels) {
        let models = FetchedReadModels()
        for _ in 0..<maxRuns {
            models.startRun()
            let outcome = Swift.Result { try body(models) }
            guard models.hasMisses else {
                do {
                    return (try outcome.get(), models)
                } catch {
                    throw CallerError(error)
                }
            }
            try await fetch(models, connection, logger)
        }
        throw EventStoreError(
            code: .storageFailure,
            message: "a read-model body asked for new rows on each of \(maxRuns) runs; giving up")
    }

    /// Fetches what the last run missed: the points in one query, each range in one.
    private static func fetch(
        _ models: FetchedReadModels, _ connection: PostgresConnection, _ logger: Logger
    )
        async throws
    {
        let points = models.missingPoints
        if !points.isEmpty {
            var found: [FetchedReadModels.Point: Data] = [:]
            let rows = try await connection.query(
                """
                SELECT r.collection, r.key, r.value FROM read_models r \
                JOIN unnest(\(points.map(\.collection)), \(points.map { ByteBuffer(bytes: Array($0.key.utf8)) })) \
                AS wanted (collection, key) ON r.collection = wanted.collection AND r.key = wanted.key
                """,
                logger: logger)
            for try await (collection, key, value) in rows.decode((String, ByteBuffer, ByteBuffer).self) {
                found[FetchedReadModels.Point(collection: collection, key: String(buffer: key))] = Data(
                    value.readableBytesView)
            }
            for point in points { models.fetched(point, value: found[point]) }
        }
        for (range, limit) in models.missingRanges {
            let prefix = Array(range.prefix.utf8)
            var conditions = ["collection = $1", "key >= $2"]
            var binds = PostgresBindings()
            binds.append(range.collection)
            binds.append(ByteBuffer(bytes: prefix))
            if let upper = ReadModelKeys.upperBound(ofPrefix: prefix) {
                binds.append(ByteBuffer(bytes: upper))
                conditions.append("key < $\(binds.count)")
            }
            if let after = range.after {
                binds.append(ByteBuffer(bytes: Array(after.utf8)))
                conditions.append("key > $\(binds.count)")
            }
            var sql = "SELECT key, value FROM read_models WHERE \(conditions.joined(separator: " AND ")) ORDER BY key"
            if limit < Int(Int64.max) {
                binds.append(Int64(limit))
                sql += " LIMIT $\(binds.count)"
            }
            var entries: [ReadModelEntry] = []
            for try await (key, value) in try await connection.query(
                PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger
            )
            .decode((ByteBuffer, ByteBuffer).self) {
                entries.append(ReadModelEntry(key: String(buffer: key), value: Data(value.readableBytesView)))
            }
            models.fetched(range, limit: limit, entries: entries)
        }
    }

    /// Writes the changes of the run that counted.
    private static func apply(
        _ models: FetchedReadModels, _ connection: PostgresConnection, _ logger: Logger
    )
        async throws
    {
        var putCollections: [String] = []
        var putKeys: [ByteBuffer] = []
        var putValues: [ByteBuffer] = []
        var removedCollections: [String] = []
        var removedKeys: [ByteBuffer] = []
        for (collection, changes) in models.changes {
            for (key, value) in changes {
                if let value {
                    putCollections.append(collection)
                    putKeys.append(ByteBuffer(bytes: Array(key.utf8)))
                    putValues.append(ByteBuffer(bytes: value))
                } else {
                    removedCollections.append(collection)
                    removedKeys.append(ByteBuffer(bytes: Array(key.utf8)))
                }
            }
        }
        if !removedKeys.isEmpty {
            try await connection.execute(
                """
                DELETE FROM read_models r USING unnest(\(removedCollections), \(removedKeys)) AS gone (collection, key) \
                WHERE r.collection = gone.collection AND r.key = gone.key
                """,
                logger: logger)
        }
        if !putKeys.isEmpty {
            try await connection.execute(
                """
                INSERT INTO read_models (collection, key, value) \
                SELECT * FROM unnest(\(putCollections), \(putKeys), \(putValues)) \
                ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value
                """,
                logger: logger)
        }
    }

    private static func binds(_ values: any PostgresEncodable...) throws -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { try binds.append(value, context: .default) }
        return binds
    }
}

/// The rows fetched so far in one call, the changes of the body's current run, and what that run
/// asked for that has not been fetched.
final class FetchedReadModels: ReadModelWriter {
    struct Point: Hashable {
        let collection: String
        let key: String
    }

    struct Range: Hashable {
        let collection: String
        let prefix: String
        let after: String?
    }

    /// Fetched points: the value, or `nil` for a row that does not exist.
    private var points: [Point: Data?] = [:]
    /// Fetched ranges: how many rows were asked for, and the rows.
    private var ranges: [Range: (limit: Int, entries: [ReadModelEntry])] = [:]
    /// Per collection and key: the new value, or `nil` for a removal.
    private(set) var changes: [String: [String: Data?]] = [:]
    private(set) var missingPoints: Set<Point> = []
    private(set) var missingRanges: [Range: Int] = [:]

    var hasMisses: Bool { !missingPoints.isEmpty || !missingRanges.isEmpty }

    func startRun() {
        changes = [:]
        missingPoints = []
        missingRanges = [:]
    }

    func fetched(_ point: Point, value: Data?) { points[point] = .some(value) }

    func fetched(_ range: Range, limit: Int, entries: [ReadModelEntry]) { ranges[range] = (limit, entries) }

    /// A row not fetched yet: noted, and absent for the rest of the run (which only probes now).
    func value(in collection: String, key: String) throws -> Data? {
        if let change = changes[collection]?[key] { return change }
        let point = Point(collection: collection, key: key)
        if let fetched = points[point] { return fetched }
        missingPoints.insert(point)
        return nil
    }

    func entries(in collection: String, prefix: String, after: String?, limit: Int) throws -> [ReadModelEntry] {
        let limit = max(limit, 0)
        let prefixBytes = Array(prefix.utf8)
        func inRange(_ key: String) -> Bool {
            key.utf8.starts(with: prefixBytes) && after.map { ReadModelKeys.precedes($0, key) } ?? true
        }
        let changed = (changes[collection] ?? [:]).filter { inRange($0.key) }
        // Rows this run removed may be among those fetched: fetch that many more to still have
        // `limit` left.
        let removed = changed.values.filter { $0 == nil }.count
        let needed = limit > Int.max - removed ? Int.max : limit + removed
        let range = Range(collection: collection, prefix: prefix, after: after)
        guard let fetched = ranges[range], fetched.entries.count < fetched.limit || fetched.limit >= needed else {
            missingRanges[range] = max(missingRanges[range] ?? 0, needed, ranges[range]?.limit ?? 0)
            return []
        }
        var merged: [String: Data] = [:]
        for entry in fetched.entries { merged[entry.key] = entry.value }
        for (key, value) in changed { merged[key] = value }
        return merged.keys.sorted(by: ReadModelKeys.precedes).prefix(limit).compactMap { key in
            merged[key].map { ReadModelEntry(key: key, value: $0) }
        }
    }

    func put(_ value: Data, in collection: String, key: String) throws {
        changes[collection, default: [:]][key] = .some(value)
    }

    func remove(from collection: String, key: String) throws {
        changes[collection, default: [:]][key] = .some(nil)
    }
}
