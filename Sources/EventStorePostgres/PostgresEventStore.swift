import EventStore
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The event store for several servers: one PostgreSQL database, through postgres-nio.
///
/// The same semantics as the SQLite store (the conformance suite checks both):
/// - Durability: sessions run with `synchronous_commit = on`, so an append is acknowledged only
///   once its transaction's commit is durable on the server.
/// - Group commit: one writer per server gathers the appends that arrive while it is busy into one
///   batch, sent as one call of the schema's `append_batch` function (one round trip, one commit),
///   which decides each append on its own; see ``PostgresSchema``.
/// - Gap-free global order across servers: every batch holds the log's head row locked until it
///   commits (see ``PostgresSchema``).
/// - Live delivery across servers: a server publishes its own commits at once; what other servers
///   commit reaches it through LISTEN/NOTIFY (and a poll, in case a notification is lost), read by
///   position, so every subscriber on every server sees the one log in order.
/// - Trust: a schema that holds tables but is not ours, or was written by a newer version, is
///   refused with an error saying why, and nothing is written to it.
public final class PostgresEventStore: EventStore {
    /// The hub that hands committed events to subscribers.
    public let subscriptions: SubscriptionHub
    /// The store's configuration.
    public let configuration: Configuration

    /// The connection pool in use, and the task running it. Replaced by a new one when the
    /// database comes back after it could not be reached (see ``run(_:_:)``).
    private let pool: Mutex<(client: PostgresClient, task: Task<Void, Never>, generation: Int)>
    /// The connection pool in use.
    var client: PostgresClient { pool.withLock { $0.client } }
    /// The connection pool in use and its generation (see ``markUnreachable(_:generation:)``).
    var currentPool: (client: PostgresClient, generation: Int) { pool.withLock { ($0.client, $0.generation) } }
    let logger: Logger
    /// This store's name in the notifications of its batches (see ``listenForCommits()``).
    let origin = UUIDv7.next().lowercasedText
    /// What the writer reports through swift-metrics.
    let metrics = StoreWriterMetrics()
    /// The pool's own logger: notices and worse only.
    let backgroundLogger: Logger
    let schema: String
    /// The appends waiting for the writer, and whether it is closed.
    let writer = Mutex(WriterState())
    /// Feeds the hub with the log in position order: this server's commits and the others'.
    let follower: LogFollower
    private let isClosed = Atomic<Bool>(false)
    private let background = Mutex<[Task<Void, Never>]>([])
    /// Why the database cannot be reached now, or `nil` when it can (see ``run(_:_:)``).
    private let reachability = Mutex<String?>(nil)

    struct PendingAppend: Sendable {
        let request: AppendRequest
        let continuation: CheckedContinuation<AppendResult, any Error>
        /// How many times the writer decided it could be written after all (see ``resolve``).
        var retries = 0
    }

    struct WriterState: Sendable {
        var queue: [PendingAppend] = []
        var isWriting = false
        var isClosed = false
        var drainedWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private init(configuration: Configuration, client: PostgresClient, clientTask: Task<Void, Never>, head: Int64) {
        self.configuration = configuration
        self.pool = Mutex((client, clientTask, 0))
        self.logger = configuration.logger
        var backgroundLogger = configuration.logger
        backgroundLogger.logLevel = max(backgroundLogger.logLevel, .notice)
        self.backgroundLogger = backgroundLogger
        self.schema = configuration.schema
        self.subscriptions = SubscriptionHub(
            configuration: configuration.options.subscriptions, headPosition: head, logger: configuration.logger)
        self.follower = LogFollower(published: head)
    }

