import EventStore
import Foundation

extension EventStoreConformance {
    static func snapshotsKeepNewestPerShape(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        try await seed(store, stream, count: 10)
        try checkEqual(try await store.loadSnapshot(of: stream, shapeVersion: 1), nil, "no snapshot yet")
        try await store.saveSnapshot(Snapshot(stream: stream, version: 4, shapeVersion: 1, data: Data("v4".utf8)))
        try await store.saveSnapshot(Snapshot(stream: stream, version: 8, shapeVersion: 1, data: Data("v8".utf8)))
        try await store.saveSnapshot(Snapshot(stream: stream, version: 6, shapeVersion: 1, data: Data("v6".utf8)))
        let latest = try await store.loadSnapshot(of: stream, shapeVersion: 1)
        try checkEqual(latest?.version, 8, "the newest snapshot wins over a later-saved older one")
        try checkEqual(latest?.data, Data("v8".utf8), "its data")
        try checkEqual(
            try await store.loadSnapshot(of: stream, shapeVersion: 2),
            nil,
            "a snapshot of another shape is ignored"
        )
        try await store.saveSnapshot(Snapshot(stream: stream, version: 5, shapeVersion: 2, data: Data("s2".utf8)))
        try checkEqual(try await store.loadSnapshot(of: stream, shapeVersion: 2)?.version, 5, "shape 2 kept apart")
        try checkEqual(try await store.loadSnapshot(of: stream, shapeVersion: 1)?.version, 8, "shape 1 untouched")
        try await expectError(.invalidArgument, "a snapshot past the stream's version") {
            try await store.saveSnapshot(Snapshot(stream: stream, version: 10, shapeVersion: 1, data: Data()))
        }
        let missing = try newStream()
        try await expectError(.invalidArgument, "a snapshot of a missing stream") {
            try await store.saveSnapshot(Snapshot(stream: missing, version: 0, shapeVersion: 1, data: Data()))
        }
        let roundTrip = Snapshot(stream: stream, version: 9, shapeVersion: 1, data: Data([0, 9, 255]), time: 42)
        try await store.saveSnapshot(roundTrip)
        try checkEqual(try await store.loadSnapshot(of: stream, shapeVersion: 1), roundTrip, "a snapshot round-trips")
    }

    static func loadUsesSnapshotAndLaterEvents(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        try await seed(store, stream, count: 12)
        let none = try await store.load(stream, shapeVersion: 3, pageSize: 5)
        try checkEqual(none.snapshot, nil, "no snapshot")
        try checkEqual(none.events.map(\.version), Array(0...11), "without a snapshot, every event, over pages")
        try checkEqual(none.version, 11, "loaded version")
        try await store.saveSnapshot(Snapshot(stream: stream, version: 7, shapeVersion: 3, data: Data("s".utf8)))
        try await store.saveSnapshot(Snapshot(stream: stream, version: 11, shapeVersion: 2, data: Data("old".utf8)))
        let loaded = try await store.load(stream, shapeVersion: 3, pageSize: 5)
        try checkEqual(loaded.snapshot?.version, 7, "the snapshot of the current shape")
        try checkEqual(loaded.events.map(\.version), [8, 9, 10, 11], "only the events after the snapshot")
        try checkEqual(loaded.version, 11, "loaded version")
        let atHead = Snapshot(stream: stream, version: 11, shapeVersion: 3, data: Data("h".utf8))
        try await store.saveSnapshot(atHead)
        let fromHead = try await store.load(stream, shapeVersion: 3)
        try checkEqual(fromHead.events, [], "a snapshot at the head leaves nothing to replay")
        try checkEqual(fromHead.version, 11, "the version comes from the snapshot")
        let missing = try await store.load(try newStream(), shapeVersion: 3)
        try checkEqual(missing.version, nil, "a missing stream loads as nothing")
    }

    static func snapshotSchedulerSavesInBackground(_ harness: Harness) async throws {
        let store = try await harness.store()
        let scheduler = SnapshotScheduler(store: store, policy: .every(5))
        let stream = try newStream()
        var version: Int64? = nil
        var scheduled = 0
        // Single events, then one append of three that jumps over the multiple of 5 at 15.
        for batch in Array(repeating: 1, count: 13) + [3] {
            let result = try await store.append(
                to: stream,
                expected: version.map { .exact($0) } ?? .noStream,
                events: events(batch)
            )
            version = result.version
            if scheduler.appended(
                result,
                makeSnapshot: {
                    Snapshot(
                        stream: stream, version: result.version, shapeVersion: 1, data: Data("\(result.version)".utf8))
                })
            {
                scheduled += 1
            }
        }
        try checkEqual(scheduled, 3, "due after events 5, 10 and the append crossing 15")
        await scheduler.waitUntilIdle()
        let snapshot = try await store.loadSnapshot(of: stream, shapeVersion: 1)
        try checkEqual(snapshot?.version, 15, "the newest snapshot is at the end of the crossing append")
        try checkEqual(snapshot?.data, Data("15".utf8), "its data came from the hook")
        let statistics = scheduler.statistics
        try check(statistics.saved >= 1 && statistics.saved <= 3, "1 to 3 saves (jobs of one stream coalesce)")
        try checkEqual(statistics.failed, 0, "no failed snapshot")
        try check(
            !SnapshotPolicy.never.isDue(after: AppendResult(stream: stream, firstVersion: 0, positions: [1])), "never")
    }
}
