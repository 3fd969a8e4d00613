import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A client for gRPC-compatible servers over one HTTP/2 connection (nghttp2), plain or TLS.
///
/// Calls from any number of tasks are multiplexed on the connection, which is opened on the
/// first call and reopened on the next call after it closes. Every failure surfaces as an
/// ``RPCError`` carrying the gRPC status.
public final class RPCClient: Sendable {
    public let host: String
    public let port: Int
    private let tls: TLSClientConfiguration?
    private let configuration: RPCClientConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let callCounter = NIOLockedValueBox<UInt64>(0)
    /// Keepalive PINGs the server answered, on every connection this client opened.
    private let keepaliveAnswers = NIOLockedValueBox(0)

    private struct Connection: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<HTTP2ClientConnectionHandler>
    }

    private struct State: Sendable {
        var connecting: EventLoopFuture<Connection>?
        var connection: Connection?
        var closed = false
    }

    public init(
        host: String,
        port: Int,
        tls: TLSClientConfiguration? = nil,
        configuration: RPCClientConfiguration = RPCClientConfiguration(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "tradecore.rpc.client")
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// How many keepalive PINGs (``RPCClientConfiguration/keepaliveInterval``) the server has
    /// answered, over every connection this client opened: a connection kept alive through quiet
    /// periods shows here.
    public var keepalivePingsAnswered: Int { keepaliveAnswers.withLockedValue { $0 } }

    /// Opens the connection now instead of at the first call.
    public func connect() async throws {
        _ = try await connection()
    }

    /// Runs `body` on the event loop of this client's connection (as the task executor it prefers):
    /// calls made there start and complete on that loop's thread, without a hop between threads
    /// per call. For a client that sends many calls from few tasks, such as a load generator.
    public func onConnectionLoop<Result: Sendable>(
        _ body: @Sendable () async throws -> Result
    ) async throws -> Result {
        let loop = try await connection().channel.eventLoop
        return try await withTaskExecutorPreference(EventLoopTaskExecutor(eventLoop: loop)) { try await body() }
    }

    /// Closes the connection; calls in flight fail with UNAVAILABLE.
    public func close() async {
        let connection = state.withLockedValue { state -> Connection? in
            state.closed = true
            defer { state.connection = nil }
            return state.connection
        }
        try? await connection?.channel.close()
    }

    // MARK: Calls

    /// Sends one message and waits for one.
    public func unary(
        _ method: String,
        _ message: [UInt8],
        metadata: RPCMetadata = [:],
        timeout: TimeAmount? = nil
    ) async throws(RPCError) -> RPCClientResponse {
        let request = makeRequest(method, message, metadata, timeout)
        do {
            return try await unaryAttempt(request)
        } catch {
            // Nothing reached a handler: a fresh connection gets one more try.
            guard error.isTransparentlyRetryable else { throw error }
            return try await unaryAttempt(request)
        }
    }

    private func unaryAttempt(
        _ request: HTTP2ClientConnectionHandler.CallRequest
    ) async throws(RPCError) -> RPCClientResponse {
        let connection = try await connection()
        let response: RPCClientResponse
        do {
            response = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation {
                    (continuation: CheckedContinuation<RPCClientResponse, any Error>) in
                    let loop = connection.channel.eventLoop
                    let start: @Sendable () -> Void = {
                        connection.handler.value.start(
                            request, observer: UnaryCallObserver(continuation), expectsSingleMessage: true)
                    }
                    // Already on the loop (a task preferring it): start without a hop.
                    if loop.inEventLoop { start() } else { loop.execute(start) }
                }
            } onCancel: {
                connection.channel.eventLoop.execute { connection.handler.value.cancel(callID: request.callID) }
            }
        } catch {
            let rpcError = Self.rpcError(error)
            if rpcError.isTransparentlyRetryable { forget(connection) }
            throw rpcError
        }
        return response
    }

    /// Sends one message and reads a stream of responses inside `body`.
    ///
    /// When `body` returns or throws before the stream has ended, the call is cancelled.
    /// Reading slowly applies HTTP/2 flow control to the server.
    public func serverStreaming<Result: Sendable>(
        _ method: String,
        _ message: [UInt8],
        metadata: RPCMetadata = [:],
        timeout: TimeAmount? = nil,
        _ body: (RPCClientStreamingResponse) async throws -> Result
    ) async throws -> Result {
        let request = makeRequest(method, message, metadata, timeout)
        let response: StartedStream
        do throws(RPCError) {
            response = try await startStreaming(request)
        } catch {
            guard error.isTransparentlyRetryable else { throw error }
            response = try await startStreaming(request)
        }
        let connection = response.connection
        let loop = connection.channel.eventLoop
        // The call has started: stopping it once the body is done is a no-op if it finished.
        defer { loop.execute { connection.handler.value.stop(callID: request.callID) } }
        return try await withTaskCancellationHandler {
            try await body(response.response)
        } onCancel: {
            loop.execute { connection.handler.value.stop(callID: request.callID) }
        }
    }

    private struct StartedStream {
        var connection: Connection
        var response: RPCClientStreamingResponse
    }

    /// Opens a streaming call and waits for its response headers.
    private func startStreaming(
        _ request: HTTP2ClientConnectionHandler.CallRequest
    ) async throws(RPCError) -> StartedStream {
        let connection = try await connection()
        let loop = connection.channel.eventLoop
        let made = RPCMessageSequence.make(
            lowWatermark: max(1, configuration.streamingBufferHighWatermark / 4),
            highWatermark: configuration.streamingBufferHighWatermark,
            demand: { loop.execute { connection.handler.value.resumeReading(callID: request.callID) } },
            // Runs once the sequence is done with or dropped: after the call's start, on the loop.
            terminated: { loop.execute { connection.handler.value.stop(callID: request.callID) } })
        let trailers = loop.makePromise(of: RPCMetadata.self)
        let source = made.source
        do {
            let headers = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    loop.execute {
                        connection.handler.value.start(
                            request,
                            observer: StreamingCallObserver(headers: continuation, source: source, trailers: trailers),
                            expectsSingleMessage: false)
                    }
                }
            } onCancel: {
                loop.execute { connection.handler.value.cancel(callID: request.callID) }
            }
            let response = RPCClientStreamingResponse(
                metadata: headers, messages: made.sequence, trailerFuture: trailers.futureResult)
            return StartedStream(connection: connection, response: response)
        } catch {
            let rpcError = Self.rpcError(error)
            if rpcError.isTransparentlyRetryable { forget(connection) }
            throw rpcError
        }
    }

    private func makeRequest(
        _ method: String, _ message: [UInt8], _ metadata: RPCMetadata, _ timeout: TimeAmount?
    ) -> HTTP2ClientConnectionHandler.CallRequest {
        let callID = callCounter.withLockedValue { counter -> UInt64 in
            counter &+= 1
            return counter
        }
        return .init(
            callID: callID, path: method, authority: "\(host):\(port)", message: message, metadata: metadata,
            timeout: timeout)
    }

    private static func rpcError(_ error: any Error) -> RPCError {
        if let rpc = error as? RPCError { return rpc }
        if error is CancellationError { return RPCError(.cancelled, "the call was cancelled") }
        return RPCError(.unavailable, "\(error)", cause: error)
    }

    // MARK: Connection

    private func connection() async throws(RPCError) -> Connection {
        let future: EventLoopFuture<Connection>? = state.withLockedValue { state in
            if state.closed { return nil }
            if let connecting = state.connecting { return connecting }
            let future = makeConnection()
            state.connecting = future
            return future
        }
        guard let future else { throw RPCError(.unavailable, "the client is closed") }
        do {
            return try await future.get()
        } catch {
            state.withLockedValue { if $0.connecting === future { $0.connecting = nil } }
            throw RPCError(
                .unavailable, "cannot connect to \(host):\(port): \(Self.connectFailure(error))", cause: error)
        }
    }

    /// Why a connection could not be made, in words: NIO's own description lists each address
    /// tried as a Swift value.
    static func connectFailure(_ error: any Error) -> String {
        switch error {
        case let failure as NIOConnectionError:
            let attempts = failure.connectionErrors
            // One family may fail to resolve while the other's addresses were tried: those say why.
            if attempts.isEmpty, failure.dnsAError != nil || failure.dnsAAAAError != nil {
                return "the name \(failure.host) does not resolve"
            }
            if attempts.count == 1 { return connectFailure(attempts[0].error) }
            let reasons = attempts.map { "\(connectFailure($0.error)) at \($0.target.ipAddress ?? "\($0.target)")" }
            return reasons.isEmpty ? "no address to connect to" : reasons.joined(separator: "; ")
        case let io as IOError:
            return String(cString: strerror(io.errnoCode)).lowercased()
        case ChannelError.connectTimeout(let after):
            return "no answer within \(after)"
        default:
            return "\(error)"
        }
    }

    /// Stops using `connection` for new calls: it closed, or is going away.
    private func forget(_ connection: Connection) {
        let channel = connection.channel
        state.withLockedValue { state in
            if let current = state.connection, current.channel === channel {
                state.connection = nil
                state.connecting = nil
            }
        }
    }

    private func makeConnection() -> EventLoopFuture<Connection> {
        let tlsContext: OpenSSLContext?
        do {
            tlsContext = try tls.map { try OpenSSLContext.client($0, host: host) }
        } catch {
            return group.next().makeFailedFuture(error)
        }
        let configuration = self.configuration
        let logger = self.logger
        let keepaliveAnswers = self.keepaliveAnswers
        // The handler is kept from the initializer rather than looked up in the pipeline once
        // connected: a failed TLS handshake may already have closed the channel and emptied the
        // pipeline by then, and the handler is what knows why.
        let eventLoop = group.next()
        let made = NIOLoopBoundBox.makeEmptyBox(valueType: HTTP2ClientConnectionHandler.self, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tlsContext {
                        try sync.addHandler(try OpenSSLHandler(context: tlsContext, role: .client))
                    }
                    let handler = HTTP2ClientConnectionHandler(
                        configuration: configuration, logger: logger, keepaliveAnswers: keepaliveAnswers)
                    try sync.addHandler(handler)
                    made.value = handler
                }
            }
            .connect(host: host, port: port)
            .flatMapThrowing { [self] channel in
                guard let handler = made.value else {
                    throw RPCError(.unavailable, "the connection to \(host):\(port) was not set up")
                }
                let connection = Connection(
                    channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                state.withLockedValue { $0.connection = connection }
                channel.closeFuture.whenComplete { _ in self.forget(connection) }
                return connection
            }
    }
}
