import CSQLiteTuning
import Dispatch
import EventStore
import Foundation
import GRDB
import Logging
import Synchronization

/// The embedded event store: one SQLite file under a data directory, through GRDB.
///
/// - Durability: WAL journal with `synchronous = FULL`, so a commit returns only once the WAL is
///   fsynced. An append is acknowledged only after its transaction committed.
/// - Group commit: one writer gathers the appends that arrive while it is busy into one transaction
///   (one fsync for all), deciding each on its own so a conflict fails only its own caller.
/// - Readers run on their own connections beside the writer (a GRDB `DatabasePool`).
/// - Trust: on open, a file that is not ours, was written by a newer schema, or fails SQLite's
///   integrity check is refused with an error saying why; nothing is written to it. A lock file
///   keeps a second process from opening the same store.
/// - Failures: a full disk fails the appends of that transaction with `.storageFull`; an I/O error
///   or corruption fails them with `.storageFailure`/`.corruptStore` and stops the store from
///   accepting appends (the file's state is then unknown), logged at `critical`.
public final class SQLiteEventStore: EventStore {
    /// How much of the file SQLite checks when the store opens.
    public enum IntegrityCheck: Sendable, Hashable {
        /// No check (for tools that open a store they just checked).
        case none
        /// `PRAGMA quick_check`: page structure and record formats, without verifying indexes
        /// against tables. Linear in the file's size.
        case quick
        /// `PRAGMA integrity_check`: everything `quick` checks, plus index contents. Slower.
        case full
    }

    /// Where the store lives and how it behaves.
    public struct Configuration: Sendable {
        /// The data directory; created if missing.
        public var directory: URL
        /// The database file's name inside the directory.
        public var fileName: String
        /// Limits and subscription settings shared with other backends.
        public var options: EventStoreOptions
        /// The most appends gathered into one transaction.
        public var maxAppendsPerTransaction: Int
        /// How long, from its start, a transaction keeps taking in the appends that arrive while
        /// it is being written, before it commits. Zero, the default, commits what was queued when
        /// it started: the appends that arrive meanwhile share the next commit.
        ///
        /// Gathering waits for stragglers in 50 µs sleeps, and every wake-up of the writer queues
        /// behind the threads that are running commands. With commands behind the appends (the
        /// domain benchmark, 256 callers on two cores) a 5 ms gather left the writer waiting on
        /// the run queue a quarter of the time and cut commands per second by a fifth, while the
        /// store's own append rate was the same with or without it.
        public var maxGatherDelay: Duration
        /// The check run when the store opens.
        public var integrityCheck: IntegrityCheck
        /// A cap on the file's size in bytes (SQLite's `max_page_count`); `nil` for none. An append
        /// that would pass it fails with `.storageFull`, as on a full disk.
        public var maximumSize: Int64?
        /// WAL pages after which the WAL is folded back into the database file, by a connection
        /// of its own beside the writer (``WALCheckpointer``; the writer does it itself at twice
        /// this). The default, 10,000 pages (about 40 MiB), is ten times SQLite's: hot index pages
        /// rewritten by many commits are copied back once instead of many times (about 12% more
        /// appends per second with 256 appenders here), for a larger WAL file.
        public var walCheckpointPages: Int
        /// Reader connections.
        public var readerCount: Int
        /// Where the store logs.
        public var logger: Logger
        /// Called on the writer thread with the events of each commit, in position order, right
        /// after its COMMIT returned and before any subscriber or appender hears of it: the commit
        /// instant, for benchmarks that time what follows. It delays every commit, so keep it to
        /// taking the time. `nil`, the default, for none.
        public var afterCommit: (@Sendable ([RecordedEvent]) -> Void)? = nil

