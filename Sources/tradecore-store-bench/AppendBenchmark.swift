import EventStore
import EventStoreSQLite
import Foundation

/// Single-event appends from N concurrent appenders for a fixed time, with expected versions
/// checked; every append waits for its fsync'd commit.
enum AppendBenchmark {
    /// Where each appender's appends go.
    enum Workload: String, CaseIterable {
        /// Every append creates a new stream (a create command): ids grow, inserts stay at the
        /// right edge of every index.
        case newStreams = "new-streams"
        /// Each appender appends to one stream of its own (updates of hot aggregates): the
        /// (stream, version) index takes inserts at as many places as there are appenders.
        case hotStreams = "hot-streams"
    }

    struct Result {
        var events: Int
        var transactions: Int
        var eventsPerSecond: Double
        var meanMicroseconds: Double
        var p50Microseconds: Double
        var p99Microseconds: Double
        /// CPU time (user + system, all threads) per event: steadier than wall time on a shared machine.
        var cpuMicrosecondsPerEvent: Double
    }

    /// The appenders of one measurement. They keep their streams and expected versions from one
    /// ``run(until:)`` to the next, so a measurement can be cut into slices of time interleaved
    /// with another's.
    struct Appenders {
        let store: any EventStore
        let workload: Workload
        /// CPU work (a busy wait) each appender does between its appends, as a command's own work
        /// would: zero appends back to back.
        let think: Duration
        /// The event each append writes (its type, data and metadata); `nil`: 100 bytes of data.
        let event: NewEvent?
        /// With hot streams: the events after which an appender moves on to a new stream of its
        /// own; `nil`: never.
        let streamLength: Int64?
        private var streams: [StreamName]
        private var expected: [ExpectedVersion]

        init(
            _ store: any EventStore, workload: Workload, count: Int, think: Duration = .zero, event: NewEvent? = nil,
            streamLength: Int64? = nil
        ) throws {
            self.store = store
            self.workload = workload
            self.think = think
            self.event = event
            self.streamLength = streamLength
            streams = try (0..<count).map { _ in try StreamName(type: "order", id: UUIDv7.next()) }
            expected = Array(repeating: .noStream, count: count)
        }

        /// Appends from every appender until `deadline`; the latencies of all appends, the last
        /// ones finishing after it.
        mutating func run(until deadline: ContinuousClock.Instant) async throws -> [Duration] {
            let clock = ContinuousClock()
            let (store, workload, think, event) = (self.store, self.workload, self.think, self.event)
            let lastVersion = streamLength.map { $0 - 1 }
            let finished = try await withThrowingTaskGroup(
                of: (appender: Int, stream: StreamName, expected: ExpectedVersion, latencies: [Duration]).self
            ) { group in
                for (appender, first) in streams.enumerated() {
                    let start = expected[appender]
                    group.addTask {
                        let (type, data, metadata) =
                            event.map { ($0.type, $0.data, $0.metadata) }
                            ?? (
                                "OrderPlaced", Data(repeating: 0x42, count: 100),
                                EventMetadata(
                                    causationID: UUIDv7.next(), correlationID: UUIDv7.next(), userID: UUIDv7.next(),
                                    commandType: "PlaceOrder")
                            )
                        var (stream, expected) = (first, start)
                        var latencies: [Duration] = []
                        while clock.now < deadline {
                            if let lastVersion, expected == .exact(lastVersion) {
                                (stream, expected) = (try StreamName(type: "order", id: UUIDv7.next()), .noStream)
                            }
                            let began = clock.now
                            let target =
                                workload == .hotStreams ? stream : try StreamName(type: "order", id: UUIDv7.next())
                            let result = try await store.append(
                                to: target, expected: workload == .hotStreams ? expected : .noStream,
                                events: [NewEvent(type: type, data: data, metadata: metadata)])
                            latencies.append(clock.now - began)
                            expected = .exact(result.version)
                            if think > .zero {
                                let until = clock.now + think
                                while clock.now < until {}
                            }
                        }
                        return (appender, stream, expected, latencies)
                    }
                }
                var all: [(appender: Int, stream: StreamName, expected: ExpectedVersion, latencies: [Duration])] = []
                for try await one in group { all.append(one) }
                return all
            }
            var latencies: [Duration] = []
            for one in finished {
                streams[one.appender] = one.stream
                expected[one.appender] = one.expected
                latencies += one.latencies
            }
            return latencies
        }
    }

