import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One server-side HTTP/2 connection: owns its nghttp2 session, turns streams into calls,
/// runs their handlers and writes their responses.
///
/// Everything here runs on the channel's event loop. nghttp2 callbacks only record what
/// arrived; handlers are started after `nghttp2_session_mem_recv` returns, and output is
/// serialised once per read (or once per loop tick for writes from running handlers).
final class HTTP2ServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let configuration: RPCServerConfiguration
    private let router: RPCRouter
    private var logger: Logger
    private let stats: RPCServerStats
    private let onClose: @Sendable () -> Void

    /// The nghttp2 session and the I/O around it that the client shares.
    private var core: HTTP2ConnectionCore?
    private var session: NGHTTP2Session? { core?.session }
    private var context: ChannelHandlerContext?
    /// Shared by the streams until each needs storage of its own (copy-on-write).
    private let emptyBuffer = ByteBuffer()
    private var executor: EventLoopTaskExecutor?
    private var peer = "unknown"

    private var streams: [HTTP2StreamID: ServerStream] = [:]
    /// The stream whose header block is arriving: saves a dictionary lookup per header field.
    private var headerStream: ServerStream?
    /// The last method resolved, with its path's bytes: calls to the same method (the usual
    /// case) then reuse its String and handler without hashing or allocating.
    private var lastRoute: (bytes: [UInt8], path: String, handler: RPCRouter.Handler)?
    /// Streams whose handler can start once the current input has been processed.
    private var readyStreams: [HTTP2StreamID] = []

    /// Request bytes received and not yet handed on (the sum of every open stream's
    /// `heldRequestBytes`).
    private(set) var bufferedRequestBytes = 0
    /// The request budget (`maxBufferedRequestBytesPerConnection`) set aside for messages being
    /// received, each stream's `requestRoom`. A message larger than what its stream window lets
    /// through at once is only taken in while its whole length fits, so the calls holding room can
    /// always finish and free it for the next: a budget counting bytes alone stalls every call
    /// once partial messages fill it.
    private(set) var reservedRequestBytes = 0
    /// Streams whose message in progress waits for room, oldest first. Their stream windows stay
    /// closed; their connection window is returned, so that the calls holding room keep receiving.
    private var streamsWaitingForRoom: [HTTP2StreamID] = []
    /// Response bytes framed and not yet handed to nghttp2, over every stream.
    private(set) var bufferedResponseBytes = 0
    /// Serving, draining or closing, and the keepalive, idle, slow-request and flood decisions.
    private var connection: ServerConnectionStateMachine

    // Fairness between handlers and input. Handlers run on this loop, and NIO runs tasks that
    // are enqueued during a loop tick in that same tick. A streaming handler whose peer reads
    // as fast as it writes would otherwise resume, write, get drained and resume again without
    // the loop ever polling its sockets, so a RST_STREAM, a WINDOW_UPDATE or another client's
    // request would wait. After this many response bytes without input, writers wait for the
    // next input or a short timer, which lets the loop poll first.
    private static let bytesWithoutInputBudget = 256 << 10
    private var bytesSentSinceInput = 0
    private var writersAwaitingPoll: [HTTP2StreamID] = []
    private var pollTimer: Scheduled<Void>?
    private var housekeepingTimer: Scheduled<Void>?
    /// Whether the reason this connection is being closed with an error has been logged.
    private var closeExplained = false

    init(
        configuration: RPCServerConfiguration,
        router: RPCRouter,
        logger: Logger,
        stats: RPCServerStats = RPCServerStats(),
        onClose: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.stats = stats
        self.onClose = onClose
        self.connection = ServerConnectionStateMachine(limits: .init(configuration), now: .uptimeNanoseconds(0))
    }

    /// The loop's clock (a manual one in tests), not the wall clock.
    private var now: NIODeadline { context?.eventLoop.now ?? .now() }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.executor = EventLoopTaskExecutor(eventLoop: context.eventLoop)
        stats.openConnections.add(1, ordering: .relaxed)
        // A new connection counts as activity for the idle timeout, on the loop's clock.
        connection = ServerConnectionStateMachine(limits: .init(configuration), now: now)
        if let address = context.channel.remoteAddress { peer = "\(address)" }
        logger[metadataKey: "rpc.peer"] = "\(peer)"
        do {
            core = try HTTP2ConnectionCore(role: .server, options: configuration.sessionOptions, delegate: self)
        } catch {
            logger.error("could not create an HTTP/2 session", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard housekeepingTimer == nil else { return }
        scheduleHousekeeping(context: context)
        flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let core, connection.isOpen else { return }
        let buffer = unwrapInboundIn(data)
        connection.receivedInput(now: now)
        bytesSentSinceInput = 0
        do {
            try core.receive(buffer)
        } catch {
            logger.debug("closing the connection after a protocol error", metadata: ["error": "\(error)"])
            closeExplained = true
            // nghttp2 queues no GOAWAY for an error it cannot go on from; one is queued here, which
            // it skips when it has already sent its own.
            core.session.terminate(errorCode: error.goawayCode)
            connection.protocolErrorReceived()
        }
        processReceivedWork()
        if connection.closesAfterInput { closeAfterFlush() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core?.readCompleted()
        releaseWritersAwaitingPoll()
        flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flush() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        tearDown()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
        self.context = nil
    }

    /// Cancels every call. Idempotent. The session itself lives as long as this handler:
    /// this may run inside an nghttp2 call (a write completing synchronously), so freeing
    /// the session here would pull it from under nghttp2.
    private func tearDown() {
        let firstTime = connection.closed()
        housekeepingTimer?.cancel()
        housekeepingTimer = nil
        pollTimer?.cancel()
        pollTimer = nil
        let error = RPCError(.unavailable, "the connection closed")
        for stream in streams.values {
            stream.deadlineTimer?.cancel()
            stream.markFinished()
            stream.requestSource?.finish(error)
            stream.resumeWriters(throwing: error)
        }
        stats.activeCalls.subtract(streams.count, ordering: .relaxed)
        streams.removeAll()
        if firstTime {
            stats.openConnections.subtract(1, ordering: .relaxed)
            onClose()
        }
    }

    // MARK: Output

    /// Asks for a flush at the end of the current read, or on the next loop tick.
    private func scheduleFlush() {
        guard let core, let context else { return }
        core.scheduleWrite(on: context.eventLoop) { [self] in flush() }
    }

    /// Serialises pending frames into the channel while it is writable.
    private func flush() {
        guard let context, let core, connection.isOpen else { return }
        let session = core.session
        do {
            try core.write(to: context)
        } catch {
            logger.debug("closing the connection: cannot serialise frames", metadata: ["error": "\(error)"])
            closeNow()
            return
        }
        if connection.closesAfterFlush(
            sessionWantsIO: session.wantsRead || session.wantsWrite, openStreams: streams.count)
        {
            closeAfterFlush()
        }
    }

    /// Writes whatever nghttp2 still has queued (a GOAWAY, typically), then closes.
    private func closeAfterFlush() {
        guard let context, connection.closeStarted() else { return }
        let buffer = core?.remainingOutput(allocator: context.channel.allocator) ?? ByteBuffer()
        let linger = configuration.closeLinger
        // A peer that has stopped reading would keep the connection (and its socket) open behind a
        // write that never completes: past a short grace, it is closed without waiting.
        let grace = context.eventLoop.assumeIsolated().scheduleTask(in: Self.finalWriteGrace) {
            context.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            grace.cancel()
            Self.lingeringClose(context, linger: linger)
        }
    }

    /// How long the last frames (a GOAWAY, typically) may take to be written before the close.
    static let finalWriteGrace: TimeAmount = .seconds(2)

    /// Ends our side (FIN after the last frames), drops what the peer still sends, and closes when
    /// the peer closes its side or after ``RPCServerConfiguration/closeLinger``. Closing the socket
    /// at once while the peer's frames sit unread in it makes the kernel answer with a TCP reset,
    /// and the peer's next write fails, often before it has read our GOAWAY: the client learns only
    /// "connection reset", not why. A channel that cannot half-close (an in-memory one) closes at
    /// once.
    static func lingeringClose(_ context: ChannelHandlerContext, linger: TimeAmount) {
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: halfClosed)
        halfClosed.futureResult.assumeIsolated().whenComplete { result in
            guard case .success = result else { return context.close(promise: nil) }
            let timer = context.eventLoop.assumeIsolated().scheduleTask(in: linger) {
                context.close(promise: nil)
            }
            context.channel.closeFuture.assumeIsolated().whenComplete { _ in timer.cancel() }
        }
    }

    private func closeNow() {
        guard let context, connection.closeStarted() else { return }
        context.close(promise: nil)
    }

    // MARK: Work after input

    private func processReceivedWork() {
        guard !readyStreams.isEmpty else { return }
        let ready = readyStreams
        readyStreams.removeAll(keepingCapacity: true)
        for id in ready {
            guard let stream = streams[id] else { continue }
            startHandler(stream)
        }
    }

    // MARK: Request validation

    private func requestHeadersComplete(_ stream: ServerStream, endStream: Bool) {
        guard case .receivingHeaders(let head) = stream.phase else { return }
        stream.advertisesEncodings = head.encoding != nil
        let verdict = head.verdict(
            router: router, draining: connection.isDraining, headerListLimit: Int(configuration.maxHeaderListSize),
            now: now)
        switch verdict {
        case .reject(let error, let abusive):
            if abusive { spendControlFrameBudget(cost: ServerConnectionStateMachine.abusiveStreamCost) }
            reject(stream, error)
        case .httpError(let status, let field, let text):
            respondHTTPError(stream, status: status, extra: field, text: text)
        case .accept(let call):
            if head.knownHandler == nil { lastRoute = (Array(call.path.utf8), call.path, call.handler) }
            if let deadline = call.deadline {
                let id = stream.id
                // Strong captures here and below: a weak reference would move this handler's
                // reference count into a side table and slow every retain on the hot path. The
                // timers are cancelled when the stream or the connection ends.
                stream.deadlineTimer = context?.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
                    self.deadlineExpired(streamID: id)
                }
            }
            if let encoding = call.encoding {
                let limit = stream.deframer.maximumMessageSize
                stream.deframer.inflate = { payload throws(RPCError) in try encoding.inflate(payload, limit: limit) }
            }
            stream.phase = .awaitingRequest(call, message: nil)
            if !call.handler.waitsForWholeRequest {
                makeRequestStream(for: stream)
                readyStreams.append(stream.id)
            }
            if endStream { requestEnded(stream) }
        }
    }

    private func requestEnded(_ stream: ServerStream) {
        stream.requestEnded = true
        guard stream.isAwaitingRequest || stream.isRunning else { return }
        guard stream.deframer.isAtMessageBoundary else {
            return finish(stream, error: RPCError(.internal, "the request ended in the middle of a message"))
        }
        if let source = stream.requestSource {
            source.finish()
        } else if case .awaitingRequest(_, let message) = stream.phase {
            guard message != nil else {
                return finish(stream, error: RPCError(.internal, "the request ended without a message"))
            }
            readyStreams.append(stream.id)
        }
    }

    private func receiveData(_ stream: ServerStream, _ bytes: UnsafeRawBufferPointer) {
        guard stream.acceptsRequestData, !stream.isReceivingHeaders else {
            // A refused or finished call: drop the bytes but give the window back.
            session?.consume(streamID: stream.id, count: bytes.count)
            return
        }
        bufferedRequestBytes += bytes.count
        stream.heldRequestBytes += bytes.count
        do {
            try stream.deframer.process(bytes) { message, wireLength in
                deliverRequestMessage(message, wireLength: wireLength, to: stream)
                return stream.acceptsRequestData
            }
        } catch {
            finish(stream, error: error)
        }
        // The cheap test first: on most DATA frames the deframer is at a boundary.
        if !stream.deframer.isAtMessageBoundary, stream.acceptsRequestData, stream.requestSource == nil,
            case .awaitingRequest(_, _?) = stream.phase
        {
            // A unary call's message is complete and another begins: refused now, before its
            // bytes pile up outside any room (the call holds room for its first until it starts).
            finish(stream, error: RPCError(.internal, "a unary request carried more than one message"))
        }
        if stream.acceptsRequestData { makeRoom(for: stream) }
        if !stream.acceptsRequestData {
            session?.consume(streamID: stream.id, count: bytes.count)
        } else if stream.readingPaused {
            stream.unconsumedBytes += bytes.count
        } else if stream.waitingForRoom {
            session?.consumeConnection(count: bytes.count)
            stream.unconsumedStreamBytes += bytes.count
        } else {
            session?.consume(streamID: stream.id, count: bytes.count)
        }
    }

    /// At most this many streams wait for room: each holds up to a stream window of unread bytes.
    private var maxStreamsWaitingForRoom: Int {
        max(1, Int(configuration.connectionWindowSize) / max(Int(configuration.initialStreamWindowSize), 1))
    }

    /// Sets room aside for the message `stream` is receiving, once its length is known; without
    /// room it waits (or, when too many wait already, the call is refused).
    private func makeRoom(for stream: ServerStream) {
        guard stream.requestRoom == 0, !stream.waitingForRoom,
            let needed = stream.deframer.messageInProgressWireLength
        else { return }
        // Behind any that wait, so that a stream of smaller messages cannot starve a large one.
        if streamsWaitingForRoom.isEmpty && fitsInBudget(needed) {
            reservedRequestBytes += needed
            stream.requestRoom = needed
        } else if streamsWaitingForRoom.count < maxStreamsWaitingForRoom {
            stream.waitingForRoom = true
            streamsWaitingForRoom.append(stream.id)
        } else {
            finish(
                stream,
                error: RPCError(
                    .resourceExhausted,
                    "this connection is already receiving \(reservedRequestBytes) bytes of requests and "
                        + "\(streamsWaitingForRoom.count) more large requests wait: send fewer at once, or over "
                        + "more connections"))
        }
    }

    /// Whether a message of `wireLength` bytes may be taken in now. One always may, whatever the
    /// budget, so that a connection never stops receiving altogether.
    private func fitsInBudget(_ wireLength: Int) -> Bool {
        reservedRequestBytes == 0
            || reservedRequestBytes + wireLength <= configuration.maxBufferedRequestBytesPerConnection
    }

    /// The message `stream` was receiving is complete, or the stream is gone: its room goes to
    /// the streams waiting, oldest first.
    private func releaseRoom(of stream: ServerStream) {
        if stream.waitingForRoom {
            stream.waitingForRoom = false
            streamsWaitingForRoom.removeAll { $0 == stream.id }
            returnStreamWindow(of: stream)
        }
        guard stream.requestRoom > 0 else { return }
        reservedRequestBytes -= stream.requestRoom
        stream.requestRoom = 0
        while let id = streamsWaitingForRoom.first {
            guard let waiting = streams[id], waiting.waitingForRoom, waiting.acceptsRequestData,
                let needed = waiting.deframer.messageInProgressWireLength
            else {
                streamsWaitingForRoom.removeFirst()
                if let waiting = streams[id] {
                    waiting.waitingForRoom = false
                    returnStreamWindow(of: waiting)
                }
                continue
            }
            guard fitsInBudget(needed) else { break }
            streamsWaitingForRoom.removeFirst()
            waiting.waitingForRoom = false
            waiting.requestRoom = needed
            waiting.receivingSince = now
            reservedRequestBytes += needed
            returnStreamWindow(of: waiting)
        }
    }

    private func returnStreamWindow(of stream: ServerStream) {
        guard stream.unconsumedStreamBytes > 0 else { return }
        session?.consumeStream(streamID: stream.id, count: stream.unconsumedStreamBytes)
        stream.unconsumedStreamBytes = 0
        scheduleFlush()
    }

    /// `wireLength`: the bytes the message took in the request body, which the connection's
    /// budget counted (a compressed message inflates to more).
    private func deliverRequestMessage(_ message: [UInt8], wireLength: Int, to stream: ServerStream) {
        if let source = stream.requestSource {
            releaseRequestBytes(wireLength, of: stream)
            if case .stopProducing = source.yield([message]) { stream.readingPaused = true }
        } else if case .awaitingRequest(let call, nil) = stream.phase {
            stream.phase = .awaitingRequest(call, message: message)
        } else {
            finish(stream, error: RPCError(.internal, "a unary request carried more than one message"))
        }
    }

    /// A message of `stream` (`count` bytes of it) has left our buffers, or the stream has closed:
    /// the room it took goes to the next.
    private func releaseRequestBytes(_ count: Int, of stream: ServerStream) {
        let released = min(count, stream.heldRequestBytes)
        stream.heldRequestBytes -= released
        bufferedRequestBytes -= released
        releaseRoom(of: stream)
    }

    // MARK: Handlers

    private func makeRequestStream(for stream: ServerStream) {
        guard let eventLoop = context?.eventLoop else { return }
        let connection = NIOLoopBound(self, eventLoop: eventLoop)
        let id = stream.id
        let made = RPCMessageSequence.make(
            lowWatermark: 2, highWatermark: 16,
            demand: { eventLoop.execute { connection.value.resumeReading(streamID: id) } },
            terminated: {})
        stream.requestSource = made.source
        stream.requestSequence = made.sequence
    }

    private func resumeReading(streamID: HTTP2StreamID) {
        guard let stream = streams[streamID], stream.readingPaused else { return }
        stream.readingPaused = false
        guard stream.unconsumedBytes > 0 else { return }
        if stream.waitingForRoom {
            session?.consumeConnection(count: stream.unconsumedBytes)
            stream.unconsumedStreamBytes += stream.unconsumedBytes
        } else {
            session?.consume(streamID: streamID, count: stream.unconsumedBytes)
        }
        stream.unconsumedBytes = 0
        scheduleFlush()
    }

    private func startHandler(_ stream: ServerStream) {
        guard case .awaitingRequest(let call, let message) = stream.phase, let eventLoop = context?.eventLoop,
            let executor
        else {
            return
        }
        if let deadline = call.deadline, deadline <= now {
            // Over on arrival, or while the request was read: the handler does not start, so a
            // caller that has given up has nothing done for it (a command appended, say).
            return finish(stream, error: RPCError(.deadlineExceeded, "the deadline expired before the call started"))
        }
        stream.phase = .running(call, task: nil)

        let context = RPCServerContext(
            method: call.path, metadata: call.metadata, deadline: call.deadline, peer: peer,
            connectionLogger: logger, streamID: stream.id.rawValue)
        let inbound: RPCCallInbound
        if call.handler.waitsForWholeRequest {
            let message = message ?? []
            releaseRequestBytes(message.count + GRPCFraming.prefixLength, of: stream)
            inbound = .message(message)
        } else {
            guard let requests = stream.requestSequence else { return }
            inbound = .stream(requests)
        }
        let sink = ConnectionCallSink(
            connection: NIOLoopBound(self, eventLoop: eventLoop), eventLoop: eventLoop, streamID: stream.id)
        let run = call.handler.run
        let task = Task.immediate(executorPreference: executor) { await run(inbound, context, sink) }
        // The handler may already have finished the call before its first suspension.
        if case .running(let call, nil) = stream.phase { stream.phase = .running(call, task: task) }
    }

    func completeUnary(streamID: HTTP2StreamID, response: RPCServerResponse) {
        guard let stream = streams[streamID], stream.isRunning else { return }
        guard response.message.count <= configuration.maxSendMessageSize else {
            return finish(
                stream,
                error: RPCError(
                    .resourceExhausted,
                    "response of \(response.message.count) bytes exceeds the limit of \(configuration.maxSendMessageSize) bytes"
                ))
        }
        if let refusal = responseRefusal(response.message.count) { return finish(stream, error: refusal) }
        bufferResponse(response.message, on: stream)
        startResponse(stream, metadata: response.metadata)
        finish(stream, status: .ok, trailers: response.trailers)
    }

    func complete(streamID: HTTP2StreamID, trailers: RPCMetadata) {
        guard let stream = streams[streamID] else { return }
        finish(stream, status: .ok, trailers: trailers)
    }

    func fail(streamID: HTTP2StreamID, error: any Error) {
        guard let stream = streams[streamID] else { return }
        finish(stream, error: error)
    }

    private func deadlineExpired(streamID: HTTP2StreamID) {
        guard let stream = streams[streamID], !stream.isFinished else { return }
        finish(stream, error: RPCError(.deadlineExceeded, "the deadline expired before the call completed"))
    }

    // MARK: Responses

    /// Queues response messages of a streaming call, in order. A message over the size limit, or
    /// past what the connection may buffer, fails the write; the messages before it stay queued.
    func enqueueResponses(streamID: HTTP2StreamID, messages: some Collection<[UInt8]>) -> ConnectionCallSink.Outcome {
        guard let stream = streams[streamID], stream.isRunning else {
            return .failed(RPCError(.cancelled, "the call has ended"))
        }
        var refusal: RPCError?
        var queued = 0
        for message in messages {
            guard message.count <= configuration.maxSendMessageSize else {
                refusal = RPCError(
                    .resourceExhausted,
                    "response of \(message.count) bytes exceeds the limit of \(configuration.maxSendMessageSize) bytes")
                break
            }
            refusal = responseRefusal(message.count)
            if refusal != nil { break }
            bufferResponse(message, on: stream)
            queued += 1
        }
        if queued > 0 { sendQueuedResponses(on: stream) }
        if let refusal { return .failed(refusal) }
        return stream.outbound.readableBytes >= configuration.responseBufferHighWatermark ? .mustWait : .accepted
    }

    /// Starts the response, or resumes its deferred data, for what was just queued; then flushes.
    private func sendQueuedResponses(on stream: ServerStream) {
        if !stream.responseStarted {
            startResponse(stream, metadata: [:])
        } else if stream.dataDeferred {
            stream.dataDeferred = false
            session?.resumeData(streamID: stream.id)
        }
        scheduleFlush()
    }

    /// Why a response message of `count` bytes may not be queued: the connection already holds
    /// as many unsent response bytes as it may (a peer that does not read must not grow our memory).
    private func responseRefusal(_ count: Int) -> RPCError? {
        let limit = configuration.maxBufferedResponseBytesPerConnection
        guard bufferedResponseBytes > 0, bufferedResponseBytes + count + GRPCFraming.prefixLength > limit else {
            return nil
        }
        return RPCError(
            .resourceExhausted,
            "the connection holds \(bufferedResponseBytes) bytes of responses not yet sent, waiting for the client "
                + "to read or for its flow-control windows to open (limit \(limit)): read them, or send fewer large calls "
                + "at once")
    }

    private func bufferResponse(_ message: [UInt8], on stream: ServerStream) {
        GRPCFraming.frame(message, into: &stream.outbound)
        bufferedResponseBytes += message.count + GRPCFraming.prefixLength
    }

    func addWriteWaiter(streamID: HTTP2StreamID, _ waiter: CheckedContinuation<Void, any Error>) {
        guard let stream = streams[streamID], stream.isRunning else {
            return waiter.resume(throwing: RPCError(.cancelled, "the call has ended"))
        }
        if stream.outbound.readableBytes < configuration.responseBufferHighWatermark {
            waiter.resume()
        } else {
            stream.writeWaiters.append(waiter)
        }
    }

    private func startResponse(_ stream: ServerStream, metadata: RPCMetadata) {
        guard !stream.responseStarted, let session else { return }
        stream.responseStarted = true
        do {
            try session.submitResponse(streamID: stream.id, hasBody: true) { headers in
                headers.add(":status", "200")
                headers.add("content-type", "application/grpc")
                if stream.advertisesEncodings { headers.add("grpc-accept-encoding", MessageEncoding.accepted) }
                add(metadata, to: &headers)
            }
        } catch {
            logger.debug("could not submit response headers", metadata: ["error": "\(error)"])
        }
        scheduleFlush()
    }

    private func finish(_ stream: ServerStream, error: any Error) {
        let (rpcError, isBug) = RPCError.from(error)
        if isBug {
            logger.error(
                "handler failed", metadata: ["rpc.method": "\(stream.call?.path ?? "")", "error": "\(error)"])
        }
        finish(stream, status: rpcError.status, trailers: rpcError.metadata)
    }

    /// Submits the final status of a call: as trailers after the messages, or as a
    /// trailers-only response when nothing has been sent yet.
    private func finish(_ stream: ServerStream, status: RPCStatus, trailers: RPCMetadata) {
        guard !stream.isFinished, let session else { return }
        stream.markFinished()
        if status.code != .ok { stats.failedCalls.add(1, ordering: .relaxed) }
        stream.deadlineTimer?.cancel()
        stream.deadlineTimer = nil
        if stream.requestSource != nil || !stream.writeWaiters.isEmpty {
            let ended = RPCError(status.code == .ok ? .cancelled : status.code, "the call has ended")
            stream.requestSource?.finish(ended)
            stream.resumeWriters(throwing: ended)
        }

        if !stream.responseStarted {
            stream.responseStarted = true
            do {
                try session.submitResponse(streamID: stream.id, hasBody: false) { headers in
                    headers.add(":status", "200")
                    headers.add("content-type", "application/grpc")
                    if stream.advertisesEncodings { headers.add("grpc-accept-encoding", MessageEncoding.accepted) }
                    addTrailers(status, trailers, to: &headers)
                }
            } catch {
                logger.debug("could not submit a trailers-only response", metadata: ["error": "\(error)"])
            }
        } else {
            stream.pendingTrailers = (status, trailers)
            if stream.dataDeferred {
                stream.dataDeferred = false
                session.resumeData(streamID: stream.id)
            }
        }
        scheduleFlush()
    }

    /// Refuses a call before it starts, with a trailers-only response.
    private func reject(_ stream: ServerStream, _ error: RPCError) {
        finish(stream, status: error.status, trailers: error.metadata)
    }

    /// Answers a request that is not gRPC at all with a bare HTTP status.
    private func respondHTTPError(
        _ stream: ServerStream, status: StaticString, extra: (StaticString, StaticString), text: StaticString
    ) {
        guard let session else { return }
        stream.markFinished()
        stream.responseStarted = true
        stream.bodyEndsStream = true
        stats.failedCalls.add(1, ordering: .relaxed)
        text.withUTF8Buffer { stream.outbound.writeBytes($0) }
        bufferedResponseBytes += text.utf8CodeUnitCount
        try? session.submitResponse(streamID: stream.id, hasBody: true) { headers in
            headers.add(":status", status)
            headers.add(extra.0, extra.1)
            headers.add("content-type", "text/plain; charset=utf-8")
        }
        scheduleFlush()
    }

    /// `grpc-status`, `grpc-message` and the trailing metadata.
    private func addTrailers(_ status: RPCStatus, _ trailers: RPCMetadata, to headers: inout HeaderBlock) {
        headers.add("grpc-status", status.code.wireValue)
        if !status.message.isEmpty {
            headers.add("grpc-message", PercentEncoding.encode(PercentEncoding.shortened(status.message)))
        }
        add(trailers, to: &headers)
    }

    private func add(_ metadata: RPCMetadata, to headers: inout HeaderBlock) {
        guard !metadata.isEmpty else { return }
        let rejected = metadata.forEachWireField { name, value in headers.add(name: name, value: value) }
        if !rejected.isEmpty {
            logger.warning("dropped metadata that cannot be sent", metadata: ["keys": "\(rejected)"])
        }
    }

    // MARK: Fairness

    /// Lets a stream's suspended writers go on, unless the loop has been sending for a while
    /// without polling for input: then they go on once it has (see `bytesWithoutInputBudget`).
    private func resumeWriters(of stream: ServerStream) {
        guard !stream.writeWaiters.isEmpty else { return }
        guard bytesSentSinceInput >= Self.bytesWithoutInputBudget, let context else {
            return stream.resumeWriters()
        }
        if !writersAwaitingPoll.contains(stream.id) { writersAwaitingPoll.append(stream.id) }
        if pollTimer == nil {
            // A timer in the future ends the loop's tick, so it polls its sockets before this runs.
            pollTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(1)) {
                self.pollTimer = nil
                self.releaseWritersAwaitingPoll()
            }
        }
    }

    private func releaseWritersAwaitingPoll() {
        bytesSentSinceInput = 0
        guard !writersAwaitingPoll.isEmpty else { return }
        let ids = writersAwaitingPoll
        writersAwaitingPoll.removeAll(keepingCapacity: true)
        for id in ids { streams[id]?.resumeWriters() }
    }

    // MARK: Closing streams

    private func streamClosed(_ stream: ServerStream, errorCode: HTTP2ErrorCode) {
        streams[stream.id] = nil
        if headerStream === stream { headerStream = nil }
        stats.activeCalls.subtract(1, ordering: .relaxed)
        // Idleness counts from when the last stream closed.
        connection.streamClosed(now: now, openStreams: streams.count)
        stream.deadlineTimer?.cancel()
        // Everything the stream still counts, whether buffered, half-parsed or dropped after an
        // error: a closed stream holds nothing against the connection's budget.
        releaseRequestBytes(stream.heldRequestBytes, of: stream)
        bufferedResponseBytes -= stream.outbound.readableBytes
        stream.outbound.clear()
        core?.creditClosedStream(bytes: stream.unconsumedBytes)
        if !stream.isFinished {
            // The peer reset the call, or the connection is going away: stop the handler.
            stream.markFinished()
            stats.failedCalls.add(1, ordering: .relaxed)
            let error = RPCError(.cancelled, "the client cancelled the call (HTTP/2 error code \(errorCode))")
            stream.requestSource?.finish(error)
            stream.resumeWriters(throwing: error)
        }
        if connection.isDraining && streams.isEmpty { scheduleFlush() }
    }

    // MARK: Housekeeping

    /// Often enough to honour the shortest configured timeout within half of it.
    private var housekeepingInterval: TimeAmount {
        var shortest = min(configuration.requestReceiveTimeout, configuration.keepaliveTimeout)
        if let keepalive = configuration.keepaliveInterval { shortest = min(shortest, keepalive) }
        if let idle = configuration.idleTimeout { shortest = min(shortest, idle) }
        return max(min(.seconds(1), .nanoseconds(shortest.nanoseconds / 2)), .milliseconds(5))
    }

    private func scheduleHousekeeping(context: ChannelHandlerContext) {
        housekeepingTimer = context.eventLoop.assumeIsolated().scheduleTask(in: housekeepingInterval) {
            guard self.connection.isOpen, let context = self.context else { return }
            self.housekeeping()
            self.scheduleHousekeeping(context: context)
        }
    }

    private func housekeeping() {
        guard let session, connection.isOpen else { return }
        let now = self.now
        switch connection.housekeeping(now: now, openStreams: streams.count) {
        case .goAwayAndClose:
            logger.debug("closing an idle connection")
            session.submitGoaway(
                lastStreamID: session.lastProcessedStreamID, errorCode: .noError)
            return closeAfterFlush()
        case .closeNow:
            logger.debug("closing a connection whose keepalive PING went unanswered")
            return closeNow()
        case .sendPing:
            session.submitPing()
            scheduleFlush()
        case .terminate, .none:
            break
        }

        // A message waiting for room is not the client's delay; its clock starts when it gets room.
        for stream in streams.values
        where stream.isReceivingHeaders || (stream.isAwaitingRequest && !stream.waitingForRoom) {
            let verdict = connection.requestOverdue(
                openedAt: stream.receivingSince, inHeaderBlock: stream.isReceivingHeaders, now: now)
            switch verdict {
            case .wait:
                continue
            case .terminate(let code):
                logger.debug("closing a connection stuck in an unfinished header block")
                closeExplained = true
                session.terminate(errorCode: code)
                return closeAfterFlush()
            case .resetStream, .resetStreamAndTerminate:
                logger.debug(
                    "resetting a call whose request did not arrive in time", metadata: ["rpc.stream": "\(stream.id)"])
                // The status goes out as a trailers-only response; once it is sent, the client is
                // told to stop sending (RST_STREAM NO_ERROR, `sessionDidSendStreamFrame`). A reset
                // submitted now would go out instead of the status.
                finish(stream, error: RPCError(.cancelled, "the request did not arrive in time"))
                scheduleFlush()
                if case .resetStreamAndTerminate(let code) = verdict {
                    logger.warning("closing a connection that keeps opening calls whose requests never arrive")
                    closeExplained = true
                    session.terminate(errorCode: code)
                    return closeAfterFlush()
                }
            }
        }
    }

    /// Spends `cost` of the control-frame budget; past it, the session is terminated with
    /// ENHANCE_YOUR_CALM and the connection closes once the current input is processed.
    private func spendControlFrameBudget(cost: Int = 1) {
        guard case .terminate(let code) = connection.spendControlFrameBudget(cost: cost, now: now) else { return }
        terminateForFlood(code)
    }

    private func terminateForFlood(_ code: HTTP2ErrorCode) {
        guard let session else { return }
        logger.warning("closing a connection that floods control frames or abusive streams")
        closeExplained = true
        session.terminate(errorCode: code)
    }

    // MARK: Graceful shutdown

    /// Stops accepting calls: announce GOAWAY, let calls in flight finish, then close.
    func beginDraining() {
        guard let session, let context, connection.beginDraining() else { return }
        session.submitShutdownNotice()
        flush()
        // The final GOAWAY names the last stream we will serve. Wait a moment so streams the
        // client sent before seeing the notice are counted; they are answered UNAVAILABLE.
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(100)) {
            guard let session = self.session, self.connection.drainNoticeElapsed() else { return }
            session.submitGoaway(
                lastStreamID: session.lastProcessedStreamID, errorCode: .noError)
            self.flush()
        }
    }

    /// The grace period is over: cancel what still runs and close.
    func forceClose() {
        for stream in streams.values where !stream.isFinished {
            finish(stream, error: RPCError(.unavailable, "the server is shutting down"))
        }
        flush()
        closeAfterFlush()
    }
}

