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

    /// The callers of one measurement, on a store and an application of their own: each sends
    /// the command again as soon as the last one returns. For AddFill each caller fills an order of
    /// its own, made and placed when the callers are opened.
    struct Callers {
        let store: any EventStore
        private let app: TradeCoreApplication
        private let user: UUID
        private let order: CreateOrder
        private let orders: [UUID]?
        private let count: Int

        /// - Parameter directory: where the SQLite store lives; `nil`: the in-memory store, to see
        ///   the domain's own CPU cost without a disk's.
        static func open(directory: URL?, command: Command, callers: Int) async throws -> Callers {
            var logger = Logger(label: "tradecore.bench.domain")
            logger.logLevel = .warning
            let store: any EventStore
            let readModels: any ProjectionStore
            if let directory {
                let sqlite = try await SQLiteEventStore.open(.init(directory: directory, logger: logger))
                (store, readModels) = (sqlite, SQLiteProjectionStore(store: sqlite))
            } else {
                (store, readModels) = (InMemoryEventStore(), InMemoryProjectionStore())
            }
            let app = try TradeCoreApplication(
                store: store, readModels: readModels,
                secrets: try ServerSecrets(masterKeyBytes: ServerSecrets.generateMasterKeyBytes()),
                brokers: BrokerRegistry([VirtualBroker()]), logger: logger)
            let user = UUIDv7.next()
            let account = try await app.commands.send(
                LinkBrokerAccount(
                    userID: user, connectionID: UUIDv7.next(), brokerID: "virtual", environment: .paper,
                    description: BrokerAccountDescription(number: "BENCH-C", type: .cash, currency: "USD"),
                    sagaID: nil)
            ).result.accountID
            let order = CreateOrder(
                userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1_000_000_000), orderType: .limit,
                limitPrice: ExactDecimal(151), accountID: account)
            var orders: [UUID]?
            if command == .addFill {
                orders = []
                for _ in 0..<callers {
                    let id = try await app.commands.send(order).result.orderID
                    _ = try await app.commands.send(PlaceOrder(orderID: id, userID: user, brokerOrderID: "B-\(id)"))
                    orders?.append(id)
                }
            }
            return Callers(store: store, app: app, user: user, order: order, orders: orders, count: callers)
        }

        private init(
            store: any EventStore, app: TradeCoreApplication, user: UUID, order: CreateOrder, orders: [UUID]?,
            count: Int
        ) {
            self.store = store
            self.app = app
            self.user = user
            self.order = order
            self.orders = orders
            self.count = count
        }

        /// Sends commands from every caller until `deadline`; the latencies of all of them, the
        /// last ones finishing after it.
        func run(until deadline: ContinuousClock.Instant) async throws -> [Duration] {
            let clock = ContinuousClock()
            let (app, user, order) = (self.app, self.user, self.order)
            return try await withThrowingTaskGroup(of: [Duration].self) { group in
                for caller in 0..<count {
                    let target = orders?[caller]
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
                var all: [Duration] = []
                for try await latencies in group { all += latencies }
                return all
            }
        }
    }
}
