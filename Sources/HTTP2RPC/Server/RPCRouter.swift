/// Maps method paths to handlers. Built once before the server starts, then read-only.
public struct RPCRouter: Sendable {
    public typealias UnaryHandler = @Sendable (RPCServerRequest) async throws -> RPCServerResponse
    /// Writes any number of messages, then returns the trailing metadata.
    public typealias ServerStreamingHandler =
        @Sendable (RPCServerRequest, RPCResponseWriter) async throws -> RPCMetadata
    /// Reads any number of messages and writes any number; returns the trailing metadata.
    public typealias BidirectionalHandler =
        @Sendable (RPCRequestStream, RPCServerContext, RPCResponseWriter) async throws -> RPCMetadata

    /// A registered method: whether it starts once its one request message has arrived (unary
    /// and server streaming) or at once with a request stream, and the erased closure that runs
    /// it (``RPCServerExecutor``).
    struct Handler: Sendable {
        let waitsForWholeRequest: Bool
        let run: RPCServerExecutor.Run
    }

    public struct DuplicateMethodError: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "method \(path) is registered twice" }
    }

    private(set) var handlers: [String: Handler] = [:]

    public init() {}

    /// Every registered method path, sorted.
    public var methods: [String] { handlers.keys.sorted() }

    public mutating func unary(_ path: String, _ handler: @escaping UnaryHandler) throws(DuplicateMethodError) {
        try add(path, Handler(waitsForWholeRequest: true, run: RPCServerExecutor.unary(handler)))
    }

    public mutating func serverStreaming(
        _ path: String, _ handler: @escaping ServerStreamingHandler
    ) throws(DuplicateMethodError) {
        try add(path, Handler(waitsForWholeRequest: true, run: RPCServerExecutor.serverStreaming(handler)))
    }

    /// Registers a bidirectional-streaming method. Client-streaming methods use this shape too
    /// and write a single response.
    public mutating func bidirectional(
        _ path: String, _ handler: @escaping BidirectionalHandler
    ) throws(DuplicateMethodError) {
        try add(path, Handler(waitsForWholeRequest: false, run: RPCServerExecutor.bidirectional(handler)))
    }

    /// Adds every method of `service`.
    public mutating func register(_ service: some RPCService) throws(DuplicateMethodError) {
        try service.register(into: &self)
    }

    private mutating func add(_ path: String, _ handler: Handler) throws(DuplicateMethodError) {
        guard handlers[path] == nil else { throw DuplicateMethodError(path: path) }
        handlers[path] = handler
    }
}

/// A group of methods registered together, such as `grpc.health.v1.Health`.
public protocol RPCService: Sendable {
    func register(into router: inout RPCRouter) throws(RPCRouter.DuplicateMethodError)
}
