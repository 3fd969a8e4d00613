import Crypto
import EventStore
import Foundation
import HTTP2RPC
import WireFormat

/// Who a call acts as.
public enum Principal: Sendable, Hashable, CustomStringConvertible {
    /// A service: acts for any user and sees every event.
    case service(name: String)
    /// A user: acts only for itself and sees only its own events.
    case user(UUID)

    /// Whether the principal may act for (or read the data of) `user`.
    public func mayActFor(_ user: UUID) -> Bool {
        switch self {
        case .service: true
        case .user(let id): id == user
        }
    }

    public var description: String {
        switch self {
        case .service(let name): "service \(name)"
        case .user(let id): "user \(id.lowercasedText)"
        }
    }
}

/// Checks the bearer token of a call against the tokens in the configuration, kept only as their
/// SHA-256 digests.
///
/// A token is configured as `service:<name>=<token>` or `user:<uuid>=<token>`, where `<token>` is
/// the token itself or `sha256:<64 hex digits>`, its digest (so a configuration file need not hold
/// the token at all). Plain tokens are hashed when the configuration is read and then dropped.
/// With no token configured the server is open: every call acts as the service `anonymous` — the
/// server allows that on a loopback address only.
public struct Authenticator: Sendable {
    private let principals: [Data: Principal]

    /// The principal of an open server.
    public static let anonymous = Principal.service(name: "anonymous")

    /// Reads token entries; throws a message naming the entry that is wrong.
    public init(tokens entries: [String]) throws(ConfigurationError) {
        var principals: [Data: Principal] = [:]
        for (index, entry) in entries.enumerated() {
            let label = "API token \(index + 1)"
            guard let equals = entry.firstIndex(of: "=") else {
                throw ConfigurationError("\(label) must look like service:<name>=<token> or user:<uuid>=<token>")
            }
            let who = entry[..<equals]
            let secret = String(entry[entry.index(after: equals)...])
            let principal: Principal
            if who.hasPrefix("service:"), who.count > "service:".count {
                principal = .service(name: String(who.dropFirst("service:".count)))
            } else if who.hasPrefix("user:"), let id = UUID(uuidString: String(who.dropFirst("user:".count))) {
                principal = .user(id)
            } else {
                throw ConfigurationError(
                    "\(label) names \"\(who)\": use service:<name> or user:<uuid> before the '='")
            }
            let digest: Data
            if secret.hasPrefix("sha256:") {
                guard let bytes = Hex.decode(secret.dropFirst("sha256:".count)), bytes.count == 32 else {
                    throw ConfigurationError("\(label): sha256: must be followed by 64 hex digits")
                }
                digest = Data(bytes)
            } else {
                guard secret.count >= 16 else {
                    throw ConfigurationError("\(label) is too short: a token has at least 16 characters")
                }
                digest = Self.digest(secret)
            }
            guard principals[digest] == nil else { throw ConfigurationError("\(label) repeats another token") }
            principals[digest] = principal
        }
        self.principals = principals
    }

    /// Whether any token is configured (the server is closed to anyone without one).
    public var requiresTokens: Bool { !principals.isEmpty }

    /// The principal of a call, from its `authorization: Bearer <token>` metadata.
    ///
    /// - Throws: UNAUTHENTICATED when tokens are configured and the call has none, or an unknown one.
    public func principal(of metadata: RPCMetadata) throws(RPCError) -> Principal {
        guard requiresTokens else { return Self.anonymous }
        // Which of two tokens would be meant is anyone's guess: refuse rather than pick one.
        guard metadata.count(of: "authorization") <= 1 else {
            throw APIErrors.unauthenticated("the call has more than one authorization header; send one")
        }
        guard let header = metadata.first("authorization") else {
            throw APIErrors.unauthenticated("the call has no token: send `authorization: Bearer <token>`")
        }
        // The scheme, one or more spaces, the token (RFC 9110 section 11.4); the scheme in any case.
        let scheme = header.prefix { $0 != " " }
        let token = header.dropFirst(scheme.count).drop { $0 == " " }
        guard scheme.lowercased() == "bearer", !token.isEmpty else {
            throw APIErrors.unauthenticated("the authorization header must be `Bearer <token>`")
        }
        guard let principal = principals[Self.digest(String(token))] else {
            throw APIErrors.unauthenticated("the token is not one this server accepts")
        }
        return principal
    }

    static func digest(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }
}

/// A setting the server cannot start with, said in words.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
