import EventStore
import Foundation

extension EventStoreConformance {
    static func retryReturnsOriginalResult(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        let other = try newStream()
        var requests: [AppendRequest] = []
        var results: [AppendResult] = []
        for expected in [ExpectedVersion.noStream, .exact(1), .any, .streamExists] {
            let request = AppendRequest(stream: stream, expectedVersion: expected, events: events(2))
            results.append(try await store.append(request))
            requests.append(request)
            // Interleave another stream so positions and versions differ.
            try await store.append(to: other, expected: .any, events: events(1))
        }
        let head = try await store.headPosition()
        let version = try await store.streamVersion(stream)
        for (request, original) in zip(requests, results) {
            let retried = try await store.append(request)
            try checkEqual(retried, original, "a retry of \(request.expectedVersion) returns the original result")
        }
        try checkEqual(try await store.headPosition(), head, "retries write nothing")
        try checkEqual(try await store.streamVersion(stream), version, "retries leave the stream as it was")
        let ids = try await readWholeStream(store, stream).map(\.id)
        try checkEqual(ids, requests.flatMap { $0.events.map(\.id) }, "each event stored once")
    }

    static func partialRetryConflicts(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        let first = events(2)
        try await store.append(to: stream, expected: .noStream, events: first)
        let head = try await store.headPosition()

        let extended = try await expectConflict("a retry with one more event") {
            try await store.append(to: stream, expected: .noStream, events: first + events(1))
        }
        try checkEqual(extended.reason, .partiallyCommittedRetry, "reason for a retry with an extra event")
        try checkEqual(extended.currentVersion, 1, "current version")
        try checkEqual(extended.eventsSinceExpected.map(\.id), first.map(\.id), "events since 'no stream'")

        let mixed = try await expectConflict("a retry mixing a committed and a new event") {
            try await store.append(to: stream, expected: .any, events: [first[0], event()])
        }
        try checkEqual(mixed.reason, .partiallyCommittedRetry, "reason for a mixed retry")

        let reordered = try await expectConflict("a retry with the events reordered") {
            try await store.append(to: stream, expected: .any, events: [first[1], first[0]])
        }
        try checkEqual(reordered.reason, .partiallyCommittedRetry, "reason for a reordered retry")
        try checkEqual(try await store.headPosition(), head, "no partial retry wrote anything")
    }

    static func retryWithMismatchedExpectationConflicts(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        let created = events(1)
        try await store.append(to: stream, expected: .noStream, events: created)
        try await store.append(to: stream, expected: .exact(0), events: events(2))
        // The same event ids, but an expectation under which they could not have been written where they are.
        let conflict = try await expectConflict("a retry claiming another expected version") {
            try await store.append(to: stream, expected: .exact(1), events: created)
        }
        try checkEqual(conflict.reason, .partiallyCommittedRetry, "reason")
        try checkEqual(conflict.currentVersion, 2, "current version")
        try checkEqual(conflict.eventsSinceExpected.map(\.version), [2], "events after the claimed version")
    }

    static func eventIDInAnotherStreamIsRejected(_ harness: Harness) async throws {
        let store = try await harness.store()
        let first = try newStream()
        let second = try newStream()
        let shared = event()
        try await store.append(to: first, expected: .noStream, events: [shared])
        try await expectError(.duplicateEventID, "an event id committed in another stream") {
            try await store.append(to: second, expected: .noStream, events: [event(), shared])
        }
        try checkEqual(try await store.streamVersion(second), nil, "nothing of the rejected append was written")
        try checkEqual(try await store.headPosition(), 1, "head unchanged")
    }

    static func multiEventAppendIsAtomic(_ harness: Harness) async throws {
        var options = EventStoreOptions()
        options.limits.maxEventDataBytes = 1_000
        let store = try await harness.store(options)
        let stream = try newStream()
        let other = try newStream()
        try await seed(store, other, count: 1)
        let result = try await store.append(to: stream, expected: .noStream, events: events(5))
        try checkEqual(result.positions, [2, 3, 4, 5, 6], "one append's positions are consecutive")
        let tooLarge = NewEvent(type: "Big", data: Data(count: 1_001))
        try await expectError(.eventTooLarge, "an append whose last event is too large") {
            try await store.append(to: stream, expected: .exact(4), events: events(2) + [tooLarge])
        }
        let taken = try await readWholeStream(store, other)
        try await expectError(.duplicateEventID, "an append whose third event id is taken") {
            try await store.append(
                to: stream,
                expected: .exact(4),
                events: events(2) + [NewEvent(id: taken[0].id, type: "Taken", data: Data())]
            )
        }
        try checkEqual(try await store.streamVersion(stream), 4, "no event of a failed append was written")
        try checkEqual(try await store.headPosition(), 6, "head unchanged by failed appends")
        let next = try await store.append(to: stream, expected: .exact(4), events: events(1))
        try checkEqual(next.positions, [7], "no position was consumed by the failed appends")
    }

    static func failingAppendDoesNotFailNeighbours(_ harness: Harness) async throws {
        let store = try await harness.store()
        let contested = try newStream()
        try await seed(store, contested, count: 1)
        let goodStreams = try (0..<32).map { _ in try newStream() }
        let outcomes = try await withThrowingTaskGroup(of: (Bool, Bool).self) { group in
            for stream in goodStreams {
                group.addTask {
                    _ = try await store.append(to: stream, expected: .noStream, events: events(2))
                    return (true, true)
                }
                group.addTask {
                    do {
                        _ = try await store.append(to: contested, expected: .noStream, events: events(1))
                        return (false, false)
                    } catch is VersionConflict {
                        return (false, true)
                    }
                }
            }
            var outcomes: [(Bool, Bool)] = []
            for try await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        try checkEqual(outcomes.filter(\.0).count, 32, "every good append succeeded beside conflicting ones")
        try checkEqual(outcomes.filter { !$0.0 && $0.1 }.count, 32, "every bad append conflicted")
        for stream in goodStreams {
            try checkEqual(try await store.streamVersion(stream), 1, "each good stream holds its events")
        }
        try checkEqual(try await store.streamVersion(contested), 0, "the contested stream is unchanged")
        try checkEqual(try await store.headPosition(), 65, "head after 32 appends of 2 events")
    }
}
