import EventSourcing
import EventStore
import Foundation
import HTTP2RPC
import Logging
import NIOCore
import TradeCoreDomain
import TradeCoreMessages
import WireFormat

/// Serves `Schemas/api.proto` on an ``RPCRouter``: each call is authenticated, decoded, sent
/// through the domain's command or query bus, and its result encoded; failures become statuses
/// with the standard details. The event stream is served by ``EventStreamService``.
public struct TradeCoreAPI: RPCService {
    public static let package = "tradecore.api.v1"

    let app: TradeCoreApplication
    let authenticator: Authenticator
    let metrics: APIMetrics
    let subscriptions: EventStreamService
    let logger: Logger
    /// Calls refused for their token: logged ten a second at most.
    let refusals = LogAllowance(perSecond: 10)

    public init(
        app: TradeCoreApplication, authenticator: Authenticator, metrics: APIMetrics = APIMetrics(),
        shutdown: ShutdownSignal = ShutdownSignal(), subscription: EventStreamService.Settings = .init(),
        logger: Logger = Logger(label: "tradecore.api")
    ) {
        self.app = app
        self.authenticator = authenticator
        self.metrics = metrics
        self.logger = logger
        var subscription = subscription
        if subscription.streamTypes == nil { subscription.streamTypes = TradeCoreApplication.streamTypes }
        if subscription.eventTypes == nil { subscription.eventTypes = TradeCoreApplication.eventTypes }
        subscription.userlessStreamTypes.insert(SagaManagerStreams.streamType)
        self.subscriptions = EventStreamService(
            store: app.store, authenticator: authenticator, metrics: metrics, shutdown: shutdown,
            settings: subscription, logger: logger)
    }

    public func register(into router: inout RPCRouter) throws(RPCRouter.DuplicateMethodError) {
        try registerCommands(into: &router)
        try registerQueries(into: &router)
        try router.register(subscriptions)
    }

    // MARK: - Commands

    private func registerCommands(into router: inout RPCRouter) throws(RPCRouter.DuplicateMethodError) {
        let service = "CommandService"
        try unary(&router, service, "CreateOrder") { (command: CreateOrder, call) in
            try await order(command, command.userID, call)
        }
        try unary(&router, service, "PlaceOrder") { (command: PlaceOrder, call) in
            try await order(command, command.userID, call)
        }
        try unary(&router, service, "AddFill") { (command: AddFill, call) in
            try await order(command, command.userID, call)
        }
        try unary(&router, service, "UpdateOrder") { (command: UpdateOrder, call) in
            try await order(command, command.userID, call)
        }
        try unary(&router, service, "CancelOrder") { (command: CancelOrder, call) in
            try await order(command, command.userID, call)
        }
        try unary(&router, service, "RejectOrder") { (command: RejectOrder, call) in
            try await order(command, command.userID, call)
        }
        try unary(&router, service, "DeleteOrder") { (command: DeleteOrder, call) in
            try await order(command, command.userID, call)
        }
        try unary(&router, service, "CreateAutomation") { (command: CreateAutomation, call) in
            try call.authorize(command.userID)
            let outcome = try await send(command, call)
            let id = outcome.result.automationID
            // The token is derived again here, never read from a record: nothing stores it.
            return CreateAutomationResult(
                automationID: id, webhookURL: app.services.webhookURL(for: id),
                webhookToken: app.services.secrets.webhookToken(for: id), status: outcome.result.status,
                version: outcome.result.version, position: outcome.positionNumber)
        }
        try unary(&router, service, "UpdateAutomation") { (command: UpdateAutomation, call) in
            try await automation(command, command.userID, call)
        }
        try unary(&router, service, "ActivateAutomation") { (command: ActivateAutomation, call) in
            try await automation(command, command.userID, call)
        }
        try unary(&router, service, "DeactivateAutomation") { (command: DeactivateAutomation, call) in
            try await automation(command, command.userID, call)
        }
        try unary(&router, service, "DeleteAutomation") { (command: DeleteAutomation, call) in
            try await automation(command, command.userID, call)
        }
        try unary(&router, service, "InitiateBrokerConnection") { (command: InitiateBrokerConnection, call) in
            try call.authorize(command.userID)
            let outcome = try await send(command, call)
            var result = outcome.result
            result.position = outcome.positionNumber
            if result.status == .awaitingOAuth, let adapter = app.services.brokers.adapter(for: command.brokerID) {
                // Derived from the connection and the command, as the handler did to record its digest.
                let challenge = OAuthChallenge(
                    command: command, connectionID: result.brokerConnectionID, commandID: outcome.commandID,
                    adapter: adapter, secrets: app.services.secrets)
                result.authorizationURL = challenge.authorizationURL
                result.oauthState = challenge.state
            }
            return result
        }
        try unary(&router, service, "CompleteOAuth") { (command: CompleteOAuth, call) in
            try await connection(command, command.userID, call)
        }
        try unary(&router, service, "DisconnectBroker") { (command: DisconnectBroker, call) in
            try await connection(command, command.userID, call)
        }
        try unary(&router, service, "RefreshAccountDataFromBroker") { (command: RefreshAccountDataFromBroker, call) in
            try call.authorize(command.userID)
            let outcome = try await send(command, call)
            var result = outcome.result
            result.position = outcome.positionNumber
            return result
        }
        try unary(&router, service, "RefreshAllAccounts") { (command: RefreshAllAccounts, call) in
            try call.authorize(command.userID)
            let outcome = try await send(command, call)
            var result = outcome.result
            result.position = outcome.positionNumber
            return result
        }
    }

