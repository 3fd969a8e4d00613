internal import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// An OpenSSL `SSL_CTX` configured for HTTP/2: TLS 1.2 or later, ALPN `h2` only.
///
/// Sendable because it is never mutated after `server`/`client` return; OpenSSL allows one
/// configured context to create connections on any thread.
final class OpenSSLContext: @unchecked Sendable {
    let context: OpaquePointer
    /// For clients: the name to verify the server certificate against and to send as SNI.
    let serverName: String?

    private init(context: OpaquePointer, serverName: String?) {
        self.context = context
        self.serverName = serverName
    }

    deinit {
        SSL_CTX_free(context)
    }

    static func server(_ configuration: TLSConfiguration) throws -> OpenSSLContext {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError(.setup, "SSL_CTX_new failed") }
        let wrapper = OpenSSLContext(context: context, serverName: nil)
        try wrapper.applyCommonSettings()
        guard SSL_CTX_use_certificate_chain_file(context, configuration.certificateChainFile) == 1 else {
            throw TLSError(.credentials, "cannot load the certificate chain \(configuration.certificateChainFile)")
        }
        // No passphrase: OpenSSL would otherwise ask for one on the terminal (and a server without
        // one would fail on a bare "bad password read").
        SSL_CTX_set_default_passwd_cb(context, refusePassphrase)
        guard SSL_CTX_use_PrivateKey_file(context, configuration.privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            let file = configuration.privateKeyFile
            if Self.isEncryptedKey(file) {
                // OpenSSL's account ("bad password read", ...) says less than this does.
                ERR_clear_error()
                throw TLSError(
                    .credentials,
                    "the private key \(file) is encrypted with a passphrase, which the server cannot be given: "
                        + "use the key without one (openssl pkey -in \(file) -out <new file>)")
            }
            throw TLSError(.credentials, "cannot load the private key \(file)")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError(.credentials, "the private key does not match the certificate")
        }
        SSL_CTX_set_alpn_select_cb(context, selectH2, nil)
        return wrapper
    }

    static func client(_ configuration: TLSClientConfiguration, host: String) throws -> OpenSSLContext {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw TLSError(.setup, "SSL_CTX_new failed") }
        let wrapper = OpenSSLContext(context: context, serverName: configuration.serverName ?? host)
        try wrapper.applyCommonSettings()
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let roots = configuration.trustRootsFile {
            guard SSL_CTX_load_verify_locations(context, roots, nil) == 1 else {
                throw TLSError(.credentials, "cannot load trust roots from \(roots)")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw TLSError(.credentials, "cannot load the system trust roots")
            }
        }
        let protocols: [UInt8] = [2, UInt8(ascii: "h"), UInt8(ascii: "2")]
        // Unlike most of OpenSSL, this function returns 0 on success.
        guard SSL_CTX_set_alpn_protos(context, protocols, UInt32(protocols.count)) == 0 else {
            throw TLSError(.setup, "cannot set ALPN protocols")
        }
        return wrapper
    }

    /// Whether a PEM private key file is encrypted: PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`) or the
    /// traditional form's `Proc-Type: 4,ENCRYPTED` header, both near the start of the file.
    private static func isEncryptedKey(_ path: String) -> Bool {
        guard let file = fopen(path, "r") else { return false }
        defer { fclose(file) }
        var head = [UInt8](repeating: 0, count: 512)
        let count = fread(&head, 1, head.count, file)
        return String(decoding: head[..<count], as: UTF8.self).contains("ENCRYPTED")
    }

    private func applyCommonSettings() throws {
        guard COpenSSL_SSL_CTX_set_min_proto_version(context, COpenSSL_minimumProtocolVersion()) == 1 else {
            throw TLSError(.setup, "cannot require TLS 1.2")
        }
        // Writes from a ByteBuffer may be retried from a different address after WANT_WRITE.
        // SSL_CTX_set_mode returns the mode now in force.
        let mode = Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE)
        guard COpenSSL_SSL_CTX_set_mode(context, mode) & mode == mode else {
            throw TLSError(.setup, "cannot set the write modes")
        }
    }
}

/// The passphrase callback for private keys: none is given (returns 0, no bytes).
private let refusePassphrase:
    @convention(c) (
        UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?
    ) -> Int32 = { _, _, _, _ in 0 }

/// ALPN selection for servers: `h2` or nothing. A client that offers only other protocols
/// gets a fatal `no_application_protocol` alert (RFC 7301), as HTTP/1.1 is not served.
private let selectH2:
    @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
    ) -> Int32 = { _, out, outLength, offered, offeredLength, _ in
        guard let out, let outLength, let offered else { return SSL_TLSEXT_ERR_ALERT_FATAL }
        var index = 0
        let total = Int(offeredLength)
        while index < total {
            let length = Int(offered[index])
            let start = index + 1
            guard start + length <= total else { break }
            if length == 2 && offered[start] == UInt8(ascii: "h") && offered[start + 1] == UInt8(ascii: "2") {
                out.pointee = offered + start
                outLength.pointee = 2
                return SSL_TLSEXT_ERR_OK
            }
            index = start + length
        }
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
