import Foundation
import TradeCoreAPI
import TradeCoreDomain

/// The server's master key: read from `--master-key-file`, or from `master.key` in the data
/// directory, made there (readable by its owner only) the first time the server starts.
struct MasterKey {
    let bytes: [UInt8]
    /// Where the key was just made, when it was.
    let madeAt: String?

    /// The key; one made now is said by ``madeAt``, for the caller to announce once the store
    /// has taken it.
    static func load(settings: ServerSettings) throws -> MasterKey {
        let path =
            settings.masterKeyFile
            ?? URL(fileURLWithPath: settings.dataDirectory, isDirectory: true).appendingPathComponent("master.key").path
        if let contents = FileManager.default.contents(atPath: path) {
            let text = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let bytes = Data(base64Encoded: text), bytes.count >= ServerSecrets.minimumMasterKeyBytes else {
                throw ConfigurationError(
                    "the master key file \(path) must hold the base64 of at least \(ServerSecrets.minimumMasterKeyBytes) bytes"
                )
            }
            return MasterKey(bytes: Array(bytes), madeAt: nil)
        }
        guard settings.masterKeyFile == nil else {
            throw ConfigurationError("the master key file \(path) does not exist")
        }
        let bytes = ServerSecrets.generateMasterKeyBytes()
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((Data(bytes).base64EncodedString() + "\n").utf8),
            attributes: [.posixPermissions: 0o600])
        guard created else { throw ConfigurationError("could not write a new master key to \(path)") }
        return MasterKey(bytes: bytes, madeAt: path)
    }
}
