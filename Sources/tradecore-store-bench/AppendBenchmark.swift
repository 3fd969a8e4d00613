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
        let payload = Data(repeating: 0x42, count: 100)
        let clock = ContinuousClock()
        let cpuBefore = processCPUTime()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1_000))
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for _ in 0..<appenders {
                group.addTask {
                    let stream = try StreamName(type: "order", id: UUIDv7.next())
                    let metadata = EventMetadata(
                        causationID: UUIDv7.next(),
                        correlationID: UUIDv7.next(),
                        userID: UUIDv7.next(),
                        commandType: "PlaceOrder"
                    )
                    var expected = ExpectedVersion.noStream
                    var latencies: [Duration] = []
                    while clock.now < deadline {
                        let began = clock.now
                        let target = workload == .hotStreams ? stream : try StreamName(type: "order", id: UUIDv7.next())
                        let result = try await store.append(
                            to: target,
                            expected: expected,
                            events: [NewEvent(type: "OrderPlaced", data: payload, metadata: metadata)]
                        )
                        latencies.append(clock.now - began)
                        if workload == .hotStreams { expected = .exact(result.version) }
                    }
                    return latencies
                }
            }
            var all: [Duration] = []
            for try await latencies in group { all += latencies }
            return all
        }
        let elapsed = (clock.now - start).seconds
        let cpu = processCPUTime() - cpuBefore
        let transactions = transactions()
        await store.close()
        let sorted = latencies.sorted()
        func percentile(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(Int(Double(sorted.count) * fraction), sorted.count - 1)].seconds * 1_000_000
        }
        let total = sorted.reduce(Duration.zero, +)
        return Result(
            events: sorted.count,
            transactions: transactions,
            eventsPerSecond: Double(sorted.count) / elapsed,
            meanMicroseconds: sorted.isEmpty ? 0 : total.seconds / Double(sorted.count) * 1_000_000,
            p50Microseconds: percentile(0.5),
            p99Microseconds: percentile(0.99),
            cpuMicrosecondsPerEvent: sorted.isEmpty ? 0 : cpu / Double(sorted.count) * 1_000_000
        )
    }
}

/// User plus system CPU time of the whole process, in seconds.
func processCPUTime() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
