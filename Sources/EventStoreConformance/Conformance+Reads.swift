import EventStore
import Foundation

extension EventStoreConformance {
    static func readStreamForwardAndBackward(_ harness: Harness) async throws {
        let store = try await harness.store()
        let stream = try newStream()
        try await seed(store, try newStream(), count: 3)
        try await seed(store, stream, count: 10)
        func versions(_ from: Int64, _ direction: ReadDirection, _ limit: Int) async throws -> [Int64] {
            try await store.readStream(stream, from: from, direction: direction, limit: limit).map(\.version)
        }
        try checkEqual(try await versions(0, .forward, 100), Array(0...9), "forward from the start")
        try checkEqual(try await versions(3, .forward, 4), [3, 4, 5, 6], "forward from 3, four events")
        try checkEqual(try await versions(8, .forward, 10), [8, 9], "forward to the end")
        try checkEqual(try await versions(10, .forward, 10), [], "forward past the end")
        try checkEqual(try await versions(.max, .backward, 3), [9, 8, 7], "backward from the newest")
        try checkEqual(try await versions(4, .backward, 10), [4, 3, 2, 1, 0], "backward from 4")
        try checkEqual(try await versions(0, .backward, 10), [0], "backward from 0")
        let read = try await store.readStream(stream, from: 0, direction: .forward, limit: 100)
        try checkEqual(read.map(\.position), Array(4...13), "positions follow the other stream's")
        try check(read.allSatisfy { $0.stream == stream }, "only the stream's events")
        let missing = try newStream()
        try checkEqual(
            try await store.readStream(missing, from: 0, direction: .forward, limit: 10),
            [],
            "a missing stream reads as empty"
        )
        try await expectError(.invalidArgument, "a read limit of 0") {
            try await store.readStream(stream, from: 0, direction: .forward, limit: 0)
        }
    }

    static func readAllPagesInPositionOrder(_ harness: Harness) async throws {
        let store = try await harness.store()
        let streams = try (0..<5).map { _ in try newStream() }
        for round in 0..<6 {
            for stream in streams {
                try await store.append(to: stream, expected: .any, events: events(1 + round % 3))
            }
        }
        let head = try await store.headPosition()
        var paged: [RecordedEvent] = []
        var next: Int64 = 1
        while true {
            let page = try await store.readAll(from: next, filter: .all, limit: 7)
            paged += page
            guard let last = page.last else { break }
            next = last.position + 1
        }
        try checkEqual(paged.map(\.position), Array(1...head), "pages cover the log in order without holes")
        let fromMiddle = try await store.readAll(from: 10, filter: .all, limit: 3)
        try checkEqual(fromMiddle.map(\.position), [10, 11, 12], "reading from a position includes it")
        for stream in streams {
            let versions = paged.filter { $0.stream == stream }.map(\.version)
            try checkEqual(versions, Array(0..<Int64(versions.count)), "each stream's versions in log order")
        }
    }

    static func readAllFilters(_ harness: Harness) async throws {
        let store = try await harness.store()
        let orderA = try newStream("order")
        let orderB = try newStream("order")
        let automation = try newStream("automation")
        try await store.append(to: orderA, expected: .noStream, events: [event("OrderCreated"), event("OrderPlaced")])
        try await store.append(to: automation, expected: .noStream, events: [event("AutomationCreated")])
        try await store.append(to: orderB, expected: .noStream, events: [event("OrderCreated")])
        try await store.append(to: orderA, expected: .exact(1), events: [event("OrderCancelled")])
        try await store.append(to: automation, expected: .exact(0), events: [event("AutomationPaused")])

        func positions(_ filter: EventFilter, from: Int64 = 1, limit: Int = 100) async throws -> [Int64] {
            try await store.readAll(from: from, filter: filter, limit: limit).map(\.position)
        }
        try checkEqual(try await positions(.all), [1, 2, 3, 4, 5, 6], "no filter")
        try checkEqual(try await positions(.streamTypes(["order"])), [1, 2, 4, 5], "stream type order")
        try checkEqual(try await positions(.streamTypes(["automation"])), [3, 6], "stream type automation")
        try checkEqual(try await positions(.streams([orderA])), [1, 2, 5], "one stream")
        try checkEqual(try await positions(.streams([orderB, automation])), [3, 4, 6], "two streams")
        try checkEqual(try await positions(.eventTypes(["OrderCreated"])), [1, 4], "one event type")
        try checkEqual(
            try await positions(.eventTypes(["OrderCancelled", "AutomationPaused"])),
            [5, 6],
            "two event types"
        )
        try checkEqual(
            try await positions(EventFilter(streamTypes: ["order"], eventTypes: ["OrderCreated", "OrderPlaced"])),
            [1, 2, 4],
            "stream type and event types together"
        )
        try checkEqual(try await positions(.streamTypes(["order"]), from: 3), [4, 5], "filter from a position")
        try checkEqual(try await positions(.streamTypes(["order"]), limit: 2), [1, 2], "filter with a limit")
        try checkEqual(try await positions(.streamTypes(["broker"])), [], "a type with no streams")
        try checkEqual(try await positions(.eventTypes([])), [], "an empty set accepts nothing")
    }

