import EventStore
import Foundation

extension EventStoreConformance {
    static func noStreamCreatesStream(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        try checkEqual(try await store.streamVersion(stream), nil, "version of a stream never written")
        let result = try await store.append(to: stream, expected: .noStream, events: events(3))
        try checkEqual(result.stream, stream, "result stream")
        try checkEqual(result.firstVersion, 0, "first version of a new stream")
        try checkEqual(result.version, 2, "version after three events")
        try checkEqual(result.positions, [1, 2, 3], "global positions of the first events of the store")
        try checkEqual(try await store.streamVersion(stream), 2, "stream version after the append")
        try checkEqual(try await store.headPosition(), 3, "head position")
        let read = try await readWholeStream(store, stream)
        try checkEqual(read.map(\.version), [0, 1, 2], "versions start at 0 without holes")
    }

    static func noStreamConflictsWithExistingStream(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        let written = try await store.append(to: stream, expected: .noStream, events: events(3))
        let conflict = try await expectConflict("noStream on an existing stream") {
            try await store.append(to: stream, expected: .noStream, events: events(1))
        }
        try checkEqual(conflict.reason, .wrongExpectedVersion, "reason")
        try checkEqual(conflict.stream, stream, "conflict stream")
        try checkEqual(conflict.currentVersion, 2, "current version in the conflict")
        try checkEqual(conflict.eventsSinceExpected.map(\.position), written.positions, "events since 'no stream'")
        try check(conflict.eventsSinceExpectedAreComplete, "all events since 'no stream' fit in the conflict")
        try checkEqual(try await store.headPosition(), 3, "nothing written by the conflicting append")
    }

    static func anyAppendsWhateverTheState(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        let first = try await store.append(to: stream, expected: .any, events: events(1))
        try checkEqual(first.firstVersion, 0, "any creates the stream")
        let second = try await store.append(to: stream, expected: .any, events: events(2))
        try checkEqual(second.firstVersion, 1, "any appends after the last event")
        try checkEqual(second.version, 2, "version after the second append")
    }

    static func streamExistsRequiresStream(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        let conflict = try await expectConflict("streamExists on a missing stream") {
            try await store.append(to: stream, expected: .streamExists, events: events(1))
        }
        try checkEqual(conflict.currentVersion, nil, "current version of a missing stream")
        try checkEqual(conflict.eventsSinceExpected, [], "no events since")
        try checkEqual(try await store.headPosition(), 0, "nothing written")
        try await seed(store, stream, count: 2)
        let result = try await store.append(to: stream, expected: .streamExists, events: events(1))
        try checkEqual(result.firstVersion, 2, "streamExists appends after the last event")
    }

    static func exactVersionAppendsOnMatch(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        try await seed(store, stream, count: 3)
        let result = try await store.append(to: stream, expected: .exact(2), events: events(2))
        try checkEqual(result.firstVersion, 3, "first version")
        try checkEqual(result.version, 4, "new version")
        try checkEqual(result.positions, [4, 5], "positions")
    }

    static func exactVersionBehindConflictsWithEventsSince(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        let other = try newStream()
        try await seed(store, stream, count: 2)
        try await seed(store, other, count: 1)
        try await store.append(to: stream, expected: .exact(1), events: events(3))
        let conflict = try await expectConflict("exact version behind the stream") {
            try await store.append(to: stream, expected: .exact(1), events: events(1))
        }
        try checkEqual(conflict.reason, .wrongExpectedVersion, "reason")
        try checkEqual(conflict.currentVersion, 4, "current version")
        try checkEqual(
            conflict.eventsSinceExpected.map(\.version), [2, 3, 4], "versions written since the expected one")
        try check(conflict.eventsSinceExpected.allSatisfy { $0.stream == stream }, "events since are of the stream")
        try checkEqual(conflict.eventsSinceExpected.map(\.position), [4, 5, 6], "their global positions")
        try check(conflict.eventsSinceExpectedAreComplete, "complete")
        let whole = try await readWholeStream(store, stream)
        try checkEqual(conflict.eventsSinceExpected, Array(whole.suffix(3)), "events since equal the stored events")
    }

    static func exactVersionAheadConflicts(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        let missing = try await expectConflict("exact version on a missing stream") {
            try await store.append(to: stream, expected: .exact(0), events: events(1))
        }
        try checkEqual(missing.currentVersion, nil, "current version of a missing stream")
        try await seed(store, stream, count: 2)
        let ahead = try await expectConflict("exact version ahead of the stream") {
            try await store.append(to: stream, expected: .exact(5), events: events(1))
        }
        try checkEqual(ahead.currentVersion, 1, "current version")
        try checkEqual(ahead.eventsSinceExpected, [], "nothing was written after a version the stream never had")
        try checkEqual(try await store.headPosition(), 2, "nothing written")
    }

    static func conflictEventsAreCappedAtLimit(_ harness: Harness) async throws {
        var options = EventStoreOptions()
        options.limits.maxConflictEvents = 3
        let store = try await harness.store(options)
        let stream = try newStream()
        try await seed(store, stream, count: 10)
        let conflict = try await expectConflict("noStream on a long stream") {
            try await store.append(to: stream, expected: .noStream, events: events(1))
        }
        try checkEqual(conflict.currentVersion, 9, "current version")
        try checkEqual(conflict.eventsSinceExpected.map(\.version), [0, 1, 2], "the first events, up to the limit")
        try check(!conflict.eventsSinceExpectedAreComplete, "the conflict says the list was cut")
    }
}
