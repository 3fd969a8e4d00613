import Foundation
import HTTP2RPC
import Logging
import NIOCore
import TradeCoreMessages
import WireFormat

/// A typed client of a TradeCore server: one method per RPC of `Schemas/api.proto`.
///
/// - Every command carries a `tradecore-command-id` (the caller's, or a new one), and a command
///   that fails with UNAVAILABLE — the server was not reachable, restarting or draining — is sent
///   again with the same id: the server answers a repeated id with its first result, so the
///   command is applied once. Queries are retried the same way.
/// - A deadline per call (``Configuration/timeout``), a bearer token, TLS with a CA file, and
///   keepalive PINGs on the connection.
/// - Failures are ``TradeCoreError``s with the status, the server's message and its details.
public final class TradeCoreClient: Sendable {
    /// Where the server is and how to call it.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// The bearer token, if the server requires one.
        public var token: String?
        /// TLS: verify the server against this CA file (`nil` with ``useTLS`` uses the system's).
        public var caFile: String?
        /// The name to verify the certificate against; defaults to the host.
        public var serverName: String?
        /// Whether to use TLS; implied by a CA file.
        public var useTLS: Bool
        /// The deadline of each call, retries included.
        public var timeout: Duration
        /// How many times a call that failed with UNAVAILABLE is tried in all, within ``timeout``.
        public var attempts: Int
        /// The pause before the first retry, doubled for each next one.
        public var retryDelay: Duration
        /// Keepalive PINGs after this long without a frame from the server.
        public var keepaliveInterval: Duration?

