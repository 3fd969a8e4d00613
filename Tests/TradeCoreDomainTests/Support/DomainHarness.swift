import EventSourcing
import EventSourcingSQLite
import EventSourcingTesting
import EventStore
import EventStoreSQLite
import Foundation
import Logging
import Testing
import TradeCoreMessages

@testable import TradeCoreDomain

/// The domain on a real SQLite store in a temporary directory, with its background parts running,
/// able to stop and start again over the same files as a restarted process would.
final class DomainHarness: @unchecked Sendable {
    // @unchecked: the mutable references change only in start/stop, called by the test's own task
    // while no other task uses them.
    let directory: URL
    let secrets: ServerSecrets
    let brokerConfiguration: VirtualBroker.Configuration
    /// Every log line of the store and the domain, at trace level, when the test asked for them.
    let logs: CapturedLogs?
    private(set) var store: SQLiteEventStore
    private(set) var broker: VirtualBroker
    private(set) var app: TradeCoreApplication
    private var running: Task<Void, any Error>?

    static let masterKey = (0..<32).map { UInt8($0 &* 7 &+ 3) }

    init(
        brokerConfiguration: VirtualBroker.Configuration = VirtualBroker.Configuration(), logs: CapturedLogs? = nil
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tradecore-domain-\(UUID().uuidString)")
        secrets = try ServerSecrets(masterKeyBytes: Self.masterKey)
        self.brokerConfiguration = brokerConfiguration
        self.logs = logs
        (store, broker, app) = try await Self.open(directory, secrets: secrets, broker: brokerConfiguration, logs: logs)
        running = Task { try await app.run() }
    }

    private static func open(
        _ directory: URL, secrets: ServerSecrets, broker configuration: VirtualBroker.Configuration, logs: CapturedLogs?
    ) async throws -> (SQLiteEventStore, VirtualBroker, TradeCoreApplication) {
        var logger = logs?.logger(label: "tradecore.tests.domain") ?? Logger(label: "tradecore.tests.domain")
        logger.logLevel = logs == nil ? .warning : .trace
        let store = try await SQLiteEventStore.open(.init(directory: directory, integrityCheck: .none, logger: logger))
        let readModels = SQLiteProjectionStore(store: store)
        // Its books beside the read models, as the server keeps them.
        let broker = VirtualBroker(configuration: configuration, books: StoredVirtualBrokerBooks(storage: readModels))
        let app = try TradeCoreApplication(
            store: store, readModels: readModels, secrets: secrets,
            brokers: BrokerRegistry([broker]),
            configuration: .init(
                fillPollInterval: .milliseconds(20), retry: RetryPolicy(initialDelay: .milliseconds(2)),
                sagas: .init(commandRetryDelay: .milliseconds(10))),
            logger: logger)
        return (store, broker, app)
    }

    /// Stops the background parts and closes the store, as a process that exits; how the parts
    /// ended (a stop is not a failure).
    @discardableResult
    func stop() async -> Result<Void, any Error>? {
        running?.cancel()
        let ended = await running?.result
        running = nil
        await store.close()
        return ended
    }

    /// Stops, then opens the same files again and restarts the background parts. The virtual
    /// broker starts afresh, as it would in a new process: its price table as configured, its
    /// books as stored.
    func restart() async throws {
        await stop()
        (store, broker, app) = try await Self.open(directory, secrets: secrets, broker: brokerConfiguration, logs: logs)
        running = Task { try await app.run() }
    }

    func close() async {
        _ = await stop()
        try? FileManager.default.removeItem(at: directory)
    }

    var commands: CommandBus { app.commands }
    var queries: QueryBus { app.queries }

    /// Waits until `condition` holds, checking every 10 ms, for at most `timeout` (generous: every
    /// suite runs at once, on two cores).
    func eventually(
        _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("timed out waiting until \(what)")
        throw HarnessTimeout(what: what)
    }

    /// Every event of a stream.
    func events(of stream: StreamName) async throws -> [RecordedEvent] {
        try await store.readStream(stream, from: 0, direction: .forward, limit: 10_000)
    }

    /// Every event of the log.
    func allEvents() async throws -> [RecordedEvent] {
        try await store.readAll(from: 1, filter: .all, limit: 1_000_000)
    }
}

struct HarnessTimeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting until \(what)" }
}

/// Runs `body` with a fresh harness, closing it afterwards.
func withDomain(
    brokerConfiguration: VirtualBroker.Configuration = VirtualBroker.Configuration(), logs: CapturedLogs? = nil,
    _ body: (DomainHarness) async throws -> Void
) async throws {
    let harness = try await DomainHarness(brokerConfiguration: brokerConfiguration, logs: logs)
    do {
        try await body(harness)
    } catch {
        await harness.close()
        throw error
    }
    await harness.close()
}