    private func order<C: Command & ProtoMessage>(
        _ command: C, _ user: UUID, _ call: APICall
    ) async throws -> OrderResult where C.Result == OrderResult {
        try call.authorize(user)
        let outcome = try await send(command, call)
        var result = outcome.result
        result.position = outcome.positionNumber
        return result
    }

    private func automation<C: Command & ProtoMessage>(
        _ command: C, _ user: UUID, _ call: APICall
    ) async throws -> AutomationResult where C.Result == AutomationResult {
        try call.authorize(user)
        let outcome = try await send(command, call)
        var result = outcome.result
        result.position = outcome.positionNumber
        return result
    }

    private func connection<C: Command & ProtoMessage>(
        _ command: C, _ user: UUID, _ call: APICall
    ) async throws -> BrokerConnectionResult where C.Result == BrokerConnectionResult {
        try call.authorize(user)
        let outcome = try await send(command, call)
        var result = outcome.result
        result.position = outcome.positionNumber
        return result
    }

    /// Sends a command through the bus with the call's command id and request id. A command id
    /// is bound to the command's content by a fingerprint: the same id with another command is
    /// refused (COMMAND_ID_REUSED), not answered with the first command's result.
    private func send<C: Command & ProtoMessage>(
        _ command: C, _ call: APICall
    ) async throws -> CommandOutcome<C.Result> {
        let commandID = try call.commandID()
        let options = CommandOptions(
            commandID: commandID, correlationID: call.correlationID, userID: command.actingUserID,
            fingerprint: commandID.map { _ in
                app.services.secrets.commandFingerprint(commandType: C.commandType, content: command.protoBytes)
            })
        do {
            let outcome = try await app.commands.send(command, options: options)
            if outcome.position != nil, !outcome.replayed { metrics.commandCommitted() }
            return outcome
        } catch {
            throw APIErrors.command(error, hadCommandID: commandID != nil)
        }
    }

    // MARK: - Queries

    private func registerQueries(into router: inout RPCRouter) throws(RPCRouter.DuplicateMethodError) {
        let service = "QueryService"
        try unary(&router, service, "GetOrder") { (query: GetOrder, call) in
            try call.authorize(query.userID)
            return try await ask(query, after: query.minPosition, call)
        }
        try unary(&router, service, "ListOrders") { (query: ListOrders, call) in
            try call.authorize(query.userID)
            return try await ask(query, after: query.minPosition, call)
        }
        try unary(&router, service, "GetAutomation") { (query: GetAutomation, call) in
            try call.authorize(query.userID)
            return try await ask(query, after: query.minPosition, call)
        }
        try unary(&router, service, "ListAutomations") { (query: ListAutomations, call) in
            try call.authorize(query.userID)
            return try await ask(query, after: query.minPosition, call)
        }
        try unary(&router, service, "GetBrokerConnection") { (query: GetBrokerConnection, call) in
            try call.authorize(query.userID)
            return try await ask(query, after: query.minPosition, call)
        }
        try unary(&router, service, "FindBrokerConnection") { (query: FindBrokerConnection, call) in
            try call.authorize(query.userID)
            return try await ask(query, after: query.minPosition, call)
        }
        try unary(&router, service, "GetAccountsByUser") { (query: GetAccountsByUser, call) in
            try call.authorize(query.userID)
            return try await ask(query, after: query.minPosition, call)
        }
        try unary(&router, service, "GetAccountsByConnection") { (query: GetAccountsByConnection, call) in
            try call.authorize(query.userID)
            return try await ask(query, after: query.minPosition, call)
        }
    }

    /// The longest a query waits for its read model when the caller set no deadline.
    static let defaultReadWait = Duration.seconds(5)

    /// Asks the query bus; with a minimum position, waits (within the call's deadline) until the
    /// read model has reached it.
    private func ask<Q: Query>(_ query: Q, after minPosition: UInt64, _ call: APICall) async throws -> Q.Result {
        guard let position = Int64(exactly: minPosition) else {
            throw APIErrors.error(
                .outOfRange, reason: "POSITION_NOT_COMMITTED",
                "min_position is past the end of the log: the log has no position \(minPosition), "
                    + "nor can it (positions stop at \(Int64.max))")
        }
        // The wait ends a little before the caller's deadline, so that the caller hears that the
        // read model is behind rather than only that its deadline passed.
        let wait = call.remaining.map { $0 - min($0 / 10, .milliseconds(20)) } ?? Self.defaultReadWait
        let consistency: ReadConsistency = position == 0 ? .eventual : .atLeast(position: position, timeout: wait)
        do {
            return try await app.queries.ask(query, consistency: consistency)
        } catch {
            throw APIErrors.query(error)
        }
    }