    static func run(directory: URL, workload: Workload, appenders: Int, seconds: Double) async throws -> Result {
        let store = try await SQLiteEventStore.open(.init(directory: directory))
        return try await run(
            store, workload: workload, appenders: appenders, seconds: seconds,
            transactions: { store.writerStatistics.transactions })
    }

    /// The same on any store; `transactions` tells how many commits the store made, if it knows.
    static func run(
        _ store: any EventStore, workload: Workload, appenders: Int, seconds: Double,
        transactions: @escaping @Sendable () -> Int = { 0 }
    ) async throws -> Result {
        var appending = try Appenders(store, workload: workload, count: appenders)
        let tally = try await Tally.measure(transactions: transactions) {
            try await appending.run(until: .now + .milliseconds(Int64(seconds * 1_000)))
        }
        await store.close()
        return Result(
            events: tally.count,
            transactions: tally.transactions,
            eventsPerSecond: tally.perSecond,
            meanMicroseconds: tally.meanMicroseconds,
            p50Microseconds: tally.percentileMicroseconds(0.5),
            p99Microseconds: tally.percentileMicroseconds(0.99),
            cpuMicrosecondsPerEvent: tally.cpuMicrosecondsEach
        )
    }
}

/// What a measurement, or the slices of one, add up to: the latency of every operation, the wall
/// time from the start to the last operation's end, the process's CPU time and the store's
/// commits over that time.
struct Tally {
    private(set) var latencies: [Duration] = []
    private(set) var elapsed = Duration.zero
    private(set) var cpuSeconds = 0.0
    private(set) var transactions = 0
    /// Bytes the process asked the kernel to write (`wchar` of /proc/self/io): the WAL's frames,
    /// checkpoints and the rest.
    private(set) var writtenBytes = 0
    /// Context switches of the process's threads (voluntary: a thread waited), from getrusage.
    private(set) var contextSwitches = 0

    var count: Int { latencies.count }
    var perSecond: Double { elapsed > .zero ? Double(count) / elapsed.seconds : 0 }
    var cpuMicrosecondsEach: Double { count > 0 ? cpuSeconds / Double(count) * 1_000_000 : 0 }
    var operationsPerCommit: Double { Double(count) / Double(max(transactions, 1)) }
    var writtenBytesEach: Double { count > 0 ? Double(writtenBytes) / Double(count) : 0 }
    var contextSwitchesEach: Double { count > 0 ? Double(contextSwitches) / Double(count) : 0 }
    var meanMicroseconds: Double {
        count > 0 ? latencies.reduce(Duration.zero, +).seconds / Double(count) * 1_000_000 : 0
    }

    /// The latency below which `fraction` of the operations finished, in µs (0 for none).
    func percentileMicroseconds(_ fraction: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let sorted = latencies.sorted()
        return sorted[min(Int(Double(sorted.count) * fraction), sorted.count - 1)].seconds * 1_000_000
    }

    /// Adds another slice of the same measurement.
    mutating func add(_ other: Tally) {
        latencies += other.latencies
        elapsed += other.elapsed
        cpuSeconds += other.cpuSeconds
        transactions += other.transactions
        writtenBytes += other.writtenBytes
        contextSwitches += other.contextSwitches
    }

    /// Runs `body`, which returns its operations' latencies, and tallies it.
    static func measure(
        transactions: () -> Int = { 0 }, _ body: () async throws -> [Duration]
    ) async rethrows -> Tally {
        let clock = ContinuousClock()
        let cpuBefore = processCPUTime()
        let transactionsBefore = transactions()
        let writtenBefore = processWrittenBytes()
        let switchesBefore = processContextSwitches()
        let start = clock.now
        var tally = Tally()
        tally.latencies = try await body()
        tally.elapsed = clock.now - start
        tally.cpuSeconds = processCPUTime() - cpuBefore
        tally.transactions = transactions() - transactionsBefore
        tally.writtenBytes = processWrittenBytes() - writtenBefore
        tally.contextSwitches = processContextSwitches() - switchesBefore
        return tally
    }
}

/// User plus system CPU time of the whole process, in seconds.
func processCPUTime() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Voluntary context switches of the whole process so far.
func processContextSwitches() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_nvcsw
}

/// Bytes this process has passed to write system calls so far (`wchar` of /proc/self/io); 0 where
/// there is no such file.
func processWrittenBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("wchar:") {
        return Int(line.dropFirst("wchar:".count).trimmingCharacters(in: .whitespaces)) ?? 0
    }
    return 0
}
