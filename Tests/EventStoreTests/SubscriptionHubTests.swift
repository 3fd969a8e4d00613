import EventStore
import Foundation
import Testing

/// Hub behaviour the backend-independent conformance suite does not pin down by itself.
@Suite(.timeLimit(.minutes(1)))
struct SubscriptionHubTests {
    /// Waits (at most 10 s) until `condition` holds, looking again every 5 ms: a waiting
    /// subscriber's passed position moves with no event to await.
    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition(), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func aFilteredSubscriptionPassesWhatItsFilterLeavesOutWithoutClaimingWhatItHasNotHandedOut() async throws {
        let store = InMemoryEventStore(options: .init(subscriptions: .init(checkpointInterval: .seconds(3_600))))
        let order = try StreamName(type: "order", id: UUIDv7.next())
        let other = try StreamName(type: "automation", id: UUIDv7.next())
        for _ in 0..<5 {
            try await store.append(to: other, expected: .any, events: [NewEvent(type: "Other", data: Data())])
        }
        try await store.append(to: order, expected: .any, events: [NewEvent(type: "Wanted", data: Data())])
        for _ in 0..<3 {
            try await store.append(to: other, expected: .any, events: [NewEvent(type: "Other", data: Data())])
        }
        let subscription = store.subscribe(.beginning, filter: .streamTypes(["order"]))
        var iterator = subscription.makeAsyncIterator()
        guard case .event(let wanted) = try await iterator.next() else {
            Issue.record("the matching event was not delivered first")
            return
        }
        #expect(wanted.position == 6)
        // Handed out, but its consumer has not asked for more: it may not be written yet.
        #expect(subscription.passedPosition < 6)
        #expect(try await iterator.next() == .caughtUp)
        #expect(subscription.passedPosition == 9, "the catch-up read reached the head, past what it left out")
        // Live events the filter leaves out move it on while the subscriber waits.
        let live = store.subscribe(.end, filter: .streamTypes(["order"]))
        let waiting = Task {
            var iterator = live.makeAsyncIterator()
            while let message = try await iterator.next() {
                if case .event(let event) = message { return event.position }
            }
            return -1
        }
        for _ in 0..<4 {
            try await store.append(to: other, expected: .any, events: [NewEvent(type: "Other", data: Data())])
        }
        try await waitUntil { live.passedPosition >= 13 }
        #expect(live.passedPosition == 13)
        try await store.append(to: order, expected: .any, events: [NewEvent(type: "Wanted", data: Data())])
        #expect(try await waiting.value == 14)
        #expect(live.passedPosition == 13, "not past an event handed out and not yet dealt with")
        await store.close()
    }

    @Test func aStreamSubscriptionPassesPositionsToo() async throws {
        let store = InMemoryEventStore(options: .init(subscriptions: .init(checkpointInterval: .seconds(3_600))))
        let order = try StreamName(type: "order", id: UUIDv7.next())
        let other = try StreamName(type: "automation", id: UUIDv7.next())
        try await store.append(to: order, expected: .any, events: [NewEvent(type: "Created", data: Data())])
        for _ in 0..<3 {
            try await store.append(to: other, expected: .any, events: [NewEvent(type: "Other", data: Data())])
        }
        try await store.append(to: order, expected: .any, events: [NewEvent(type: "Placed", data: Data())])
        try await store.append(to: other, expected: .any, events: [NewEvent(type: "Other", data: Data())])
        // After the stream's last version: nothing to deliver, and yet a position to resume from,
        // the head the catch-up read reached, not 0 (which would replay the whole log).
        let subscription = store.subscribe(.stream(order, version: 2), filter: .all)
        var iterator = subscription.makeAsyncIterator()
        #expect(try await iterator.next() == .caughtUp)
        #expect(subscription.passedPosition == 6)
        // Live events of other streams move it on while the subscriber waits; its own are
        // delivered with their positions.
        let waiting = Task {
            while let message = try await iterator.next() {
                if case .event(let event) = message { return event.position }
            }
            return -1
        }
        try await store.append(to: other, expected: .any, events: [NewEvent(type: "Other", data: Data())])
        try await waitUntil { subscription.passedPosition >= 7 }
        #expect(subscription.passedPosition == 7)
        try await store.append(to: order, expected: .any, events: [NewEvent(type: "Filled", data: Data())])
        #expect(try await waiting.value == 8)
        // A filter that leaves the whole stream out still passes it.
        let none = store.subscribe(.stream(order, version: 0), filter: .eventTypes(["Cancelled"]))
        var noneIterator = none.makeAsyncIterator()
        #expect(try await noneIterator.next() == .caughtUp)
        #expect(none.passedPosition == 8)
        await store.close()
    }

