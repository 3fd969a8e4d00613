import Benchmark
import EventSourcing
import EventStore
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// Commands per second through the command bus on the in-memory store, and allocations per command
// (each iteration sends 1,000 commands, so per-iteration figures in thousands are per command):
// creating an aggregate, and updating one hot aggregate whose state the repository keeps warm (each
// load only checks for events after the cached version). The third sends the update with a
// client-supplied command id, which adds the idempotency lookup.

private enum CounterEvent: Sendable {
    case created
    case incremented(Int64)
}

private struct CounterCodec: EventCodec {
    struct UnknownEvent: Error {}

    func encode(_ event: CounterEvent) throws -> EncodedEvent {
        switch event {
        case .created: return EncodedEvent(type: "CounterCreated", data: Data())
        case .incremented(let by): return EncodedEvent(type: "CounterIncremented", data: try by.encodeCommandResult())
        }
    }

    func decode(_ encoded: EncodedEvent) throws -> CounterEvent {
        switch encoded.type {
        case "CounterCreated": return .created
        case "CounterIncremented": return .incremented(try Int64(decodingCommandResult: encoded.data))
        default: throw UnknownEvent()
        }
    }
}

private struct Counter: Aggregate {
    static let streamType = "counter"
    static let eventCodec = CounterCodec()
    var value: Int64 = 0
    var exists = false

    init(id: UUID) {}

    mutating func apply(_ event: CounterEvent) {
        switch event {
        case .created: exists = true
        case .incremented(let by): value += by
        }
    }
}

private struct CreateCounter: Command {
    typealias Result = UUID
    static let commandType = "CreateCounter"
}

private struct Increment: Command {
    typealias Result = Int64
    static let commandType = "Increment"
    var counter: UUID
}

private struct CreateCounterHandler: CommandHandler {
    func handle(_ command: CreateCounter, context: CommandContext) async throws -> UUID {
        var counter = AggregateRoot<Counter>(id: UUIDv7.next())
        counter.emit(.created)
        try context.save(counter)
        return counter.id
    }
}

private struct IncrementHandler: CommandHandler {
    func handle(_ command: Increment, context: CommandContext) async throws -> Int64 {
        var counter = try await context.load(Counter.self, id: command.counter)
        counter.emit(.incremented(1))
        try context.save(counter)
        return counter.state.value
    }
}

private func makeBus() throws -> CommandBus {
    let store = InMemoryEventStore()
    return try CommandBus(
        handlers: [CreateCounterHandler(), IncrementHandler()],
        commands: [CreateCounter.self, Increment.self],
        dependencies: HandlerDependencies(store: store)
    )
}

/// A bus and one counter, made once before a benchmark's iterations (the closures run per iteration).
private final class Fixture: Sendable {
    let bus: CommandBus
    private let counterID = Mutex<UUID?>(nil)

    init() throws {
        bus = try makeBus()
    }

    /// Creates the hot counter and warms the repository's cache with it.
    func prepare() async throws {
        let id = try await bus.send(CreateCounter()).result
        _ = try await bus.send(Increment(counter: id))
        counterID.withLock { $0 = id }
    }

    /// The hot counter; throws if `prepare` did not run (a benchmark must not pass by doing nothing).
    func counter() throws -> UUID {
        guard let id = counterID.withLock({ $0 }) else { throw FixtureNotPrepared() }
        return id
    }
}

private struct FixtureNotPrepared: Error, CustomStringConvertible {
    var description: String { "the benchmark's fixture was not prepared" }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000
    )

    guard let create = try? Fixture(), let update = try? Fixture(), let idempotent = try? Fixture() else {
        print("could not make the command buses")
        return
    }

    Benchmark("Command bus: create an aggregate (in-memory store)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try await create.bus.send(CreateCounter()))
        }
    }

    Benchmark(
        "Command bus: update a hot aggregate (warm cache, in-memory store)",
        closure: { benchmark in
            let counter = try update.counter()
            for _ in benchmark.scaledIterations {
                blackHole(try await update.bus.send(Increment(counter: counter)))
            }
        },
        setup: update.prepare
    )

    Benchmark(
        "Command bus: update a hot aggregate with a client command id",
        closure: { benchmark in
            let counter = try idempotent.counter()
            for _ in benchmark.scaledIterations {
                let options = CommandOptions(commandID: UUIDv7.next())
                blackHole(try await idempotent.bus.send(Increment(counter: counter), options: options))
            }
        },
        setup: idempotent.prepare
    )
}
