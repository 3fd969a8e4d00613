import CSQLiteFaultVFS
import Dispatch
import EventSourcingTesting
import EventStore
import Foundation
import GRDB
import Logging
import ProcessTesting
import Testing

@testable import EventStoreSQLite

/// "Synced before acknowledged", seen at the sync itself: a VFS over SQLite's default one counts
/// the syncs of this suite's files and can make them fail. The VFS is process-wide, so the suite
/// runs its tests one at a time; other suites' files are not watched and pass straight through.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct SyncFaultTests {
    private let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
        try #require(tradecore_fault_vfs_install() == 0, "the test VFS is registered")
        tradecore_fault_vfs_watch(directory.url.path)
        tradecore_fault_vfs_fail_syncs(0)
    }

    private func open(_ logs: CapturedLogs = CapturedLogs()) async throws -> SQLiteEventStore {
        try await SQLiteEventStore.open(.init(directory: directory.url, logger: logs.logger()))
    }

    /// After unsynced writes: the writer connection is at synchronous=FULL, and an append syncs.
    private func expectSyncingAgain(_ store: SQLiteEventStore) async throws {
        let mode = try await store.withWriterConnectionForTesting { db in
            try Int.fetchOne(db, sql: "PRAGMA synchronous")
        }
        #expect(mode == 2, "the writer connection is back to synchronous=FULL")
        let before = tradecore_fault_vfs_syncs()
        try await store.append(
            to: try StreamName(type: "order", id: UUIDv7.next()), expected: .noStream, events: event())
        #expect(tradecore_fault_vfs_syncs() > before, "the append after unsynced writes synced")
    }

    private func event() -> [NewEvent] { [NewEvent(type: "Tested", data: Data(repeating: 7, count: 10))] }

    @Test("every acknowledged append was preceded by a sync of the store's files")
    func syncedBeforeAcknowledged() async throws {
        let store = try await open()
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        for version in 0..<5 {
            let before = tradecore_fault_vfs_syncs()
            try await store.append(
                to: stream, expected: version == 0 ? .noStream : .exact(Int64(version - 1)), events: event())
            #expect(tradecore_fault_vfs_syncs() > before, "append \(version) was acknowledged without a sync")
        }
        await store.close()
    }

    @Test("an unsynced write costs no sync and leaves the connection syncing: the next append syncs")
    func unsyncedWriteIsSyncedByTheNextCommit() async throws {
        let store = try await open()
        try await store.write("creating a table") { db in try db.execute(sql: "CREATE TABLE derived (n INTEGER)") }
        for n in 0..<3 {
            let before = tradecore_fault_vfs_syncs()
            try await store.write("writing a derived row", synced: false) { db in
                try db.execute(sql: "INSERT INTO derived (n) VALUES (?)", arguments: [n])
            }
            #expect(tradecore_fault_vfs_syncs() == before, "an unsynced write synced")
        }
        try await expectSyncingAgain(store)
        let synced = try await store.write("writing a row", synced: true) { db in
            try db.execute(sql: "INSERT INTO derived (n) VALUES (3)")
            return tradecore_fault_vfs_syncs()
        }
        #expect(tradecore_fault_vfs_syncs() > synced, "a synced write syncs")
        let rows = try await store.read("counting") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM derived") }
        #expect(rows == 4)
        await store.close()
    }

    @Test("an unsynced write whose task is cancelled midway still leaves the connection syncing and appends going")
    func cancelledUnsyncedWrite() async throws {
        let store = try await open()
        try await store.write("creating a table") { db in try db.execute(sql: "CREATE TABLE derived (n INTEGER)") }
        // The write holds inside its transaction until the test has cancelled its task.
        let (started, writing) = AsyncStream.makeStream(of: Void.self)
        let cancelled = DispatchSemaphore(value: 0)
        let write = Task {
            try await store.write("writing a derived row", synced: false) { db in
                writing.yield()
                _ = cancelled.wait(timeout: .now() + 10)
                try db.execute(sql: "INSERT INTO derived (n) VALUES (1)")
            }
        }
        for await _ in started { break }
        write.cancel()
        cancelled.signal()
        // The write is not cancellable: it commits, as a projection's commit does once begun.
        try await write.value
        try await expectSyncingAgain(store)
        let rows = try await store.read("counting") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM derived") }
        #expect(rows == 1)
        await store.close()
    }

    @Test("an append whose commit cannot be synced is not acknowledged, and appends stop")
    func failedSyncIsNotAcknowledged() async throws {
        let logs = CapturedLogs()
        let store = try await open(logs)
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        let first = try await store.append(to: stream, expected: .noStream, events: event())

        tradecore_fault_vfs_fail_syncs(1)
        let syncsBefore = tradecore_fault_vfs_syncs()
        do {
            try await store.append(to: stream, expected: .exact(0), events: event())
            Issue.record("an append whose commit was not synced was acknowledged")
        } catch let error as EventStoreError {
            #expect(error.code == .storageFailure, "\(error)")
        }
        tradecore_fault_vfs_fail_syncs(0)
        #expect(tradecore_fault_vfs_syncs() > syncsBefore, "the failure came from the sync of the commit")
        #expect(logs.contains(level: .critical, "appends stopped"), "the failure is logged")

        // After a failed sync the file's state is unknown: no more appends on this store.
        do {
            try await store.append(to: stream, expected: .exact(0), events: event())
            Issue.record("the store accepted an append after its commit failed to sync")
        } catch let error as EventStoreError {
            #expect(error.code == .storageFailure)
            #expect(error.message.contains("stopped accepting appends"), "\(error)")
        }
        await store.close()

        // What was acknowledged is there after a reopen, and the store takes appends again.
        let reopened = try await open()
        let stored = try await reopened.readStream(stream, from: 0, direction: .forward, limit: 10)
        #expect(stored.first?.position == first.positions.first)
        let version = try #require(try await reopened.streamVersion(stream))
        try await reopened.append(to: stream, expected: .exact(version), events: event())
        await reopened.close()
    }
}
