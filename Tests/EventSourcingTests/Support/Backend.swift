import EventSourcing
import EventSourcingSQLite
import EventSourcingTesting
import EventStore
import EventStoreSQLite
import Foundation
import Logging

/// The event stores the tests run on: each behaviour is checked on both.
enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory
    case sqlite

    var description: String { rawValue }
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
    private(set) var store: any EventStore
    private(set) var readModels: any ProjectionStore

    init(_ backend: Backend, clock: any EventSourcingClock = SystemClock()) async throws {
        self.backend = backend
        self.clock = clock
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tradecore-es-\(UUID().uuidString)")
        (store, readModels) = try await Self.open(backend, directory: directory)
    }

    private static func open(_ backend: Backend, directory: URL) async throws -> (any EventStore, any ProjectionStore) {
        switch backend {
        case .memory:
            return (InMemoryEventStore(), InMemoryProjectionStore())
        case .sqlite:
            var logger = Logger(label: "tradecore.tests.sqlite")
            logger.logLevel = .warning
            let store = try await SQLiteEventStore.open(
                .init(directory: directory, integrityCheck: .none, logger: logger))
            return (store, SQLiteProjectionStore(store: store))
        }
    }

    /// Closes the SQLite store and opens it again; the in-memory store is kept.
    func restart() async throws {
        guard backend == .sqlite else { return }
        await store.close()
        (store, readModels) = try await Self.open(backend, directory: directory)
    }

    func close() async {
        await store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    var quietLogger: Logger {
        var logger = Logger(label: "tradecore.tests")
        logger.logLevel = .critical
        return logger
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
