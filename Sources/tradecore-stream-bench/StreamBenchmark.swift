import ArgumentParser
import BenchmarkSupport
import CJemalloc
import CThreadScheduling
import EventSourcing
import EventSourcingSQLite
import EventStore
import EventStoreSQLite
import Foundation
import HTTP2RPC
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TradeCoreAPI
import TradeCoreDomain
import TradeCoreMessages
import WireFormat

/// The event stream over the wire, measured on a release build:
///
/// 1. Commit → subscriber latency: CreateOrder commands at a fixed rate through the command bus,
///    while a subscriber reads the event stream over a real HTTP/2 connection. The commit instant
///    of each event is taken on the store's writer thread right after its COMMIT returns, before
///    the hub hears of it (``SQLiteEventStore/Configuration/afterCommit``); the latency is the time
///    from there to the wire subscriber reading the event.
/// 2. Fan-out, tailing: many subscribers over the wire wait at the end of the log, caught up; then
///    events are appended as fast as the store takes them (batches of 100 per append), and the
///    subscribers read every one. The events they receive per second, in all, from the first append
///    to the last subscriber's last event.
/// 3. Fan-out, catching up: the same subscribers read the whole log from its start.
///
/// A benchmark, not a test: it prints figures and never fails on them.
@main
struct StreamBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradecore-stream-bench",
        abstract: "Commit-to-subscriber latency at a command rate, and events/s to many subscribers over the wire.")

    @Option(help: "Directory for the store (the disk under test).")
    var directory: String = ".data/stream-bench"

    @Option(help: "Commands per second for the latency measurement.")
    var rate: Int = 10_000

    @Option(help: "Seconds of the latency measurement.")
    var seconds: Double = 5

    @Option(parsing: .upToNextOption, help: "Measurements to make: latency, tailing, catch-up.")
    var measurements: [String] = ["latency", "tailing", "catch-up"]

    @Option(help: "Subscribers of the fan-out measurement.")
    var subscribers: Int = 100

    @Option(help: "Connections the fan-out subscribers share.")
    var connections: Int = 10

    @Option(help: "Events in the log the fan-out subscribers read.")
    var events: Int = 200_000

    @Option(
        help:
            "Microseconds of kernel time slice the latency subscriber's thread asks for, as the server's event loops do (0: the kernel's own)."
    )
    var subscriberSlice: Int = 100

    func validate() throws {
        for name in measurements where !["latency", "tailing", "catch-up"].contains(name) {
            throw ValidationError("unknown measurement '\(name)': latency, tailing or catch-up")
        }
        // The kernel takes 100 µs to 100 ms.
        guard subscriberSlice == 0 || (100...100_000).contains(subscriberSlice) else {
            throw ValidationError("--subscriber-slice must be 0 or 100 to 100000 µs")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let root = URL(fileURLWithPath: directory, isDirectory: true)
        try? FileManager.default.removeItem(at: root)
        defer { try? FileManager.default.removeItem(at: root) }
        print("malloc: \(tradecore_jemalloc_version().map { "jemalloc " + String(cString: $0) } ?? "not jemalloc")")
        let bench = try await Bench.start(directory: root)
        do {
            if measurements.contains("latency") { try await latency(bench) }
            if measurements.contains("tailing") { try await fanOutTailing(bench) }
            if measurements.contains("catch-up") { try await fanOut(bench) }
        } catch {
            await bench.stop()
            throw error
        }
        await bench.stop()
    }

    // MARK: - Latency

    private func latency(_ bench: Bench) async throws {
        let (user, account) = try await bench.account()
        let order = CreateOrder(
            userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .limit,
            limitPrice: ExactDecimal(1), accountID: account)
        let start = try await bench.store.headPosition()
        let clock = ContinuousClock()
        let total = Int(Double(rate) * seconds)
        let received = Mutex<[Int64: ContinuousClock.Instant]>(Dictionary(minimumCapacity: total))
        // Positions up to this one belong to the warm-up and are not measured; none is until the
        // warm-up is over.
        let measuredAfter = Shared<Int64>(.max)

        // The wire subscriber runs on a thread of its own, as a subscriber in another process would:
        // on the cooperative pool, each instant it takes would also wait behind the thousands of
        // command tasks this process itself starts, which no real subscriber does. Like the
        // server's event loops, it asks for a short time slice (see `--subscriber-slice`): woken by
        // an event, it then runs before a thread busy with commands has used up a long one.
        let observer = try await DedicatedExecutor(timeSlice: .microseconds(Int64(subscriberSlice)))
        defer { observer.shutdown() }
        let request = SubscribeRequest(
            filter: SubscriptionFilter(eventTypes: ["OrderCreated"]), start: .afterPosition(UInt64(start)))
        let wire = Task(executorPreference: observer) {
            try await bench.client.serverStreaming(Bench.subscribePath, request.protoBytes) { response in
                for try await bytes in response.messages {
                    guard case .event(let event)? = try SubscribeResponse(protoBytes: bytes).message else { continue }
                    let now = clock.now
                    guard Int64(event.globalPosition) > measuredAfter.value.load(ordering: .acquiring) else { continue }
                    let count = received.withLock { received in
                        received[Int64(event.globalPosition)] = now
                        return received.count
                    }
                    if count == total { return }
                }
            }
        }
        // Half a second at the rate first, not measured: the subscriber's first deliveries and the
        // caches filling are not the steady state.
        _ = try await send(order, count: rate / 2, through: bench)
        let measured = try await bench.store.headPosition()
        measuredAfter.value.store(measured, ordering: .releasing)
        bench.commits.time(after: measured, type: "OrderCreated", expected: total)
        let steal = HostStealMeter()
        let sending = try await send(order, count: total, through: bench)
        try await wire.value
        let commits = bench.commits.taken()
        let arrivals = received.withLock { $0 }
        let latencies = arrivals.compactMap { position, arrival in commits[position].map { arrival - $0 } }.sorted()
        func percentile(_ fraction: Double) -> Double {
            latencies[min(Int(Double(latencies.count) * fraction), latencies.count - 1)].seconds * 1_000_000
        }
        print(
            String(
                format: "commit → wire subscriber at %d CreateOrder/s (%d commands, sent in %.2f s, achieved %.0f/s):",
                rate, total, sending.seconds, Double(total) / sending.seconds))
        print(
            String(
                format: "  p50 %.0f µs, p90 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs   (target: p99 < 1000 µs; "
                    + "subscriber's time slice: %@; %@)",
                percentile(0.5), percentile(0.9), percentile(0.99), percentile(0.999), percentile(1),
                (subscriberSlice > 0 ? "\(subscriberSlice) µs" : "the kernel's") as NSString, steal.summary as NSString)
        )
    }

    /// Sends `count` commands at the rate, each on its own task once its scheduled time has come,
    /// and returns how long the sending took. The sender wakes once a millisecond and starts the
    /// commands then due, rather than sleeping until each one's own instant: ten thousand timers a
    /// second would cost this process more CPU than the server's own work, which a client in
    /// another process does not. The group discards its finished children: a plain one keeps each
    /// until it is awaited, and tens of thousands of them, freed in one go at the end, held up the
    /// last commands' delivery.
    private func send(_ order: CreateOrder, count: Int, through bench: Bench) async throws -> Duration {
        let clock = ContinuousClock()
        let began = clock.now
        let interval = Duration.seconds(1) / rate
        let tick = Duration.milliseconds(1)
        try await withThrowingDiscardingTaskGroup { group in
            var sent = 0
            while sent < count {
                let elapsed = clock.now - began
                let due = min(Int(elapsed / interval) + 1, count)
                while sent < due {
                    group.addTask { _ = try await bench.app.commands.send(order) }
                    sent += 1
                }
                try await Task.sleep(until: began + tick * (Int(elapsed / tick) + 1))
            }
        }
        return clock.now - began
    }

    // MARK: - Fan-out

    private func fanOutTailing(_ bench: Bench) async throws {
        let head = try await bench.store.headPosition()
        let clients = (0..<connections).map { _ in RPCClient(host: "127.0.0.1", port: bench.port) }
        defer { Task { for client in clients { await client.close() } } }
        // How many subscribers have caught up.
        let ready = Shared<Int>(0)
        let request = SubscribeRequest(start: .afterPosition(UInt64(head))).protoBytes
        let clock = ContinuousClock()
        let (counts, elapsed, steal) = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<subscribers {
                let client = clients[index % clients.count]
                group.addTask {
                    try await client.serverStreaming(Bench.subscribePath, request) { response in
                        var count = 0
                        for try await bytes in response.messages {
                            // Field 1 of the response is an event, field 3 "caught up": count
                            // without decoding.
                            if bytes.first == 0x1A { ready.value.add(1, ordering: .relaxed) }
                            guard bytes.first == 0x0A else { continue }
                            count += 1
                            if count == events { return count }
                        }
                        return count
                    }
                }
            }
            while ready.value.load(ordering: .relaxed) < subscribers { try await Task.sleep(for: .milliseconds(10)) }
            let steal = HostStealMeter()
            let began = clock.now
            let payload = Data(repeating: 0x41, count: 120)
            var appended = 0
            while appended < events {
                let batch = min(100, events - appended)
                try await bench.store.append(
                    to: try StreamName(type: "bench", id: UUIDv7.next()), expected: .noStream,
                    events: (0..<batch).map { _ in NewEvent(type: "BenchEvent", data: payload) })
                appended += batch
            }
            let counts = try await group.reduce(0, +)
            return (counts, (clock.now - began).seconds, steal)
        }
        print(
            String(
                format: "%d subscribers over %d connections tailing the log while %d events are appended: "
                    + "%d events in %.2f s, %.0f events/s in all   (target >= 1,000,000; %@)",
                subscribers, connections, events, counts, elapsed, Double(counts) / elapsed, steal.summary as NSString))
    }

    private func fanOut(_ bench: Bench) async throws {
        // A log of `events` events, appended in large batches.
        let payload = Data(repeating: 0x41, count: 120)
        var appended = 0
        while appended < events {
            let batch = min(1_000, events - appended)
            try await bench.store.append(
                to: try StreamName(type: "bench", id: UUIDv7.next()), expected: .noStream,
                events: (0..<batch).map { _ in NewEvent(type: "BenchEvent", data: payload) })
            appended += batch
        }
        let head = try await bench.store.headPosition()
        let clients = (0..<connections).map { _ in RPCClient(host: "127.0.0.1", port: bench.port) }
        defer { Task { for client in clients { await client.close() } } }
        let clock = ContinuousClock()
        let steal = HostStealMeter()
        let began = clock.now
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<subscribers {
                let client = clients[index % clients.count]
                group.addTask {
                    try await client.serverStreaming(Bench.subscribePath, SubscribeRequest().protoBytes) { response in
                        var count = 0
                        for try await bytes in response.messages {
                            // An event's tag is field 1 of the response: count without decoding.
                            guard bytes.first == 0x0A else { continue }
                            count += 1
                            if count == Int(head) { return count }
                        }
                        return count
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = (clock.now - began).seconds
        print(
            String(
                format: "%d subscribers over %d connections read a %d-event log from its start: %d events in %.2f s, "
                    + "%.0f events/s in all   (target >= 1,000,000; %@)",
                subscribers, connections, Int(head), counts, elapsed, Double(counts) / elapsed,
                steal.summary as NSString))
    }
}

/// A store, the domain, and the API served on a loopback port, in this process.
struct Bench: Sendable {
    static let subscribePath = "/tradecore.api.v1.EventStreamService/Subscribe"

    let store: SQLiteEventStore
    let commits: CommitInstants
    let app: TradeCoreApplication
    let server: RPCServer
    let client: RPCClient
    let port: Int
    let running: Task<Void, any Error>

    static func start(directory: URL) async throws -> Bench {
        var logger = Logger(label: "tradecore.bench.stream")
        logger.logLevel = .warning
        let commits = CommitInstants()
        var configuration = SQLiteEventStore.Configuration(directory: directory, logger: logger)
        configuration.afterCommit = { events in commits.note(events) }
        let store = try await SQLiteEventStore.open(configuration)
        let app = try TradeCoreApplication(
            store: store, readModels: SQLiteProjectionStore(store: store),
            secrets: try ServerSecrets(masterKeyBytes: ServerSecrets.generateMasterKeyBytes()),
            brokers: BrokerRegistry([VirtualBroker()]), logger: logger)
        var router = RPCRouter()
        try router.register(TradeCoreAPI(app: app, authenticator: try Authenticator(tokens: []), logger: logger))
        let server = RPCServer(
            configuration: RPCServerConfiguration(host: "127.0.0.1", port: 0), router: router, logger: logger)
        try await server.start()
        guard let port = server.localAddress?.port else { throw BenchError("the server reported no port") }
        let running = Task { try await app.run() }
        return Bench(
            store: store, commits: commits, app: app, server: server, client: RPCClient(host: "127.0.0.1", port: port),
            port: port,
            running: running)
    }

    /// A user and a linked account of theirs to create orders in.
    func account() async throws -> (user: UUID, account: UUID) {
        let user = UUIDv7.next()
        let linked = try await app.commands.send(
            LinkBrokerAccount(
                userID: user, connectionID: UUIDv7.next(), brokerID: "virtual", environment: .paper,
                description: BrokerAccountDescription(number: "BENCH-C", type: .cash, currency: "USD"), sagaID: nil))
        return (user, linked.result.accountID)
    }

    func stop() async {
        await client.close()
        await server.shutdown()
        running.cancel()
        _ = await running.result
        await store.close()
    }
}

/// The commit instants of the events of one type after a position, taken on the store's writer
/// thread; none until ``time(after:type:expected:)`` says which.
final class CommitInstants: Sendable {
    private struct Timing {
        var after: Int64 = .max
        var type = ""
        var instants: [Int64: ContinuousClock.Instant] = [:]
    }

    private let timing = Mutex(Timing())

    /// Times the events of `type` after `position`, room made for `expected` of them at once: a
    /// dictionary that grew as they came would copy itself on the writer thread, between a commit
    /// and its delivery, and time its own growth.
    func time(after position: Int64, type: String, expected: Int) {
        var timing = Timing(after: position, type: type)
        timing.instants.reserveCapacity(expected)
        self.timing.withLock { $0 = timing }
    }

    /// Called with each commit's events, right after it.
    func note(_ events: [RecordedEvent]) {
        let now = ContinuousClock.now
        timing.withLock { timing in
            for event in events where event.position > timing.after && event.type == timing.type {
                timing.instants[event.position] = now
            }
        }
    }

    func taken() -> [Int64: ContinuousClock.Instant] { timing.withLock { $0.instants } }
}

/// A value shared between tasks: a log position, a count.
final class Shared<Value: AtomicRepresentable & Sendable>: Sendable {
    let value: Atomic<Value>
    init(_ initial: Value) { value = Atomic(initial) }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs tasks on one NIO event loop thread of its own.
final class DedicatedExecutor: TaskExecutor {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let loop: any EventLoop

    /// - Parameter timeSlice: the kernel time slice its thread asks for; zero keeps the kernel's.
    init(timeSlice: Duration = .zero) async throws {
        loop = group.next()
        guard timeSlice > .zero else { return }
        let nanoseconds = UInt64(timeSlice / .nanoseconds(1))
        let failure = try await loop.submit { tradecore_set_time_slice(nanoseconds) }.get()
        guard failure == 0 else {
            group.shutdownGracefully { _ in }
            throw BenchError("the subscriber's thread could not get a \(timeSlice) time slice (errno \(failure))")
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    func shutdown() {
        group.shutdownGracefully { _ in }
    }
}
