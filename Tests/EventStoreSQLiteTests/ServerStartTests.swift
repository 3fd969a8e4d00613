import Foundation
import Testing

/// What the server executable does with the data directory it is given.
@Suite(.timeLimit(.minutes(2)))
struct ServerStartTests {
    /// Runs `tradecore-server` with `arguments` until it exits (at most a minute); returns its
    /// exit status and what it wrote.
    private func runServer(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("server-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = try builtExecutable("tradecore-server")
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw ServerKeptRunning()
        }
        return (process.terminationStatus, String(decoding: try Data(contentsOf: output), as: UTF8.self))
    }

    private struct ServerKeptRunning: Error, CustomStringConvertible {
        var description: String { "the server kept running on a data directory it should have refused" }
    }

    @Test func aDataDirectoryHoldingAnotherKindOfFileStopsTheStart() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let garbage = Data("notes, not an event store".utf8)
        _ = FileManager.default.createFile(
            atPath: directory.url.appendingPathComponent("events.sqlite").path, contents: garbage)
        let (status, output) = try runServer(["--data-directory", directory.url.path, "--port", "0"])
        #expect(status != 0, "\(output)")
        #expect(output.contains("not a SQLite database"), "\(output)")
        #expect(
            FileManager.default.contents(atPath: directory.url.appendingPathComponent("events.sqlite").path) == garbage,
            "the file is left as it was")
    }
}
