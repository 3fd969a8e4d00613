import EventSourcingTesting
import EventStore
import Foundation
import GRDB
import Logging
import ProcessTesting
import Synchronization
import Testing

@testable import EventStoreSQLite

/// What only the SQLite backend has: its file, its schema, its lock and its failure modes.
@Suite(.timeLimit(.minutes(2)))
struct SQLiteEventStoreTests {
    private let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    private func configuration(_ logs: CapturedLogs = CapturedLogs()) -> SQLiteEventStore.Configuration {
        .init(directory: directory.url, logger: logs.logger())
    }

    private var path: String { configuration().path }

    private func stream() throws -> StreamName { try StreamName(type: "order", id: UUIDv7.next()) }

    private func events(_ count: Int, bytes: Int = 10) -> [NewEvent] {
        (0..<count).map { _ in NewEvent(type: "Tested", data: Data(repeating: 7, count: bytes)) }
    }

    private func expectOpenFails(
        _ code: EventStoreError.Code,
        mentioning fragment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        let logs = CapturedLogs()
        do {
            let store = try await SQLiteEventStore.open(configuration(logs))
            await store.close()
            Issue.record("the store opened a file it should refuse", sourceLocation: sourceLocation)
        } catch let error as EventStoreError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
            #expect(logs.contains(level: .critical, fragment), "the refusal is logged", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func eventsAndSnapshotsSurviveReopening() async throws {
        defer { directory.remove() }
        let name = try stream()
        let first = try await SQLiteEventStore.open(configuration())
        let written = try await first.append(to: name, expected: .noStream, events: events(5))
        try await first.saveSnapshot(Snapshot(stream: name, version: 3, shapeVersion: 1, data: Data("s".utf8)))
        let before = try await first.readAll(from: 1, filter: .all, limit: 100)
        await first.close()

        let second = try await SQLiteEventStore.open(configuration())
        #expect(try await second.readAll(from: 1, filter: .all, limit: 100) == before)
        #expect(try await second.loadSnapshot(of: name, shapeVersion: 1)?.version == 3)
        #expect(second.subscriptions.headPosition == written.lastPosition, "the hub starts at the stored head")
        let next = try await second.append(to: name, expected: .exact(4), events: events(1))
        #expect(next.positions == [6], "positions continue after reopening")
        await second.close()
    }

    @Test func fileIsMarkedAsAnEventStore() async throws {
        defer { directory.remove() }
        let store = try await SQLiteEventStore.open(configuration())
        await store.close()
        let queue = try DatabaseQueue(path: path)
        let (applicationID, userVersion, format, journalMode) = try await queue.read { db in
            (
                try Int32.fetchOne(db, sql: "PRAGMA application_id"),
                try Int.fetchOne(db, sql: "PRAGMA user_version"),
                try String.fetchOne(db, sql: "SELECT value FROM store_metadata WHERE key = 'format'"),
                try String.fetchOne(db, sql: "PRAGMA journal_mode")
            )
        }
        #expect(applicationID == 0x5443_4556, "application_id 'TCEV'")
        #expect(userVersion == 3, "schema version")
        #expect(format == "tradecore-eventstore")
        #expect(journalMode == "wal")
        try queue.close()
    }

    @Test func writerUsesFullSynchronousMode() async throws {
        defer { directory.remove() }
        let store = try await SQLiteEventStore.open(configuration())
        let mode = try await store.withWriterConnectionForTesting { db in
            try Int.fetchOne(db, sql: "PRAGMA synchronous")
        }
        #expect(mode == 2, "synchronous=FULL: a commit is fsynced before it returns")
        await store.close()
    }