        /// Makes a configuration for a store in `directory`.
        public init(
            directory: URL,
            fileName: String = "events.sqlite",
            options: EventStoreOptions = EventStoreOptions(),
            maxAppendsPerTransaction: Int = 1_024,
            maxGatherDelay: Duration = .zero,
            integrityCheck: IntegrityCheck = .quick,
            maximumSize: Int64? = nil,
            walCheckpointPages: Int = 10_000,
            readerCount: Int = 4,
            logger: Logger = Logger(label: "tradecore.eventstore.sqlite")
        ) {
            self.directory = directory
            self.fileName = fileName
            self.options = options
            self.maxAppendsPerTransaction = max(maxAppendsPerTransaction, 1)
            self.maxGatherDelay = max(maxGatherDelay, .zero)
            self.integrityCheck = integrityCheck
            self.maximumSize = maximumSize
            self.walCheckpointPages = max(walCheckpointPages, 1)
            self.readerCount = max(readerCount, 1)
            self.logger = logger
        }

        /// The database file's path.
        public var path: String { directory.appendingPathComponent(fileName).path }
    }

    /// What the writer did, for tests and metrics.
    public struct WriterStatistics: Sendable, Hashable {
        /// Transactions committed.
        public var transactions = 0
        /// Appends acknowledged (written or replayed retries).
        public var appends = 0
        /// Appends refused with a version conflict.
        public var conflicts = 0
        /// Appends failed for any other reason.
        public var failures = 0
        /// The most appends one transaction carried.
        public var largestTransaction = 0
    }

    struct PendingAppend: Sendable {
        let request: AppendRequest
        let continuation: CheckedContinuation<AppendResult, any Error>
    }

    struct WriterState: Sendable {
        var queue: [PendingAppend] = []
        var isDraining = false
        var isClosed = false
        /// Set after an I/O error or corruption: every later append fails with it.
        var failure: EventStoreError?
        var drainedWaiters: [CheckedContinuation<Void, Never>] = []
        var statistics = WriterStatistics()
    }

    /// The hub handing committed events to subscribers.
    public let subscriptions: SubscriptionHub
    /// The store's configuration.
    public let configuration: Configuration
    let pool: DatabasePool
    /// Folds the WAL back into the file beside the writer. The writer's connection holds an
    /// unretained pointer to it, so the store keeps it as long as the pool.
    let checkpointer: WALCheckpointer
    let logger: Logger
    let writer = Mutex(WriterState())
    /// Signalled when appends arrive for an idle writer thread, and when the store closes.
    let writerWake = DispatchSemaphore(value: 0)
    /// Touched only by the writer, inside its transactions (GRDB runs them one at a time).
    let streamCache = Mutex(StreamCache(capacity: 50_000))
    /// What the writer reports through swift-metrics.
    let metrics = StoreWriterMetrics()
    /// The versions of recently committed streams, set by the writer after each commit: every
    /// append goes through this store's one writer, so a version found here is the stream's
    /// committed version (or, while a commit is between its COMMIT and this update, the one before,
    /// which a reader could have read a moment earlier anyway). Bounded: see ``CommittedVersions``.
    let committedVersions = Mutex(CommittedVersions(capacity: 100_000))
    /// Tests make the writer's transactions fail here as a broken disk would; always nil otherwise.
    let injectedFault = Mutex<(@Sendable () throws -> Void)?>(nil)
    private let lock: StoreLock
    private let isClosed = Atomic<Bool>(false)

    private init(
        configuration: Configuration, pool: DatabasePool, checkpointer: WALCheckpointer, lock: StoreLock, head: Int64
    ) {
        self.configuration = configuration
        self.pool = pool
        self.checkpointer = checkpointer
        self.lock = lock
        self.logger = configuration.logger
        self.subscriptions = SubscriptionHub(
            configuration: configuration.options.subscriptions,
            headPosition: head,
            logger: configuration.logger
        )
        startWriterThread()
    }

    deinit {
        // A store dropped without close(): let the writer thread see it is gone and end.
        writerWake.signal()
    }

    /// Opens the store in `configuration.directory`, creating it if needed.
    ///
    /// - Throws: ``EventStoreError`` with `.foreignStore`, `.incompatibleStore` or `.corruptStore`
    ///   when the file cannot be trusted (also logged), `.storeLocked` when another process has it
    ///   open, `.storageFailure` when it cannot be read or created.
    public static func open(_ configuration: Configuration) async throws -> SQLiteEventStore {
        do {
            // Opening reads, checks and migrates the whole file: blocking work, kept off the
            // cooperative thread pool.
            return try await runBlocking { try openBlocking(configuration) }
        } catch {
            let mapped = StorageErrors.map(error, doing: "opening the event store", path: configuration.path)
            configuration.logger.critical(
                "refusing to open the event store",
                metadata: ["eventstore.path": "\(configuration.path)", "eventstore.error": "\(mapped)"]
            )
            throw mapped
        }
    }

