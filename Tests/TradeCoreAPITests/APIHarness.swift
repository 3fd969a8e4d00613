import EventSourcing
import EventSourcingSQLite
import EventStore
import EventStoreSQLite
import Foundation
import HTTP2RPC
import Logging
import Metrics
import NIOCore
import Testing
import TradeCoreAPI
import TradeCoreDomain
import TradeCoreMessages
import WireFormat

/// The API served on a real socket over a SQLite store, with a service token and two users' tokens.
final class APIHarness: Sendable {
    static let serviceToken = "test-service-token-0123456789"
    let alice = UUID()
    let bob = UUID()
    var aliceToken: String { "alice-token-\(alice.uuidString)" }
    var bobToken: String { "bob-token-\(bob.uuidString)" }

    let directory: URL
    let store: SQLiteEventStore
    let app: TradeCoreApplication
    let broker: VirtualBroker
    let server: RPCServer
    let shutdown: ShutdownSignal
    let client: RPCClient
    private let running: Task<Void, any Error>

    init(port: Int = 0) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tradecore-api-\(UUID().uuidString)")
        var logger = Logger(label: "tradecore.tests.api")
        logger.logLevel = .critical
        store = try await SQLiteEventStore.open(.init(directory: directory, integrityCheck: .none, logger: logger))
        broker = VirtualBroker()
        app = try TradeCoreApplication(
            store: store, readModels: SQLiteProjectionStore(store: store),
            secrets: try ServerSecrets(masterKeyBytes: Array(repeating: 9, count: 32)),
            brokers: BrokerRegistry([broker]),
            configuration: .init(fillPollInterval: .milliseconds(20)), logger: logger)
        shutdown = ShutdownSignal()
        let authenticator = try Authenticator(tokens: [
            "service:tests=\(Self.serviceToken)", "user:\(alice.uuidString)=alice-token-\(alice.uuidString)",
            "user:\(bob.uuidString)=bob-token-\(bob.uuidString)",
        ])
        var router = RPCRouter()
        try router.register(
            TradeCoreAPI(
                app: app, authenticator: authenticator, metrics: APIMetrics(factory: NOOPMetricsHandler.instance),
                shutdown: shutdown,
                subscription: {
                    var settings = EventStreamService.Settings()
                    settings.checkpointInterval = .milliseconds(100)
                    return settings
                }(), logger: logger))
        server = RPCServer(
            configuration: RPCServerConfiguration(host: "127.0.0.1", port: port), router: router, logger: logger)
        try await server.start()
        guard let port = server.localAddress?.port else { throw HarnessError("the server reported no port") }
        client = RPCClient(host: "127.0.0.1", port: port)
        running = Task { [app] in try await app.run() }
    }

    func close() async {
        await client.close()
        await server.shutdown()
        running.cancel()
        _ = await running.result
        await store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    static func path(_ service: String, _ method: String) -> String { "/tradecore.api.v1.\(service)/\(method)" }

    static func bearer(_ token: String) -> RPCMetadata { ["authorization": .string("Bearer \(token)")] }

    var asService: RPCMetadata { Self.bearer(Self.serviceToken) }
    var asAlice: RPCMetadata { Self.bearer(aliceToken) }
    var asBob: RPCMetadata { Self.bearer(bobToken) }

    /// Calls a method with a message; returns the decoded response.
    func call<Response: ProtoMessage>(
        _ service: String, _ method: String, _ request: some ProtoMessage, as type: Response.Type,
        metadata: RPCMetadata
    ) async throws -> Response {
        let response = try await client.unary(
            Self.path(service, method), request.protoBytes, metadata: metadata, timeout: .seconds(10))
        return try Response(protoBytes: response.message)
    }

    /// Calls a method and returns the error it fails with.
    func failure(
        _ service: String, _ method: String, bytes: [UInt8], metadata: RPCMetadata, timeout: TimeAmount = .seconds(10)
    ) async -> RPCError? {
        do {
            _ = try await client.unary(Self.path(service, method), bytes, metadata: metadata, timeout: timeout)
            return nil
        } catch {
            return error
        }
    }

    /// Connects the virtual broker for `user` through OAuth and waits for its accounts; returns
    /// the cash account.
    func connect(_ user: UUID, metadata: RPCMetadata) async throws -> BrokerAccountView {
        let initiated = try await call(
            "CommandService", "InitiateBrokerConnection", InitiateBrokerConnection(userID: user, brokerID: "virtual"),
            as: InitiateBrokerConnectionResult.self, metadata: metadata)
        _ = try await call(
            "CommandService", "CompleteOAuth",
            CompleteOAuth(
                brokerConnectionID: initiated.brokerConnectionID, userID: user, authorizationCode: "code",
                state: initiated.oauthState), as: BrokerConnectionResult.self, metadata: metadata)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
            let accounts = try await call(
                "QueryService", "GetAccountsByUser", GetAccountsByUser(userID: user), as: BrokerAccountList.self,
                metadata: metadata
            ).accounts
            if accounts.count == 2, let cash = accounts.first(where: { $0.brokerAccountNumber.hasSuffix("-C") }) {
                return cash
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError("the accounts were not linked in time")
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func withAPI(port: Int = 0, _ body: (APIHarness) async throws -> Void) async throws {
    let harness = try await APIHarness(port: port)
    do {
        try await body(harness)
    } catch {
        await harness.close()
        throw error
    }
    await harness.close()
}
