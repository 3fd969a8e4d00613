import Foundation

/// A fresh directory under the system's temporary directory, for one test.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tradecore-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A new, not yet existing subdirectory.
    public func subdirectory() -> URL {
        url.appendingPathComponent(UUID().uuidString)
    }

    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
