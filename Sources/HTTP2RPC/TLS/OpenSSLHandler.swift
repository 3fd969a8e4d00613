import NIOCore

/// Fired inbound once the TLS handshake has completed with ALPN `h2`.
struct TLSHandshakeCompleted {}

/// TLS on a NIO channel: the I/O around an ``OpenSSLConnection``.
///
/// Ciphertext read from the socket goes to the connection; what it produces to send is written
/// to the socket. Plaintext goes up the pipeline as `ByteBuffer`s, and plaintext written before
/// the handshake completes is held until then. The connection is refused unless ALPN settles on
/// `h2`.
final class OpenSSLHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    typealias Role = OpenSSLConnection.Role

    private enum State {
        case handshaking
        case established
        case closing
        case closed
    }

    private let role: Role
    private let connection: OpenSSLConnection
    private var state: State = .handshaking
    private var pendingWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []

    init(context tlsContext: OpenSSLContext, role: Role) throws(TLSError) {
        self.role = role
        self.connection = try OpenSSLConnection(context: tlsContext, role: role)
    }

    // MARK: Inbound

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if role == .client { advanceHandshake(context: context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let error = buffer.withUnsafeReadableBytes({ connection.receive($0) }) {
            return fail(context: context, error)
        }
        if state == .handshaking { advanceHandshake(context: context) }
        if state == .established || state == .closing { readPlaintext(context: context) }
        writeCiphertext(context: context, flush: true)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // The layer above serialises its output per read; it needs this signal even when
        // the read only carried handshake or alert records.
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        failPendingWrites(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        switch connection.handshake() {
        case .complete:
            state = .established
            writeCiphertext(context: context, flush: false)
            context.fireUserInboundEventTriggered(TLSHandshakeCompleted())
            let writes = pendingWrites
            pendingWrites.removeAll()
            for (buffer, promise) in writes { encrypt(buffer, promise: promise, context: context) }
            writeCiphertext(context: context, flush: true)
        case .inProgress:
            writeCiphertext(context: context, flush: true)
        case .failed(let error):
            // The alert OpenSSL queued goes out before the close.
            writeCiphertext(context: context, flush: true)
            fail(context: context, error)
        }
    }

    private func readPlaintext(context: ChannelHandlerContext) {
        while true {
            var buffer = context.channel.allocator.buffer(capacity: 16_384)
            var result = OpenSSLConnection.ReadResult.wantMore
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16_384) { bytes in
                result = connection.read(into: bytes)
                if case .plaintext(let count) = result { return count }
                return 0
            }
            switch result {
            case .plaintext:
                context.fireChannelRead(wrapInboundOut(buffer))
            case .wantMore:
                return
            case .closedByPeer:
                // close_notify from the peer: answer it and close.
                return startClosing(context: context)
            case .failed(let error):
                return fail(context: context, error)
            }
        }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch state {
        case .handshaking:
            pendingWrites.append((buffer, promise))
        case .established:
            encrypt(buffer, promise: promise, context: context)
        case .closing, .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func flush(context: ChannelHandlerContext) {
        writeCiphertext(context: context, flush: true)
    }

    /// Sends close_notify before the connection ends, also when only our side ends (`.output`,
    /// a server's lingering close): a peer that sees the TCP FIN without it may take it for a
    /// truncation. Reading goes on while closing.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode != .input, state == .established else {
            context.close(mode: mode, promise: promise)
            return
        }
        state = .closing
        connection.shutdown()
        writeCiphertext(context: context, flush: true)
        context.close(mode: mode, promise: promise)
    }

    private func encrypt(_ plaintext: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        if let error = plaintext.withUnsafeReadableBytes({ connection.write($0) }) {
            promise?.fail(error)
            return fail(context: context, error)
        }
        // The plaintext is fully encrypted now; the promise completes when its ciphertext has
        // been written to the socket.
        writeCiphertext(context: context, flush: false, promise: promise)
    }

    /// Moves everything OpenSSL has produced into the channel.
    private func writeCiphertext(context: ChannelHandlerContext, flush: Bool, promise: EventLoopPromise<Void>? = nil) {
        let pending = connection.pendingCiphertext
        if pending > 0 {
            var buffer = context.channel.allocator.buffer(capacity: pending)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { connection.takeCiphertext(into: $0) }
            context.write(wrapOutboundOut(buffer), promise: promise)
        } else {
            promise?.succeed()
        }
        if flush { context.flush() }
    }

    private func startClosing(context: ChannelHandlerContext) {
        guard state != .closing && state != .closed else { return }
        state = .closing
        connection.shutdown()
        writeCiphertext(context: context, flush: true)
        context.close(promise: nil)
    }

    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        guard state != .closed else { return }
        state = .closed
        failPendingWrites(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private func failPendingWrites(_ error: any Error) {
        let writes = pendingWrites
        pendingWrites.removeAll()
        for (_, promise) in writes { promise?.fail(error) }
    }
}