    /// Why the data directory could not be made, in words a person can act on, rather than the
    /// Foundation error's dump: the directory, or its nearest existing ancestor, is a file, or is
    /// not writable.
    private static func reason(_ error: any Error, making directory: URL) -> String {
        var ancestor = directory
        while ancestor.path != "/" && !FileManager.default.fileExists(atPath: ancestor.path) {
            ancestor = ancestor.deletingLastPathComponent()
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            return "\(ancestor.path) is a file, not a directory"
        }
        if access(ancestor.path, W_OK) != 0 {
            return errno == EROFS
                ? "\(ancestor.path) is on a read-only file system"
                : "permission denied: \(ancestor.path) is not writable"
        }
        return (error as NSError).localizedDescription
    }

    /// SQLite's memory statistics off, once, before the process's first connection: they take a
    /// process-wide mutex around each of SQLite's allocations and frees, a tenth of the writer's
    /// CPU per append. When SQLite was initialised before (another library opened a database
    /// first), the statistics stay on and nothing else changes. SQLite's result code (0: off).
    private static let memoryStatisticsOffResult: Int32 = tradecore_sqlite_disable_memory_statistics()

    private static func openBlocking(_ configuration: Configuration) throws -> SQLiteEventStore {
        if Self.memoryStatisticsOffResult != 0 {  // SQLITE_OK
            configuration.logger.debug(
                "SQLite was initialised before this store's first connection: its memory statistics stay on",
                metadata: ["sqlite.result": "\(Self.memoryStatisticsOffResult)"])
        }
        let path = configuration.path
        do {
            try FileManager.default.createDirectory(at: configuration.directory, withIntermediateDirectories: true)
        } catch {
            throw EventStoreError(
                code: .storageFailure,
                message:
                    "cannot create the data directory \(configuration.directory.path): \(Self.reason(error, making: configuration.directory))"
            )
        }
        let lock = try StoreLock(path: path + ".lock")
        do {
            if FileManager.default.fileExists(atPath: path) {
                try Schema.checkHeader(path: path)
                // Validate through a plain connection first: opening a pool would switch the file to
                // WAL mode, and a file that is not ours must be left exactly as it was.
                let probe = try DatabaseQueue(path: path, configuration: connectionConfiguration(configuration))
                try probe.read { db in
                    try Schema.validate(db, path: path, integrityCheck: configuration.integrityCheck)
                }
                try probe.close()
            }
            let pool = try DatabasePool(path: path, configuration: connectionConfiguration(configuration))
            let checkpointer = try WALCheckpointer(
                path: path, pages: configuration.walCheckpointPages, logger: configuration.logger)
            try pool.writeWithoutTransaction { db in
                // GRDB sets synchronous=NORMAL on WAL databases (a commit may be lost on power
                // failure); the store acknowledges appends as durable, so it needs FULL.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                guard try Int.fetchOne(db, sql: "PRAGMA synchronous") == 2 else {
                    throw EventStoreError(code: .storageFailure, message: "SQLite refused synchronous=FULL on \(path)")
                }
                // Savepoints and statement rollbacks journal to temporary storage; in memory it
                // costs no file I/O inside the writer's transactions.
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
                // Room for the indexes' hot pages (64 MiB; negative means KiB).
                try db.execute(sql: "PRAGMA cache_size = -65536")
                checkpointer.install(on: db)
                if let maximumSize = configuration.maximumSize {
                    let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4_096
                    try db.execute(sql: "PRAGMA max_page_count = \(max(maximumSize / pageSize, 1))")
                }
            }
            try Schema.migrator.migrate(pool)
            let committedHead = try pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT MAX(position) FROM events") ?? 0
            }
            configuration.logger.info(
                "event store open",
                metadata: ["eventstore.path": "\(path)", "eventstore.head": "\(committedHead)"]
            )
            return SQLiteEventStore(
                configuration: configuration, pool: pool, checkpointer: checkpointer, lock: lock, head: committedHead)
        } catch {
            lock.release()
            throw error
        }
    }

    private static func connectionConfiguration(_ configuration: Configuration) -> GRDB.Configuration {
        var grdb = GRDB.Configuration()
        grdb.maximumReaderCount = configuration.readerCount
        grdb.label = "tradecore.eventstore"
        // Another process holding a lock is refused by the lock file before SQLite is reached;
        // a short wait covers SQLite's own brief locks during WAL recovery.
        grdb.busyMode = .timeout(5)
        return grdb
    }

    // MARK: - Reads

    public func readStream(
        _ stream: StreamName,
        from version: Int64,
        direction: ReadDirection,
        limit: Int
    ) async throws -> [RecordedEvent] {
        try ReadRules.checkLimit(limit)
        let order =
            direction == .forward ? "e.version >= ? ORDER BY e.version ASC" : "e.version <= ? ORDER BY e.version DESC"
        return try await read("reading \(stream)") { db in
            let statement = try db.cachedStatement(
                sql: """
                    SELECT \(EventRows.columns) FROM events e \
                    WHERE e.stream_id = (SELECT id FROM streams WHERE name = ?) AND \(order) LIMIT ?
                    """
            )
            return try EventRows.fetch(statement, arguments: [stream.rawValue, version, limit]) {
                try EventRows.decode($0, stream: stream)
            }
        }
    }

    /// Throws the error appends fail with once they stopped after a storage failure (a failed
    /// fsync, an I/O error): the store still answers reads then, but takes no write until it is
    /// reopened. (A full disk fails each append, and stops none: it may pass.)
    public func checkAppendable() async throws {
        if let failure = writer.withLock({ $0.failure }) { throw failure }
        _ = try await headPosition()
    }

    public func streamVersion(_ stream: StreamName) async throws -> Int64? {
        let (known, retired) = committedVersions.withLock { $0.version(of: stream) }
        if let retired { CommittedVersions.free(retired) }
        if let version = known { return version }
        return try await read("reading the version of \(stream)") { db in try StreamRows(db).state(of: stream)?.version
        }
    }

    public func readAll(from position: Int64, filter: EventFilter, limit: Int) async throws -> [RecordedEvent] {
        try ReadRules.checkLimit(limit)
        if filter.streamTypes?.isEmpty == true || filter.streams?.isEmpty == true || filter.eventTypes?.isEmpty == true
        {
            return []
        }
        let (sql, statementArguments) = Self.globalLogQuery(from: position, filter: filter, limit: limit)
        return try await read("reading the global log") { db in
            // Unfiltered reads (every subscription's catch-up) reuse one prepared statement.
            let statement = filter.acceptsEverything ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
            var names = StreamNameCache()
            return try EventRows.fetch(statement, arguments: statementArguments) { row in
                let stream = try names.name(
                    id: try row.decode(Int64.self, atIndex: EventRows.columnCount),
                    raw: try row.decode(String.self, atIndex: EventRows.columnCount + 1)
                )
                return try EventRows.decode(row, stream: stream)
            }
        }
    }

    /// The SQL and arguments of a page of the global log. Separate so a test can check its plan.
    static func globalLogQuery(from position: Int64, filter: EventFilter, limit: Int) -> (String, StatementArguments) {
        var conditions = ["e.position >= ?"]
        var arguments: [(any DatabaseValueConvertible)?] = [position]
        func restrict(_ column: String, to values: [String]?) {
            guard let values else { return }
            conditions.append("\(column) IN (\(Array(repeating: "?", count: values.count).joined(separator: ", ")))")
            arguments += values.map { $0 as (any DatabaseValueConvertible)? }
        }
        restrict("s.type", to: filter.streamTypes.map { $0.sorted() })
        restrict("s.name", to: filter.streams.map { $0.map(\.rawValue).sorted() })
        restrict("e.event_type", to: filter.eventTypes.map { $0.sorted() })
        arguments.append(limit)
        // Without named streams, walk the log in position order and stop at the limit: CROSS JOIN
        // keeps SQLite from starting at the streams of a type and sorting all their events for
        // every page. Named streams are few, so reading their events and sorting them is cheaper.
        let join = filter.streams == nil ? "CROSS JOIN" : "JOIN"
        let sql = """
            SELECT \(EventRows.columns), s.id, s.name FROM events e \(join) streams s ON s.id = e.stream_id \
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY e.position LIMIT ?
            """
        return (sql, StatementArguments(arguments))
    }

    public func headPosition() async throws -> Int64 {
        try await read("reading the head position") { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(position) FROM events")) ?? 0
        }
    }

    // MARK: - Snapshots

    public func saveSnapshot(_ snapshot: Snapshot) async throws {
        guard snapshot.data.count <= configuration.options.limits.maxSnapshotBytes else {
            throw EventStoreError(
                code: .eventTooLarge,
                message: "a snapshot of \(snapshot.stream) has \(snapshot.data.count) bytes; the limit is "
                    + "\(configuration.options.limits.maxSnapshotBytes)"
            )
        }
        try checkOpen()
        do {
            try await pool.write { db in
                let state = try StreamRows(db).state(of: snapshot.stream)
                guard let state, (0...state.version).contains(snapshot.version) else {
                    throw EventStoreError.invalidArgument(
                        "a snapshot of \(snapshot.stream) at version \(snapshot.version) does not match a committed "
                            + "version (the stream is at \(state.map { String($0.version) } ?? "no stream"))"
                    )
                }
                try db.cachedStatement(
                    sql: """
                        INSERT INTO snapshots (stream_id, shape_version, version, data, time) VALUES (?, ?, ?, ?, ?) \
                        ON CONFLICT (stream_id, shape_version) DO UPDATE \
                        SET version = excluded.version, data = excluded.data, time = excluded.time \
                        WHERE excluded.version >= snapshots.version
                        """
                ).execute(arguments: [state.id, snapshot.shapeVersion, snapshot.version, snapshot.data, snapshot.time])
            }
        } catch {
            throw StorageErrors.map(error, doing: "saving a snapshot of \(snapshot.stream)", path: configuration.path)
        }
    }

    public func loadSnapshot(of stream: StreamName, shapeVersion: Int) async throws -> Snapshot? {
        try await read("loading a snapshot of \(stream)") { db in
            try Self.snapshot(db, stream: stream, shapeVersion: shapeVersion)
        }
    }

    private static func snapshot(_ db: Database, stream: StreamName, shapeVersion: Int) throws -> Snapshot? {
        let statement = try db.cachedStatement(
            sql: """
                SELECT p.version, p.data, p.time FROM snapshots p JOIN streams s ON s.id = p.stream_id \
                WHERE s.name = ? AND p.shape_version = ?
                """
        )
        guard let row = try Row.fetchOne(statement, arguments: [stream.rawValue, shapeVersion]) else { return nil }
        return Snapshot(
            stream: stream,
            version: try row.decode(Int64.self, atIndex: 0),
            shapeVersion: shapeVersion,
            data: try row.decode(Data?.self, atIndex: 1) ?? Data(),
            time: try row.decode(Int64.self, atIndex: 2)
        )
    }

    /// Loads the newest snapshot and the events after it in one read transaction (one trip to a
    /// reader connection, and a consistent view of both).
    public func load(_ stream: StreamName, shapeVersion: Int, pageSize: Int) async throws -> StreamLoad {
        try await read("loading \(stream)") { db in
            let snapshot = try Self.snapshot(db, stream: stream, shapeVersion: shapeVersion)
            let statement = try db.cachedStatement(
                sql: """
                    SELECT \(EventRows.columns) FROM events e \
                    WHERE e.stream_id = (SELECT id FROM streams WHERE name = ?) AND e.version > ? ORDER BY e.version
                    """
            )
            let events = try EventRows.fetch(statement, arguments: [stream.rawValue, snapshot?.version ?? -1]) {
                try EventRows.decode($0, stream: stream)
            }
            return StreamLoad(snapshot: snapshot, events: events)
        }
    }

    // MARK: - Lifecycle

    /// Finishes the appends already accepted, ends subscriptions, closes the file and releases the lock.
    public func close() async {
        guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let wakeWriter = writer.withLock { state -> Bool in
                state.isClosed = true
                // The writer resumes this once the appends accepted before closing are committed.
                state.drainedWaiters.append(continuation)
                defer { state.isDraining = true }
                return !state.isDraining
            }
            if wakeWriter { writerWake.signal() }
        }
        subscriptions.close()
        do {
            try await runBlocking { try self.checkpointer.close() }
        } catch {
            logger.warning("closing the WAL checkpointer failed", metadata: ["eventstore.error": "\(error)"])
        }
        do {
            // Fold the WAL into the database file, so a closed store is one self-contained file.
            _ = try await pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        } catch {
            logger.warning("could not checkpoint the event store on close", metadata: ["eventstore.error": "\(error)"])
        }
        do {
            try await runBlocking { try self.pool.close() }
        } catch {
            logger.error("closing the event store failed", metadata: ["eventstore.error": "\(error)"])
        }
        lock.release()
        logger.info("event store closed", metadata: ["eventstore.path": "\(configuration.path)"])
    }

    /// The writer's counters.
    public var writerStatistics: WriterStatistics { writer.withLock { $0.statistics } }

    /// Makes the writer's next transactions fail with what `fault` throws, just before they would
    /// commit, as a broken disk would; `nil` heals it. For tests of failure handling.
    func injectFaultForTesting(_ fault: (@Sendable () throws -> Void)?) {
        injectedFault.withLock { $0 = fault }
    }

    /// Runs `body` on the writer's connection, between transactions. For tests of its settings.
    func withWriterConnectionForTesting<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try await pool.writeWithoutTransaction(body)
    }

    func checkOpen() throws {
        if isClosed.load(ordering: .acquiring) { throw EventStoreError.closed }
    }

    /// Runs `body` in a read transaction on a reader connection, mapping failures to ``EventStoreError``.
    /// For modules of this package that keep their own tables in the store's database.
    package func read<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try checkOpen()
        do {
            return try await pool.read(body)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as PassThroughError {
            throw error.error
        } catch {
            if isClosed.load(ordering: .acquiring) { throw EventStoreError.closed }
            throw StorageErrors.map(error, doing: operation, path: configuration.path)
        }
    }
}

