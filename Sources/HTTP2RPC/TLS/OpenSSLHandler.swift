internal import COpenSSL
import NIOCore

/// Fired inbound once the TLS handshake has completed with ALPN `h2`.
struct TLSHandshakeCompleted {}

/// TLS on a NIO channel, with OpenSSL driven through two memory BIOs.
///
/// Ciphertext read from the socket is written into the read BIO; OpenSSL's output is taken
/// from the write BIO and written to the socket. Plaintext goes up the pipeline as
/// `ByteBuffer`s, and plaintext written before the handshake completes is held until then.
/// The connection is refused unless ALPN settles on `h2`.
final class OpenSSLHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Role { case server, client }

    private enum State {
        case handshaking
        case established
        case closing
        case closed
    }

    private let tlsContext: OpenSSLContext
    private let role: Role
    private let ssl: OpaquePointer
    /// Network to OpenSSL (we write, OpenSSL reads) and OpenSSL to network.
    private let networkToSSL: OpaquePointer
    private let sslToNetwork: OpaquePointer
    private var state: State = .handshaking
    private var pendingWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []

    init(context tlsContext: OpenSSLContext, role: Role) throws {
        guard let ssl = SSL_new(tlsContext.context) else { throw TLSError("SSL_new failed") }
        guard let networkToSSL = BIO_new(BIO_s_mem()), let sslToNetwork = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError("BIO_new failed")
        }
        // SSL_set_bio hands both BIOs to the SSL object, which frees them with itself.
        SSL_set_bio(ssl, networkToSSL, sslToNetwork)
        self.tlsContext = tlsContext
        self.role = role
        self.ssl = ssl
        self.networkToSSL = networkToSSL
        self.sslToNetwork = sslToNetwork

        switch role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let name = tlsContext.serverName {
                if Self.isIPAddress(name) {
                    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
                } else {
                    _ = COpenSSL_SSL_set_tlsext_host_name(ssl, name)
                    SSL_set1_host(ssl, name)
                }
            }
        }
    }

    deinit {
        SSL_free(ssl)
    }

    private static func isIPAddress(_ name: String) -> Bool {
        name.contains(":")
            || name.utf8.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") }
    }

    // MARK: Inbound

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if role == .client { advanceHandshake(context: context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        while buffer.readableBytes > 0 {
            let written = buffer.withUnsafeReadableBytes { bytes in
                BIO_write(networkToSSL, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max))))
            }
            guard written > 0 else {
                return fail(context: context, TLSError("cannot buffer received TLS records"))
            }
            buffer.moveReaderIndex(forwardBy: Int(written))
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
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            guard negotiatedH2() else {
                return fail(context: context, TLSError("the peer did not negotiate HTTP/2 with ALPN"))
            }
            state = .established
            writeCiphertext(context: context, flush: false)
            context.fireUserInboundEventTriggered(TLSHandshakeCompleted())
            let writes = pendingWrites
            pendingWrites.removeAll()
            for (buffer, promise) in writes { encrypt(buffer, promise: promise, context: context) }
            writeCiphertext(context: context, flush: true)
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            writeCiphertext(context: context, flush: true)
        default:
            writeCiphertext(context: context, flush: true)
            fail(context: context, TLSError("TLS handshake failed"))
        }
    }

    private func negotiatedH2() -> Bool {
        var selected: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &selected, &length)
        guard let selected, length == 2 else { return false }
        return selected[0] == UInt8(ascii: "h") && selected[1] == UInt8(ascii: "2")
    }

    private func readPlaintext(context: ChannelHandlerContext) {
        while true {
            var buffer = context.channel.allocator.buffer(capacity: 16_384)
            var result: Int32 = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16_384) { bytes in
                result = SSL_read(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max))))
                return result > 0 ? Int(result) : 0
            }
            if result > 0 {
                context.fireChannelRead(wrapInboundOut(buffer))
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                // close_notify from the peer: answer it and close.
                startClosing(context: context)
                return
            default:
                fail(context: context, TLSError("TLS read failed"))
                return
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

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, state == .established else {
            context.close(mode: mode, promise: promise)
            return
        }
        state = .closing
        SSL_shutdown(ssl)
        writeCiphertext(context: context, flush: true)
        context.close(mode: mode, promise: promise)
    }

    private func encrypt(_ plaintext: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        var remaining = plaintext
        while remaining.readableBytes > 0 {
            let written = remaining.withUnsafeReadableBytes { bytes in
                SSL_write(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max))))
            }
            guard written > 0 else {
                let error = TLSError("TLS write failed")
                promise?.fail(error)
                fail(context: context, error)
                return
            }
            remaining.moveReaderIndex(forwardBy: Int(written))
        }
        // Memory BIOs never block, so the plaintext is fully encrypted now; the promise
        // completes when its ciphertext has been written to the socket.
        writeCiphertext(context: context, flush: false, promise: promise)
    }

    /// Moves everything OpenSSL has produced into the channel.
    private func writeCiphertext(context: ChannelHandlerContext, flush: Bool, promise: EventLoopPromise<Void>? = nil) {
        let pending = COpenSSL_BIO_pending(sslToNetwork)
        if pending > 0 {
            var buffer = context.channel.allocator.buffer(capacity: pending)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { bytes in
                let read = BIO_read(sslToNetwork, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max))))
                return read > 0 ? Int(read) : 0
            }
            context.write(wrapOutboundOut(buffer), promise: promise)
        } else {
            promise?.succeed()
        }
        if flush { context.flush() }
    }

    private func startClosing(context: ChannelHandlerContext) {
        guard state != .closing && state != .closed else { return }
        state = .closing
        SSL_shutdown(ssl)
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
