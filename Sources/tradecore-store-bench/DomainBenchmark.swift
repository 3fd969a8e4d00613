import EventSourcing
import EventSourcingSQLite
import EventStore
import EventStoreSQLite
import Foundation
import Logging
import TradeCoreDomain
import TradeCoreMessages

/// CreateOrder and AddFill through the command bus on the SQLite store, each beside the store's
/// own append rate for the same shape of write at the same concurrency: CreateOrder creates a
/// stream with one event (as `new-streams` appends do), AddFill appends one event to the caller's
/// own order (as `hot-streams` appends do). The ratio is what the domain costs on top of the store.
enum DomainBenchmark {
    enum Command: String, CaseIterable {
        case createOrder = "CreateOrder"
        case addFill = "AddFill"

        var baseline: AppendBenchmark.Workload { self == .createOrder ? .newStreams : .hotStreams }
    }

    struct Result {
        var commands: Int
        var commandsPerSecond: Double
        var p50Microseconds: Double
        var p99Microseconds: Double
        /// CPU time (user + system, all threads) per command.
        var cpuMicrosecondsPerCommand: Double
        /// Commands per store transaction during the run: how many shared each fsync.
        var commandsPerCommit: Double
    }

    static func run(directory: URL, command: Command, callers: Int, seconds: Double) async throws -> Result {
        var logger = Logger(label: "tradecore.bench.domain")
        logger.logLevel = .warning
        let store = try await SQLiteEventStore.open(.init(directory: directory, logger: logger))
        let app = try TradeCoreApplication(
            store: store, readModels: SQLiteProjectionStore(store: store),
            secrets: try ServerSecrets(masterKeyBytes: ServerSecrets.generateMasterKeyBytes()),
            brokers: BrokerRegistry([VirtualBroker()]), logger: logger)
        let user = UUIDv7.next()
        let account = try await app.commands.send(
            LinkBrokerAccount(
                userID: user, connectionID: UUIDv7.next(), brokerID: "virtual", environment: .paper,
                description: BrokerAccountDescription(number: "BENCH-C", type: .cash, currency: "USD"), sagaID: nil)
        ).result.accountID
        let order = CreateOrder(
            userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1_000_000_000), orderType: .limit,
            limitPrice: ExactDecimal(151), accountID: account)
        let clock = ContinuousClock()
        var cpuBefore = processCPUTime()
        var transactionsBefore = 0
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            // Each caller's order for AddFill is made and placed before the clock starts.
            var orders: [UUID] = []
            if command == .addFill {
                for _ in 0..<callers {
                    let id = try await app.commands.send(order).result.orderID
                    _ = try await app.commands.send(PlaceOrder(orderID: id, userID: user, brokerOrderID: "B-\(id)"))
                    orders.append(id)
                }
            }
            cpuBefore = processCPUTime()
            transactionsBefore = store.writerStatistics.transactions
            let deadline = clock.now + .milliseconds(Int64(seconds * 1_000))
            for caller in 0..<callers {
                let target = orders.isEmpty ? nil : orders[caller]
                group.addTask {
                    var latencies: [Duration] = []
                    while clock.now < deadline {
                        let began = clock.now
                        if let target {
                            _ = try await app.commands.send(
                                AddFill(
                                    orderID: target, userID: user, fillID: UUIDv7.next(), quantity: ExactDecimal(1),
                                    price: ExactDecimal(150), filledAt: 1_700_000_000_000_000_000))
                        } else {
                            _ = try await app.commands.send(order)
                        }
                        latencies.append(clock.now - began)
                    }
                    return latencies
                }
            }
            let start = clock.now
            var all: [Duration] = []
            for try await latencies in group { all += latencies }
            return (all, clock.now - start)
        }
        let cpu = processCPUTime() - cpuBefore
        let transactions = store.writerStatistics.transactions - transactionsBefore
        await store.close()
        let (all, elapsed) = latencies
        let sorted = all.sorted()
        func percentile(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(Int(Double(sorted.count) * fraction), sorted.count - 1)].seconds * 1_000_000
        }
        return Result(
            commands: sorted.count, commandsPerSecond: Double(sorted.count) / elapsed.seconds,
            p50Microseconds: percentile(0.5), p99Microseconds: percentile(0.99),
            cpuMicrosecondsPerCommand: sorted.isEmpty ? 0 : cpu / Double(sorted.count) * 1_000_000,
            commandsPerCommit: Double(sorted.count) / Double(max(transactions, 1)))
    }
}