extension SQLiteEventStore {
    /// Runs `body` in a write transaction on the store's writer connection (between the writer
    /// thread's batches; GRDB serialises them). For writes outside appends: command records,
    /// fencing tokens, and the read models of modules of this package. Refused once the store is
    /// closed or has stopped after a storage failure.
    ///
    /// With `synced` (the default) the commit is durable before this returns. Without it, the
    /// commit is written to the WAL but not synced: it is atomic and ordered as any other (a
    /// process that dies loses nothing, as the WAL is in the operating system's hands), and the
    /// next synced commit, or the next checkpoint of the WAL, makes it durable with its own; only
    /// a power loss or a crash of the operating system before then takes it back, whole. For
    /// writes that can be derived again from what is synced, such as a projection's rows with
    /// its checkpoint: they then cost no fsync of their own.
    package func write<T: Sendable>(
        _ operation: String, synced: Bool = true, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try checkOpen()
        if let failure = writer.withLock({ $0.failure }) { throw failure }
        do {
            if synced {
                return try await pool.write { db in
                    try self.checkAppendsGoOn()
                    return try body(db)
                }
            }
            // GRDB's blocking call, on a thread of its own: its async one refuses statements once
            // the task is cancelled, and the one that restores `synchronous = FULL` must run.
            let pool = self.pool
            return try await runBlocking { try pool.writeWithoutTransaction { db in try self.writeUnsynced(db, body) } }
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as DuplicateCommand {
            throw error
        } catch let error as PassThroughError {
            throw error.error
        } catch {
            if (try? checkOpen()) == nil { throw EventStoreError.closed }
            throw StorageErrors.map(error, doing: operation, path: configuration.path)
        }
    }
}

extension SQLiteEventStore {
    /// Commits `body`'s transaction with `synchronous = NORMAL`, then sets the connection back to
    /// `FULL` before anything else can use it. Should that fail, the connection might no longer
    /// sync appends, so appends stop, as after a failed sync.
    private func writeUnsynced<T>(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        try checkAppendsGoOn()
        // Cached, yet applied at each use: SQLite prepares a pragma statement anew whenever it runs
        // (the unsynced-write test writes three times to see it).
        try db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute()
        let outcome = Result { try Self.inImmediateTransaction(db) { try body(db) } }
        do {
            try db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute()
        } catch {
            let mapped = StorageErrors.map(error, doing: "restoring synchronous=FULL", path: configuration.path)
            stopAppends(after: mapped)
            throw mapped
        }
        return try outcome.get()
    }

