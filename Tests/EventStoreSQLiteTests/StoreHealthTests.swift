import EventSourcingTesting
import EventStore
import Foundation
import GRDB
import Logging
import ProcessTesting
import Testing

@testable import EventStoreSQLite
@testable import HTTP2RPC
@testable import tradecore_server

/// The server's health follows what its store can take: once SQLite stopped its appends after an
/// I/O error, health says NOT_SERVING for the server and its services, though reads still answer.
@Suite(.timeLimit(.minutes(1)))
struct StoreHealthTests {
    @Test func healthSaysNotServingOnceTheStoreStoppedItsAppends() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let logs = CapturedLogs()
        let store = try await SQLiteEventStore.open(.init(directory: directory.url, logger: logs.logger()))
        let paths = ["/tradecore.api.v1.CommandService/CreateOrder"]
        let health = HealthStatus()
        health.setServing(paths: paths)
        let service = StoreHealthService(
            store: store, health: health, paths: paths, logger: logs.logger(), interval: .milliseconds(20))
        var statuses = health.watch("").makeAsyncIterator()
        #expect(await statuses.next() == .serving)
        let running = Task { try await service.run() }
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        try await store.append(to: stream, expected: .noStream, events: [NewEvent(type: "Created", data: Data())])

        store.injectFaultForTesting { throw DatabaseError(resultCode: .SQLITE_IOERR_FSYNC, message: "disk I/O error") }
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: stream, expected: .exact(0), events: [NewEvent(type: "Placed", data: Data())])
        }
        // The next change health hears (the suite's time limit bounds the wait).
        #expect(await statuses.next() == .notServing)
        #expect(health.status(of: "") == .notServing)
        #expect(health.status(of: "tradecore.api.v1.CommandService") == .notServing)
        #expect(logs.contains(level: .warning, "cannot take appends"))
        running.cancel()
        _ = await running.result
        store.injectFaultForTesting(nil)
        await store.close()
    }

    @Test func anotherProcessWritingTheFileStopsAppendsInsteadOfFailingEachOne() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let logs = CapturedLogs()
        let store = try await SQLiteEventStore.open(.init(directory: directory.url, logger: logs.logger()))
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        try await store.append(to: stream, expected: .noStream, events: [NewEvent(type: "Created", data: Data())])
        // The lock file removed by hand lets a second store open the same file and append to it.
        let lock = directory.url.appendingPathComponent("events.sqlite.lock").path
        try FileManager.default.removeItem(atPath: lock)
        let intruder = try await SQLiteEventStore.open(.init(directory: directory.url))
        let other = try StreamName(type: "order", id: UUIDv7.next())
        try await intruder.append(to: other, expected: .noStream, events: [NewEvent(type: "Created", data: Data())])
        await intruder.close()

        let failure = await #expect(throws: EventStoreError.self) {
            try await store.append(to: stream, expected: .exact(0), events: [NewEvent(type: "Placed", data: Data())])
        }
        #expect(
            failure?.message.contains("another process has written to this store") == true,
            "\(String(describing: failure))")
        // Stopped for good: health hears it, and the next append fails without touching the file.
        await #expect(throws: EventStoreError.self) { try await store.checkAppendable() }
        let next = await #expect(throws: EventStoreError.self) {
            try await store.append(to: stream, expected: .exact(0), events: [NewEvent(type: "Placed", data: Data())])
        }
        #expect(next?.message.contains("stopped accepting appends") == true, "\(String(describing: next))")
        #expect(logs.contains(level: .critical, "appends stopped"))
        await store.close()
    }
}
