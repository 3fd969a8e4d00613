import EventStore
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import EventStorePostgres

/// Several servers on one database: one log, in one order, for every subscriber on every server,
/// and no reader ever passing a position that commits later.
@Suite(.enabled(if: TestDatabase.enabled, TestDatabase.skipReason), .timeLimit(.minutes(3)))
struct PostgresSharedLogTests {
    /// Reads a subscription until it has seen `count` events; returns their positions and ids.
    private func collect(_ subscription: EventSubscription, count: Int) async throws -> [(Int64, UUID)] {
        var seen: [(Int64, UUID)] = []
        for try await message in subscription {
            guard case .event(let event) = message else { continue }
            seen.append((event.position, event.id))
            if seen.count == count { break }
        }
        return seen
    }

    @Test func twoStoresOnOneSchemaGiveEverySubscriberTheSameLog() async throws {
        let schemas = Schemas()
        let schema = schemas.fresh()
        let a = try await PostgresEventStore.open(TestDatabase.configuration(schema: schema))
        let b = try await PostgresEventStore.open(TestDatabase.configuration(schema: schema))
        let perStore = 150
        let shared = try StreamName(type: "order", id: UUIDv7.next())
        try await a.append(to: shared, expected: .noStream, events: [NewEvent(type: "Opened", data: Data())])
        let total = 1 + 2 * perStore
        async let seenOnA = collect(a.subscribe(.beginning), count: total)
        async let seenOnB = collect(b.subscribe(.beginning), count: total)
        // Both stores append at once: new streams, and appends to one shared stream that each
        // makes at the version it last saw, retrying on conflicts (no lost update).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in [a, b] {
                group.addTask {
                    for index in 0..<perStore {
                        if index % 3 == 0 {
                            while true {
                                let version = try await store.streamVersion(shared) ?? -1
                                do {
                                    try await store.append(
                                        to: shared, expected: .exact(version),
                                        events: [NewEvent(type: "Touched", data: Data())])
                                    break
                                } catch is VersionConflict {
                                    continue
                                }
                            }
                        } else {
                            try await store.append(
                                to: StreamName(type: "order", id: UUIDv7.next()), expected: .noStream,
                                events: [NewEvent(type: "Created", data: Data())])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let (onA, onB) = try await (seenOnA, seenOnB)
        #expect(onA.map(\.0) == Array(1...Int64(total)), "server A saw every position once, in order")
        #expect(onA.map(\.1) == onB.map(\.1), "both servers' subscribers saw the same events in the same order")
        let sharedEvents = try await b.readStream(shared, from: 0, direction: .forward, limit: 1_000)
        #expect(sharedEvents.map(\.version) == Array(0...Int64(2 * ((perStore + 2) / 3))))
        #expect(try await a.headPosition() == Int64(total))
        await a.close()
        await b.close()
        await schemas.dropAll()
    }

    @Test func aTailingReaderNeverPassesAPositionThatCommitsLater() async throws {
        let schemas = Schemas()
        let schema = schemas.fresh()
        let store = try await PostgresEventStore.open(TestDatabase.configuration(schema: schema))
        let configuration = try TestDatabase.configuration(schema: schema).postgresClientConfiguration()
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test"))
        let running = Task { await client.run() }
        let writers = 8
        let batchesPerWriter = 12
        let done = Shared(0)
        let violations = Shared<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Writers: each batch in a transaction held open for a random while after its append,
            // so commits would land out of position order if positions were not taken in order.
            for _ in 0..<writers {
                group.addTask {
                    for _ in 0..<batchesPerWriter {
                        let query = try PostgresEventStore.appendBatchQuery([
                            AppendRequest(
                                stream: StreamName(type: "order", id: UUIDv7.next()), expectedVersion: .noStream,
                                events: [NewEvent(type: "Created", data: Data()), NewEvent(type: "More", data: Data())])
                        ])
                        try await client.withTransaction(logger: Logger(label: "test")) { connection in
                            try await connection.query(query, logger: Logger(label: "test"))
                            let delay = Double.random(in: 0...0.03)
                            try await connection.query("SELECT pg_sleep(\(delay))", logger: Logger(label: "test"))
                        }
                    }
                    done.update { $0 += 1 }
                }
            }
            // The reader: reads everything after the last position it saw, again and again; each
            // read must continue exactly where the last ended.
            group.addTask {
                var last: Int64 = 0
                while true {
                    let finished = done.value == writers
                    let rows = try await client.query(
                        "SELECT position FROM \(unescaped: schema).events WHERE position > \(last) ORDER BY position",
                        logger: Logger(label: "test"))
                    for try await position in rows.decode(Int64.self) {
                        if position != last + 1 {
                            violations.update { $0.append("after \(last) the reader saw \(position)") }
                        }
                        last = position
                    }
                    if finished { break }
                }
                #expect(last == Int64(writers * batchesPerWriter * 2))
            }
            try await group.waitForAll()
        }
        #expect(violations.value == [])
        // The store, following the log, publishes all of it too.
        #expect(try await store.headPosition() == Int64(writers * batchesPerWriter * 2))
        running.cancel()
        await store.close()
        await schemas.dropAll()
    }
}

/// A value shared between tasks.
final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>

    init(_ value: Value) { state = Mutex(value) }

    var value: Value { state.withLock { $0 } }

    func update(_ body: (inout Value) -> Void) { state.withLock { body(&$0) } }
}
