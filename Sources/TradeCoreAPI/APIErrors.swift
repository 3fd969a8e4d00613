import EventSourcing
import EventStore
import Foundation
import HTTP2RPC
import TradeCoreDomain
import WireFormat

/// How failures reach the caller: a status code, a message a person understands, and the standard
/// details (`google.rpc.ErrorInfo` with a reason in domain `tradecore` and the facts, plus a
/// `google.rpc.BadRequest` naming the fields at fault).
enum APIErrors {
    static let domain = "tradecore"

    static func error(
        _ code: RPCStatus.Code, reason: String, _ message: String, facts: [String: String] = [:],
        fields: [BadRequest.FieldViolation] = []
    ) -> RPCError {
        RPCError(code, message).withDetails(
            ErrorInfo(reason: reason, domain: domain, metadata: facts), fieldViolations: fields)
    }

    static func unauthenticated(_ message: String) -> RPCError {
        error(.unauthenticated, reason: "UNAUTHENTICATED", message)
    }

    static func permissionDenied(_ principal: Principal, user: UUID) -> RPCError {
        error(
            .permissionDenied, reason: "NOT_YOUR_USER",
            "\(principal) may not act for user \(user.lowercasedText)",
            facts: ["user_id": user.lowercasedText])
    }

    /// A request that is not a valid encoding of its message.
    static func malformed(_ decoding: ProtoDecodingError, message name: String) -> RPCError {
        let field = decoding.fieldPath
        let described = field.map { "\($0): \(decoding.reason)" } ?? "\(decoding.reason)"
        return error(
            .invalidArgument, reason: "MALFORMED_REQUEST", "the request is not a valid \(name): \(described)",
            fields: field.map { [BadRequest.FieldViolation(field: $0, description: decoding.reason.description)] } ?? []
        )
    }

    static func invalidArgument(_ field: String, _ description: String) -> RPCError {
        error(
            .invalidArgument, reason: "INVALID_FIELD", "\(field): \(description)",
            fields: [BadRequest.FieldViolation(field: field, description: description)])
    }

    /// A refusal of the domain, with its reason, facts and fields.
    static func rejected(_ rejection: CommandRejection) -> RPCError {
        let refusal = DomainError(rejection)
        return error(
            statusCode(of: rejection.code), reason: refusal.reason, refusal.message, facts: refusal.facts,
            fields: refusal.fieldViolations.map {
                BadRequest.FieldViolation(field: $0.field, description: $0.description)
            })
    }

    static func statusCode(of code: CommandRejection.Code) -> RPCStatus.Code {
        switch code {
        case .invalidArgument: .invalidArgument
        case .notFound: .notFound
        case .alreadyExists: .alreadyExists
        case .permissionDenied: .permissionDenied
        case .unauthenticated: .unauthenticated
        case .failedPrecondition: .failedPrecondition
        case .resourceExhausted: .resourceExhausted
        default: .failedPrecondition
        }
    }

    /// A command that did not go through; `hadCommandID`: it was sent with a
    /// `tradecore-command-id`, which tells how to learn the outcome of one that may have applied.
    static func command(_ failure: CommandBusError, hadCommandID: Bool) -> RPCError {
        switch failure.code {
        case .rejected:
            return rejected(failure.rejection ?? CommandRejection(.failedPrecondition, failure.message))
        case .conflict:
            var facts: [String: String] = [:]
            if let stream = failure.stream { facts["stream"] = stream.rawValue }
            if let expected = failure.expectedVersion { facts["expected_version"] = "\(expected)" }
            facts["current_version"] = failure.currentVersion.map { "\($0)" } ?? "none"
            let expected = failure.expectedVersion.map { "version \($0)" } ?? "the version it read"
            let current = failure.currentVersion.map { "version \($0)" } ?? "no version"
            return error(
                .aborted, reason: "VERSION_CONFLICT",
                "\(failure.stream?.rawValue ?? "the aggregate") is at \(current), not \(expected): read it again "
                    + "and decide on what it is now", facts: facts)
        case .lockLost:
            return error(.aborted, reason: "LOCK_LOST", "the command lost its lock to another one; send it again")
        case .commandIDReused:
            return error(
                .invalidArgument, reason: "COMMAND_ID_REUSED",
                "tradecore-command-id: \(failure.message)",
                facts: ["command_id": failure.commandID?.lowercasedText ?? "", "command_type": failure.commandType],
                fields: [
                    BadRequest.FieldViolation(field: "tradecore-command-id", description: "used by another command")
                ])
        case .noHandler:
            return error(.unimplemented, reason: "NO_HANDLER", failure.message)
        case .cancelled:
            return RPCError(.cancelled, "the call was cancelled")
        case .storeFailure:
            if let store = failure.underlying as? EventStoreError, store.code == .storageFull {
                return error(
                    .unavailable, reason: "STORE_UNAVAILABLE",
                    "the event store is full, so nothing of the command was written: send it again once there is "
                        + "room (\(failure.message))")
            }
            let findOut =
                hadCommandID
                ? "send it again with the same tradecore-command-id to find out"
                : "it had no tradecore-command-id, so read what it acts on to find out (a command id makes a "
                    + "retry safe)"
            return error(
                .unavailable, reason: "STORE_UNAVAILABLE",
                "the event store failed, so the command may or may not be applied: \(findOut) (\(failure.message))")
        default:
            return underlying(failure.underlying, failure: failure.message)
        }
    }

    /// A handler's failure: an outside party that did not answer is UNAVAILABLE; anything else is a
    /// bug, INTERNAL, with its detail kept for the log.
    private static func underlying(_ cause: (any Error)?, failure: String) -> RPCError {
        switch cause {
        case let broker as BrokerError:
            return error(.unavailable, reason: "BROKER_UNAVAILABLE", broker.message)
        case let lock as LockError where lock.code == .timeout:
            return error(
                .unavailable, reason: "BUSY", "another command holds the same resource; try again shortly")
        case let query as QueryBusError:
            return Self.query(query)
        default:
            return RPCError(.internal, "internal server error", cause: cause ?? APIFailure(message: failure))
        }
    }

    /// The store could not be read or written: the database is down, out of reach or full. Nothing
    /// the caller sent is at fault; trying again later can help.
    static func storeUnavailable(_ failure: EventStoreError) -> RPCError {
        error(
            .unavailable, reason: "STORE_UNAVAILABLE", "the event store cannot be reached now: \(failure.message)")
    }

    /// A query that did not answer.
    static func query(_ failure: QueryBusError) -> RPCError {
        if failure.code == .handlerFailed, let store = failure.underlying as? EventStoreError {
            return storeUnavailable(store)
        }
        switch failure.code {
        case .rejected:
            return rejected(failure.rejection ?? CommandRejection(.notFound, failure.message))
        case .readModelBehind:
            return error(
                .deadlineExceeded, reason: "READ_MODEL_BEHIND",
                "the read model did not reach the requested position in time: \(failure.message)",
                facts: failure.facts)
        case .positionNotCommitted:
            return error(
                .outOfRange, reason: "POSITION_NOT_COMMITTED",
                "min_position is past the end of the log: \(failure.message)", facts: failure.facts)
        case .cancelled:
            return RPCError(.cancelled, "the call was cancelled")
        case .noHandler:
            return error(.unimplemented, reason: "NO_HANDLER", failure.message)
        default:
            return RPCError(.internal, "internal server error", cause: failure)
        }
    }
}

/// A failure with only a message, for the log.
struct APIFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
