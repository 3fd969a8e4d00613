import Crypto
import EventSourcing
import Foundation

/// Where broker credentials are kept: sealed with AES-GCM under a key derived from the server's
/// master key, in the read-model store's database (a collection no projection owns). Events carry
/// only the reference a credential is kept under, never the credential.
///
/// Each sealed box is bound to its reference (as authenticated data), so a box copied under
/// another reference does not open.
public final class CredentialVault: Sendable {
    /// The collection the sealed boxes are kept in.
    public static let collection = "vault.broker_credentials"

    private let storage: any ProjectionStore
    private let secrets: ServerSecrets
    private var key: SymmetricKey { secrets.vaultKey }

    public init(storage: any ProjectionStore, secrets: ServerSecrets) {
        self.storage = storage
        self.secrets = secrets
    }

    /// Seals and keeps `credentials` under `reference`, replacing what was there.
    public func store(_ credentials: BrokerCredentials, reference: String) async throws {
        let plaintext = try JSONEncoder().encode(credentials)
        let sealed = try AES.GCM.seal(plaintext, using: key, authenticating: Data(reference.utf8))
        guard let combined = sealed.combined else { throw VaultError.sealFailed(reference) }
        let collection = Self.collection
        try await storage.write { writer in try writer.put(combined, in: collection, key: reference) }
    }

    /// The credentials kept under `reference`.
    ///
    /// - Throws: ``VaultError`` when none are kept there, or they do not open with this server's key.
    public func credentials(reference: String) async throws -> BrokerCredentials {
        let collection = Self.collection
        guard let combined = try await storage.read({ reader in try reader.value(in: collection, key: reference) })
        else { throw VaultError.missing(reference) }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            let plaintext = try AES.GCM.open(box, using: key, authenticating: Data(reference.utf8))
            return try JSONDecoder().decode(BrokerCredentials.self, from: plaintext)
        } catch {
            throw VaultError.unreadable(reference)
        }
    }

    /// Forgets the credentials under `reference`, if any.
    public func remove(reference: String) async throws {
        let collection = Self.collection
        try await storage.write { writer in try writer.remove(from: collection, key: reference) }
    }
}

/// A vault entry that is missing or cannot be opened.
public enum VaultError: Error, Sendable, Hashable, CustomStringConvertible {
    case missing(String)
    case unreadable(String)
    case sealFailed(String)

    public var description: String {
        switch self {
        case .missing(let reference): "no credentials are kept under \(reference)"
        case .unreadable(let reference):
            "the credentials under \(reference) do not open with this server's key (was the master key changed?)"
        case .sealFailed(let reference): "could not seal the credentials for \(reference)"
        }
    }
}
