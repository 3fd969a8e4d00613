import EventSourcing
import EventSourcingSQLite
import EventStore
import EventStoreSQLite
import Foundation
import Logging
import TradeCoreDomain
import TradeCoreMessages

/// CreateOrder and AddFill through the command bus on the SQLite store, each beside the store's
/// own append rate for the same write at the same concurrency: CreateOrder creates a stream with
/// one event (as `new-streams` appends do), AddFill appends one event to the caller's own order
/// (as `hot-streams` appends do, each appender moving on to a new stream after as many events as
/// an order has fills), and the store's appenders write the bytes of that command's own event
/// (``Callers/sampleEvent()``). The ratio is what the domain costs on top of the store.
enum DomainBenchmark {
    enum Command: String, CaseIterable {
        case createOrder = "CreateOrder"
        case addFill = "AddFill"

        var baseline: AppendBenchmark.Workload { self == .createOrder ? .newStreams : .hotStreams }
    }

    /// The callers of one measurement, on a store and an application of their own: each sends
    /// the command again as soon as the last one returns. For AddFill each caller fills an order of
    /// its own, made and placed when the callers are opened, a hundredth of its quantity at a time:
    /// the hundredth fill fills it (appending OrderFilled as well), and the caller makes and places
    /// its next order, commands not counted among the fills (an order with tens of thousands of
    /// fills, whose every copy grows with them, is not one a broker sends). Their CPU, bytes and
    /// time, with the OrderFilled events, are charged to the fills: about three events in a
    /// hundred that the store's appenders do not write.
    struct Callers {
        /// Fills that fill one order.
        static let fillsPerOrder = 100

        /// An AddFill caller's order and how many fills it has had.
        private struct Filling {
            var order: UUID
            var fills: Int
        }

        let store: any EventStore
        private let app: TradeCoreApplication
        private let user: UUID
        private let order: CreateOrder
        private let fillOrder: CreateOrder
        private var filling: [Filling]?
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
            var fillOrder = order
            fillOrder.quantity = ExactDecimal(Int64(fillsPerOrder))
            var callersOpened = Callers(
                store: store, app: app, user: user, order: order, fillOrder: fillOrder, filling: nil, count: callers)
            if command == .addFill {
                var filling: [Filling] = []
                for _ in 0..<callers {
                    filling.append(Filling(order: try await callersOpened.placedOrder(), fills: 0))
                }
                callersOpened.filling = filling
            }
            return callersOpened
        }

        private init(
            store: any EventStore, app: TradeCoreApplication, user: UUID, order: CreateOrder, fillOrder: CreateOrder,
            filling: [Filling]?, count: Int
        ) {
            self.store = store
            self.app = app
            self.user = user
            self.order = order
            self.fillOrder = fillOrder
            self.filling = filling
            self.count = count
        }

        /// A new order for fills, placed with the broker.
        private func placedOrder() async throws -> UUID {
            let id = try await app.commands.send(fillOrder).result.orderID
            _ = try await app.commands.send(PlaceOrder(orderID: id, userID: user, brokerOrderID: "B-\(id)"))
            return id
        }

        private func fill(_ order: UUID) -> AddFill {
            AddFill(
                orderID: order, userID: user, fillID: UUIDv7.next(), quantity: ExactDecimal(1),
                price: ExactDecimal(150), filledAt: SystemClock().now())
        }

        /// The event one command of this measurement appends, read back from the store after
        /// sending one: what the store's own appenders write beside it, so that both write the same
        /// bytes (type, data and metadata).
        func sampleEvent() async throws -> NewEvent {
            let stream: StreamName
            if filling != nil {
                let target = try await placedOrder()
                _ = try await app.commands.send(fill(target))
                stream = try StreamName(type: Order.streamType, id: target)
            } else {
                stream = try StreamName(type: Order.streamType, id: try await app.commands.send(order).result.orderID)
            }
            guard let last = try await store.readStream(stream, from: .max, direction: .backward, limit: 1).first
            else { throw SampleMissing(stream: stream) }
            return NewEvent(type: last.type, data: last.data, metadata: last.metadata)
        }

        struct SampleMissing: Error, CustomStringConvertible {
            let stream: StreamName
            var description: String { "the command appended no event to \(stream)" }
        }

        /// Sends commands from every caller until `deadline`; the latencies of all of them (for
        /// AddFill, of the fills only), the last ones finishing after it.
        mutating func run(until deadline: ContinuousClock.Instant) async throws -> [Duration] {
            let clock = ContinuousClock()
            let callers = self
            let finished = try await withThrowingTaskGroup(of: (Int, Filling?, [Duration]).self) { group in
                for caller in 0..<count {
                    let start = filling?[caller]
                    group.addTask {
                        var latencies: [Duration] = []
                        var current = start
                        while clock.now < deadline {
                            if var filling = current {
                                if filling.fills == Self.fillsPerOrder {
                                    filling = Filling(order: try await callers.placedOrder(), fills: 0)
                                }
                                let began = clock.now
                                _ = try await callers.app.commands.send(callers.fill(filling.order))
                                latencies.append(clock.now - began)
                                filling.fills += 1
                                current = filling
                            } else {
                                let began = clock.now
                                _ = try await callers.app.commands.send(callers.order)
                                latencies.append(clock.now - began)
                            }
                        }
                        return (caller, current, latencies)
                    }
                }
                var all: [(Int, Filling?, [Duration])] = []
                for try await one in group { all.append(one) }
                return all
            }
            var latencies: [Duration] = []
            for (caller, current, some) in finished {
                if let current { filling?[caller] = current }
                latencies += some
            }
            return latencies
        }
    }
}
