internal import COpenSSL

/// A TLS failure: what went wrong as a code a caller can switch over, and a description that
/// carries OpenSSL's own account of it.
public struct TLSError: Error, Hashable, CustomStringConvertible {
    /// What failed.
    public enum Code: Sendable, Hashable {
        /// OpenSSL could not make or configure a context or a connection (out of memory, a
        /// setting it refused).
        case setup
        /// The certificate chain, the private key or the trust roots could not be loaded, or the
        /// key does not match the certificate.
        case credentials
        /// The peer's certificate did not verify: untrusted, expired, or for another host name or
        /// address.
        case verification
        /// The peer did not agree on HTTP/2 through ALPN.
        case alpn
        /// The handshake failed for another reason (an alert from the peer, a protocol error).
        case handshake
        /// Records could not be read or written after the handshake.
        case io
    }

    public let code: Code
    public let description: String

    /// Makes an error with OpenSSL's queued errors for this thread appended to `what` (the queue is
    /// emptied, so that the next failure does not report stale entries).
    init(_ code: Code, _ what: String) {
        let details = TLSError.drainErrorQueue()
        self.code = code
        self.description = details.isEmpty ? what : "\(what): \(details.joined(separator: "; "))"
    }

    /// Empties OpenSSL's thread-local error queue into readable strings.
    static func drainErrorQueue() -> [String] {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let length = buffer.firstIndex(of: 0) ?? buffer.count
            messages.append(String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages
    }
}
