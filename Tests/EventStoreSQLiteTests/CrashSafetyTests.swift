import EventStore
import EventStoreSQLite
import Foundation
import ProcessTesting
import Testing

/// Kills a child process that appends under load with SIGKILL at random moments, reopens the store
/// after each kill, and checks that every acknowledged append is there whole and that the log has
/// no partial append and no hole.
@Suite(.timeLimit(.minutes(3)))
struct CrashSafetyTests {
    /// One acknowledged append, as the child reported it.
    struct Acknowledgement: Hashable {
        var stream: StreamName
        var firstVersion: Int64
        var positions: [Int64]
        var eventIDs: [UUID]

        init?(line: Substring) {
            let fields = line.split(separator: " ")
            guard fields.count == 5, fields[0] == "ACK",
                let stream = try? StreamName(String(fields[1])),
                let firstVersion = Int64(fields[2])
            else { return nil }
            let positions = fields[3].split(separator: ",").compactMap { Int64($0) }
            let ids = fields[4].split(separator: ",").compactMap { UUID(uuidString: String($0)) }
            guard !positions.isEmpty, positions.count == ids.count else { return nil }
            self.stream = stream
            self.firstVersion = firstVersion
            self.positions = positions
            self.eventIDs = ids
        }
    }

    @Test func acknowledgedAppendsSurviveSIGKILL() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let storeDirectory = directory.url.appendingPathComponent("store")
        let writer = try Self.crashWriterURL()
        var acknowledged: [Acknowledgement] = []
        for round in 1...6 {
            let killAfter = Int.random(in: 5...400)
            let run = try await Self.runAndKill(
                writer,
                arguments: [storeDirectory.path, "16"],
                afterAcknowledgements: killAfter,
                log: directory.url.appendingPathComponent("child-\(round).log")
            )
            print(
                "crash round \(round): SIGKILL after \(run.acknowledgementsAtKill) acknowledgements (asked for "
                    + "\(killAfter)); \(run.acknowledgementLines) ACK lines in all")
            #expect(run.wasKilled, "round \(round): the child was killed by SIGKILL (stderr: \(run.stderr))")
            #expect(
                run.acknowledgements.count == run.acknowledgementLines,
                "round \(round): every ACK line the child printed was understood")
            #expect(
                run.acknowledgements.count >= killAfter, "round \(round): the child acknowledged appends before dying")
            acknowledged += run.acknowledgements
            try await Self.verify(storeDirectory, acknowledged: acknowledged, round: round)
        }
    }

    /// Reopens the store and checks it against everything acknowledged so far.
    private static func verify(_ directory: URL, acknowledged: [Acknowledgement], round: Int) async throws {
        let store = try await SQLiteEventStore.open(.init(directory: directory, integrityCheck: .full))
        do {
            for ack in acknowledged {
                let stored = try await store.readStream(
                    ack.stream,
                    from: ack.firstVersion,
                    direction: .forward,
                    limit: ack.eventIDs.count
                )
                #expect(
                    stored.map(\.id) == ack.eventIDs, "round \(round): acknowledged append to \(ack.stream) is whole")
                #expect(stored.map(\.position) == ack.positions, "round \(round): at its acknowledged positions")
            }
            var log: [RecordedEvent] = []
            var next: Int64 = 1
            while true {
                let page = try await store.readAll(from: next, filter: .all, limit: 1_000)
                log += page
                guard let last = page.last, page.count == 1_000 else { break }
                next = last.position + 1
            }
            let head = try await store.headPosition()
            #expect(head > 0, "round \(round): events were written")
            #expect(
                log.map(\.position) == Array(0..<Int64(log.count)).map { $0 + 1 },
                "round \(round): positions have no hole")
            #expect(Int64(log.count) == head, "round \(round): the log holds head-many events")
            var versions: [StreamName: Int64] = [:]
            var appends: [String: [RecordedEvent]] = [:]
            for event in log {
                let expected = versions[event.stream].map { $0 + 1 } ?? 0
                #expect(event.version == expected, "round \(round): \(event.stream) has no hole at \(expected)")
                versions[event.stream] = event.version
                appends[event.metadata.extra["append", default: "?"], default: []].append(event)
            }
            for (id, events) in appends {
                let count = Int(events.first?.metadata.extra["count"] ?? "") ?? -1
                #expect(events.count == count, "round \(round): append \(id) stored whole, not in part")
                #expect(
                    events.map { $0.metadata.extra["index"] } == (0..<events.count).map { String($0) },
                    "round \(round): append \(id) in order"
                )
                let positions = events.map(\.position)
                #expect(zip(positions, positions.dropFirst()).allSatisfy { $1 == $0 + 1 }, "append \(id) is contiguous")
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    struct ChildRun {
        var acknowledgements: [Acknowledgement]
        /// Complete lines that start with "ACK ", parsed or not.
        var acknowledgementLines: Int
        /// Acknowledgements read when the SIGKILL was sent.
        var acknowledgementsAtKill: Int
        var wasKilled: Bool
        var stderr: String
    }

    /// Starts `executable`, reads its acknowledgements, kills it with SIGKILL once it has printed
    /// `count` of them, and returns every acknowledgement it printed before dying.
    private static func runAndKill(
        _ executable: URL,
        arguments: [String],
        afterAcknowledgements count: Int,
        log: URL
    ) async throws -> ChildRun {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let errors = try FileHandle(forWritingTo: log)
        process.standardError = errors
        try process.run()
        // The child holds its own copy of the write end; ours must go for EOF to arrive when it dies.
        try? output.fileHandleForWriting.close()
        let reader = output.fileHandleForReading
        // Reading a pipe blocks: do it on a Dispatch thread, off the cooperative pool.
        let (lines, killedAt) = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var buffer = Data()
                var lines: [Substring] = []
                var acknowledgements = 0
                var killedAt: Int?
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { break }
                    buffer += chunk
                    // Only complete lines count: a child killed mid-write leaves at most a partial last line.
                    while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                        buffer.removeSubrange(buffer.startIndex...newline)
                        if line.hasPrefix("ACK ") { acknowledgements += 1 }
                        lines.append(Substring(line))
                    }
                    if killedAt == nil && acknowledgements >= count {
                        kill(process.processIdentifier, SIGKILL)
                        killedAt = acknowledgements
                    }
                }
                process.waitUntilExit()
                continuation.resume(returning: (lines, killedAt))
            }
        }
        try? errors.close()
        let stderr = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let signalled = process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
        return ChildRun(
            acknowledgements: lines.compactMap(Acknowledgement.init(line:)),
            acknowledgementLines: lines.filter { $0.hasPrefix("ACK ") }.count,
            acknowledgementsAtKill: killedAt ?? 0,
            wasKilled: killedAt != nil && signalled,
            stderr: stderr
        )
    }

    /// The crash writer's executable (EVENTSTORE_CRASH_WRITER overrides where it is looked for).
    static func crashWriterURL() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["EVENTSTORE_CRASH_WRITER"] {
            return URL(fileURLWithPath: override)
        }
        return try builtExecutable("eventstore-crash-writer")
    }
}