    /// Throws the failure that stopped appends, if any; called where nothing else can use the
    /// writer connection, which may no longer sync its commits after such a failure.
    private func checkAppendsGoOn() throws {
        if let failure = writer.withLock({ $0.failure }) { throw PassThroughError(failure) }
    }
}

/// Wraps an error thrown by the body of ``SQLiteEventStore/read(_:_:)`` or ``SQLiteEventStore/write(_:synced:_:)``
/// that is the caller's own, not the storage's: it reaches the caller unchanged, where any other
/// error becomes an ``EventStoreError``.
package struct PassThroughError: Error {
    package let error: any Error

    package init(_ error: any Error) {
        self.error = error
    }
}

/// Runs blocking work on a Dispatch thread, off Swift's cooperative pool.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// Stream versions by stream, bounded: two generations of at most `capacity` streams each.
///
/// Commits note into the current generation; when it is full it becomes the previous one and the
/// one before is dropped. A lookup that finds a stream only in the previous generation moves it into
/// the current one, so a stream read often (an account every order checks) stays known however many
/// other streams are created, while one neither written nor read for two generations is forgotten.
/// A version in the previous generation is the stream's latest: a commit would have put a newer one
/// in the current generation, which lookups check first.
///
/// The writer notes each commit here between its COMMIT and its subscribers, so nothing here may
/// take long: a generation has room for all its streams from the start (growing, a dictionary
/// copies itself, milliseconds at tens of thousands of streams, which the commit's subscribers
/// waited out), and the generation that falls out is handed back to be freed elsewhere.
struct CommittedVersions {
    private var current: [StreamName: Int64]
    private var previous: [StreamName: Int64] = [:]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        current = Dictionary(minimumCapacity: self.capacity)
    }