    @Test func byteBoundReleasesTheBufferBeforeTheEventBound() async throws {
        let options = EventStoreOptions(
            subscriptions: .init(bufferCapacity: 1_000, bufferByteCapacity: 50_000, checkpointInterval: .seconds(3_600))
        )
        let store = InMemoryEventStore(options: options)
        let subscription = store.subscribe(.end)
        var iterator = subscription.makeAsyncIterator()
        #expect(try await iterator.next() == .caughtUp)
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        for _ in 0..<20 {
            try await store.append(
                to: stream, expected: .any, events: [NewEvent(type: "Big", data: Data(count: 10_000))])
        }
        let statistics = store.subscriptions.statistics
        #expect(statistics.peakBufferedBytes <= 50_000, "the byte bound held: \(statistics.peakBufferedBytes)")
        #expect(statistics.peakBufferedEvents < 10, "it was the bytes, not the event count, that overflowed")
        #expect(statistics.overflows == 1)
        #expect(statistics.bufferedBytes == 0, "the overflowed buffer was released")
        #expect(try await iterator.next() == .fellBehind)
        var positions: [Int64] = []
        while case .event(let event) = try await iterator.next() {
            positions.append(event.position)
        }
        #expect(positions == Array(1...20), "every event, read back from storage")
        await store.close()
    }

    @Test func onlyTheSubscriberBehindTheBoundIsSwitchedToStorage() async throws {
        let options = EventStoreOptions(subscriptions: .init(bufferCapacity: 10, checkpointInterval: .seconds(3_600)))
        let store = InMemoryEventStore(options: options)
        let reading = store.subscribe(.end)
        let idle = store.subscribe(.end)
        var reader = reading.makeAsyncIterator()
        #expect(try await reader.next() == .caughtUp)
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        for index in 0..<30 {
            try await store.append(to: stream, expected: .any, events: [NewEvent(type: "Common", data: Data())])
            guard case .event(let event) = try await reader.next() else {
                Issue.record("expected a live event")
                return
            }
            #expect(event.position == Int64(index) + 1)
        }
        let statistics = store.subscriptions.statistics
        #expect(statistics.overflows == 1, "only the idle subscriber overflowed; the reading one stayed live")
        #expect(statistics.peakBufferedEvents <= 10, "the live log never passed its bound")
        #expect(statistics.bufferedEvents <= 1, "what the reading subscriber took was released")
        #expect(statistics.subscribers == 2)
        _ = idle
        await store.close()
    }

    @Test func aCommitIsHeldOnceHoweverManySubscribersWaitForIt() async throws {
        let store = InMemoryEventStore(options: .init(subscriptions: .init(checkpointInterval: .seconds(3_600))))
        let subscriptions = (0..<5).map { _ in store.subscribe(.end) }
        var iterators = subscriptions.map { $0.makeAsyncIterator() }
        for index in iterators.indices { #expect(try await iterators[index].next() == .caughtUp) }
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        try await store.append(
            to: stream, expected: .noStream, events: (0..<4).map { _ in NewEvent(type: "Tested", data: Data()) })
        #expect(store.subscriptions.statistics.bufferedEvents == 4, "one copy for five subscribers")
        for index in iterators.indices {
            var positions: [Int64] = []
            for _ in 0..<4 {
                if case .event(let event) = try await iterators[index].next() { positions.append(event.position) }
            }
            #expect(positions == [1, 2, 3, 4], "subscriber \(index)")
        }
        try await store.append(to: stream, expected: .exact(3), events: [NewEvent(type: "Tested", data: Data())])
        #expect(store.subscriptions.statistics.bufferedEvents == 1, "every subscriber took the first commit: released")
        await store.close()
    }

    @Test func aFilteredSubscriberDoesNotHoldTheEventsItSkips() async throws {
        let options = EventStoreOptions(subscriptions: .init(bufferCapacity: 10, checkpointInterval: .seconds(3_600)))
        let store = InMemoryEventStore(options: options)
        var iterator = store.subscribe(.end, filter: EventFilter(eventTypes: ["Rare"])).makeAsyncIterator()
        #expect(try await iterator.next() == .caughtUp)
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        for _ in 0..<30 {
            try await store.append(to: stream, expected: .any, events: [NewEvent(type: "Common", data: Data())])
        }
        #expect(store.subscriptions.statistics.overflows == 0, "none of those events was for it")
        #expect(store.subscriptions.statistics.bufferedEvents == 0)
        try await store.append(to: stream, expected: .any, events: [NewEvent(type: "Rare", data: Data())])
        guard case .event(let rare) = try await iterator.next() else {
            Issue.record("expected the rare event")
            return
        }
        #expect(rare.position == 31)
        await store.close()
    }
}

/// Taking the events buffered behind the one a subscription delivered, without waiting.
struct BufferedEventsTests {
    @Test func aPageIsTakenWholeThenTheIteratorWaitsAgain() async throws {
        let store = InMemoryEventStore()
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        try await store.append(
            to: stream, expected: .noStream, events: (0..<5).map { _ in NewEvent(type: "Tested", data: Data()) })
        var iterator = store.subscribe(.beginning).makeAsyncIterator()
        guard case .event(let first)? = try await iterator.next() else {
            Issue.record("expected an event first")
            return
        }
        var positions = [first.position]
        while let event = iterator.nextBufferedEvent() { positions.append(event.position) }
        #expect(positions == [1, 2, 3, 4, 5])
        #expect(iterator.nextBufferedEvent() == nil)
        // Nothing buffered was skipped: the iterator goes on after the last event taken.
        guard case .caughtUp? = try await iterator.next() else {
            Issue.record("expected caught up after the page")
            return
        }
        try await store.append(to: stream, expected: .exact(4), events: [NewEvent(type: "Tested", data: Data())])
        guard case .event(let live)? = try await iterator.next() else {
            Issue.record("expected the live event")
            return
        }
        #expect(live.position == 6)
    }
}
