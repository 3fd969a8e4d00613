import Crypto
import EventSourcing
import Foundation
import WireFormat

/// The keys the server derives its secrets from, all from one master key in its configuration.
///
/// Secrets the server hands out are derived, not stored: a webhook token is an HMAC of the
/// automation's id, an OAuth state an HMAC of the connection's and the command's ids. So a command
/// sent again returns the same secret, while events and recorded outcomes keep only a SHA-256
/// digest (or nothing). Each purpose has its own key, derived with HKDF, so one kind of secret
/// can never be passed off as another.
public struct ServerSecrets: Sendable {
    // Kept as bytes: swift-crypto's SymmetricKey is not Sendable here; a key is rebuilt per use.
    private let webhookKeyBytes: [UInt8]
    private let oauthStateKeyBytes: [UInt8]
    private let vaultKeyBytes: [UInt8]
    private let fingerprintKeyBytes: [UInt8]
    /// Names the master key without revealing it: a store keeps it, to refuse a server started
    /// with another key (see ``checkMasterKey(in:)``).
    let keyCheck: String

    private var webhookKey: SymmetricKey { SymmetricKey(data: webhookKeyBytes) }
    private var oauthStateKey: SymmetricKey { SymmetricKey(data: oauthStateKeyBytes) }
    /// The key the credential vault seals with.
    var vaultKey: SymmetricKey { SymmetricKey(data: vaultKeyBytes) }

    /// The smallest master key accepted, in bytes.
    public static let minimumMasterKeyBytes = 32

    /// Derives the keys from `masterKey` (at least ``minimumMasterKeyBytes`` bytes).
    public init(masterKey: SymmetricKey) throws(SecretsError) {
        guard masterKey.bitCount >= Self.minimumMasterKeyBytes * 8 else {
            throw SecretsError(
                "the master key has \(masterKey.bitCount / 8) bytes; it needs at least \(Self.minimumMasterKeyBytes)")
        }
        func derive(_ purpose: String) -> [UInt8] {
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: masterKey, info: Data("tradecore \(purpose) v1".utf8), outputByteCount: 32
            ).withUnsafeBytes { Array($0) }
        }
        webhookKeyBytes = derive("webhook token")
        oauthStateKeyBytes = derive("oauth state")
        vaultKeyBytes = derive("credential vault")
        fingerprintKeyBytes = derive("command fingerprint")
        keyCheck = Hex.encode(derive("key check").prefix(16))
    }

    /// Derives the keys from the bytes of a master key (at least ``minimumMasterKeyBytes``).
    public init(masterKeyBytes: [UInt8]) throws(SecretsError) {
        try self.init(masterKey: SymmetricKey(data: masterKeyBytes))
    }

    /// The bytes of a new random master key.
    public static func generateMasterKeyBytes() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    /// The webhook token of an automation: `whk_` and 43 base64url characters.
    public func webhookToken(for automationID: UUID) -> String {
        "whk_" + Self.base64URL(HMAC<SHA256>.authenticationCode(for: automationID.bytes, using: webhookKey))
    }

    /// The OAuth state of the flow that command `commandID` started for connection `connectionID`.
    public func oauthState(connection connectionID: UUID, command commandID: UUID) -> String {
        Self.base64URL(
            HMAC<SHA256>.authenticationCode(for: connectionID.bytes + commandID.bytes, using: oauthStateKey))
    }

    /// The fingerprint of a command sent with a command id (see `CommandOptions.fingerprint`): an
    /// HMAC of its type and encoded content, keyed so that a recorded outcome says nothing about a
    /// secret the command carried.
    public func commandFingerprint(commandType: String, content: [UInt8]) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: fingerprintKeyBytes))
        hmac.update(data: Array(commandType.utf8) + [0])
        hmac.update(data: content)
        return Array(hmac.finalize())
    }

    /// The SHA-256 digest of a secret: what events keep to check it later.
    public static func digest(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }

    /// Whether `secret` has the digest `digest`, compared in constant time.
    public static func matches(_ secret: String, digest: [UInt8]) -> Bool {
        let actual = Self.digest(secret)
        guard actual.count == digest.count else { return false }
        return zip(actual, digest).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private static func base64URL(_ code: some Sequence<UInt8>) -> String {
        Data(code).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

extension ServerSecrets {
    static let keyCheckCollection = "server"
    static let keyCheckKey = "master-key-check"

    /// Refuses a master key other than the one the store was first used with, and records this
    /// one in a store that has none. Under another key the credentials in the vault do not open
    /// and the fingerprints of recorded command ids do not match: a server started with it (a
    /// second server given none, a lost key file made anew) would cancel orders it cannot submit
    /// and refuse the retries of commands it ran.
    ///
    /// `lock`, when servers share the store: held across the look and the write, so that of
    /// servers starting together on a new store one records its key and the others compare.
    public func checkMasterKey(in store: any ProjectionStore, lock: (any DistributedLock)? = nil) async throws {
        guard let lock else { return try await checkMasterKeyAlone(in: store) }
        try await lock.withLock(
            Self.keyCheckCollection + "/" + Self.keyCheckKey, ttl: .seconds(60), timeout: .seconds(30)
        ) {
            _ in try await checkMasterKeyAlone(in: store)
        }
    }

    private func checkMasterKeyAlone(in store: any ProjectionStore) async throws {
        let check = keyCheck
        let recorded = try await store.read { try $0.value(in: Self.keyCheckCollection, key: Self.keyCheckKey) }
            .map { String(decoding: $0, as: UTF8.self) }
        if let recorded {
            guard recorded == check else { throw MasterKeyMismatch(recorded: recorded, given: check) }
            return
        }
        // A store from before the check: its vault, if it holds anything, tells whether this key
        // is the one it was used with.
        let sealed = try await store.read {
            try $0.entries(in: CredentialVault.collection, prefix: "", after: nil, limit: 1).first?.key
        }
        if let sealed {
            do {
                _ = try await CredentialVault(storage: store, secrets: self).credentials(reference: sealed)
            } catch VaultError.unreadable {
                throw MasterKeyMismatch(recorded: nil, given: check)
            }
        }
        try await store.write { writer in
            try writer.put(Data(check.utf8), in: Self.keyCheckCollection, key: Self.keyCheckKey)
        }
    }
}

/// The master key a server was started with is not the one its store was first used with.
public struct MasterKeyMismatch: Error, Sendable, CustomStringConvertible {
    /// The store's key check (nil: the store has none, but its credentials do not open with
    /// the key given), and that of the key given.
    public let recorded: String?
    public let given: String

    public var description: String {
        let which =
            recorded.map { "key check \($0); this server's is \(given)" }
            ?? "the credentials it holds do not open with this server's key, key check \(given)"
        return "this store was first used with another master key (\(which)): servers sharing a store must share "
            + "the master key (--master-key-file), and a lost key file cannot be made anew. Start with the key "
            + "the store was used with."
    }
}

/// A master key that cannot be used.
public struct SecretsError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

extension UUID {
    /// The 16 bytes, in RFC 9562 order.
    var bytes: [UInt8] { withUnsafeBytes(of: uuid) { Array($0) } }
}