        public init(
            host: String = "127.0.0.1", port: Int = 50051, token: String? = nil, caFile: String? = nil,
            serverName: String? = nil, useTLS: Bool = false, timeout: Duration = .seconds(10), attempts: Int = 3,
            retryDelay: Duration = .milliseconds(200), keepaliveInterval: Duration? = .seconds(30)
        ) {
            self.host = host
            self.port = port
            self.token = token
            self.caFile = caFile
            self.serverName = serverName
            self.useTLS = useTLS || caFile != nil
            self.timeout = timeout
            self.attempts = max(attempts, 1)
            self.retryDelay = retryDelay
            self.keepaliveInterval = keepaliveInterval
        }
    }

    public static let commandIDKey = "tradecore-command-id"

    public let configuration: Configuration
    private let rpc: RPCClient

    public init(configuration: Configuration, logger: Logger = Logger(label: "tradecore.client")) {
        self.configuration = configuration
        var transport = RPCClientConfiguration()
        transport.keepaliveInterval = configuration.keepaliveInterval.map { .nanoseconds(Int64($0 / .nanoseconds(1))) }
        // A call's time bounds its connecting too (a host that drops packets): the call's own timer
        // starts once connected. A second at least, so that a deadline too short for any answer is
        // still DEADLINE_EXCEEDED from a server that is there, not a connection said to fail.
        let timeout = TimeAmount.nanoseconds(Int64(max(configuration.timeout, .seconds(1)) / .nanoseconds(1)))
        transport.connectTimeout = min(transport.connectTimeout, timeout)
        rpc = RPCClient(
            host: configuration.host, port: configuration.port,
            tls: configuration.useTLS
                ? TLSClientConfiguration(trustRootsFile: configuration.caFile, serverName: configuration.serverName)
                : nil,
            configuration: transport, logger: logger)
    }

    /// Closes the connection.
    public func close() async {
        await rpc.close()
    }

    /// Runs `body` on the thread of this client's connection: calls made in it need no hop between
    /// threads. For load generators; ordinary callers need not care.
    public func onConnectionLoop<Result: Sendable>(
        _ body: @Sendable () async throws -> Result
    ) async throws(TradeCoreError) -> Result {
        do {
            return try await rpc.onConnectionLoop(body)
        } catch {
            throw TradeCoreError(error)
        }
    }

    // MARK: - Commands

    public func createOrder(_ command: CreateOrder, commandID: UUID? = nil) async throws(TradeCoreError) -> OrderResult
    {
        try await send("CreateOrder", command, commandID)
    }

    public func placeOrder(_ command: PlaceOrder, commandID: UUID? = nil) async throws(TradeCoreError) -> OrderResult {
        try await send("PlaceOrder", command, commandID)
    }

    public func addFill(_ command: AddFill, commandID: UUID? = nil) async throws(TradeCoreError) -> OrderResult {
        try await send("AddFill", command, commandID)
    }

    public func updateOrder(_ command: UpdateOrder, commandID: UUID? = nil) async throws(TradeCoreError) -> OrderResult
    {
        try await send("UpdateOrder", command, commandID)
    }

    public func cancelOrder(_ command: CancelOrder, commandID: UUID? = nil) async throws(TradeCoreError) -> OrderResult
    {
        try await send("CancelOrder", command, commandID)
    }

    public func rejectOrder(_ command: RejectOrder, commandID: UUID? = nil) async throws(TradeCoreError) -> OrderResult
    {
        try await send("RejectOrder", command, commandID)
    }

    public func deleteOrder(_ command: DeleteOrder, commandID: UUID? = nil) async throws(TradeCoreError) -> OrderResult
    {
        try await send("DeleteOrder", command, commandID)
    }

    public func createAutomation(
        _ command: CreateAutomation, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> CreateAutomationResult {
        try await send("CreateAutomation", command, commandID)
    }

    public func updateAutomation(
        _ command: UpdateAutomation, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> AutomationResult {
        try await send("UpdateAutomation", command, commandID)
    }

    public func activateAutomation(
        _ command: ActivateAutomation, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> AutomationResult {
        try await send("ActivateAutomation", command, commandID)
    }

    public func deactivateAutomation(
        _ command: DeactivateAutomation, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> AutomationResult {
        try await send("DeactivateAutomation", command, commandID)
    }

    public func deleteAutomation(
        _ command: DeleteAutomation, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> AutomationResult {
        try await send("DeleteAutomation", command, commandID)
    }

    public func initiateBrokerConnection(
        _ command: InitiateBrokerConnection, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> InitiateBrokerConnectionResult {
        try await send("InitiateBrokerConnection", command, commandID)
    }

    public func completeOAuth(
        _ command: CompleteOAuth, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> BrokerConnectionResult {
        try await send("CompleteOAuth", command, commandID)
    }

    public func disconnectBroker(
        _ command: DisconnectBroker, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> BrokerConnectionResult {
        try await send("DisconnectBroker", command, commandID)
    }

    public func refreshAccountDataFromBroker(
        _ command: RefreshAccountDataFromBroker, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> BrokerAccountResult {
        try await send("RefreshAccountDataFromBroker", command, commandID)
    }

    public func refreshAllAccounts(
        _ command: RefreshAllAccounts, commandID: UUID? = nil
    ) async throws(TradeCoreError) -> RefreshAllAccountsResult {
        try await send("RefreshAllAccounts", command, commandID)
    }

    // MARK: - Queries

    public func getOrder(_ query: GetOrder) async throws(TradeCoreError) -> OrderView {
        try await ask("GetOrder", query)
    }

    public func listOrders(_ query: ListOrders) async throws(TradeCoreError) -> OrderList {
        try await ask("ListOrders", query)
    }

    public func getAutomation(_ query: GetAutomation) async throws(TradeCoreError) -> AutomationView {
        try await ask("GetAutomation", query)
    }

    public func listAutomations(_ query: ListAutomations) async throws(TradeCoreError) -> AutomationList {
        try await ask("ListAutomations", query)
    }

    public func getBrokerConnection(_ query: GetBrokerConnection) async throws(TradeCoreError) -> BrokerConnectionView {
        try await ask("GetBrokerConnection", query)
    }

    public func findBrokerConnection(_ query: FindBrokerConnection) async throws(TradeCoreError) -> BrokerConnectionView
    {
        try await ask("FindBrokerConnection", query)
    }

    public func accountsByUser(_ query: GetAccountsByUser) async throws(TradeCoreError) -> BrokerAccountList {
        try await ask("GetAccountsByUser", query)
    }

    public func accountsByConnection(_ query: GetAccountsByConnection) async throws(TradeCoreError) -> BrokerAccountList
    {
        try await ask("GetAccountsByConnection", query)
    }

    // MARK: - Events

    /// Reads a page of one stream.
    public func readStream(_ request: ReadStreamRequest) async throws(TradeCoreError) -> ReadStreamResponse {
        try await call("/tradecore.api.v1.EventStreamService/ReadStream", request, metadata: authorization, retry: true)
    }

    /// The event stream from `request`'s start, as an async sequence of messages (events,
    /// checkpoints, caught-up and fell-behind notices). The call starts when iteration starts and
    /// is cancelled when the iterator goes away; it has no deadline. It ends with a
    /// ``TradeCoreError`` when the server ends it (UNAVAILABLE, with the position to resume after,
    /// when the server drains). A reader that lags slows the server down, through the stream's
    /// flow control, rather than buffering.
    public func subscribe(_ request: SubscribeRequest) -> EventStream {
        EventStream(rpc: rpc, request: request, metadata: authorization)
    }

    // MARK: - Transport probes

    /// The server's health (`grpc.health.v1.Health/Check` of the whole server).
    public func health(service: String = "") async throws(TradeCoreError) -> HealthCheckResponse.ServingStatus? {
        let response: HealthCheckResponse = try await call(
            HealthService.checkPath, HealthCheckRequest(service: service), metadata: authorization, retry: true)
        return response.status
    }

    /// The server's connection and call counters.
    public func serverStats() async throws(TradeCoreError) -> ServerStatsMessage {
        try await call(DiagnosticsService.serverStatsPath, ServerStatsRequest(), metadata: authorization, retry: true)
    }

    /// Echoes `payload`: the transport's round trip.
    public func ping(_ payload: [UInt8] = []) async throws(TradeCoreError) -> PingResponse {
        try await call(
            DiagnosticsService.pingPath, PingRequest(payload: payload), metadata: authorization, retry: false)
    }

    // MARK: - Calls

    private var authorization: RPCMetadata {
        guard let token = configuration.token else { return [:] }
        return ["authorization": .string("Bearer \(token)")]
    }

    private func send<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: String, _ command: Request, _ commandID: UUID?
    ) async throws(TradeCoreError) -> Response {
        var metadata = authorization
        let id = commandID ?? UUID()
        metadata.add(Self.commandIDKey, id.uuidString.lowercased())
        do {
            return try await call(
                "/tradecore.api.v1.CommandService/\(method)", command, metadata: metadata, retry: true)
        } catch {
            var failure = error
            failure.commandID = id
            throw failure
        }
    }

    private func ask<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: String, _ query: Request
    ) async throws(TradeCoreError) -> Response {
        try await call("/tradecore.api.v1.QueryService/\(method)", query, metadata: authorization, retry: true)
    }

    private func call<Request: ProtoMessage, Response: ProtoMessage>(
        _ path: String, _ request: Request, metadata: RPCMetadata, retry: Bool
    ) async throws(TradeCoreError) -> Response {
        let bytes = request.protoBytes
        let attempts = retry ? configuration.attempts : 1
        var delay = configuration.retryDelay
        var attempt = 1
        // An attempt that failed after it may have reached the server: a later one that cannot
        // connect does not make the command's outcome known.
        var mayHaveReachedServer = false
        // One deadline for the call: each attempt has what the ones before it left.
        let deadline = ContinuousClock.now + configuration.timeout
        while true {
            do {
                let remaining = max(deadline - ContinuousClock.now, .milliseconds(1))
                let response = try await rpc.unary(
                    path, bytes, metadata: metadata, timeout: .nanoseconds(Int64(remaining / .nanoseconds(1))))
                do {
                    return try Response(protoBytes: response.message)
                } catch {
                    throw TradeCoreError(
                        code: .internal,
                        message: "the server's answer is not a valid \(Response.protoMessageName): \(error)")
                }
            } catch let error as RPCError
                where error.code == .unavailable && attempt < attempts
                && deadline - (ContinuousClock.now + delay) >= max(configuration.timeout / 2, .seconds(1))
            {
                // Retried only with half the call's time still ahead: a retry squeezed into what is
                // left would end in DEADLINE_EXCEEDED and hide why the server could not be reached.
                if TradeCoreError(error).outcomeUnknown { mayHaveReachedServer = true }
                attempt += 1
                try? await Task.sleep(for: delay)
                delay *= 2
            } catch {
                var failure = TradeCoreError(error)
                if mayHaveReachedServer && failure.code == .unavailable { failure.outcomeUnknown = true }
                if attempt > 1 { failure.message += " (tried \(attempt) times)" }
                throw failure
            }
        }
    }
}
