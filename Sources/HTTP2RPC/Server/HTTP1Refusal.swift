import Logging
import NIOCore

/// Stands in front of a plaintext connection's HTTP/2 handler until the client's first bytes
/// show what it speaks.
///
/// - The HTTP/2 connection preface passes on, and this handler leaves the pipeline.
/// - An HTTP/1.x request (what `curl http://host:port/` or a browser sends) is answered with a
///   plain-text `HTTP/1.1 505` saying that this port speaks HTTP/2 only. An HTTP/1 client would
///   otherwise read our binary SETTINGS frame and report an unreadable "HTTP/0.9" answer.
/// - Anything else passes on too: the HTTP/2 handler ends it with GOAWAY (PROTOCOL_ERROR).
///
/// The HTTP/2 handler's first frames wait here until the first bytes have decided, since an
/// HTTP/1 client could not read them. A client that speaks HTTP/2 sends its preface as soon as
/// it connects, so they wait no longer than that. If the connection is closed before the client
/// has sent anything (a drain, an idle timeout), they go out just before the close.
final class HTTP1Refusal: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What a connection's first bytes say about its client.
    enum FirstBytes: Equatable {
        /// The HTTP/2 connection preface, whole.
        case http2
        /// An HTTP/1.x request line's method and the space after it.
        case http1
        /// Neither: not HTTP at all, or a broken preface.
        case other
        /// Too few bytes to tell.
        case undecided
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// The longest method token taken for an HTTP/1 request's (`OPTIONS` and `CONNECT` have 7).
    static let longestMethod = 16

    /// Decides from the first bytes a client sent; 24 bytes (the preface's length) always decide.
    static func classify(_ bytes: some Collection<UInt8>) -> FirstBytes {
        let compared = min(bytes.count, preface.count)
        if bytes.prefix(compared).elementsEqual(preface.prefix(compared)) {
            return compared == preface.count ? .http2 : .undecided
        }
        // An HTTP/1 request line starts with its method: upper-case letters, then a space.
        var methodLength = 0
        for byte in bytes.prefix(longestMethod + 1) {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): methodLength += 1
            case UInt8(ascii: " ") where methodLength > 0: return .http1
            default: return .other
            }
        }
        return methodLength > longestMethod ? .other : .undecided
    }

    /// The answer an HTTP/1 client gets.
    static let answer: String = {
        let body = """
            This port speaks HTTP/2 only: gRPC over HTTP/2, here in cleartext with prior knowledge \
            (h2c), not HTTP/1.1. Call it with a gRPC client, the tradecore CLI, or \
            curl --http2-prior-knowledge.\n
            """
        return "HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-type: text/plain; charset=utf-8\r\n"
            + "content-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n" + body
    }()

    private enum State {
        case reading
        case refused
        case passed
    }

    private var state = State.reading
    private var received: ByteBuffer?
    private var heldWrites: [(data: NIOAny, promise: EventLoopPromise<Void>?)] = []
    private var heldFlush = false
    private let linger: TimeAmount
    private let logger: Logger

    /// `linger`: how long a refused client may take to read the answer and close its side.
    init(linger: TimeAmount, logger: Logger) {
        self.linger = linger
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .passed:
            context.fireChannelRead(data)
        case .refused:
            break  // the rest of the request: read and dropped until the client closes
        case .reading:
            var bytes = unwrapInboundIn(data)
            var buffered = received ?? context.channel.allocator.buffer(capacity: bytes.readableBytes)
            buffered.writeBuffer(&bytes)
            received = buffered
            switch Self.classify(buffered.readableBytesView) {
            case .undecided: break
            case .http1: refuse(context: context)
            case .http2, .other: pass(context: context)
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch state {
        case .reading: heldWrites.append((data, promise))
        case .refused: promise?.fail(ChannelError.outputClosed)
        case .passed: context.write(data, promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        switch state {
        case .reading: heldFlush = true
        case .refused: break
        case .passed: context.flush()
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if state == .reading { releaseHeldWrites(context: context) }
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Closed before the first bytes decided, without a close passing through here.
        let writes = heldWrites
        heldWrites = []
        for write in writes { write.promise?.fail(ChannelError.ioOnClosedChannel) }
    }

    private func releaseHeldWrites(context: ChannelHandlerContext) {
        let writes = heldWrites
        heldWrites = []
        for write in writes { context.write(write.data, promise: write.promise) }
        if heldFlush {
            heldFlush = false
            context.flush()
        }
    }

    private func pass(context: ChannelHandlerContext) {
        state = .passed
        releaseHeldWrites(context: context)
        if let bytes = received {
            received = nil
            context.fireChannelRead(wrapInboundOut(bytes))
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func refuse(context: ChannelHandlerContext) {
        state = .refused
        received = nil
        logger.debug("answered an HTTP/1 request with 505: this port speaks HTTP/2 only")
        let answer = context.channel.allocator.buffer(string: Self.answer)
        let linger = self.linger
        context.writeAndFlush(wrapOutboundOut(answer)).assumeIsolated().whenComplete { _ in
            HTTP2ServerConnectionHandler.lingeringClose(context, linger: linger)
        }
        // After the answer is on its way: the HTTP/2 handler may close when its writes fail.
        let writes = heldWrites
        heldWrites = []
        heldFlush = false
        for write in writes { write.promise?.fail(ChannelError.outputClosed) }
    }
}
