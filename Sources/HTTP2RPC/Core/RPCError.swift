/// A failed call: the status a peer sees, the trailers that go with it, and the local cause.
///
/// Handlers throw `RPCError` (or any error conforming to ``RPCErrorConvertible``) to choose
/// the status of a call. Any other error becomes `INTERNAL` with a generic message, and is
/// logged: internal details never leak to the caller.
public struct RPCError: Error, Sendable, CustomStringConvertible {
    public var code: RPCStatus.Code
    public var message: String
    /// Sent as trailing metadata next to `grpc-status` and `grpc-message`.
    public var metadata: RPCMetadata
    /// The underlying error, for logs only; never sent to the peer.
    public var cause: (any Error)?
    /// The call never reached a handler (the connection was gone, or the server refused the
    /// stream before processing it), so a client may send it again without risk.
    var isTransparentlyRetryable = false

    public init(
        _ code: RPCStatus.Code,
        _ message: String,
        metadata: RPCMetadata = [:],
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.metadata = metadata
        self.cause = cause
    }

    public init(status: RPCStatus, metadata: RPCMetadata = [:]) {
        self.init(status.code, status.message, metadata: metadata)
    }

    public var status: RPCStatus { RPCStatus(code, message) }

    /// An UNAVAILABLE error for a call that was never processed.
    static func notProcessed(_ message: String) -> RPCError {
        var error = RPCError(.unavailable, message)
        error.isTransparentlyRetryable = true
        return error
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}

/// An error that knows which gRPC status it should become on the wire.
///
/// Domain errors adopt this so that the RPC layer needs no knowledge of the domain: a
/// "not found" error answers NOT_FOUND, a version conflict ABORTED, and so on.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

extension RPCError {
    /// Maps any error thrown by a handler to what the peer is told.
    ///
    /// Returns `nil` as `isBug` when the error was chosen deliberately; unexpected errors are
    /// reported as `INTERNAL` and flagged so the caller logs them.
    static func from(_ error: any Error) -> (error: RPCError, isBug: Bool) {
        switch error {
        case let rpc as RPCError:
            return (rpc, false)
        case let convertible as any RPCErrorConvertible:
            return (convertible.rpcError, false)
        case is CancellationError:
            return (RPCError(.cancelled, "the call was cancelled"), false)
        default:
            return (RPCError(.internal, "internal server error", cause: error), true)
        }
    }
}
