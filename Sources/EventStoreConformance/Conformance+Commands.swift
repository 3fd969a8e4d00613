import EventStore
import Foundation

extension EventStoreConformance {
    static func commandRecordCommitsWithEvents(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        try await seed(store, try newStream(), count: 2)
        let record = commandRecord("first outcome")
        let result = try await store.append(
            AppendRequest(stream: stream, expectedVersion: .noStream, events: events(3), command: record))
        let stored = try await store.recordedCommand(record.commandID)
        try checkEqual(stored, RecordedCommand(record: record, append: result), "the record and its append")
        try checkEqual(stored?.append?.positions, [3, 4, 5], "the positions of the append it rode on")
        try checkEqual(try await store.recordedCommand(UUID()), nil, "an unknown command id has no record")
        let single = commandRecord("single")
        let one = try await store.append(
            AppendRequest(stream: stream, expectedVersion: .exact(2), events: events(1), command: single))
        try checkEqual(
            try await store.recordedCommand(single.commandID)?.append, one, "a one-event append's record")
    }

    static func duplicateCommandWritesNothing(_ harness: Harness) async throws {
        let store = try await harness.store()
        let first = try newStream()
        let record = commandRecord("first")
        let result = try await store.append(
            AppendRequest(stream: first, expectedVersion: .noStream, events: events(2), command: record))
        let head = try await store.headPosition()
        var again = record
        again.outcome = Data("second".utf8)
        let other = try newStream()
        for (what, request) in [
            (
                "the same command id on another stream",
                AppendRequest(
                    stream: other, expectedVersion: .noStream, events: events(1), command: again)
            ),
            (
                "several events on another stream",
                AppendRequest(
                    stream: other, expectedVersion: .any, events: events(3), command: again)
            ),
            (
                "the same stream at its current version",
                AppendRequest(
                    stream: first, expectedVersion: .exact(1), events: events(1), command: again)
            ),
            (
                "a wrong expected version: the duplicate is reported first",
                AppendRequest(
                    stream: first, expectedVersion: .exact(7), events: events(1), command: again)
            ),
        ] {
            let duplicate = try await expectDuplicateCommand(what) { try await store.append(request) }
            try checkEqual(
                duplicate.existing, RecordedCommand(record: record, append: result), "\(what): the first record")
        }
        try checkEqual(try await store.headPosition(), head, "no duplicate wrote an event")
        try checkEqual(try await store.streamVersion(other), nil, "no duplicate created its stream")
        try checkEqual(try await store.recordedCommand(record.commandID)?.record.outcome, record.outcome, "kept")
    }

    static func retryOfAppendWithCommandReturnsOriginalResult(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        for count in [1, 3] {
            let request = AppendRequest(
                stream: stream, expectedVersion: .any, events: events(count), command: commandRecord("retried"))
            let original = try await store.append(request)
            let head = try await store.headPosition()
            try checkEqual(try await store.append(request), original, "a retry of \(count) event(s) with its record")
            try checkEqual(try await store.headPosition(), head, "the retry wrote nothing")
        }
    }

    static func commandRecordedWithoutEvents(_ harness: Harness) async throws {
        let store = try await harness.store()
        let record = commandRecord("rejected: not your order")
        let recorded = try await store.recordCommand(record)
        try checkEqual(recorded, RecordedCommand(record: record, append: nil), "a record without an append")
        try checkEqual(try await store.recordedCommand(record.commandID), recorded, "looked up by id")
        var again = record
        again.outcome = Data("other".utf8)
        let duplicate = try await expectDuplicateCommand("the same id recorded again") {
            try await store.recordCommand(again)
        }
        try checkEqual(duplicate.existing, recorded, "the duplicate carries the first record")
        let stream = try newStream()
        _ = try await expectDuplicateCommand("an append carrying a recorded command id") {
            try await store.append(
                AppendRequest(stream: stream, expectedVersion: .noStream, events: events(1), command: again))
        }
        try checkEqual(try await store.headPosition(), 0, "nothing was appended")
        let appended = commandRecord("appended")
        try await store.append(
            AppendRequest(stream: stream, expectedVersion: .noStream, events: events(1), command: appended))
        _ = try await expectDuplicateCommand("recording on its own a command recorded with an append") {
            try await store.recordCommand(appended)
        }
    }

