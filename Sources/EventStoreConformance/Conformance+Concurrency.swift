import EventStore
import Foundation

extension EventStoreConformance {
    /// 32 tasks append to one stream, each always expecting the version it last saw. Exactly one
    /// append wins each version; every loser learns the current version and the events it missed.
    static func concurrentWritersOneWinnerPerVersion(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        try await seed(store, stream, count: 1)
        let writers = 32
        let winsPerWriter = 3

        struct Attempt: Sendable {
            var expected: Int64
            var won: AppendResult?
            var conflict: VersionConflict?
        }
        let attempts = try await withThrowingTaskGroup(of: [Attempt].self) { group in
            for _ in 0..<writers {
                group.addTask {
                    var attempts: [Attempt] = []
                    var expected: Int64 = 0
                    var wins = 0
                    while wins < winsPerWriter {
                        do {
                            let result = try await store.append(
                                to: stream, expected: .exact(expected), events: events(1))
                            attempts.append(Attempt(expected: expected, won: result))
                            expected = result.version
                            wins += 1
                        } catch let conflict as VersionConflict {
                            attempts.append(Attempt(expected: expected, conflict: conflict))
                            guard let current = conflict.currentVersion else {
                                throw ConformanceFailure(message: "conflict without a version", location: #fileID)
                            }
                            expected = current
                        }
                    }
                    return attempts
                }
            }
            var all: [Attempt] = []
            for try await attempts in group { all += attempts }
            return all
        }

        let total = Int64(1 + writers * winsPerWriter)
        let stored = try await readWholeStream(store, stream)
        try checkEqual(stored.map(\.version), Array(0..<total), "versions have no holes")
        let winners = attempts.filter { $0.won != nil }
        try checkEqual(winners.count, writers * winsPerWriter, "number of winning appends")
        var winnerOf: [Int64: Int] = [:]
        for attempt in winners {
            guard let won = attempt.won else { continue }
            try checkEqual(won.version, attempt.expected + 1, "a win lands right after the expected version")
            winnerOf[attempt.expected, default: 0] += 1
        }
        try check(winnerOf.values.allSatisfy { $0 == 1 }, "exactly one append wins each version")
        try checkEqual(winnerOf.count, writers * winsPerWriter, "every version from 1 on was won once")
        for attempt in attempts {
            guard let conflict = attempt.conflict else { continue }
            guard let current = conflict.currentVersion else {
                throw ConformanceFailure(message: "a conflict on an existing stream had no version", location: #fileID)
            }
            try check(current > attempt.expected, "a loser's conflict reports a newer version than it expected")
            let since = conflict.eventsSinceExpected
            try checkEqual(
                since.map(\.version), Array((attempt.expected + 1)...current), "a loser gets the events since")
            for missed in since {
                try checkEqual(missed, stored[Int(missed.version)], "the events since are the stored events")
            }
        }
        let positions = try await readWholeLog(store).map(\.position)
        try checkEqual(positions, Array(1...total), "global positions have no holes")
    }
}
