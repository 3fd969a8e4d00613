internal import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// One TLS connection's OpenSSL state: the `SSL` object and its two memory BIOs. It only takes
/// and gives bytes — ciphertext from the network in, plaintext out, plaintext in, ciphertext to
/// send out — and answers each step with a result; it never touches a channel. ``OpenSSLHandler``
/// does the I/O around it.
///
/// Not thread-safe: it belongs to one channel and is used on that channel's event loop only.
final class OpenSSLConnection {
    enum Role { case server, client }

    enum HandshakeResult: Equatable {
        /// Done, with ALPN settled on `h2`.
        case complete
        /// OpenSSL needs more bytes from the peer (and may have produced some to send).
        case inProgress
        case failed(TLSError)
    }

    enum ReadResult: Equatable {
        /// This many plaintext bytes were written to the buffer.
        case plaintext(Int)
        /// No whole record is buffered: wait for more ciphertext.
        case wantMore
        /// The peer sent close_notify.
        case closedByPeer
        case failed(TLSError)
    }

    private let ssl: OpaquePointer
    /// Network to OpenSSL (we write, OpenSSL reads) and OpenSSL to network.
    private let networkToSSL: OpaquePointer
    private let sslToNetwork: OpaquePointer

    /// A connection of `role` under `context`; a client verifies the server's certificate against
    /// `context.serverName`, an IP literal as an address, anything else as a host name also sent
    /// as SNI.
    init(context: OpenSSLContext, role: Role) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw TLSError(.setup, "SSL_new failed") }
        guard let networkToSSL = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError(.setup, "BIO_new failed")
        }
        guard let sslToNetwork = BIO_new(BIO_s_mem()) else {
            BIO_free(networkToSSL)
            SSL_free(ssl)
            throw TLSError(.setup, "BIO_new failed")
        }
        // SSL_set_bio hands both BIOs to the SSL object, which frees them with itself.
        SSL_set_bio(ssl, networkToSSL, sslToNetwork)
        self.ssl = ssl
        self.networkToSSL = networkToSSL
        self.sslToNetwork = sslToNetwork
        switch role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let name = context.serverName { try expectPeer(named: name) }
        }
    }

    deinit {
        SSL_free(ssl)
    }

    /// Sets what the server's certificate must name. RFC 6066 forbids an IP literal as SNI, so an
    /// address is only checked against the certificate's IP entries.
    private func expectPeer(named name: String) throws(TLSError) {
        if Self.isIPAddress(name) {
            guard let parameters = SSL_get0_param(ssl), X509_VERIFY_PARAM_set1_ip_asc(parameters, name) == 1 else {
                throw TLSError(.setup, "cannot expect the address \(name) in the server's certificate")
            }
        } else {
            guard COpenSSL_SSL_set_tlsext_host_name(ssl, name) == 1 else {
                throw TLSError(.setup, "cannot send the server name \(name) (SNI)")
            }
            guard SSL_set1_host(ssl, name) == 1 else {
                throw TLSError(.setup, "cannot expect the host name \(name) in the server's certificate")
            }
        }
    }

    /// Whether `name` is an IPv4 or IPv6 literal, as the C library parses addresses (so
    /// `1.2.3.4.example` is a host name and `::1` an address).
    static func isIPAddress(_ name: String) -> Bool {
        // Room for either form (16 bytes); only whether it parses matters.
        var address = [UInt8](repeating: 0, count: 16)
        return address.withUnsafeMutableBytes { bytes in
            inet_pton(AF_INET, name, bytes.baseAddress) == 1 || inet_pton(AF_INET6, name, bytes.baseAddress) == 1
        }
    }

    // MARK: Bytes in

    /// Hands ciphertext received from the network to OpenSSL.
    func receive(_ ciphertext: UnsafeRawBufferPointer) -> TLSError? {
        let whole = Self.handAll(ciphertext) { BIO_write(networkToSSL, $0, $1) }
        return whole ? nil : TLSError(.io, "cannot buffer received TLS records")
    }

    /// Gives `bytes` to `take` in pieces an `Int32` can count, until `take` has taken them all;
    /// false when it takes nothing (OpenSSL's way of failing).
    private static func handAll(
        _ bytes: UnsafeRawBufferPointer, _ take: (UnsafeRawPointer?, Int32) -> Int32
    ) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let taken = take(bytes.baseAddress.map { $0 + offset }, Int32(min(bytes.count - offset, Int(Int32.max))))
            guard taken > 0 else { return false }
            offset += Int(taken)
        }
        return true
    }

    /// Advances the handshake with what has been received.
    func handshake() -> HandshakeResult {
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            return negotiatedH2 ? .complete : .failed(TLSError(.alpn, "the peer did not negotiate HTTP/2 with ALPN"))
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .inProgress
        default:
            return .failed(handshakeFailure())
        }
    }

    /// Why the handshake failed: the certificate check's own verdict when that is what failed.
    private func handshakeFailure() -> TLSError {
        let verdict = SSL_get_verify_result(ssl)
        guard verdict != X509_V_OK else {
            // Bytes that are no TLS record at all: most often a plain HTTP/2 (h2c) port.
            if ERR_GET_REASON(ERR_peek_error()) == SSL_R_WRONG_VERSION_NUMBER {
                return TLSError(
                    .handshake, "TLS handshake failed: the peer does not speak TLS (is it serving plain HTTP/2?)")
            }
            return TLSError(.handshake, "TLS handshake failed")
        }
        let reason = X509_verify_cert_error_string(verdict).map { String(cString: $0) } ?? "error \(verdict)"
        return TLSError(.verification, "the server's certificate was refused (\(reason))")
    }

    private var negotiatedH2: Bool {
        var selected: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &selected, &length)
        guard let selected, length == 2 else { return false }
        return selected[0] == UInt8(ascii: "h") && selected[1] == UInt8(ascii: "2")
    }

    /// Decrypts into `buffer` what the received records hold.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        let result = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if result > 0 { return .plaintext(Int(result)) }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantMore
        case SSL_ERROR_ZERO_RETURN:
            return .closedByPeer
        default:
            return .failed(TLSError(.io, "TLS read failed"))
        }
    }

    // MARK: Bytes out

    /// Encrypts all of `plaintext` (memory BIOs never push back, so a write is whole or fails).
    func write(_ plaintext: UnsafeRawBufferPointer) -> TLSError? {
        Self.handAll(plaintext) { SSL_write(ssl, $0, $1) } ? nil : TLSError(.io, "TLS write failed")
    }

    /// Queues close_notify. A result below zero with nothing to wait for is an error worth no more
    /// than closing anyway, which the caller does next; the queue is emptied so it is not blamed on
    /// a later failure.
    func shutdown() {
        if SSL_shutdown(ssl) < 0 { _ = TLSError.drainErrorQueue() }
    }

    /// Ciphertext waiting to be sent.
    var pendingCiphertext: Int { COpenSSL_BIO_pending(sslToNetwork) }

    /// Moves up to `buffer.count` bytes of ciphertext to send into `buffer`; returns how many.
    func takeCiphertext(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let read = BIO_read(sslToNetwork, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        return read > 0 ? Int(read) : 0
    }
}