    static func refusedAppendRecordsNoCommand(_ harness: Harness) async throws {
        var options = EventStoreOptions()
        options.limits.maxCommandOutcomeBytes = 64
        let store = try await harness.store(options)
        let stream = try newStream()
        try await seed(store, stream, count: 2)
        let taken = event()
        try await store.append(to: try newStream(), expected: .noStream, events: [taken])
        let token = try await store.issueFencingToken(for: "refused")
        _ = try await store.issueFencingToken(for: "refused")

        let conflicting = commandRecord("conflict")
        _ = try await expectConflict("a wrong expected version") {
            try await store.append(
                AppendRequest(stream: stream, expectedVersion: .exact(0), events: events(2), command: conflicting))
        }
        let reused = commandRecord("reused id")
        try await expectError(.duplicateEventID, "an event id committed in another stream") {
            try await store.append(
                AppendRequest(stream: stream, expectedVersion: .exact(1), events: [event(), taken], command: reused))
        }
        let single = commandRecord("reused id, one event")
        try await expectError(.duplicateEventID, "a single event whose id is taken") {
            try await store.append(
                AppendRequest(stream: try newStream(), expectedVersion: .noStream, events: [taken], command: single))
        }
        let fenced = commandRecord("stale")
        try await expectError(.staleFencingToken, "a stale fencing token") {
            try await store.append(
                AppendRequest(
                    stream: stream, expectedVersion: .exact(1), events: events(1), command: fenced,
                    fencing: FencingCheck(key: "refused", token: token)))
        }
        let big = CommandRecord(commandID: UUID(), commandType: "Big", outcome: Data(count: 65))
        try await expectError(.eventTooLarge, "an outcome over the limit") {
            try await store.append(
                AppendRequest(stream: stream, expectedVersion: .exact(1), events: events(1), command: big))
        }
        try await expectError(.invalidArgument, "a command record without a type") {
            try await store.recordCommand(CommandRecord(commandID: UUID(), commandType: "", outcome: Data()))
        }
        for record in [conflicting, reused, single, fenced, big] {
            try checkEqual(
                try await store.recordedCommand(record.commandID), nil,
                "a refused append left no record (\(record.commandType))")
        }
        try checkEqual(try await store.streamVersion(stream), 1, "no refused append wrote an event")
    }

