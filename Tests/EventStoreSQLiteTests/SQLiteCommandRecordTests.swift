import EventStore
import Foundation
import GRDB
import ProcessTesting
import Testing

@testable import EventStoreSQLite

/// Command records and fencing tokens on disk: they survive reopening, and a store made by the
/// first schema gains their tables when it opens.
@Suite(.timeLimit(.minutes(1)))
struct SQLiteCommandRecordTests {
    private let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    private var configuration: SQLiteEventStore.Configuration { .init(directory: directory.url) }

    @Test func recordsAndTokensSurviveReopening() async throws {
        defer { directory.remove() }
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        let appended = CommandRecord(commandID: UUIDv7.next(), commandType: "CreateOrder", outcome: Data([1, 2]))
        let alone = CommandRecord(commandID: UUIDv7.next(), commandType: "CancelOrder", outcome: Data([3]))
        let first = try await SQLiteEventStore.open(configuration)
        let result = try await first.append(
            AppendRequest(
                stream: stream, expectedVersion: .noStream,
                events: [NewEvent(type: "OrderCreated", data: Data())], command: appended))
        try await first.recordCommand(alone)
        let token = try await first.issueFencingToken(for: "lock")
        await first.close()

        let second = try await SQLiteEventStore.open(configuration)
        #expect(
            try await second.recordedCommand(appended.commandID) == RecordedCommand(record: appended, append: result))
        #expect(try await second.recordedCommand(alone.commandID) == RecordedCommand(record: alone, append: nil))
        await #expect(throws: DuplicateCommand.self, "a recorded id is still refused after reopening") {
            try await second.recordCommand(appended)
        }
        let next = try await second.issueFencingToken(for: "lock")
        #expect(next > token, "tokens keep growing across a restart")
        await #expect(throws: EventStoreError.self, "the token from before the restart is now stale") {
            try await second.append(
                AppendRequest(
                    stream: stream, expectedVersion: .any, events: [NewEvent(type: "Late", data: Data())],
                    fencing: FencingCheck(key: "lock", token: token)))
        }
        await second.close()
    }

    @Test func aStoreOfTheFirstSchemaIsMigrated() async throws {
        defer { directory.remove() }
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        let store = try await SQLiteEventStore.open(configuration)
        try await store.append(to: stream, expected: .noStream, events: [NewEvent(type: "Old", data: Data())])
        await store.close()
        // Turn the file back into what the first schema left: no v2 tables, user_version 1 (the
        // hole-check trigger is left in its newer form; v3 replaces it whichever form it finds).
        let queue = try DatabaseQueue(path: configuration.path)
        try await queue.write { db in
            try db.execute(
                sql: """
                    DROP TABLE commands; DROP TABLE fencing_tokens; DROP TABLE projection_checkpoints;
                    DROP TABLE read_models; DELETE FROM grdb_migrations WHERE identifier LIKE 'v2:%' OR identifier LIKE 'v3:%';
                    PRAGMA user_version = 1;
                    """)
        }
        try queue.close()

        let reopened = try await SQLiteEventStore.open(configuration)
        #expect(try await reopened.streamVersion(stream) == 0, "the events are kept")
        let record = CommandRecord(commandID: UUIDv7.next(), commandType: "Migrated", outcome: Data())
        #expect(try await reopened.recordCommand(record).record == record, "the new tables are there")
        #expect(try await reopened.issueFencingToken(for: "k") == 1)
        let version = try await reopened.read("schema version") { db in try Int.fetchOne(db, sql: "PRAGMA user_version")
        }
        #expect(version == 3)
        await reopened.close()
    }
}
