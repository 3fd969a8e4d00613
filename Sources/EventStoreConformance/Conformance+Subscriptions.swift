import EventStore
import Foundation

/// What a consumer received.
struct Received: Sendable {
    var events: [RecordedEvent] = []
    var messages: [SubscriptionMessage] = []
}

/// Iterates `subscription` until `isLast` accepts an event (or the subscription ends).
func consume(
    _ subscription: EventSubscription,
    until isLast: @escaping @Sendable (RecordedEvent) -> Bool
) async throws -> Received {
    var received = Received()
    for try await message in subscription {
        received.messages.append(message)
        if case .event(let event) = message {
            received.events.append(event)
            if isLast(event) { break }
        }
    }
    return received
}

/// Appends `appends` appends of 1 to 3 events, round robin over `streams`, from `writers` tasks at once.
func writeConcurrently(_ store: any EventStore, writers: Int, appends: Int, eventsPerAppend: Int? = nil) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for writer in 0..<writers {
            group.addTask {
                let stream = try newStream(writer % 2 == 0 ? "order" : "automation")
                for index in 0..<appends {
                    let count = eventsPerAppend ?? (1 + (index + writer) % 3)
                    _ = try await store.append(to: stream, expected: .any, events: events(count, type: "Written"))
                }
            }
        }
        try await group.waitForAll()
    }
}

/// Appends one event after everything else: a consumer that reads up to it has seen the whole log.
/// Its id is handed to `holder` before the append, since a subscriber may receive the event before
/// the append returns.
func appendSentinel(_ store: any EventStore, to holder: SentinelHolder, type: String = "Sentinel") async throws {
    let sentinel = event(type)
    holder.set(sentinel.id)
    try await store.append(to: try newStream("sentinel"), expected: .noStream, events: [sentinel])
}

/// Checks that `received` is exactly `expected`: same events, same order, nothing twice.
func checkSameLog(_ received: [RecordedEvent], _ expected: [RecordedEvent], _ what: String) throws {
    let positions = received.map(\.position)
    try check(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 }, "\(what): positions strictly increase")
    try checkEqual(received.count, expected.count, "\(what): number of events")
    try checkEqual(positions, expected.map(\.position), "\(what): positions")
    try check(received == expected, "\(what): events equal the stored ones")
}

extension EventStoreConformance {
    /// Writers race the subscriber's catch-up reads, then keep writing once it is live: across both
    /// switches it receives the whole log, once, in order.
    static func subscriptionCatchesUpThenGoesLive(_ harness: Harness) async throws {
        let store = try await harness.store(EventStoreOptions(subscriptions: .init(catchUpPageSize: 16)))
        try await writeConcurrently(store, writers: 4, appends: 25)
        let sentinelHolder = SentinelHolder()
        let (live, liveContinuation) = AsyncStream<Void>.makeStream()
        let subscription = store.subscribe(.beginning)
        let consumer = Task {
            var received = Received()
            for try await message in subscription {
                received.messages.append(message)
                if message == .caughtUp { liveContinuation.yield() }
                if case .event(let event) = message {
                    received.events.append(event)
                    if sentinelHolder.isSentinel(event.id) { break }
                }
            }
            return received
        }
        // While the subscriber reads its first pages.
        try await writeConcurrently(store, writers: 4, appends: 50)
        var signals = live.makeAsyncIterator()
        _ = await signals.next()
        // Once it is live.
        try await writeConcurrently(store, writers: 4, appends: 50)
        try await appendSentinel(store, to: sentinelHolder)
        let received = try await consumer.value
        try checkSameLog(received.events, try await readWholeLog(store), "catch-up then live")
        try check(received.messages.contains(.caughtUp), "the subscriber was told it caught up")
        try check(!received.messages.contains(.fellBehind), "a subscriber that keeps up never falls behind")
    }

    static func subscriptionStartsFromPositionOrEnd(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        try await seed(store, stream, count: 10)
        let fromSix = store.subscribe(.position(6))
        let fromEnd = store.subscribe(.end)
        try await store.append(to: stream, expected: .exact(9), events: events(5))
        let six = try await consume(fromSix) { $0.position == 15 }
        try checkEqual(six.events.map(\.position), Array(6...15), "from position 6, inclusive")
        let end = try await consume(fromEnd) { $0.position == 15 }
        try checkEqual(end.messages.first, .caughtUp, "a subscription from the end is caught up at once")
        try checkEqual(end.events.map(\.position), Array(11...15), "from the end: only later events")
    }