    /// The stream's committed version, if known; moves it into the current generation.
    ///
    /// - Returns: the version, and the generation that fell out to make room, if one did (see
    ///   ``note(_:)``).
    mutating func version(of stream: StreamName) -> (version: Int64?, retired: [StreamName: Int64]?) {
        if let version = current[stream] { return (version, nil) }
        guard let version = previous.removeValue(forKey: stream) else { return (nil, nil) }
        return (version, set(version, for: stream))
    }

    /// Notes the versions the committed `events` (in position order) leave their streams at.
    ///
    /// - Returns: the generation that fell out to make room, if one did, for the caller to free
    ///   where it delays nobody (a hundred thousand entries take milliseconds to free).
    @discardableResult
    mutating func note(_ events: [RecordedEvent]) -> [StreamName: Int64]? {
        var retired: [StreamName: Int64]?
        for event in events {
            if let fallen = set(event.version, for: event.stream) { retired = fallen }
        }
        return retired
    }

    /// Frees a generation that fell out on a background thread: the one that calls this, the
    /// writer or a reader holding the table's lock a moment before, does not wait for it.
    static func free(_ retired: consuming [StreamName: Int64]) {
        let handoff = Handoff(retired)
        DispatchQueue.global(qos: .utility).async { handoff.take() }
    }

    /// Holds the one reference to a value until ``take()`` drops it, so that the value is freed
    /// on the thread that takes it, whichever thread lets go of the holder last.
    private final class Handoff: Sendable {
        private let value: Mutex<[StreamName: Int64]?>

        init(_ value: consuming [StreamName: Int64]) { self.value = Mutex(value) }

        func take() { value.withLock { $0 = nil } }
    }

    private mutating func set(_ version: Int64, for stream: StreamName) -> [StreamName: Int64]? {
        var retired: [StreamName: Int64]?
        if current.count >= capacity && current[stream] == nil {
            retired = previous.isEmpty ? nil : previous
            previous = current
            current = Dictionary(minimumCapacity: capacity)
        }
        current[stream] = version
        return retired
    }
}
