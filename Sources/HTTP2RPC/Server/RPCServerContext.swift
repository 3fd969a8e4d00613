import Logging
import NIOCore

/// What a handler knows about the call it serves.
public struct RPCServerContext: Sendable {
    /// The method path, `/package.Service/Method`.
    public let method: String
    /// The caller's custom metadata (request headers that are not protocol fields).
    public let metadata: RPCMetadata
    /// When the caller stops waiting, from `grpc-timeout`; the handler is cancelled then.
    public let deadline: NIODeadline?
    /// The remote address, for logs.
    public let peer: String
    private let connectionLogger: Logger
    private let streamID: Int32

    /// A logger carrying `rpc.method` and `rpc.stream` metadata. Built on access, so calls that
    /// log nothing pay nothing for it.
    public var logger: Logger {
        var logger = connectionLogger
        logger[metadataKey: "rpc.method"] = .string(method)
        logger[metadataKey: "rpc.stream"] = .stringConvertible(streamID)
        return logger
    }

    public init(
        method: String, metadata: RPCMetadata, deadline: NIODeadline?, peer: String, connectionLogger: Logger,
        streamID: Int32
    ) {
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer
        self.connectionLogger = connectionLogger
        self.streamID = streamID
    }
}

/// One request message of a unary or server-streaming call.
public struct RPCServerRequest: Sendable {
    public var message: [UInt8]
    public var context: RPCServerContext

    public init(message: [UInt8], context: RPCServerContext) {
        self.message = message
        self.context = context
    }
}

/// The answer of a unary call: one message, with optional initial and trailing metadata.
public struct RPCServerResponse: Sendable {
    public var message: [UInt8]
    public var metadata: RPCMetadata
    public var trailers: RPCMetadata

    public init(message: [UInt8], metadata: RPCMetadata = [:], trailers: RPCMetadata = [:]) {
        self.message = message
        self.metadata = metadata
        self.trailers = trailers
    }
}
