import EventStore
import EventStoreSQLite
import Foundation

/// Time to load an aggregate (newest snapshot + later events) for a short stream without a
/// snapshot and for a long stream with snapshots every N events, written through the snapshot
/// scheduler as a repository would.
enum LoadBenchmark {
    static func run(directory: URL, longStreamEvents: Int, snapshotEvery: Int64, loads: Int) async throws -> [String] {
        let store = try await SQLiteEventStore.open(.init(directory: directory))
        let scheduler = SnapshotScheduler(store: store, policy: .every(snapshotEvery))
        let payload = Data(repeating: 0x42, count: 100)
        // A snapshot the size of a modest aggregate's state.
        let state = Data(repeating: 0x53, count: 512)
        func write(_ stream: StreamName, events count: Int, chunk: Int) async throws {
            var written = 0
            var expected = ExpectedVersion.noStream
            while written < count {
                let size = min(chunk, count - written)
                let events = (0..<size).map { _ in NewEvent(type: "OrderUpdated", data: payload) }
                let result = try await store.append(to: stream, expected: expected, events: events)
                scheduler.appended(result) {
                    Snapshot(stream: stream, version: result.version, shapeVersion: 1, data: state)
                }
                expected = .exact(result.version)
                written += size
            }
        }
        let short = try StreamName(type: "order", id: UUIDv7.next())
        let long = try StreamName(type: "order", id: UUIDv7.next())
        let longWithTail = try StreamName(type: "order", id: UUIDv7.next())
        try await write(short, events: 10, chunk: 1)
        try await write(long, events: longStreamEvents, chunk: Int(snapshotEvery))
        try await write(longWithTail, events: longStreamEvents + Int(snapshotEvery) - 1, chunk: Int(snapshotEvery))
        await scheduler.waitUntilIdle()

        func time(_ stream: StreamName, shape: Int = 1, loads: Int = loads) async throws -> (Double, Int) {
            var replayed = try await store.load(stream, shapeVersion: shape).events.count
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<loads { replayed = try await store.load(stream, shapeVersion: shape).events.count }
            return ((clock.now - start).seconds / Double(loads) * 1_000_000, replayed)
        }
        let (shortTime, shortReplayed) = try await time(short)
        let (longTime, longReplayed) = try await time(long)
        let (tailTime, tailReplayed) = try await time(longWithTail)
        let (fullTime, fullReplayed) = try await time(long, shape: 2, loads: 3)
        await store.close()
        return [
            String(
                format: "load %6d events, no snapshot:            %8.1f µs (%d events replayed)", 10, shortTime,
                shortReplayed),
            String(
                format: "load %6d events, snapshot every %lld:     %8.1f µs (%d events replayed)  ratio %.2f",
                longStreamEvents, snapshotEvery, longTime, longReplayed, longTime / shortTime
            ),
            String(
                format: "load %6d events, worst case after snapshot: %8.1f µs (%d events replayed)  ratio %.2f",
                longStreamEvents + Int(snapshotEvery) - 1, tailTime, tailReplayed, tailTime / shortTime
            ),
            String(
                format: "load %6d events, snapshot ignored (shape): %8.1f µs (%d events replayed), for reference",
                longStreamEvents, fullTime, fullReplayed
            ),
        ]
    }
}
