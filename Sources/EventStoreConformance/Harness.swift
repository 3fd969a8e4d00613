import EventStore
import Foundation
import Synchronization

/// Makes the stores of one case and closes them all when it ends.
final class Harness: Sendable {
    private let makeStore: EventStoreFactory
    private let stores = Mutex<[any EventStore]>([])

    init(makeStore: @escaping EventStoreFactory) {
        self.makeStore = makeStore
    }

    func store(_ options: EventStoreOptions = EventStoreOptions()) async throws -> any EventStore {
        let store = try await makeStore(options)
        stores.withLock { $0.append(store) }
        return store
    }

    func closeAll() async {
        let all = stores.withLock { stores in
            defer { stores = [] }
            return stores
        }
        for store in all { await store.close() }
    }
}

// MARK: - Checks

func check(
    _ condition: Bool,
    _ message: @autoclosure () -> String,
    fileID: String = #fileID,
    line: Int = #line
) throws {
    guard condition else {
        throw ConformanceFailure(message: message(), location: "\(fileID):\(line)")
    }
}

func checkEqual<T: Equatable>(
    _ actual: T,
    _ expected: T,
    _ what: @autoclosure () -> String,
    fileID: String = #fileID,
    line: Int = #line
) throws {
    guard actual == expected else {
        throw ConformanceFailure(
            message: "\(what()): expected \(expected), got \(actual)",
            location: "\(fileID):\(line)"
        )
    }
}

/// Runs `body`, which must throw a ``VersionConflict``, and returns it.
func expectConflict(
    _ what: String,
    fileID: String = #fileID,
    line: Int = #line,
    _ body: () async throws -> AppendResult
) async throws -> VersionConflict {
    do {
        let result = try await body()
        throw ConformanceFailure(
            message: "\(what): expected a version conflict, but the append succeeded with \(result)",
            location: "\(fileID):\(line)"
        )
    } catch let conflict as VersionConflict {
        return conflict
    }
}

/// Runs `body`, which must throw an ``EventStoreError`` with `code`, and returns it.
@discardableResult
func expectError<T>(
    _ code: EventStoreError.Code,
    _ what: String,
    fileID: String = #fileID,
    line: Int = #line,
    _ body: () async throws -> T
) async throws -> EventStoreError {
    do {
        let value = try await body()
        throw ConformanceFailure(
            message: "\(what): expected an error \(code), but got \(value)",
            location: "\(fileID):\(line)"
        )
    } catch let error as EventStoreError {
        guard error.code == code else {
            throw ConformanceFailure(
                message: "\(what): expected an error \(code), got \(error)",
                location: "\(fileID):\(line)"
            )
        }
        return error
    }
}

// MARK: - Fixtures

func newStream(_ type: String = "order") throws -> StreamName {
    try StreamName(type: type, id: UUID())
}

func event(_ type: String = "Tested", _ payload: String = "", metadata: EventMetadata = EventMetadata()) -> NewEvent {
    NewEvent(type: type, data: Data(payload.utf8), metadata: metadata)
}

func events(_ count: Int, type: String = "Tested", prefix: String = "e") -> [NewEvent] {
    (0..<count).map { event(type, "\(prefix)\($0)") }
}

/// Creates `stream` with `count` events in one append.
@discardableResult
func seed(
    _ store: any EventStore, _ stream: StreamName, count: Int, type: String = "Tested"
) async throws -> AppendResult {
    try await store.append(to: stream, expected: .noStream, events: events(count, type: type))
}

/// Every event of the global log, read in pages.
func readWholeLog(
    _ store: any EventStore, filter: EventFilter = .all, pageSize: Int = 500
) async throws -> [RecordedEvent] {
    var all: [RecordedEvent] = []
    var next: Int64 = 1
    while true {
        let page = try await store.readAll(from: next, filter: filter, limit: pageSize)
        all += page
        guard page.count == pageSize, let last = page.last else { return all }
        next = last.position + 1
    }
}

/// Every event of a stream.
func readWholeStream(_ store: any EventStore, _ stream: StreamName) async throws -> [RecordedEvent] {
    try await store.load(stream, shapeVersion: Int.min).events
}

/// A value shared between tasks.
final class LockedValue<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    func get() -> Value { value.withLock { $0 } }

    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
}
