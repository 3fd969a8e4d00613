import Foundation
import HTTP2RPC

/// A call that failed: its gRPC status, the server's message, and the standard details the server
/// sent (`google.rpc.ErrorInfo`'s reason and facts, `google.rpc.BadRequest`'s field violations).
public struct TradeCoreError: Error, Sendable, CustomStringConvertible {
    /// The status.
    public var code: RPCStatus.Code
    /// What the server (or the transport) said.
    public var message: String
    /// A stable name for the failure, such as `ORDER_NOT_FOUND`; empty when the server sent none.
    public var reason: String
    /// Facts the server named, such as `expected_version` and `current_version`.
    public var facts: [String: String]
    /// The request fields at fault, with what is wrong with each.
    public var fieldViolations: [(field: String, description: String)]
    /// For a command, the `tradecore-command-id` it was sent with: when the call ended without
    /// saying whether it was applied (UNAVAILABLE, DEADLINE_EXCEEDED), sending it again with
    /// this id gets its first result, or applies it once.
    public var commandID: UUID?

    /// Whether the server may have applied the command although the call failed: the call ended
    /// before its answer came, after it may have reached the server (in this attempt, or in an
    /// earlier one that the client retried).
    public var outcomeUnknown: Bool

    public init(
        code: RPCStatus.Code, message: String, reason: String = "", facts: [String: String] = [:],
        fieldViolations: [(field: String, description: String)] = []
    ) {
        self.code = code
        self.message = message
        self.reason = reason
        self.facts = facts
        self.fieldViolations = fieldViolations
        switch code {
        case .unavailable: outcomeUnknown = !message.hasPrefix("cannot connect to")
        case .deadlineExceeded, .cancelled, .unknown: outcomeUnknown = true
        default: outcomeUnknown = false
        }
    }

    /// Any error of a call, with the details of an ``RPCError``.
    public init(_ error: any Error) {
        switch error {
        case let error as TradeCoreError:
            self = error
        case let error as RPCError:
            let details = error.details
            self.init(
                code: error.code, message: error.message, reason: details?.errorInfo?.reason ?? "",
                facts: details?.errorInfo?.metadata ?? [:],
                fieldViolations: details?.badRequest?.fieldViolations.map { ($0.field, $0.description) } ?? [])
        case is CancellationError:
            self.init(code: .cancelled, message: "the call was cancelled")
        default:
            self.init(code: .unknown, message: "\(error)")
        }
    }

    public var description: String {
        var text = "\(code): \(message)"
        let fields = fieldViolations.filter { !message.contains($0.field) }
        if !fields.isEmpty {
            text += " (" + fields.map { "\($0.field): \($0.description)" }.joined(separator: "; ") + ")"
        }
        return text
    }
}
