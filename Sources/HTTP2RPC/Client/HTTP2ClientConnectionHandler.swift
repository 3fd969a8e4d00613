import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One client-side HTTP/2 connection: owns its nghttp2 session and multiplexes calls on it.
///
/// Everything here runs on the channel's event loop; `RPCClient` reaches it with `execute`.
final class HTTP2ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct CallRequest {
        var callID: UInt64
        var path: String
        var authority: String
        var message: [UInt8]
        var metadata: RPCMetadata
        var timeout: TimeAmount?
    }

    private let configuration: RPCClientConfiguration
    private let logger: Logger
    /// The nghttp2 session and the I/O around it that the server shares.
    private var core: HTTP2ConnectionCore?
    private var session: NGHTTP2Session? { core?.session }
    private var context: ChannelHandlerContext?
    private var streams: [HTTP2StreamID: ClientStream] = [:]
    private var streamIDsByCall: [UInt64: HTTP2StreamID] = [:]
    /// Calls cancelled before they reached the loop.
    private var cancelledCalls: Set<UInt64> = []
    private var closed = false
    /// The first error that broke the connection (a failed TLS handshake, say): a call that
    /// arrives after the close is told that, not only that the connection is closed.
    private var closeCause: (any Error)?
    /// When a frame last arrived from the server, for keepalive.
    private var lastReceiveTime = NIODeadline.now()
    /// When the unanswered keepalive PING was sent, if one is out.
    private var keepalivePingSentAt: NIODeadline?
    private var keepaliveTimer: Scheduled<Void>?
    /// The client's count of answered keepalive PINGs, shared by its connections.
    private let keepaliveAnswers: NIOLockedValueBox<Int>
    /// Fires when the server has not sent its SETTINGS in time (``RPCClientConfiguration/handshakeTimeout``).
    private var handshakeTimer: Scheduled<Void>?
    /// Set once the server sent GOAWAY: no new calls on this connection.
    private(set) var isGoingAway = false
    /// Whether the server's SETTINGS arrived, which every HTTP/2 server sends first.
    private var serverSpokeHTTP2 = false
    /// The first bytes the server sent, kept until its SETTINGS arrive: what to show when it
    /// turns out to speak something else.
    private var firstBytes: [UInt8] = []
    /// Set when the server turned out not to speak HTTP/2; every call on this connection fails
    /// with it (a retry on a new connection would meet the same server).
    private var notHTTP2Error: RPCError?

    init(
        configuration: RPCClientConfiguration,
        logger: Logger,
        keepaliveAnswers: NIOLockedValueBox<Int> = NIOLockedValueBox(0)
    ) {
        self.configuration = configuration
        self.logger = logger
        self.keepaliveAnswers = keepaliveAnswers
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        do {
            core = try HTTP2ConnectionCore(role: .client, options: configuration.sessionOptions, delegate: self)
        } catch {
            logger.error("could not create an HTTP/2 session", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        flush()
        lastReceiveTime = .now()
        scheduleKeepalive()
        let timeout = configuration.handshakeTimeout
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            handshakeTimedOut(after: timeout)
        }
        context.fireChannelActive()
    }

    /// The server accepted the connection but sent no SETTINGS in time: not an HTTP/2 server, or
    /// one too stuck to serve. Every call on the connection fails now, saying so.
    private func handshakeTimedOut(after timeout: TimeAmount) {
        guard let context, !closed, !serverSpokeHTTP2 else { return }
        let error =
            notHTTP2(context)
            ?? RPCError(
                .unavailable,
                "the server\(Self.address(context)) accepted the connection but sent no HTTP/2 SETTINGS in "
                    + "\(timeout.nanoseconds / 1_000_000) ms; is this its gRPC port, and is it serving?")
        notHTTP2Error = error
        if closeCause == nil { closeCause = error }
        failAll(error)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let core, !closed else { return }
        lastReceiveTime = .now()
        let buffer = unwrapInboundIn(data)
        if !serverSpokeHTTP2 && firstBytes.count < 32 {
            firstBytes += buffer.readableBytesView.prefix(32 - firstBytes.count)
        }
        do {
            try core.receive(buffer)
        } catch {
            logger.debug("HTTP/2 protocol error from the server", metadata: ["error": "\(error)"])
            failAll(notHTTP2(context) ?? RPCError(.unavailable, "HTTP/2 protocol error: \(error)"))
            context.close(promise: nil)
        }
    }

    /// Closes the connection once its session is over. nghttp2 ends a session whose peer broke
    /// the protocol by queueing a GOAWAY, without reporting an error; once that is sent the
    /// session wants neither to read nor to write, and nothing more will happen on it.
    private func closeIfSessionEnded(_ context: ChannelHandlerContext) {
        guard !closed, let session, !session.wantsRead, !session.wantsWrite else { return }
        failAll(notHTTP2(context) ?? RPCError(.unavailable, "the server ended the HTTP/2 session"))
        context.close(promise: nil)
    }

    /// The error for a server that answered something else than its HTTP/2 SETTINGS: another
    /// protocol on this port (an HTTP/1.1 server, TLS, ...). `nil` while it has said nothing,
    /// and once it has spoken HTTP/2. Remembered: a call that starts after the connection closed
    /// gets it too.
    private func notHTTP2(_ context: ChannelHandlerContext) -> RPCError? {
        if let notHTTP2Error { return notHTTP2Error }
        guard !serverSpokeHTTP2, !firstBytes.isEmpty else { return nil }
        let answer: String
        if let first = firstBytes.first, first == 0x15 || first == 0x16 {
            answer = "it answered with TLS (give the CLI --ca-file, or the client TLS settings)"
        } else if firstBytes.allSatisfy({ (0x20..<0x7F).contains($0) || $0 == 0x0D || $0 == 0x0A }) {
            let text = String(decoding: firstBytes.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
            answer = "it answered \"\(text)\""
        } else {
            answer = "it answered bytes \(firstBytes.prefix(8).map { String($0, radix: 16) }.joined(separator: " "))"
        }
        notHTTP2Error = RPCError(
            .unavailable, "the server\(Self.address(context)) does not speak HTTP/2: \(answer); is this its gRPC port?")
        return notHTTP2Error
    }

    private static func address(_ context: ChannelHandlerContext) -> String {
        context.channel.remoteAddress.map { " at \($0.ipAddress ?? "\($0)"):\($0.port ?? 0)" } ?? ""
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core?.readCompleted()
        flush()
        closeIfSessionEnded(context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flush() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        keepaliveTimer?.cancel()
        keepaliveTimer = nil
        handshakeTimer?.cancel()
        handshakeTimer = nil
        // The session stays until this handler goes: this may run inside an nghttp2 call.
        var error = notHTTP2(context) ?? RPCError(.unavailable, "the connection to the server closed")
        if notHTTP2Error == nil && !serverSpokeHTTP2 {
            // Closed without a word. A server on its way down does that too, so a call that
            // starts on this connection is still retried; the hint goes along.
            error = RPCError(
                .unavailable,
                "the server\(Self.address(context)) closed the connection before speaking HTTP/2 "
                    + "(a TLS port called in plain text does that)")
            if closeCause == nil { closeCause = error }
        }
        failAll(error)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        var failure = RPCError(.unavailable, "connection error: \(error)", cause: error)
        var cause: any Error = error
        if error is IOError && !serverSpokeHTTP2 && notHTTP2Error == nil {
            failure = RPCError(
                .unavailable,
                "the server\(Self.address(context)) dropped the connection before speaking HTTP/2 "
                    + "(a TLS port called in plain text does that): \(error)", cause: error)
            cause = failure
        }
        if closeCause == nil { closeCause = cause }
        failAll(failure)
        context.close(promise: nil)
    }

    private func failAll(_ error: RPCError) {
        for stream in streams.values { complete(stream, with: .failure(error)) }
        streams.removeAll()
        streamIDsByCall.removeAll()
    }

    // MARK: Keepalive

    /// Checks the connection every half interval: a PING after an interval of silence while calls
    /// are open, and the connection closed when that PING stays unanswered past the timeout. An
    /// idle connection is not pinged (as gRPC's default keepalive, which servers may punish with a
    /// GOAWAY when it is not), and so is never closed before a call could start on it.
    private func scheduleKeepalive() {
        guard let interval = configuration.keepaliveInterval, let context, !closed else { return }
        let period = TimeAmount.nanoseconds(max(interval.nanoseconds / 2, 1_000_000))
        keepaliveTimer = context.eventLoop.assumeIsolated().scheduleTask(in: period) { [self] in
            checkKeepalive(interval: interval)
            scheduleKeepalive()
        }
    }

    private func checkKeepalive(interval: TimeAmount) {
        guard let session, let context, !closed else { return }
        let now = NIODeadline.now()
        if let sentAt = keepalivePingSentAt {
            guard now - sentAt >= configuration.keepaliveTimeout else { return }
            logger.debug("closing a connection whose keepalive PING went unanswered")
            failAll(RPCError(.unavailable, "the server did not answer a keepalive PING in time"))
            context.close(promise: nil)
        } else if !streams.isEmpty, now - lastReceiveTime >= interval {
            keepalivePingSentAt = now
            session.submitPing()
            flush()
        }
    }

    // MARK: Output

    private func scheduleFlush() {
        guard let core, let context else { return }
        core.scheduleWrite(on: context.eventLoop) { [self] in flush() }
    }

    private func flush() {
        guard let context, let core, !closed else { return }
        do {
            try core.write(to: context)
        } catch {
            failAll(RPCError(.internal, "cannot serialise HTTP/2 frames: \(error)"))
            context.close(promise: nil)
        }
    }

    // MARK: Starting and cancelling calls

    /// Starts a call; `observer` hears about its response. With `expectsSingleMessage`, a
    /// second response message fails the call (unary semantics).
    func start(_ request: CallRequest, observer: any ClientCallObserver, expectsSingleMessage: Bool) {
        guard let context else { return }
        var outbound = context.channel.allocator.buffer(capacity: request.message.count + GRPCFraming.prefixLength)
        GRPCFraming.frame(request.message, into: &outbound)
        let stream = ClientStream(
            callID: request.callID, observer: observer, expectsSingleMessage: expectsSingleMessage,
            outbound: outbound, maxMessageSize: configuration.maxReceiveMessageSize)

        if cancelledCalls.remove(request.callID) != nil {
            return complete(stream, with: .failure(RPCError(.cancelled, "the call was cancelled")))
        }
        if let notHTTP2Error { return complete(stream, with: .failure(notHTTP2Error)) }
        guard let session, !closed else {
            let reason = closeCause.map { ": \($0)" } ?? ""
            var error = RPCError.notProcessed("the connection to the server is closed\(reason)")
            error.cause = closeCause
            return complete(stream, with: .failure(error))
        }
        guard !isGoingAway else {
            return complete(stream, with: .failure(.notProcessed("the server is closing the connection (GOAWAY)")))
        }

        let unsendable = request.metadata.unsendableKeys
        guard unsendable.isEmpty else {
            return complete(stream, with: .failure(RPCError(.internal, "metadata that cannot be sent: \(unsendable)")))
        }

        let streamID: HTTP2StreamID
        do {
            streamID = try session.submitRequest { headers in
                headers.add(":method", "POST")
                headers.add(":scheme", "http")
                headers.add(":path", request.path)
                headers.add(":authority", request.authority)
                headers.add("content-type", "application/grpc")
                headers.add("te", "trailers")
                if let timeout = request.timeout {
                    headers.add("grpc-timeout", GRPCTimeout.format(nanoseconds: timeout.nanoseconds))
                }
                _ = request.metadata.forEachWireField { name, value in headers.add(name: name, value: value) }
            }
        } catch {
            return complete(stream, with: .failure(RPCError(.unavailable, "cannot start the call: \(error)")))
        }
        stream.streamID = streamID
        streams[streamID] = stream
        streamIDsByCall[request.callID] = streamID
        if let timeout = request.timeout {
            // A strong capture: a weak one would slow every retain of this handler (side table).
            // The timer is cancelled when the call completes.
            stream.deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                self.deadlineExpired(streamID: streamID)
            }
        }
        scheduleFlush()
    }

    /// Cancels a call that may not have started yet: RST_STREAM(CANCEL) to the server, CANCELLED
    /// to the caller; a call not started yet is remembered and refused when it starts.
    ///
    /// A call that already finished is remembered too (it cannot be told from one not started),
    /// so the set is bounded: past 256 entries the oldest ids, calls long gone, are forgotten.
    func cancel(callID: UInt64) {
        guard streamIDsByCall[callID] != nil else {
            cancelledCalls.insert(callID)
            if cancelledCalls.count > 256, let oldest = cancelledCalls.min() { cancelledCalls.remove(oldest) }
            return
        }
        stop(callID: callID)
    }

    /// Cancels a call known to have started, if it is still in flight; does nothing otherwise.
    func stop(callID: UInt64) {
        guard let streamID = streamIDsByCall[callID], let stream = streams[streamID], !stream.finished else {
            return
        }
        session?.submitReset(streamID: streamID, errorCode: .cancel)
        complete(stream, with: .failure(RPCError(.cancelled, "the call was cancelled")))
        scheduleFlush()
    }

    /// The reader of a streaming response wants more: give the server its window back.
    func resumeReading(callID: UInt64) {
        guard let streamID = streamIDsByCall[callID], let stream = streams[streamID], stream.readingPaused else {
            return
        }
        stream.readingPaused = false
        session?.consume(streamID: streamID, count: stream.unconsumedBytes)
        stream.unconsumedBytes = 0
        scheduleFlush()
    }

    private func deadlineExpired(streamID: HTTP2StreamID) {
        guard let stream = streams[streamID], !stream.finished else { return }
        session?.submitReset(streamID: streamID, errorCode: .cancel)
        complete(stream, with: .failure(RPCError(.deadlineExceeded, "the deadline expired before the server answered")))
        scheduleFlush()
    }

    // MARK: Completion

    private func complete(_ stream: ClientStream, with result: Result<Void, RPCError>) {
        guard !stream.finished else { return }
        stream.finished = true
        stream.deadlineTimer?.cancel()
        stream.deadlineTimer = nil
        stream.observer.callFinished(result.map { stream.trailers })
    }

    /// The server ended its side: decide the outcome from the status it sent.
    private func responseEnded(_ stream: ClientStream) {
        guard !stream.finished else { return }
        if !stream.requestSent {
            // The server answered before taking the whole request; stop sending it.
            session?.submitReset(streamID: stream.streamID, errorCode: .noError)
            scheduleFlush()
        }
        if let error = Self.failure(of: stream) {
            return complete(stream, with: .failure(error))
        }
        if stream.expectsSingleMessage && stream.messagesReceived == 0 {
            return complete(stream, with: .failure(RPCError(.internal, "the server sent no response message")))
        }
        if !stream.deframer.isAtMessageBoundary {
            return complete(
                stream, with: .failure(RPCError(.internal, "the response ended in the middle of a message")))
        }
        complete(stream, with: .success(()))
    }

    /// The error a finished response stands for, or nil for success (grpc's PROTOCOL-HTTP2).
    static func failure(of stream: ClientStream) -> RPCError? {
        if let status = stream.grpcStatus {
            let code = RPCStatus.Code(wireValue: Substring(status))
            guard code != .ok else { return nil }
            let message = stream.grpcMessage.map(PercentEncoding.decode) ?? ""
            return RPCError(code, message, metadata: stream.trailers)
        }
        if let http = stream.httpStatus, http != "200" {
            let code: RPCStatus.Code
            switch http {
            case "400": code = .internal
            case "401": code = .unauthenticated
            case "403": code = .permissionDenied
            case "404": code = .unimplemented
            case "429", "502", "503", "504": code = .unavailable
            default: code = .unknown
            }
            return RPCError(code, "the server answered HTTP \(http)")
        }
        return RPCError(.internal, "the server ended the call without a grpc-status")
    }

    private func receiveData(_ stream: ClientStream, _ bytes: UnsafeRawBufferPointer) {
        guard !stream.finished else {
            session?.consume(streamID: stream.streamID, count: bytes.count)
            return
        }
        if stream.readingPaused {
            stream.unconsumedBytes += bytes.count
        } else {
            session?.consume(streamID: stream.streamID, count: bytes.count)
        }
        var messages: [[UInt8]] = []
        var failure: RPCError?
        do {
            try stream.deframer.process(bytes) { message, _ throws(RPCError) in
                stream.messagesReceived += 1
                if stream.expectsSingleMessage && stream.messagesReceived > 1 {
                    throw RPCError(.internal, "the server sent more than one response message")
                }
                messages.append(message)
                return true
            }
        } catch {
            failure = error
        }
        // The messages of one chunk reach the reader together: one wake-up for the lot, where one
        // each cost a task switch per message (a subscriber's events come many to a DATA frame).
        if !messages.isEmpty && !stream.observer.callReceivedMessages(messages) { stream.readingPaused = true }
        if let error = failure {
            session?.submitReset(streamID: stream.streamID, errorCode: .cancel)
            complete(stream, with: .failure(error))
            scheduleFlush()
        }
    }
}

// MARK: - nghttp2 events

extension HTTP2ClientConnectionHandler: NGHTTP2SessionDelegate {
    func sessionBeginHeaders(streamID: HTTP2StreamID) {}

    func sessionHeader(
        streamID: HTTP2StreamID, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        guard let stream = streams[streamID], !stream.finished else { return true }
        // RFC 9113 section 6.5.2: each field counts its name, its value and 32 bytes. A server
        // (or HPACK's dynamic table) could otherwise make the client hold headers without bound.
        stream.headerBlockBytes += HTTP2ConnectionCore.headerFieldSize(name: name, value: value)
        guard stream.headerBlockBytes <= Int(configuration.maxHeaderListSize) else {
            session?.submitReset(streamID: streamID, errorCode: .enhanceYourCalm)
            complete(
                stream,
                with: .failure(
                    RPCError(
                        .resourceExhausted,
                        "the server's \(stream.responseHeadersReceived ? "trailers" : "response headers") exceed the "
                            + "limit of \(configuration.maxHeaderListSize) bytes")))
            scheduleFlush()
            return true
        }
        let nameText = String(decoding: name, as: UTF8.self)
        let valueText = String(decoding: value, as: UTF8.self)
        switch nameText {
        case ":status": stream.httpStatus = valueText
        case "content-type": stream.contentType = valueText
        case "grpc-status": stream.grpcStatus = valueText
        case "grpc-message": stream.grpcMessage = valueText
        default:
            if stream.responseHeadersReceived {
                stream.trailers.addReceived(name: nameText, value: valueText)
            } else {
                stream.metadata.addReceived(name: nameText, value: valueText)
            }
        }
        return true
    }

    func sessionDidReceive(_ frame: NGHTTP2ReceivedFrame) {
        switch frame.kind {
        case .responseHeaders:
            guard let stream = streams[frame.streamID] else { return }
            stream.responseHeadersReceived = true
            stream.headerBlockBytes = 0
            if frame.endStream {
                // Trailers-only: the status came with the headers.
                stream.trailers = stream.metadata
                stream.metadata = RPCMetadata()
                responseEnded(stream)
            } else if stream.httpStatus != "200" {
                responseEnded(stream)
            } else {
                stream.observer.callReceivedHeaders(stream.metadata)
            }
        case .trailers, .data:
            if frame.endStream, let stream = streams[frame.streamID] { responseEnded(stream) }
        case .settings:
            serverSpokeHTTP2 = true
            firstBytes = []
            handshakeTimer?.cancel()
            handshakeTimer = nil
        case .goaway:
            isGoingAway = true
        case .ping(let ack):
            if ack, keepalivePingSentAt != nil {
                keepalivePingSentAt = nil
                keepaliveAnswers.withLockedValue { $0 += 1 }
            }
        case .requestHeaders, .pushResponseHeaders, .priority, .rstStream, .windowUpdate, .other:
            break
        }
    }

    func sessionData(streamID: HTTP2StreamID, bytes: UnsafeRawBufferPointer) {
        guard let stream = streams[streamID] else {
            core?.creditClosedStream(bytes: bytes.count)
            return
        }
        receiveData(stream, bytes)
    }

    func sessionStreamClosed(streamID: HTTP2StreamID, errorCode: HTTP2ErrorCode) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        streamIDsByCall[stream.callID] = nil
        core?.creditClosedStream(bytes: stream.unconsumedBytes)
        guard !stream.finished else { return }
        let error: RPCError
        switch errorCode {
        case .refusedStream:
            error = .notProcessed("the server refused the call (REFUSED_STREAM)")
        case .cancel:
            error = RPCError(.cancelled, "the server cancelled the call")
        case .enhanceYourCalm:
            error = RPCError(.resourceExhausted, "the server asked us to calm down (ENHANCE_YOUR_CALM)")
        case .noError where stream.grpcStatus != nil:
            return responseEnded(stream)
        default:
            error = RPCError(.internal, "the server reset the call (HTTP/2 error code \(errorCode))")
        }
        complete(stream, with: .failure(error))
    }

    func sessionReadBody(streamID: HTTP2StreamID, into buffer: UnsafeMutableRawBufferPointer) -> NGHTTP2DataSourceResult
    {
        guard let stream = streams[streamID] else { return .end(count: 0, trailers: false) }
        let count = HTTP2ConnectionCore.copyBody(from: &stream.outbound, into: buffer)
        guard stream.outbound.readableBytes == 0 else { return .bytes(count) }
        stream.requestSent = true
        return .end(count: count, trailers: false)
    }

    func sessionDidSendStreamFrame(streamID: HTTP2StreamID, endsStream: Bool) {}

    func sessionDidSendGoaway(lastStreamID: HTTP2StreamID, errorCode: HTTP2ErrorCode) {}
}
