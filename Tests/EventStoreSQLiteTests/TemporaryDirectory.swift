import Foundation

/// A fresh directory under the system's temporary directory, for one test.
struct TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tradecore-store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A new, not yet existing subdirectory.
    func subdirectory() -> URL {
        url.appendingPathComponent(UUID().uuidString)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