    @Test("afterCommit sees each commit's events, in order, before their appender is acknowledged")
    func afterCommitSeesCommitsBeforeAcknowledgement() async throws {
        defer { directory.remove() }
        let seen = Mutex<[Int64]>([])
        var settings = configuration()
        settings.afterCommit = { events in seen.withLock { $0 += events.map(\.position) } }
        let store = try await SQLiteEventStore.open(settings)
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        var acknowledged: [Int64] = []
        for version in 0..<3 {
            let result = try await store.append(
                to: stream, expected: version == 0 ? .noStream : .exact(Int64(2 * version - 1)),
                events: [NewEvent(type: "A", data: Data([1])), NewEvent(type: "B", data: Data([2]))])
            acknowledged += result.positions
            #expect(
                seen.withLock { $0 } == acknowledged, "append \(version) was acknowledged before afterCommit saw it")
        }
        await store.close()
    }

    @Test("the writer thread is named for the kernel, as top -H, ps -L and perf show it")
    func writerThreadIsNamed() async throws {
        defer { directory.remove() }
        // afterCommit runs on the writer thread: the name it reads there is the writer's own.
        let seen = Mutex<String?>(nil)
        var settings = configuration()
        settings.afterCommit = { _ in
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "unreadable"
            seen.withLock { $0 = $0 ?? comm.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        let store = try await SQLiteEventStore.open(settings)
        _ = try await store.append(to: try stream(), expected: .noStream, events: events(1))
        await store.close()
        #expect(seen.withLock { $0 } == SQLiteEventStore.writerThreadName)
    }

    @Test func refusesAFileThatIsNotSQLite() async throws {
        defer { directory.remove() }
        let garbage = Data("these are not the bytes of a database, but of a note someone left here".utf8)
        _ = FileManager.default.createFile(atPath: path, contents: garbage)
        await expectOpenFails(.foreignStore, mentioning: "not a SQLite database")
        #expect(FileManager.default.contents(atPath: path) == garbage, "the file is left as it was")
    }

    @Test func refusesAnotherApplicationsDatabase() async throws {
        defer { directory.remove() }
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(
                sql: "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')")
        }
        try queue.close()
        let before = FileManager.default.contents(atPath: path)
        await expectOpenFails(.foreignStore, mentioning: "another application")
        #expect(FileManager.default.contents(atPath: path) == before, "the foreign file is left byte for byte")
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "and not switched to WAL mode")
    }

    @Test func refusesAStoreWrittenByANewerVersion() async throws {
        defer { directory.remove() }
        let store = try await SQLiteEventStore.open(configuration())
        try await store.append(to: try stream(), expected: .noStream, events: events(1))
        await store.close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v4: from the future')")
            try db.execute(sql: "PRAGMA user_version = 4")
        }
        try queue.close()
        await expectOpenFails(.incompatibleStore, mentioning: "newer version")
    }

    @Test func refusesACorruptedFile() async throws {
        defer { directory.remove() }
        let store = try await SQLiteEventStore.open(configuration())
        for _ in 0..<20 {
            try await store.append(to: try stream(), expected: .noStream, events: events(50, bytes: 200))
        }
        await store.close()
        // Closing the last connection checkpoints the WAL into the file; damage a b-tree page in it.
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let size = try handle.seekToEnd()
        #expect(size > 16 * 4_096, "the file has pages to damage")
        try handle.seek(toOffset: 8 * 4_096)
        try handle.write(contentsOf: Data(repeating: 0xFF, count: 4_096))
        try handle.close()
        await expectOpenFails(.corruptStore, mentioning: "integrity check")
    }

    @Test func refusesAFileWithADamagedHeader() async throws {
        defer { directory.remove() }
        let store = try await SQLiteEventStore.open(configuration())
        try await store.append(to: try stream(), expected: .noStream, events: events(3))
        await store.close()
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.write(contentsOf: Data(repeating: 0, count: 16))
        try handle.close()
        await expectOpenFails(.foreignStore, mentioning: "damaged")
    }

    @Test func secondOpenIsRefusedWhileTheStoreIsOpen() async throws {
        defer { directory.remove() }
        let first = try await SQLiteEventStore.open(configuration())
        await expectOpenFails(.storeLocked, mentioning: "open in another process")
        await first.close()
        let second = try await SQLiteEventStore.open(configuration())
        await second.close()
    }

    @Test func fullDiskFailsAppendsWithoutAcknowledgingThem() async throws {
        defer { directory.remove() }
        let logs = CapturedLogs()
        var configuration = configuration(logs)
        configuration.maximumSize = 512 << 10
        let store = try await SQLiteEventStore.open(configuration)
        var acknowledged: [AppendResult] = []
        var failure: EventStoreError?
        for _ in 0..<200 {
            do {
                acknowledged.append(
                    try await store.append(to: try stream(), expected: .noStream, events: events(4, bytes: 4_000)))
            } catch let error as EventStoreError {
                failure = error
                break
            }
        }
        let error = try #require(failure, "the size limit was reached")
        #expect(error.code == .storageFull)
        #expect(error.message.contains("full") && error.message.contains("nothing of it was written"))
        #expect(logs.contains(level: .error, "full"), "the failure is logged")
        let stored = try await store.readAll(from: 1, filter: .all, limit: 10_000)
        #expect(
            stored.map(\.position) == acknowledged.flatMap(\.positions), "exactly the acknowledged events are stored")
        #expect(!acknowledged.isEmpty)
        // A smaller append may still fit: the store is not broken by a full disk.
        await store.close()

        let reopened = try await SQLiteEventStore.open(.init(directory: directory.url, integrityCheck: .full))
        #expect(
            try await reopened.readAll(from: 1, filter: .all, limit: 10_000) == stored,
            "and nothing else after reopening")
        await reopened.close()
    }

    @Test func rejectedAppendsAreLogged() async throws {
        defer { directory.remove() }
        let logs = CapturedLogs()
        var configuration = configuration(logs)
        configuration.options.limits.maxEventDataBytes = 10
        let store = try await SQLiteEventStore.open(configuration)
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: try stream(), expected: .noStream, events: events(1, bytes: 11))
        }
        #expect(logs.contains(level: .warning, "11 bytes"), "the oversized event is named in the log")
        await store.close()
    }

    @Test func schemaRefusesHolesDuplicatesAndRewrites() async throws {
        defer { directory.remove() }
        let store = try await SQLiteEventStore.open(configuration())
        try await store.append(to: try stream(), expected: .noStream, events: events(3))
        await store.close()
        let queue = try DatabaseQueue(path: path)
        @Sendable func insert(position: Int64, version: Int64) -> String {
            """
            INSERT INTO events (position, stream_id, version, event_id, event_type, data, time)
            VALUES (\(position), 1, \(version), randomblob(16), 'Forged', x'', 0)
            """
        }
        let refusals: [(String, String)] = [
            (insert(position: 5, version: 3), "a hole in the global log"),
            (insert(position: 4, version: 5), "a hole in the stream"),
            (insert(position: 3, version: 3), "a taken position"),
            (insert(position: 4, version: 2), "a taken stream version"),
            ("UPDATE events SET data = x'00' WHERE position = 2", "rewriting an event"),
            ("DELETE FROM events WHERE position = 3", "deleting an event"),
            (
                "INSERT INTO events (position, stream_id, version, event_id, event_type, data, time) "
                    + "SELECT 4, 1, 3, event_id, 'Forged', x'', 0 FROM events WHERE position = 1",
                "a duplicate event id"
            ),
        ]
        for (sql, what) in refusals {
            await #expect(throws: DatabaseError.self, "the schema refuses \(what)") {
                try await queue.write { db in try db.execute(sql: sql) }
            }
        }
        let valid = insert(position: 4, version: 3)
        try await queue.write { db in try db.execute(sql: valid) }
        #expect(try await queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") } == 4)
        try queue.close()
    }

    @Test func concurrentAppendsShareTransactions() async throws {
        defer { directory.remove() }
        let store = try await SQLiteEventStore.open(configuration())
        let streams = try (0..<256).map { _ in try stream() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in streams {
                group.addTask { try await store.append(to: name, expected: .noStream, events: self.events(1)) }
            }
            try await group.waitForAll()
        }
        let statistics = store.writerStatistics
        #expect(statistics.appends == 256)
        #expect(statistics.transactions < 256, "group commit: \(statistics.transactions) transactions for 256 appends")
        #expect(statistics.largestTransaction > 1)
        await store.close()
    }

    @Test func theWALIsFoldedBackBesideTheWriterAndStaysBounded() async throws {
        defer { directory.remove() }
        var configuration = configuration()
        configuration.walCheckpointPages = 40
        let store = try await SQLiteEventStore.open(configuration)
        let walPath = configuration.path + "-wal"
        var largestWAL = 0
        // 40 rounds of 32 appends of 2 KiB each: about 2.5 MiB of events, 15 times what 2 × 40
        // pages hold.
        for _ in 0..<40 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<32 {
                    let name = try stream()
                    group.addTask {
                        try await store.append(to: name, expected: .noStream, events: self.events(1, bytes: 2_048))
                    }
                }
                try await group.waitForAll()
            }
            let size = (try FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
            largestWAL = max(largestWAL, size)
        }
        #expect(store.checkpointer.completed > 0, "the background connection checkpointed")
        // At most twice the threshold plus two transactions' frames (32 events and their index
        // pages each, about 70): the writer's own checkpoint is skipped while the background's runs.
        // Without checkpoints it would pass 640 frames.
        let frame = 4_096 + 24
        #expect(largestWAL <= (2 * 40 + 160) * frame + 32, "the WAL grew to \(largestWAL) bytes")
        await store.close()

        let reopened = try await SQLiteEventStore.open(self.configuration())
        #expect(try await reopened.readAll(from: 1, filter: .all, limit: 2_000).count == 1_280)
        await reopened.close()
    }

    @Test func aLoneAppenderDoesNotWaitForOthers() async throws {
        defer { directory.remove() }
        // A gather delay far longer than the test's own limit: if a transaction of one append waited
        // for company, the appends below would take minutes, not milliseconds.
        var configuration = configuration()
        configuration.maxGatherDelay = .seconds(600)
        let store = try await SQLiteEventStore.open(configuration)
        let name = try stream()
        var expected = ExpectedVersion.noStream
        let started = ContinuousClock.now
        for _ in 0..<20 {
            let result = try await store.append(to: name, expected: expected, events: events(1))
            expected = .exact(result.version)
        }
        #expect(ContinuousClock.now - started < .seconds(60), "20 sequential appends, one transaction each")
        let statistics = store.writerStatistics
        #expect(statistics.transactions == 20 && statistics.largestTransaction == 1)
        await store.close()
    }

    @Test(arguments: [
        EventFilter.all,
        .streamTypes(["order"]),
        .eventTypes(["OrderPlaced"]),
        EventFilter(streamTypes: ["order"], eventTypes: ["OrderPlaced", "OrderCancelled"]),
    ])
    func globalLogPagesWalkPositionsWithoutSorting(_ filter: EventFilter) async throws {
        defer { directory.remove() }
        let store = try await SQLiteEventStore.open(configuration())
        for _ in 0..<20 {
            try await store.append(to: try stream(), expected: .noStream, events: events(5))
        }
        let (sql, arguments) = SQLiteEventStore.globalLogQuery(from: 1, filter: filter, limit: 100)
        let plan = try await store.withWriterConnectionForTesting { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { row -> String in
                try row.decode(String.self, atIndex: 3)
            }
        }
        #expect(plan.first?.contains("SEARCH e USING INTEGER PRIMARY KEY") == true, "starts at the position: \(plan)")
        #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "never sorts the log for a page: \(plan)")
        await store.close()
    }

    @Test func ioErrorFailsTheAppendsAndStopsTheWriter() async throws {
        defer { directory.remove() }
        let logs = CapturedLogs()
        let store = try await SQLiteEventStore.open(configuration(logs))
        let name = try stream()
        let first = try await store.append(to: name, expected: .noStream, events: events(1))
        try await store.checkAppendable()
        store.injectFaultForTesting { throw DatabaseError(resultCode: .SQLITE_IOERR_FSYNC, message: "disk I/O error") }
        do {
            try await store.append(to: name, expected: .exact(0), events: events(1))
            Issue.record("an append whose commit failed was acknowledged")
        } catch let error as EventStoreError {
            #expect(error.code == .storageFailure)
            #expect(error.message.contains("I/O error") && error.message.contains("not acknowledged"), "\(error)")
        }
        #expect(logs.contains(level: .critical, "appends stopped"), "the failure is logged")
        store.injectFaultForTesting(nil)
        // The file's state after a failed fsync is unknown: the store accepts no more appends.
        do {
            try await store.append(to: name, expected: .exact(0), events: events(1))
            Issue.record("the store accepted an append after an I/O error")
        } catch let error as EventStoreError {
            #expect(error.code == .storageFailure)
            #expect(error.message.contains("stopped accepting appends"), "\(error)")
        }
        // Health checks hear it too, though reads still answer.
        await #expect(throws: EventStoreError.self) { try await store.checkAppendable() }
        #expect(try await store.readAll(from: 1, filter: .all, limit: 10).map(\.position) == first.positions)
        await store.close()

        let reopened = try await SQLiteEventStore.open(configuration())
        #expect(try await reopened.streamVersion(name) == 0, "only the acknowledged append is stored")
        try await reopened.append(to: name, expected: .exact(0), events: events(1))
        await reopened.close()
    }
}