    static func metadataRoundTrips(_ harness: Harness) async throws {
        var options = EventStoreOptions()
        options.limits.maxEventDataBytes = 256 << 10
        let store = try await harness.store(options)
        let stream = try newStream("broker_account")
        let full = EventMetadata(
            causationID: UUID(),
            correlationID: UUID(),
            sagaID: UUID(),
            userID: UUID(),
            commandType: "PlaceOrder",
            time: 1_733_000_000_123_456_789,
            extra: ["source": "cli", "note": "größe ✓", "": "empty key", "empty": ""]
        )
        let bare = EventMetadata(time: -5)
        let written = [
            NewEvent(type: "Full", data: Data([0, 1, 2, 255]), metadata: full),
            NewEvent(type: "Bare", data: Data(), metadata: bare),
            NewEvent(
                type: "Large", data: Data((0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0) }), metadata: bare),
        ]
        let result = try await store.append(to: stream, expected: .noStream, events: written)
        let read = try await readWholeStream(store, stream)
        try checkEqual(read.count, 3, "events read back")
        for (index, (stored, sent)) in zip(read, written).enumerated() {
            try checkEqual(stored.id, sent.id, "id of event \(index)")
            try checkEqual(stored.type, sent.type, "type of event \(index)")
            try checkEqual(stored.data, sent.data, "data of event \(index)")
            try checkEqual(stored.metadata, sent.metadata, "metadata of event \(index)")
            try checkEqual(stored.stream, stream, "stream of event \(index)")
            try checkEqual(stored.version, Int64(index), "version of event \(index)")
            try checkEqual(stored.position, result.positions[index], "position of event \(index)")
        }
        let fromLog = try await store.readAll(from: 1, filter: .all, limit: 10)
        try checkEqual(fromLog, read, "the global log returns the same events")
    }

    static func invalidAppendsAreRejected(_ harness: Harness) async throws {
        var options = EventStoreOptions()
        options.limits.maxEventDataBytes = 100
        options.limits.maxExtraMetadataBytes = 50
        options.limits.maxEventsPerAppend = 5
        options.limits.maxAppendBytes = 300
        let store = try await harness.store(options)
        let stream = try newStream()
        try await expectError(.invalidArgument, "an empty append") {
            try await store.append(to: stream, expected: .any, events: [])
        }
        try await expectError(.invalidArgument, "a negative expected version") {
            try await store.append(to: stream, expected: .exact(-1), events: events(1))
        }
        for badType in ["", "has space", String(repeating: "x", count: 129), "tab\t", "émoji"] {
            try await expectError(.invalidArgument, "event type '\(badType)'") {
                try await store.append(to: stream, expected: .any, events: [event(badType)])
            }
        }
        try await expectError(.eventTooLarge, "event data over the limit") {
            try await store.append(to: stream, expected: .any, events: [NewEvent(type: "Big", data: Data(count: 101))])
        }
        try await expectError(.eventTooLarge, "extra metadata over the limit") {
            let metadata = EventMetadata(extra: ["key": String(repeating: "v", count: 48)])
            return try await store.append(to: stream, expected: .any, events: [event(metadata: metadata)])
        }
        try await expectError(.appendTooLarge, "too many events") {
            try await store.append(to: stream, expected: .any, events: events(6))
        }
        try await expectError(.appendTooLarge, "too many bytes in one append") {
            let big = (0..<4).map { _ in NewEvent(type: "Big", data: Data(count: 100)) }
            return try await store.append(to: stream, expected: .any, events: big)
        }
        try await expectError(.invalidArgument, "the same event id twice in one append") {
            let twice = event()
            return try await store.append(to: stream, expected: .any, events: [twice, twice])
        }
        let error = try await expectError(.eventTooLarge, "the error names the problem") {
            try await store.append(to: stream, expected: .any, events: [NewEvent(type: "Big", data: Data(count: 101))])
        }
        try check(error.message.contains("101") && error.message.contains("100"), "the message gives size and limit")
        try checkEqual(try await store.headPosition(), 0, "no invalid append wrote anything")
        let ok = try await store.append(
            to: stream, expected: .noStream, events: [NewEvent(type: "Fits", data: Data(count: 100))])
        try checkEqual(ok.positions, [1], "an event exactly at the limit is accepted")
    }
}
