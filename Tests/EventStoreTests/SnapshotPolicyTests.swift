import EventStore
import Foundation
import Testing

struct SnapshotPolicyTests {
    private let stream: StreamName

    init() throws {
        stream = try StreamName(type: "order", id: UUID())
    }

    private func result(first: Int64, count: Int) -> AppendResult {
        AppendResult(stream: stream, firstVersion: first, positions: (0..<count).map { Int64($0) + 1 })
    }

    @Test func dueWhenTheEventCountCrossesAMultiple() {
        let policy = SnapshotPolicy.every(100)
        #expect(!policy.isDue(after: result(first: 0, count: 99)))
        #expect(policy.isDue(after: result(first: 99, count: 1)), "the 100th event")
        #expect(!policy.isDue(after: result(first: 100, count: 1)))
        #expect(policy.isDue(after: result(first: 195, count: 10)), "an append jumping over 200")
        #expect(policy.isDue(after: result(first: 0, count: 250)), "one big first append")
    }

    @Test func neverIsNeverDue() {
        #expect(!SnapshotPolicy.never.isDue(after: result(first: 99, count: 1)))
        #expect(SnapshotPolicy.every(0).interval == 1, "an interval below 1 is taken as 1")
    }
}