    static func concurrentDuplicateCommandsOneWins(_ harness: Harness) async throws {
        let store = try await harness.store()
        let record = commandRecord("raced")
        let streams = try (0..<10).map { _ in try newStream() }
        let outcomes = try await withThrowingTaskGroup(of: Result<AppendResult, DuplicateCommand>.self) { group in
            for stream in streams {
                group.addTask {
                    do {
                        return .success(
                            try await store.append(
                                AppendRequest(
                                    stream: stream, expectedVersion: .noStream, events: events(2), command: record)))
                    } catch let duplicate as DuplicateCommand {
                        return .failure(duplicate)
                    }
                }
            }
            var all: [Result<AppendResult, DuplicateCommand>] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        let winners = outcomes.compactMap { try? $0.get() }
        try checkEqual(winners.count, 1, "exactly one append with the command id commits")
        guard let winner = winners.first else { return }
        for case .failure(let duplicate) in outcomes {
            try checkEqual(duplicate.existing.append, winner, "every loser learns the winner's append")
        }
        try checkEqual(try await store.headPosition(), 2, "only the winner's events are stored")
        var created = 0
        for stream in streams where try await store.streamVersion(stream) != nil { created += 1 }
        try checkEqual(created, 1, "only the winner's stream exists")
    }

    static func commandRecordsArePurgedByAge(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        var records: [CommandRecord] = []
        for time: Int64 in [100, 200, 300] {
            let record = CommandRecord(
                commandID: UUID(), commandType: "Aged", outcome: Data("at \(time)".utf8), time: time)
            records.append(record)
            if time == 200 {
                try await store.append(
                    AppendRequest(stream: stream, expectedVersion: .any, events: events(1), command: record))
            } else {
                try await store.recordCommand(record)
            }
        }
        try checkEqual(try await store.purgeCommandRecords(recordedBefore: 250), 2, "records older than 250")
        try checkEqual(try await store.recordedCommand(records[0].commandID), nil, "the oldest is gone")
        try checkEqual(try await store.recordedCommand(records[1].commandID), nil, "the appended one is gone")
        try checkEqual(
            try await store.recordedCommand(records[2].commandID)?.record, records[2], "the newer one is kept")
        try checkEqual(try await store.streamVersion(stream), 0, "purging keeps the events")
        try await store.recordCommand(records[0])
        try checkEqual(try await store.purgeCommandRecords(recordedBefore: 0), 0, "nothing older than 0")
    }

    // MARK: - Fencing

    static func fencingTokensGrowPerKey(_ harness: Harness) async throws {
        let store = try await harness.store()
        var last: [String: Int64] = [:]
        for key in ["a", "b", "a", "a", "b", "broker_connection:user:virtual:paper"] {
            let token = try await store.issueFencingToken(for: key)
            try check(token > (last[key] ?? 0), "token \(token) for '\(key)' grows past \(last[key] ?? 0)")
            last[key] = token
        }
        try await expectError(.invalidArgument, "an empty key") { try await store.issueFencingToken(for: "") }
        try await expectError(.invalidArgument, "a key over 256 bytes") {
            try await store.issueFencingToken(for: String(repeating: "k", count: 257))
        }
    }

    static func staleFencingTokenIsRejected(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        let key = "lock-\(UUID())"
        let first = try await store.issueFencingToken(for: key)
        let firstAppend = AppendRequest(
            stream: stream, expectedVersion: .noStream, events: events(2),
            fencing: FencingCheck(key: key, token: first))
        let original = try await store.append(firstAppend)
        let second = try await store.issueFencingToken(for: key)
        let head = try await store.headPosition()

        for count in [1, 3] {
            let error = try await expectError(.staleFencingToken, "\(count) event(s) with the older token") {
                try await store.append(
                    AppendRequest(
                        stream: stream, expectedVersion: .any, events: events(count),
                        fencing: FencingCheck(key: key, token: first)))
            }
            try check(error.message.contains(key), "the error names the lock key")
        }
        try await expectError(.staleFencingToken, "a token never issued") {
            try await store.append(
                AppendRequest(
                    stream: stream, expectedVersion: .any, events: events(1),
                    fencing: FencingCheck(key: key, token: second + 1)))
        }
        try await expectError(.staleFencingToken, "a key with no token") {
            try await store.append(
                AppendRequest(
                    stream: stream, expectedVersion: .any, events: events(1),
                    fencing: FencingCheck(key: "never-locked", token: 1)))
        }
        try checkEqual(try await store.headPosition(), head, "no stale append wrote anything")
        try checkEqual(try await store.append(firstAppend), original, "a retry of a committed append still replays")
        let current = try await store.append(
            AppendRequest(
                stream: stream, expectedVersion: .exact(1), events: events(1),
                fencing: FencingCheck(key: key, token: second)))
        try checkEqual(current.version, 2, "the newest token appends")
    }

    // MARK: - Helpers

    private static func commandRecord(_ outcome: String) -> CommandRecord {
        CommandRecord(commandID: UUIDv7.next(), commandType: "TestCommand", outcome: Data(outcome.utf8))
    }
}

/// Runs `body`, which must throw a ``DuplicateCommand``, and returns it.
func expectDuplicateCommand<T>(
    _ what: String,
    fileID: String = #fileID,
    line: Int = #line,
    _ body: () async throws -> T
) async throws -> DuplicateCommand {
    do {
        let value = try await body()
        throw ConformanceFailure(
            message: "\(what): expected a duplicate command, but got \(value)", location: "\(fileID):\(line)")
    } catch let duplicate as DuplicateCommand {
        return duplicate
    }
}
