import Foundation
import Testing

@testable import EventSourcing

@Suite struct InternalsTests {
    @Test func lruCacheEvictsTheLeastRecentlyUsed() {
        var cache = LRUCache<Int, String>(capacity: 3)
        for key in 1...3 { cache.setValue("\(key)", forKey: key) }
        #expect(cache.value(forKey: 1) == "1")
        cache.setValue("4", forKey: 4)
        #expect(cache.value(forKey: 2) == nil, "2 was the least recently used")
        #expect(cache.value(forKey: 3) == "3" && cache.value(forKey: 4) == "4" && cache.value(forKey: 1) == "1")
        cache.setValue("5", forKey: 5)
        #expect(cache.value(forKey: 3) == nil)
        cache.setValue("one", forKey: 1)
        #expect(cache.count == 3 && cache.value(forKey: 1) == "one")
    }

    @Test func nameBasedUUIDsMatchRFC9562() {
        // uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") in Python's standard library.
        let dns = UUID(uuidString: "6ba7b810-9dad-11d1-80b4-00c04fd430c8")!
        #expect(
            NameBasedUUID.make(namespace: dns, name: "python.org").uuidString.lowercased()
                == "886313e1-3b8a-5372-9b90-0c9aee199e5d")
        // A name longer than one SHA-1 block.
        let long = String(repeating: "saga/step/", count: 20)
        #expect(NameBasedUUID.make(namespace: dns, name: long) == NameBasedUUID.make(namespace: dns, name: long))
        #expect(NameBasedUUID.make(namespace: dns, name: "a") != NameBasedUUID.make(namespace: dns, name: "b"))
    }

    @Test func outcomesRoundTrip() throws {
        func decoded(_ bytes: Data) throws -> (RecordedOutcome.Status, Int64?, [UInt8]?) {
            let outcome = try OutcomeCoding.decode(bytes)
            return (outcome.status, outcome.position, outcome.fingerprint)
        }
        let fingerprint: [UInt8] = Array(0..<32)
        #expect(
            try decoded(OutcomeCoding.encodeCompleted(Data([1, 2, 3]), position: 42, fingerprint: fingerprint))
                == (.completed(Data([1, 2, 3])), 42, fingerprint))
        #expect(
            try decoded(OutcomeCoding.encodeCompleted(Data(), position: nil, fingerprint: nil))
                == (.completed(Data()), nil, nil))
        let rejection = CommandRejection(
            .failedPrecondition, "wrong state: ünïcode", details: ["field": "amount", "a": ""])
        #expect(
            try decoded(OutcomeCoding.encodeRejected(rejection, fingerprint: fingerprint))
                == (.rejected(rejection), nil, fingerprint))
        // Records of format 1, written before fingerprints, are still read.
        #expect(try decoded(Data([1, 0, 0, 0, 0, 0, 0, 0, 0, 7, 5])) == (.completed(Data([5])), 7, nil))
        for bad in [Data(), Data([9]), Data([1, 7]), Data([1, 1, 0, 0, 0, 0, 0, 0, 0, 99]), Data([2, 0, 5, 1, 2])] {
            #expect(throws: OutcomeDecodingError.self) { try OutcomeCoding.decode(bad) }
        }
    }

    @Test func retryDelaysGrowWithJitterWithinBounds() {
        let policy = RetryPolicy(
            maxAttempts: 5, initialDelay: .milliseconds(100), multiplier: 2, maxDelay: .milliseconds(300), jitter: 0.5)
        var random = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let first = policy.delay(beforeAttempt: 2, using: &random)
            let second = policy.delay(beforeAttempt: 3, using: &random)
            let capped = policy.delay(beforeAttempt: 5, using: &random)
            #expect(first >= .milliseconds(50) && first <= .milliseconds(100))
            #expect(second >= .milliseconds(100) && second <= .milliseconds(200))
            #expect(capped >= .milliseconds(150) && capped <= .milliseconds(300))
        }
        #expect(RetryPolicy(jitter: 0).delay(beforeAttempt: 2, using: &random) == .milliseconds(100))
    }

    @Test func batchQueueHandsOverEverythingWaitingAndBoundsProducers() async throws {
        let queue = BatchQueue<Int>(capacity: 4)
        for value in 0..<4 { try await queue.push(value) }
        let blocked = Task { try await queue.push(4) }
        #expect(try await queue.take(upTo: 10) == [0, 1, 2, 3], "one take gets everything waiting")
        try await blocked.value
        #expect(try await queue.take(upTo: 10) == [4])
        queue.finish()
        #expect(try await queue.take(upTo: 10) == nil)
        await #expect(throws: CancellationError.self) { try await queue.push(5) }
    }

    @Test func batchQueueTakesAPushOfManyAsFarAsThereIsRoomAndTheRestLater() async throws {
        let queue = BatchQueue<Int>(capacity: 4)
        let pushing = Task { try await queue.push(contentsOf: 0..<10) }
        var taken: [Int] = []
        while taken.count < 10, let batch = try await queue.take(upTo: 100) {
            #expect(batch.count <= 4, "never more waits than the capacity")
            taken += batch
        }
        try await pushing.value
        #expect(taken == Array(0..<10), "every element, once, in order")
        queue.finish()
        await #expect(throws: CancellationError.self) { try await queue.push(contentsOf: [10, 11]) }
    }

    @Test func monitorWaitsEndOnConditionTimeoutOrCancellation() async {
        let monitor = Monitor(0)
        let waiter = Task { await monitor.wait(until: { $0 >= 2 }) }
        monitor.update { $0 = 1 }
        monitor.update { $0 = 2 }
        #expect(await waiter.value)
        #expect(await monitor.wait(until: { $0 >= 3 }) { try? await Task.sleep(for: .milliseconds(5)) } == false)
        let cancelled = Task { await monitor.wait(until: { $0 >= 100 }) }
        cancelled.cancel()
        #expect(await cancelled.value == false)
    }
}