// MARK: - nghttp2 events

extension HTTP2ServerConnectionHandler: NGHTTP2SessionDelegate {
    func sessionBeginHeaders(streamID: HTTP2StreamID) {
        guard streams[streamID] == nil else { return }
        stats.activeCalls.add(1, ordering: .relaxed)
        stats.totalCalls.add(1, ordering: .relaxed)
        let stream = ServerStream(
            id: streamID, openedAt: connection.lastInputTime ?? now,
            maxMessageSize: configuration.maxReceiveMessageSize,
            emptyBuffer: emptyBuffer)
        streams[streamID] = stream
        headerStream = stream
    }

    func sessionHeader(
        streamID: HTTP2StreamID, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        let current = headerStream?.id == streamID ? headerStream : streams[streamID]
        _ = current?.updateHead { head in receivedHeader(name: name, value: value, into: &head) }
        return true
    }

    private func receivedHeader(
        name: UnsafeBufferPointer<UInt8>, value untrimmed: UnsafeBufferPointer<UInt8>, into head: inout RequestHead
    ) {
        head.listBytes += HTTP2ConnectionCore.headerFieldSize(name: name, value: untrimmed)
        if head.listBytes > Int(configuration.maxHeaderListSize) { head.tooLarge = true }
        if head.tooLarge { return }
        // White space around a value is not part of it (RFC 9110, 5.5). nghttp2 is told to let it
        // through rather than reset the stream, as grpc's own servers do: a token pasted with a
        // trailing space should work, not fail with a bare PROTOCOL_ERROR.
        let value = Self.trimmingWhiteSpace(untrimmed)

        // Protocol fields are recognised on their bytes; only what a handler sees becomes a String.
        if Self.matches(name, ":path") {
            if let route = lastRoute, Self.matches(value, route.bytes) {
                head.path = route.path
                head.knownHandler = route.handler
            } else {
                head.path = String(decoding: value, as: UTF8.self)
            }
        } else if Self.matches(name, ":method") {
            head.methodIsPost = Self.matches(value, "POST")
        } else if Self.matches(name, "content-type") {
            head.contentTypeAccepted =
                Self.matches(value, "application/grpc")
                || RequestHead.isGRPCProtoContentType(String(decoding: value, as: UTF8.self))
        } else if Self.matches(name, "grpc-timeout") {
            head.timeout = String(decoding: value, as: UTF8.self)
        } else if Self.matches(name, "grpc-encoding") {
            head.encoding = String(decoding: value, as: UTF8.self)
        } else if name.first == UInt8(ascii: ":") || Self.matches(name, "te")
            || Self.matches(name, "grpc-accept-encoding")
        {
            // Other pseudo-headers and transport fields are not metadata.
        } else {
            head.metadata.addReceived(
                name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }
    }

    /// `value` without the spaces and tabs at either end.
    static func trimmingWhiteSpace(_ value: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        func isWhiteSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = value.startIndex
        var end = value.endIndex
        while start < end, isWhiteSpace(value[start]) { start += 1 }
        while end > start, isWhiteSpace(value[end - 1]) { end -= 1 }
        return UnsafeBufferPointer(rebasing: value[start..<end])
    }

    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        equal(bytes, UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ other: [UInt8]) -> Bool {
        other.withUnsafeBufferPointer { equal(bytes, $0) }
    }

    private static func equal(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>) -> Bool {
        guard first.count == second.count else { return false }
        guard let left = first.baseAddress, let right = second.baseAddress else { return first.isEmpty }
        return memcmp(left, right, first.count) == 0
    }

    func sessionDidReceive(_ frame: NGHTTP2ReceivedFrame) {
        switch frame.kind {
        case .requestHeaders:
            headerStream = nil
            if let stream = streams[frame.streamID] {
                requestHeadersComplete(stream, endStream: frame.endStream)
            }
        case .trailers:
            if frame.endStream, let stream = streams[frame.streamID] { requestEnded(stream) }
        case .data(let length):
            if frame.endStream, let stream = streams[frame.streamID] {
                requestEnded(stream)
            } else if length == 0 {
                spendControlFrameBudget()
            }
        case .ping(let ack):
            if ack {
                connection.receivedPingAck()
            } else if case .terminate(let code) = connection.receivedPing(now: now) {
                terminateForFlood(code)
            }
        case .settings(let ack):
            if !ack { spendControlFrameBudget() }
        case .priority:
            spendControlFrameBudget()
        case .responseHeaders, .pushResponseHeaders, .rstStream, .goaway, .windowUpdate, .other:
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
        guard let stream = streams[streamID] else { return }
        streamClosed(stream, errorCode: errorCode)
    }

    func sessionReadBody(streamID: HTTP2StreamID, into buffer: UnsafeMutableRawBufferPointer) -> NGHTTP2DataSourceResult
    {
        guard let stream = streams[streamID] else { return .end(count: 0, trailers: false) }
        let count = HTTP2ConnectionCore.copyBody(from: &stream.outbound, into: buffer)
        bytesSentSinceInput += count
        bufferedResponseBytes -= count
        if stream.outbound.readableBytes == 0 {
            if stream.bodyEndsStream { return .end(count: count, trailers: false) }
            if let (status, trailers) = stream.pendingTrailers, let session {
                stream.pendingTrailers = nil
                do {
                    try session.submitTrailer(streamID: streamID) { headers in
                        addTrailers(status, trailers, to: &headers)
                    }
                    return .end(count: count, trailers: true)
                } catch {
                    logger.debug("could not submit trailers", metadata: ["error": "\(error)"])
                    return .end(count: count, trailers: false)
                }
            }
            resumeWriters(of: stream)
            if count == 0 {
                stream.dataDeferred = true
                return .deferred
            }
        } else if stream.outbound.readableBytes < configuration.responseBufferHighWatermark / 2 {
            resumeWriters(of: stream)
        }
        return .bytes(count)
    }

    /// Our own GOAWAYs with an error are logged, with their reason, where they are queued; one that
    /// nobody here queued is nghttp2's: a connection error it found in the client's frames, or one
    /// of its limits. Its rapid reset limit (``RPCServerConfiguration/streamResetsPerSecond``) ends
    /// the connection with INTERNAL_ERROR, which would otherwise leave no trace.
    func sessionDidSendGoaway(lastStreamID: HTTP2StreamID, errorCode: HTTP2ErrorCode) {
        guard errorCode != .noError, !closeExplained else { return }
        closeExplained = true
        logger.warning(
            "nghttp2 closed the connection (a connection error in the client's frames, or more stream resets than the rapid reset budget allows)",
            metadata: ["h2.error": "\(errorCode)", "h2.last_stream": "\(lastStreamID.rawValue)"])
    }

    func sessionDidSendStreamFrame(streamID: HTTP2StreamID, endsStream: Bool) {
        connection.sentStreamFrame()
        // We answered before the client finished sending (an early error): tell it to stop.
        guard endsStream, let stream = streams[streamID], !stream.requestEnded else { return }
        session?.submitReset(streamID: streamID, errorCode: .noError)
    }
}