    /// Connects to the database, creates or migrates the store's schema, and starts following the log.
    ///
    /// - Throws: ``EventStoreError``: `.invalidArgument` for a URL or schema name that cannot be
    ///   used, `.foreignStore` or `.incompatibleStore` for a schema that is not ours or is newer,
    ///   `.storageFailure` when the database cannot be reached or refuses the login (the message says
    ///   which).
    public static func open(_ configuration: Configuration) async throws -> PostgresEventStore {
        let clientConfiguration = try configuration.postgresClientConfiguration()
        // One connection first, on its own: its failure says why (a wrong password, no such
        // database, nothing listening), where the pool would retry without a word.
        do {
            let single = try configuration.singleConnectionConfiguration()
            let probeLogger = configuration.logger
            try await withDeadline(configuration.operationTimeout, doing: "connecting", configuration) {
                let connection = try await PostgresConnection.connect(
                    on: PostgresClient.defaultEventLoopGroup.any(), configuration: single, id: 0, logger: probeLogger
                ).get()
                try await connection.close()
            }
        } catch {
            let mapped = map(error, doing: "connecting", configuration)
            configuration.logger.critical(
                "refusing to open the event store",
                metadata: ["eventstore.database": "\(configuration.redactedURL)", "eventstore.error": "\(mapped)"])
            throw mapped
        }
        var backgroundLogger = configuration.logger
        backgroundLogger.logLevel = max(backgroundLogger.logLevel, .notice)
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: backgroundLogger)
        let clientTask = Task { await client.run() }
        do {
            let head = try await withDeadline(configuration.operationTimeout, doing: "opening the store", configuration)
            {
                try await client.withConnection { connection in
                    try await PostgresSchema.migrate(
                        connection, schema: configuration.schema, logger: configuration.logger)
                }
                return try await client.query(
                    "SELECT position FROM \(unescaped: configuration.schema).log_head", logger: configuration.logger
                ).decode(Int64.self).reduce(0) { max($0, $1) }
            }
            let store = PostgresEventStore(
                configuration: configuration, client: client, clientTask: clientTask, head: head)
            store.startBackgroundWork()
            configuration.logger.info(
                "event store open",
                metadata: [
                    "eventstore.database": "\(configuration.redactedURL)",
                    "eventstore.schema": "\(configuration.schema)",
                    "eventstore.head": "\(head)",
                ])
            return store
        } catch {
            clientTask.cancel()
            _ = await clientTask.value
            let mapped = map(error, doing: "opening the event store", configuration)
            configuration.logger.critical(
                "refusing to open the event store",
                metadata: ["eventstore.database": "\(configuration.redactedURL)", "eventstore.error": "\(mapped)"])
            throw mapped
        }
    }

    // MARK: - Reads

    static let eventColumns = """
        e.position, e.version, e.event_id, e.event_type, e.data, e.causation_id, e.correlation_id, e.saga_id, \
        e.user_id, e.command_type, e.time, e.extra
        """

    typealias EventRow = (
        Int64, Int64, UUID, String, ByteBuffer, UUID?, UUID?, UUID?, UUID?, String?, Int64, ByteBuffer?
    )

    static func event(_ row: EventRow, stream: StreamName) throws -> RecordedEvent {
        RecordedEvent(
            id: row.2, stream: stream, version: row.1, position: row.0, type: row.3,
            data: Data(row.4.readableBytesView),
            metadata: EventMetadata(
                causationID: row.5, correlationID: row.6, sagaID: row.7, userID: row.8, commandType: row.9,
                time: row.10,
                extra: try ExtraMetadataCodec.decode(row.11.map { Data($0.readableBytesView) }))
        )
    }

