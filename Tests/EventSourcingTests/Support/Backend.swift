import EventSourcing
import EventSourcingPostgres
import EventSourcingSQLite
import EventSourcingTesting
import EventStore
import EventStorePostgres
import EventStoreSQLite
import Foundation
import Logging
import PostgresNIO

/// The event stores the tests run on: each behaviour is checked on every one.
enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory
    case sqlite
    /// Each test in a schema of its own of `TRADECORE_TEST_POSTGRES_URL`; left out when that is not
    /// set, unless `TRADECORE_REQUIRE_POSTGRES=1` (Tools/test.sh), where its tests then fail.
    case postgres

    var description: String { rawValue }

    static let postgresURL = ProcessInfo.processInfo.environment["TRADECORE_TEST_POSTGRES_URL"]

    /// The backends available here.
    static var available: [Backend] {
        let postgres = postgresURL != nil || ProcessInfo.processInfo.environment["TRADECORE_REQUIRE_POSTGRES"] == "1"
        return postgres ? allCases : [.memory, .sqlite]
    }
}

/// One test's store, read models, bus and probe, able to restart as a process would.
///
/// A restart makes new components (repositories, buses, runners, managers) over the same data:
/// for SQLite, the store is closed and opened again from its file; the in-memory store stands in
/// for a database that outlives the process.
final class TestEnvironment: @unchecked Sendable {
    // @unchecked: the mutable references are set only by the test's own task (init, restart, close),
    // never while other tasks use them.
    let backend: Backend
    let clock: any EventSourcingClock
    let probe = HandlerProbe()
    private let directory: URL
    /// The PostgreSQL schema of this test (its "database").
    private let schema = "test_es_" + UUID().lowercasedText.replacingOccurrences(of: "-", with: "").prefix(16)
    private(set) var store: any EventStore
    private(set) var readModels: any ProjectionStore

    init(_ backend: Backend, clock: any EventSourcingClock = SystemClock()) async throws {
        self.backend = backend
        self.clock = clock
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tradecore-es-\(UUID().uuidString)")
        (store, readModels) = try await Self.open(backend, directory: directory, schema: schema)
    }

    private static func open(
        _ backend: Backend, directory: URL, schema: String
    ) async throws -> (any EventStore, any ProjectionStore) {
        switch backend {
        case .memory:
            return (InMemoryEventStore(), InMemoryProjectionStore())
        case .sqlite:
            var logger = Logger(label: "tradecore.tests.sqlite")
            logger.logLevel = .warning
            let store = try await SQLiteEventStore.open(
                .init(directory: directory, integrityCheck: .none, logger: logger))
            return (store, SQLiteProjectionStore(store: store))
        case .postgres:
            guard let url = Backend.postgresURL else { throw MissingPostgres() }
            var logger = Logger(label: "tradecore.tests.postgres")
            logger.logLevel = .warning
            let store = try await PostgresEventStore.open(
                .init(url: url, schema: schema, maxConnections: 4, operationTimeout: .seconds(60), logger: logger))
            return (store, PostgresProjectionStore(store: store))
        }
    }

    /// Closes the SQLite or PostgreSQL store and opens it again; the in-memory store is kept.
    func restart() async throws {
        guard backend != .memory else { return }
        await store.close()
        (store, readModels) = try await Self.open(backend, directory: directory, schema: schema)
    }

    func close() async {
        await store.close()
        try? FileManager.default.removeItem(at: directory)
        if backend == .postgres, let url = Backend.postgresURL,
            let configuration = try? PostgresEventStore.Configuration(url: url).postgresClientConfiguration()
        {
            let client = PostgresClient(configuration: configuration, backgroundLogger: quietLogger)
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                _ = try? await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"))
                group.cancelAll()
            }
        }
    }

    var quietLogger: Logger {
        var logger = Logger(label: "tradecore.tests")
        logger.logLevel = .critical
        return logger
    }

    /// The lock a server of this backend uses: the PostgreSQL lock on PostgreSQL, else the
    /// in-process one.
    func makeLock(clock: (any EventSourcingClock)? = nil) -> any DistributedLock {
        if let store = store as? PostgresEventStore { return PostgresLock(store: store) }
        return InProcessLock(store: store, clock: clock ?? self.clock)
    }

    /// A second server on the same PostgreSQL schema: its own store and lock.
    func secondServer() async throws -> (
        store: PostgresEventStore, lock: PostgresLock, close: @Sendable () async -> Void
    ) {
        guard backend == .postgres, let url = Backend.postgresURL else { throw MissingPostgres() }
        var logger = Logger(label: "tradecore.tests.postgres.second")
        logger.logLevel = .warning
        let store = try await PostgresEventStore.open(
            .init(url: url, schema: schema, maxConnections: 4, operationTimeout: .seconds(60), logger: logger))
        return (store, PostgresLock(store: store), { await store.close() })
    }

    /// Handler dependencies over the current store, with the probe registered.
    func dependencies(
        queries: QueryBus? = nil, lock: (any DistributedLock)? = nil, snapshotPolicy: SnapshotPolicy = .never
    ) -> HandlerDependencies {
        var services = HandlerServices()
        services.register(probe)
        return HandlerDependencies(
            store: store,
            repositories: Repositories(store: store, snapshotPolicy: snapshotPolicy, logger: quietLogger),
            queries: queries,
            lock: lock,
            clock: clock,
            services: services
        )
    }

    /// A bus with the account handlers over the current store.
    func bus(
        retry: RetryPolicy = RetryPolicy(initialDelay: .milliseconds(1)),
        queries: QueryBus? = nil,
        lock: (any DistributedLock)? = nil,
        interceptors: [any CommandInterceptor] = [],
        handlers: [any CommandHandler] = AccountHandlers.all,
        commands: [any Command.Type]? = AccountHandlers.commands
    ) throws -> CommandBus {
        try CommandBus(
            handlers: handlers,
            commands: commands,
            dependencies: dependencies(queries: queries, lock: lock),
            interceptors: interceptors,
            configuration: CommandBus.Configuration(retry: retry, logger: quietLogger)
        )
    }

    /// Every event of `stream`.
    func events(of stream: StreamName) async throws -> [RecordedEvent] {
        try await store.readStream(stream, from: 0, direction: .forward, limit: 10_000)
    }

    func accountStream(_ id: UUID) throws -> StreamName { try StreamName(type: Account.streamType, id: id) }
}

/// Runs `body` with a fresh environment on `backend`, closing it afterwards.
func withEnvironment(
    _ backend: Backend,
    clock: any EventSourcingClock = SystemClock(),
    _ body: (TestEnvironment) async throws -> Void
) async throws {
    let environment = try await TestEnvironment(backend, clock: clock)
    do {
        try await body(environment)
    } catch {
        await environment.close()
        throw error
    }
    await environment.close()
}

struct MissingPostgres: Error, CustomStringConvertible {
    var description: String {
        "TRADECORE_REQUIRE_POSTGRES=1 but TRADECORE_TEST_POSTGRES_URL is not set: start a PostgreSQL server "
            + "(Tools/test.sh does) and set it"
    }
}