    static func streamSubscriptionStartsFromVersion(_ harness: Harness) async throws {
        let store = try await harness.store(EventStoreOptions(subscriptions: .init(catchUpPageSize: 2)))
        let stream = try newStream()
        let other = try newStream()
        let later = try newStream()
        try await seed(store, stream, count: 5)
        try await seed(store, other, count: 3)
        let fromThree = store.subscribe(.stream(stream, version: 3))
        let notYetCreated = store.subscribe(.stream(later, version: 0))
        try await store.append(to: other, expected: .any, events: events(2))
        try await store.append(to: stream, expected: .exact(4), events: events(2))
        try await store.append(to: later, expected: .noStream, events: events(1))
        let received = try await consume(fromThree) { $0.version == 6 }
        try checkEqual(received.events.map(\.version), [3, 4, 5, 6], "versions from 3")
        try check(received.events.allSatisfy { $0.stream == stream }, "only the stream's events")
        let created = try await consume(notYetCreated) { $0.version == 0 }
        try checkEqual(created.events.map(\.stream), [later], "a stream created after subscribing")
    }

    static func filteredSubscription(_ harness: Harness) async throws {
        let store = try await harness.store(EventStoreOptions(subscriptions: .init(catchUpPageSize: 8)))
        let filter = EventFilter.eventTypes(["Wanted"])
        let mixed = try newStream()
        for index in 0..<30 {
            try await store.append(to: mixed, expected: .any, events: [event(index % 3 == 0 ? "Wanted" : "Unwanted")])
        }
        let sentinelHolder = SentinelHolder()
        let subscription = store.subscribe(.beginning, filter: filter)
        let consumer = Task { try await consume(subscription) { sentinelHolder.isSentinel($0.id) } }
        for index in 0..<30 {
            try await store.append(to: mixed, expected: .any, events: [event(index % 4 == 0 ? "Wanted" : "Unwanted")])
        }
        try await appendSentinel(store, to: sentinelHolder, type: "Wanted")
        let received = try await consumer.value
        try checkSameLog(received.events, try await readWholeLog(store, filter: filter), "filtered subscription")
    }

    static func slowSubscriberKeepsMemoryBounded(_ harness: Harness) async throws {
        let capacity = 1_000
        let options = EventStoreOptions(subscriptions: .init(bufferCapacity: capacity, bufferByteCapacity: 1 << 20))
        let store = try await harness.store(options)
        let subscription = store.subscribe(.beginning)
        // 20,000 events, twenty times the bound, while the subscriber reads nothing.
        try await writeConcurrently(store, writers: 4, appends: 50, eventsPerAppend: 100)
        let head = try await store.headPosition()
        try checkEqual(head, 20_000, "events written")
        let statistics = store.subscriptions.statistics
        try check(
            statistics.peakBufferedEvents <= capacity,
            "the hub never held more than its bound (\(statistics.peakBufferedEvents) > \(capacity))"
        )
        try check(statistics.peakBufferedBytes <= 1 << 20, "nor more bytes than its bound")
        try check(statistics.bufferedEvents <= capacity, "the hub holds at most its bound now")
        try check(statistics.overflows >= 1, "the idle subscriber's buffer overflowed and was released")
        let received = try await consume(subscription) { $0.position == head }
        try checkEqual(received.events.count, 20_000, "the subscriber later receives every event")
        try check(
            received.events.enumerated().allSatisfy { $0.element.position == Int64($0.offset) + 1 },
            "in order, without gap or duplicate"
        )
    }