    public func readStream(
        _ stream: StreamName, from version: Int64, direction: ReadDirection, limit: Int
    ) async throws -> [RecordedEvent] {
        try ReadRules.checkLimit(limit)
        let order =
            direction == .forward ? "e.version >= $2 ORDER BY e.version ASC" : "e.version <= $2 ORDER BY e.version DESC"
        return try await run("reading \(stream)") { client, logger in
            var events: [RecordedEvent] = []
            let rows = try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT \(Self.eventColumns) FROM events e \
                        WHERE e.stream_id = (SELECT id FROM streams WHERE name = $1) AND \(order) LIMIT $3
                        """,
                    binds: try Self.binds(stream.rawValue, version, Int64(limit))), logger: logger)
            for try await row in rows.decode(EventRow.self) {
                events.append(try Self.event(row, stream: stream))
            }
            return events
        }
    }

    public func streamVersion(_ stream: StreamName) async throws -> Int64? {
        try await run("reading the version of \(stream)") { client, logger in
            var version: Int64?
            for try await value in try await client.query(
                "SELECT version FROM streams WHERE name = \(stream.rawValue)", logger: logger
            ).decode(Int64.self) {
                version = value
            }
            return version
        }
    }

    public func readAll(from position: Int64, filter: EventFilter, limit: Int) async throws -> [RecordedEvent] {
        try ReadRules.checkLimit(limit)
        if filter.streamTypes?.isEmpty == true || filter.streams?.isEmpty == true || filter.eventTypes?.isEmpty == true
        {
            return []
        }
        var conditions = ["e.position >= $1"]
        var binds = PostgresBindings()
        binds.append(position)
        if let types = filter.streamTypes {
            binds.append(types.sorted())
            conditions.append("s.type = ANY($\(binds.count))")
        }
        if let streams = filter.streams {
            binds.append(streams.map(\.rawValue).sorted())
            conditions.append("s.name = ANY($\(binds.count))")
        }
        if let types = filter.eventTypes {
            binds.append(types.sorted())
            conditions.append("e.event_type = ANY($\(binds.count))")
        }
        binds.append(Int64(limit))
        let query = PostgresQuery(
            unsafeSQL: """
                SELECT \(Self.eventColumns), s.name FROM events e JOIN streams s ON s.id = e.stream_id \
                WHERE \(conditions.joined(separator: " AND ")) ORDER BY e.position LIMIT $\(binds.count)
                """,
            binds: binds)
        return try await run("reading the global log") { client, logger in
            try await Self.readEvents(client.query(query, logger: logger))
        }
    }

    /// Decodes rows of ``eventColumns`` followed by the stream's name.
    static func readEvents(_ rows: PostgresRowSequence) async throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        var names: [String: StreamName] = [:]
        for try await row in rows {
            let (position, version, id, type, data, causation, correlation, saga, user, commandType, time, extra, raw) =
                try row.decode(
                    (
                        Int64, Int64, UUID, String, ByteBuffer, UUID?, UUID?, UUID?, UUID?, String?, Int64, ByteBuffer?,
                        String
                    ).self)
            let stream: StreamName
            if let known = names[raw] {
                stream = known
            } else {
                do {
                    stream = try StreamName(raw)
                } catch {
                    throw EventStoreError(
                        code: .corruptStore, message: "the store holds a stream named '\(raw.prefix(80))': \(error)")
                }
                names[raw] = stream
            }
            events.append(
                try event(
                    (position, version, id, type, data, causation, correlation, saga, user, commandType, time, extra),
                    stream: stream))
        }
        return events
    }

    public func headPosition() async throws -> Int64 {
        try await run("reading the head position") { client, logger in
            try await client.query("SELECT position FROM log_head", logger: logger).decode(Int64.self).reduce(0) {
                max($0, $1)
            }
        }
    }

    // MARK: - Snapshots

    public func saveSnapshot(_ snapshot: Snapshot) async throws {
        guard snapshot.data.count <= configuration.options.limits.maxSnapshotBytes else {
            throw EventStoreError(
                code: .eventTooLarge,
                message: "a snapshot of \(snapshot.stream) has \(snapshot.data.count) bytes; the limit is "
                    + "\(configuration.options.limits.maxSnapshotBytes)")
        }
        let stream = snapshot.stream
        let saved = try await run("saving a snapshot of \(stream)") { client, logger -> Int64? in
            // One statement: the stream's row decides whether the version is a committed one.
            let rows = try await client.query(
                """
                WITH s AS (SELECT id, version FROM streams WHERE name = \(stream.rawValue)), \
                saved AS (INSERT INTO snapshots (stream_id, shape_version, version, data, time) \
                SELECT s.id, \(Int32(clamping: snapshot.shapeVersion)), \(snapshot.version), \(snapshot.data), \
                \(snapshot.time) FROM s WHERE \(snapshot.version) BETWEEN 0 AND s.version \
                ON CONFLICT (stream_id, shape_version) DO UPDATE \
                SET version = excluded.version, data = excluded.data, time = excluded.time \
                WHERE excluded.version >= snapshots.version RETURNING 1) \
                SELECT s.version FROM s
                """,
                logger: logger)
            var current: Int64?
            for try await version in rows.decode(Int64.self) { current = version }
            return current
        }
        guard let current = saved, (0...current).contains(snapshot.version) else {
            throw EventStoreError.invalidArgument(
                "a snapshot of \(stream) at version \(snapshot.version) does not match a committed version (the "
                    + "stream is at \(saved.map { String($0) } ?? "no stream"))")
        }
    }

    public func loadSnapshot(of stream: StreamName, shapeVersion: Int) async throws -> Snapshot? {
        try await run("loading a snapshot of \(stream)") { client, logger in
            let rows = try await client.query(
                """
                SELECT p.version, p.data, p.time FROM snapshots p JOIN streams s ON s.id = p.stream_id \
                WHERE s.name = \(stream.rawValue) AND p.shape_version = \(Int32(clamping: shapeVersion))
                """,
                logger: logger)
            var snapshot: Snapshot?
            for try await (version, data, time) in rows.decode((Int64, Data, Int64).self) {
                snapshot = Snapshot(
                    stream: stream, version: version, shapeVersion: shapeVersion, data: data, time: time)
            }
            return snapshot
        }
    }

    // MARK: - Commands and fencing tokens

    @discardableResult
    public func recordCommand(_ record: CommandRecord) async throws -> RecordedCommand {
        try AppendRules.validate(record, limits: configuration.options.limits)
        let inserted = try await run("recording command \(record.commandID.lowercasedText)") { client, logger in
            try await client.query(
                """
                INSERT INTO commands (command_id, command_type, outcome, time) \
                VALUES (\(record.commandID), \(record.commandType), \(record.outcome), \(record.time)) \
                ON CONFLICT (command_id) DO NOTHING RETURNING 1
                """,
                logger: logger
            ).decode(Int32.self).reduce(0, +)
        }
        guard inserted > 0 else {
            guard let existing = try await recordedCommand(record.commandID) else {
                throw EventStoreError(
                    code: .storageFailure,
                    message: "command \(record.commandID.lowercasedText) was neither recorded nor found; try again")
            }
            throw DuplicateCommand(existing: existing)
        }
        return RecordedCommand(record: record, append: nil)
    }

    public func recordedCommand(_ commandID: UUID) async throws -> RecordedCommand? {
        try await run("reading command \(commandID.lowercasedText)") { client, logger in
            try await Self.recordedCommand(commandID, client: client, logger: logger)
        }
    }

    static func recordedCommand(
        _ commandID: UUID, client: PostgresClient, logger: Logger
    ) async throws
        -> RecordedCommand?
    {
        let rows = try await client.query(
            """
            SELECT c.command_type, c.outcome, c.time, s.name, c.first_version, c.first_position, c.event_count \
            FROM commands c LEFT JOIN streams s ON s.id = c.stream_id WHERE c.command_id = \(commandID)
            """,
            logger: logger)
        var found: RecordedCommand?
        for try await (type, outcome, time, rawStream, firstVersion, firstPosition, count) in rows.decode(
            (String, Data, Int64, String?, Int64?, Int64?, Int32?).self)
        {
            let record = CommandRecord(commandID: commandID, commandType: type, outcome: outcome, time: time)
            guard let rawStream else {
                found = RecordedCommand(record: record, append: nil)
                continue
            }
            guard let firstVersion, let firstPosition, let count, count > 0, let stream = try? StreamName(rawStream)
            else {
                throw EventStoreError(
                    code: .corruptStore,
                    message: "the record of command \(commandID.lowercasedText) names a stream but not its append")
            }
            found = RecordedCommand(
                record: record,
                append: AppendResult(
                    stream: stream, firstVersion: firstVersion,
                    positions: Array(firstPosition..<(firstPosition + Int64(count)))))
        }
        return found
    }

    @discardableResult
    public func purgeCommandRecords(recordedBefore time: Int64) async throws -> Int {
        try await run("purging command records") { client, logger in
            Int(
                try await client.query(
                    "WITH d AS (DELETE FROM commands WHERE time < \(time) RETURNING 1) SELECT count(*) FROM d",
                    logger: logger
                ).decode(Int64.self).reduce(0, +))
        }
    }

    public func issueFencingToken(for key: String) async throws -> Int64 {
        try AppendRules.validateFencingKey(key)
        let token = try await run("issuing a fencing token for '\(key)'") { client, logger in
            try await client.query(
                """
                INSERT INTO fencing_tokens (key, token) VALUES (\(key), 1) \
                ON CONFLICT (key) DO UPDATE SET token = fencing_tokens.token + 1 RETURNING token
                """,
                logger: logger
            ).decode(Int64.self).reduce(0) { max($0, $1) }
        }
        guard token > 0 else {
            throw EventStoreError(
                code: .storageFailure, message: "issuing a fencing token for '\(key)' returned nothing")
        }
        return token
    }

    // MARK: - Lifecycle

    /// Finishes the appends already accepted, ends subscriptions and disconnects.
    public func close() async {
        guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let drained = writer.withLock { state -> Bool in
                state.isClosed = true
                if state.queue.isEmpty && !state.isWriting { return true }
                state.drainedWaiters.append(continuation)
                return false
            }
            if drained { continuation.resume() }
        }
        let tasks = background.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        subscriptions.close()
        let task = pool.withLock { $0.task }
        task.cancel()
        await task.value
        logger.info(
            "event store closed",
            metadata: ["eventstore.database": "\(configuration.redactedURL)", "eventstore.schema": "\(schema)"])
    }

    func checkOpen() throws {
        if isClosed.load(ordering: .acquiring) { throw EventStoreError.closed }
    }

    private func startBackgroundWork() {
        let follow = Task { [weak self] in
            guard let self else { return }
            await self.followLog()
        }
        let listen = Task { [weak self] in
            guard let self else { return }
            await self.listenForCommits()
        }
        background.withLock { $0 += [follow, listen] }
    }

    /// Runs one operation against the database within the operation timeout, mapping failures to
    /// ``EventStoreError``.
    ///
    /// While the database cannot be reached (a connection failed, or an operation got no answer),
    /// operations fail at once, saying so, instead of each waiting out the timeout; a probe tries
    /// the database every 200 ms and lets them through again once it answers.
    func run<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T
    ) async throws -> T {
        try checkOpen()
        if let down = reachability.withLock({ $0 }) {
            throw EventStoreError(
                code: .storageFailure,
                message: "PostgreSQL at \(configuration.redactedURL) cannot be reached (\(down)), so \(operation) was "
                    + "not tried; the store reconnects by itself")
        }
        let (client, generation) = currentPool
        let logger = self.logger
        do {
            return try await Self.withDeadline(configuration.operationTimeout, doing: operation, configuration) {
                try await body(client, logger)
            }
        } catch {
            if isClosed.load(ordering: .acquiring) { throw EventStoreError.closed }
            let mapped = Self.map(error, doing: operation, configuration)
            if Self.meansUnreachable(error) { markUnreachable("\(mapped)", generation: generation) }
            throw mapped
        }
    }

    /// Whether an error says the database is out of reach, rather than that it refused one thing.
    static func meansUnreachable(_ error: any Error) -> Bool {
        switch error {
        case let error as PSQLError:
            if error.code == .server, let state = error.serverInfo?[.sqlState] {
                // Connection exceptions, and the server shutting down or restarting.
                return state.hasPrefix("08") || state.hasPrefix("57P")
            }
            return [.connectionError, .serverClosedConnection, .uncleanShutdown].contains(error.code)
        case let error as EventStoreError:
            return error.message.contains("did not answer")
        case let error as PostgresTransactionError:
            return (error.closureError ?? error.commitError ?? error.beginError).map(meansUnreachable) ?? false
        default:
            return false
        }
    }

    /// Fails operations at once from now on, and starts the probe that ends it. An operation that
    /// failed on an earlier pool (one replaced since it started) says nothing about the current one.
    func markUnreachable(_ reason: String, generation: Int) {
        guard pool.withLock({ $0.generation }) == generation else { return }
        let start = reachability.withLock { down -> Bool in
            defer { if down == nil { down = reason } }
            return down == nil
        }
        guard start else { return }
        logger.error(
            "PostgreSQL cannot be reached; failing operations until it answers",
            metadata: ["eventstore.database": "\(configuration.redactedURL)", "eventstore.error": "\(reason)"])
        // The probe tries a new pool each time: the old one may hold connections whose queries
        // never return (cut off mid-query), and all its leases with them. Once the new pool
        // answers it replaces the old, which is closed.
        let probe = Task { [weak self] in
            while let self, !Task.isCancelled, !self.isClosed.load(ordering: .acquiring) {
                try? await Task.sleep(for: .milliseconds(200))
                guard let clientConfiguration = try? self.configuration.postgresClientConfiguration() else { return }
                let fresh = PostgresClient(configuration: clientConfiguration, backgroundLogger: self.backgroundLogger)
                let freshTask = Task { await fresh.run() }
                let answered =
                    (try? await Deadline.run(.seconds(1)) {
                        try await fresh.query("SELECT 1").decode(Int32.self).reduce(0, +)
                    } timedOut: {
                        CancellationError()
                    }) != nil
                guard answered, !self.isClosed.load(ordering: .acquiring) else {
                    freshTask.cancel()
                    continue
                }
                let old = self.pool.withLock { pool in
                    defer { pool = (fresh, freshTask, pool.generation + 1) }
                    return pool.task
                }
                old.cancel()
                self.reachability.withLock { $0 = nil }
                self.logger.notice(
                    "PostgreSQL answers again", metadata: ["eventstore.database": "\(self.configuration.redactedURL)"])
                self.follower.wake()
                return
            }
        }
        background.withLock { $0.append(probe) }
    }

    /// Runs `body` on a connection of the store's pool, held for the whole body (for transactions
    /// of modules of this package that keep their tables in the store's schema), within the
    /// operation timeout. What `body` throws wrapped in ``CallerError`` reaches the caller unchanged;
    /// anything else becomes an ``EventStoreError``.
    package func withConnection<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        try await run(operation) { client, logger in
            try await client.withConnection { connection in try await body(connection, logger) }
        }
    }

    /// Runs `body` on a connection of its own, opened for it and closed after it whatever happens:
    /// for a session that lives long and holds session state, such as the advisory locks of a
    /// server's leads. Such a session must never go back to the pool: a lock request that PostgreSQL
    /// had not answered when the body gave up (the database froze) would be granted later to a
    /// pooled connection that nobody watches, and the lock held for ever.
    ///
    /// - Parameter purpose: what the session is for, shown to operators as its `application_name`
    ///   (`tradecore <purpose>` in `pg_stat_activity`).
    package func withOwnConnection<T: Sendable>(
        _ purpose: String, _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        try checkOpen()
        let logger = self.logger
        let configuration = self.configuration
        do {
            var single = try configuration.singleConnectionConfiguration()
            single.options.additionalStartupParameters.removeAll { $0.0 == "application_name" }
            single.options.additionalStartupParameters.append(("application_name", "tradecore \(purpose)"))
            let connection = try await PostgresConnection.connect(
                on: PostgresClient.defaultEventLoopGroup.any(), configuration: single, id: 0, logger: logger
            ).get()
            do {
                let result = try await body(connection, logger)
                try? await connection.close()
                return result
            } catch {
                // Closing ends the session (and its locks) at once on our side; PostgreSQL ends it
                // when it next reads the socket, even after answering what was still queued.
                try? await connection.close()
                throw error
            }
        } catch {
            if isClosed.load(ordering: .acquiring) { throw EventStoreError.closed }
            throw Self.map(error, doing: "holding a connection", configuration)
        }
    }

    static func binds(_ values: any PostgresEncodable...) throws -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { try binds.append(value, context: .default) }
        return binds
    }
}
