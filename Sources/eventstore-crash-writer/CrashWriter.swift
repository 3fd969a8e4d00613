import EventStore
import EventStoreSQLite
import Foundation
import Logging

/// The child process of the crash-safety test: appends to a SQLite store under load, forever, and
/// writes one line to stdout per acknowledged append, until it is killed.
///
/// Usage: `eventstore-crash-writer <directory> [appenders]`
///
/// Output lines (each written with a single write(2), so a line is never interleaved or partial
/// unless the process dies inside that very call):
/// - `READY` once the store is open;
/// - `ACK <stream> <firstVersion> <position,...> <eventID,...>` after each acknowledged append.
///
/// Every event carries extra metadata `append` (the append's id) and `count` (its number of
/// events), so a reader can tell that no append was stored in part.
@main
struct CrashWriter {
    static func main() async {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else {
            emit("usage: eventstore-crash-writer <directory> [appenders]\n", to: 2)
            exit(64)
        }
        let directory = URL(fileURLWithPath: arguments[1], isDirectory: true)
        let appenders = arguments.count >= 3 ? Int(arguments[2]) ?? 8 : 8
        do {
            let store = try await SQLiteEventStore.open(.init(directory: directory))
            emit("READY\n")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<max(appenders, 1) {
                    group.addTask { try await appendForever(to: store) }
                }
                try await group.waitForAll()
            }
        } catch {
            emit("FAILED \(error)\n", to: 2)
            exit(1)
        }
    }

    private static func appendForever(to store: SQLiteEventStore) async throws {
        var generator = SystemRandomNumberGenerator()
        while true {
            let stream = try StreamName(type: "crash", id: UUIDv7.next())
            var expected = ExpectedVersion.noStream
            for _ in 0..<Int.random(in: 1...20, using: &generator) {
                let count = Int.random(in: 1...5, using: &generator)
                let appendID = UUID().lowercasedText
                let events = (0..<count).map { index in
                    NewEvent(
                        type: "CrashTested",
                        data: Data(
                            (0..<Int.random(in: 0...2_000, using: &generator)).map { _ in UInt8.random(in: 0...255) }),
                        metadata: EventMetadata(
                            causationID: UUID(),
                            commandType: "CrashTest",
                            extra: ["append": appendID, "count": String(count), "index": String(index)]
                        )
                    )
                }
                let result = try await store.append(to: stream, expected: expected, events: events)
                let positions = result.positions.map(String.init).joined(separator: ",")
                let ids = events.map { $0.id.lowercasedText }.joined(separator: ",")
                emit("ACK \(stream) \(result.firstVersion) \(positions) \(ids)\n")
                expected = .exact(result.version)
            }
        }
    }

    /// Writes `line` with one write(2): no buffer to lose at SIGKILL, no interleaving between tasks.
    private static func emit(_ line: String, to descriptor: Int32 = 1) {
        let bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            guard written > 0 else { return }
            offset += written
        }
    }
}