    static func liveSubscriberThatFallsBehindRejoins(_ harness: Harness) async throws {
        let options = EventStoreOptions(
            subscriptions: .init(bufferCapacity: 50, catchUpPageSize: 20, checkpointInterval: .seconds(3_600))
        )
        let store = try await harness.store(options)
        let subscription = store.subscribe(.end)
        var iterator = subscription.makeAsyncIterator()
        try checkEqual(try await iterator.next(), .caughtUp, "live at once")
        try await writeConcurrently(store, writers: 2, appends: 100, eventsPerAppend: 3)
        try check(store.subscriptions.statistics.overflows >= 1, "the buffer overflowed")
        try check(store.subscriptions.statistics.bufferedEvents == 0, "and was released")
        try checkEqual(try await iterator.next(), .fellBehind, "the subscriber is told it fell behind")
        var positions: [Int64] = []
        var rejoined = false
        while let message = try await iterator.next() {
            if case .event(let event) = message { positions.append(event.position) }
            if message == .caughtUp {
                rejoined = true
                break
            }
        }
        try check(rejoined, "the subscriber rejoined live")
        try checkEqual(positions, Array(1...600), "every event, once, in order, across the switch")
        let stream = try newStream()
        try await store.append(to: stream, expected: .noStream, events: events(1))
        guard case .event(let live) = try await iterator.next() else {
            throw ConformanceFailure(message: "expected a live event after rejoining", location: #fileID)
        }
        try checkEqual(live.position, 601, "live delivery resumed")
    }

    static func hundredSubscribersSeeTheWholeLog(_ harness: Harness) async throws {
        let store = try await harness.store(EventStoreOptions(subscriptions: .init(catchUpPageSize: 64)))
        try await writeConcurrently(store, writers: 4, appends: 40)
        let sentinelHolder = SentinelHolder()
        let consumers = (0..<100).map { _ in
            let subscription = store.subscribe(.beginning)
            return Task { try await consume(subscription) { sentinelHolder.isSentinel($0.id) } }
        }
        try await writeConcurrently(store, writers: 4, appends: 40)
        try await appendSentinel(store, to: sentinelHolder)
        let log = try await readWholeLog(store)
        for (index, consumer) in consumers.enumerated() {
            try checkSameLog(try await consumer.value.events, log, "subscriber \(index)")
        }
    }

    static func idleSubscriberGetsCheckpoints(_ harness: Harness) async throws {
        let options = EventStoreOptions(subscriptions: .init(checkpointInterval: .milliseconds(20)))
        let store = try await harness.store(options)
        let stream = try newStream()
        try await store.append(to: stream, expected: .noStream, events: events(5, type: "Other"))
        let subscription = store.subscribe(.end, filter: .eventTypes(["Wanted"]))
        var iterator = subscription.makeAsyncIterator()
        try checkEqual(try await iterator.next(), .caughtUp, "caught up")
        try checkEqual(try await iterator.next(), .checkpoint(position: 5), "an idle subscriber gets the head")
        try await store.append(to: stream, expected: .exact(4), events: events(3, type: "Other"))
        var checkpoints: [Int64] = []
        while checkpoints.last != 8, checkpoints.count < 1_000, let message = try await iterator.next() {
            guard case .checkpoint(let position) = message else {
                throw ConformanceFailure(
                    message: "unexpected \(message) for a filter nothing passes", location: #fileID)
            }
            checkpoints.append(position)
        }
        try checkEqual(checkpoints.last, 8, "checkpoints follow the head past events the filter skips")
        try check(checkpoints.allSatisfy { $0 == 5 || $0 == 8 }, "checkpoints carry head positions")
    }

    static func cancellingConsumerFreesSubscription(_ harness: Harness) async throws {
        // No checkpoint may slip in before the cancellation, however slow the machine.
        let store = try await harness.store(
            EventStoreOptions(subscriptions: .init(checkpointInterval: .seconds(3_600))))
        try await seed(store, try newStream(), count: 3)
        do {
            let unused = store.subscribe(.beginning)
            try checkEqual(store.subscriptions.statistics.subscribers, 1, "registered on subscribe")
            _ = unused
        }
        try checkEqual(store.subscriptions.statistics.subscribers, 0, "a dropped subscription is freed")
        let (live, liveContinuation) = AsyncStream<Void>.makeStream()
        let subscription = store.subscribe(.beginning)
        let consumer = Task {
            var count = 0
            for try await message in subscription {
                if message == .caughtUp { liveContinuation.yield() }
                count += 1
            }
            return count
        }
        var signals = live.makeAsyncIterator()
        _ = await signals.next()
        try checkEqual(store.subscriptions.statistics.subscribers, 1, "one live subscriber")
        consumer.cancel()
        let count = try await consumer.value
        try checkEqual(count, 4, "three events and caught-up, then the iteration ended")
        try checkEqual(store.subscriptions.statistics.subscribers, 0, "cancelling the consumer freed the subscription")
        try await store.append(to: try newStream(), expected: .noStream, events: events(1))
        try checkEqual(store.subscriptions.statistics.bufferedEvents, 0, "nothing is buffered for it")
    }

    static func closingStoreEndsSubscriptionsAndAppends(_ harness: Harness) async throws {
        let store = try await harness.store()
        let (live, liveContinuation) = AsyncStream<Void>.makeStream()
        let subscription = store.subscribe(.end)
        let consumer = Task { () -> EventStoreError? in
            do {
                for try await message in subscription where message == .caughtUp {
                    liveContinuation.yield()
                }
                return nil
            } catch let error as EventStoreError {
                return error
            }
        }
        var signals = live.makeAsyncIterator()
        _ = await signals.next()
        await store.close()
        let ended = try await consumer.value
        try checkEqual(ended?.code, .closed, "the live subscription ends with 'closed'")
        try await expectError(.closed, "append after close") {
            try await store.append(to: try newStream(), expected: .noStream, events: events(1))
        }
        try await expectError(.closed, "read after close") {
            try await store.readAll(from: 1, filter: .all, limit: 10)
        }
    }
}

/// The sentinel's id, known only after the consumer started.
final class SentinelHolder: Sendable {
    private let id = LockedValue<UUID?>(nil)

    func set(_ value: UUID) { id.set(value) }

    func isSentinel(_ candidate: UUID) -> Bool { id.get() == candidate }
}
