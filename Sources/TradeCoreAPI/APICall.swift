import EventSourcing
import EventStore
import Foundation
import HTTP2RPC
import Logging
import NIOCore

/// What the API knows of one call: who makes it, its request id, and what its metadata asks.
struct APICall: Sendable {
    /// The metadata key of a command's idempotency id.
    static let commandIDKey = "tradecore-command-id"
    /// What a client that sends the id as binary metadata names it: refused, never read.
    static let binaryCommandIDKey = "tradecore-command-id-bin"
    /// The metadata key of the request id, taken from the caller or made, and sent back.
    static let requestIDKey = "x-request-id"

    let method: String
    let principal: Principal
    let requestID: String
    /// The correlation id of the events the call causes: the request id when it is a UUID, else a
    /// UUID derived from it (version 5), so a proxy's request id (nginx's 32 hex digits, say) also
    /// ties the events to the request. Computed once: the API reads it per call.
    let correlationID: UUID
    let context: RPCServerContext
    private let baseLogger: Logger

    /// The server's logger with the request id and method as metadata. Made when a line is logged:
    /// setting metadata on a log handler can cost more than the rest of a call.
    var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "request.id"] = "\(requestID)"
        logger[metadataKey: "rpc.method"] = "\(method)"
        logger[metadataKey: "rpc.peer"] = "\(context.peer)"
        return logger
    }

    init(method: String, principal: Principal, context: RPCServerContext, logger: Logger) {
        self.method = method
        self.principal = principal
        self.context = context
        if let given = Self.givenRequestID(of: context) {
            requestID = given
            correlationID =
                UUID(canonicalText: given) ?? NameBasedUUID.make(namespace: Self.requestIDNamespace, name: given)
        } else {
            let made = UUIDv7.next()
            requestID = made.lowercasedText
            correlationID = made
        }
        baseLogger = logger
    }

    /// The namespace of correlation ids derived from request ids that are not UUIDs.
    static let requestIDNamespace = UUID(
        uuid: (0x2C, 0x8E, 0x51, 0x07, 0xB4, 0x6A, 0x4F, 0x93, 0x9E, 0x12, 0x7A, 0xD0, 0x3B, 0x65, 0xC4, 0x1F))

    /// The caller's request id, if it is short printable text.
    static func givenRequestID(of context: RPCServerContext) -> String? {
        guard let given = context.metadata.first(Self.requestIDKey), !given.isEmpty, given.utf8.count <= 128,
            given.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { return nil }
        return given
    }

    /// Refuses a request for another user than the principal may act for.
    func authorize(_ user: UUID) throws(RPCError) {
        // Sixteen zero bytes are what a client that forgot to set an id sends: taken as a user,
        // every such client would share that user's data.
        guard user != Self.nilUUID else {
            throw APIErrors.invalidArgument("user_id", "is the nil UUID (all zeros), which is no user")
        }
        guard principal.mayActFor(user) else { throw APIErrors.permissionDenied(principal, user: user) }
    }

    static let nilUUID = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    /// The command id the caller chose, if any.
    func commandID() throws(RPCError) -> UUID? {
        guard let text = context.metadata.first(Self.commandIDKey) else {
            // Its binary form is not read: a client that sent it would take the command for
            // idempotent, and a retry of it would run again.
            if context.metadata.count(of: Self.binaryCommandIDKey) > 0 {
                throw APIErrors.invalidArgument(
                    Self.binaryCommandIDKey, "is not read: send the command id as text, in \(Self.commandIDKey)")
            }
            return nil
        }
        guard context.metadata.count(of: Self.commandIDKey) == 1 else {
            throw APIErrors.invalidArgument(Self.commandIDKey, "is given more than once; a command has one id")
        }
        guard let id = UUID(canonicalText: text) else {
            throw APIErrors.invalidArgument(Self.commandIDKey, "\"\(text.prefix(64))\" is not a UUID")
        }
        guard id != Self.nilUUID else {
            throw APIErrors.invalidArgument(
                Self.commandIDKey, "is the nil UUID (all zeros): every client that sent it would share its result")
        }
        return id
    }

    /// How long the caller still waits; `nil` without a deadline.
    var remaining: Duration? {
        guard let deadline = context.deadline else { return nil }
        let nanoseconds = (deadline - .now()).nanoseconds
        return .nanoseconds(max(nanoseconds, 0))
    }
}
