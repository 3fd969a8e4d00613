/// TLS settings of a server: its certificate chain and key, as PEM files.
///
/// ALPN must select `h2`; TLS 1.2 is the floor.
public struct TLSConfiguration: Sendable {
    public var certificateChainFile: String
    public var privateKeyFile: String

    public init(certificateChainFile: String, privateKeyFile: String) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
    }

    /// Loads the certificate chain and the key as the server will, and checks that they belong
    /// together: a server can refuse a bad pair before it does anything else.
    public func check() throws {
        _ = try OpenSSLContext.server(self)
    }
}

/// TLS settings of a client.
public struct TLSClientConfiguration: Sendable {
    /// PEM file of the certificate authorities to trust; nil uses the system's default paths.
    public var trustRootsFile: String?
    /// Name to send in SNI and to verify the server certificate against; defaults to the host.
    public var serverName: String?

    public init(trustRootsFile: String? = nil, serverName: String? = nil) {
        self.trustRootsFile = trustRootsFile
        self.serverName = serverName
    }
}