    // MARK: - Calls

    /// Registers a unary method: authenticate, decode, run, encode; every failure becomes a status
    /// with details, counted and logged with the call's request id.
    private func unary<Request: ProtoSchemaMessage, Response: ProtoMessage>(
        _ router: inout RPCRouter, _ service: String, _ method: String,
        _ body: @escaping @Sendable (Request, APICall) async throws -> Response
    ) throws(RPCRouter.DuplicateMethodError) {
        let path = "/\(Self.package).\(service)/\(method)"
        let authenticator = self.authenticator
        let metrics = self.metrics
        let logger = self.logger
        let refusals = self.refusals
        try router.unary(path) { request in
            let started = ContinuousClock.now
            let principal: Principal
            do throws(RPCError) {
                principal = try authenticator.principal(of: request.context.metadata)
            } catch {
                metrics.call(method, code: error.code, since: started)
                // Said at info: who knocks without a valid token is the operator's to know. The
                // peer is the proxy's address behind one, which then names the client.
                var refused = error
                let requestID = APICall.givenRequestID(of: request.context) ?? UUIDv7.next().lowercasedText
                refused.metadata.replace(APICall.requestIDKey, .string(requestID))
                // At most a few lines a second, so that a stream of tokenless calls cannot flood
                // the log; the ones left out are counted in the next line.
                if let unlogged = refusals.admit() {
                    logger.info(
                        "call refused: not authenticated",
                        metadata: [
                            "request.id": "\(requestID)", "rpc.method": "\(method)",
                            "rpc.peer": "\(request.context.peer)",
                            "rpc.forwarded_for": "\(request.context.metadata.first("x-forwarded-for") ?? "")",
                            "error": "\(error.message)", "refusals.unlogged_before": "\(unlogged)",
                        ])
                }
                throw refused
            }
            let call = APICall(method: method, principal: principal, context: request.context, logger: logger)
            do {
                let message: Request
                do throws(ProtoDecodingError) {
                    message = try Request(protoBytes: request.message)
                } catch {
                    throw APIErrors.malformed(error, message: Request.protoMessageName)
                }
                let response = try await body(message, call)
                metrics.call(method, code: Self.statusSent(.ok, request.context), since: started)
                if logger.logLevel <= .debug {
                    call.logger.debug(
                        "call answered",
                        metadata: ["rpc.status": "OK", "rpc.duration_us": "\(Self.microseconds(since: started))"])
                }
                return RPCServerResponse(
                    message: response.protoBytes, metadata: [APICall.requestIDKey: .string(call.requestID)])
            } catch {
                var failure = Self.rpcError(error)
                failure.metadata.replace(APICall.requestIDKey, .string(call.requestID))
                let sent = Self.statusSent(failure.code, request.context)
                metrics.call(method, code: sent, since: started)
                if failure.code == .internal && sent != .deadlineExceeded {
                    call.logger.error(
                        "call failed", metadata: ["error": "\(failure.cause.map { "\($0)" } ?? failure.message)"])
                } else if logger.logLevel <= .debug {
                    call.logger.debug(
                        "call refused",
                        metadata: [
                            "rpc.status": "\(failure.code)", "error": "\(failure.message)",
                            "rpc.duration_us": "\(Self.microseconds(since: started))",
                        ])
                }
                throw failure
            }
        }
    }

    /// The status the caller is sent for a call that ends with `code`: once the call's deadline has
    /// passed, the transport answers DEADLINE_EXCEEDED, whatever the handler then returns (a result,
    /// or the failure that the cancellation the deadline caused came to).
    static func statusSent(_ code: RPCStatus.Code, _ context: RPCServerContext) -> RPCStatus.Code {
        guard let deadline = context.deadline, deadline <= .now() else { return code }
        return .deadlineExceeded
    }

    /// Whole microseconds from `start` to now, as a call's log line gives its duration.
    static func microseconds(since start: ContinuousClock.Instant) -> Int64 {
        (ContinuousClock.now - start).nanoseconds / 1_000
    }

    static func rpcError(_ error: any Error) -> RPCError {
        switch error {
        case let error as RPCError: error
        case is CancellationError: RPCError(.cancelled, "the call was cancelled")
        case let store as EventStoreError where store.code != .invalidArgument: APIErrors.storeUnavailable(store)
        default: RPCError(.internal, "internal server error", cause: error)
        }
    }
}

extension CommandOutcome {
    /// The position as the wire carries it: 0 when the command appended nothing.
    var positionNumber: UInt64 { position.map { UInt64(clamping: $0) } ?? 0 }
}
