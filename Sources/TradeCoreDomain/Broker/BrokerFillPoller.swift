import EventSourcing
import EventStore
import Foundation
import Logging
import Synchronization
import TradeCoreMessages

/// Brings brokers' executions to the orders: every ``interval`` (and as soon as an order is placed
/// or filled), asks each broker for the executions of the orders working there, and records each
/// with an AddFill command.
///
/// An AddFill's command id derives from the execution's fill id, and the order ignores a fill id
/// it has, so a poller that restarts — or asks again before the read model shows the last fill —
/// fills nothing twice. The fills carry the saga id of the execution saga that placed the order.
///
/// An execution the order refuses (a domain rejection, not a passing failure) is logged once as an
/// error and not sent again by this process: the broker reports it at every poll, and sending it
/// ten times a second would only repeat the refusal and flood the log. The order needs a person.
public final class BrokerFillPoller: Sendable {
    private let commands: CommandBus
    private let queries: QueryBus
    private let store: any EventStore
    private let services: DomainServices
    private let interval: Duration
    private let logger: Logger
    /// Fill ids whose AddFill the domain refused; bounded, as a safeguard.
    private let refused = Mutex<Set<UUID>>([])
    private static let refusedKept = 10_000

    public init(
        commands: CommandBus, queries: QueryBus, store: any EventStore, services: DomainServices,
        interval: Duration = .milliseconds(100), logger: Logger = Logger(label: "tradecore.broker.fills")
    ) {
        self.commands = commands
        self.queries = queries
        self.store = store
        self.services = services
        self.interval = interval
        self.logger = logger
    }

    /// Polls until the task is cancelled.
    public func run() async {
        let wake = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.ring(wake.continuation) }
            group.addTask {
                let interval = self.interval
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    wake.continuation.yield()
                }
            }
            for await _ in wake.stream {
                if Task.isCancelled { break }
                await pollOnce()
            }
            group.cancelAll()
        }
    }

    /// Wakes the poller when an order is placed or filled, so a market order fills at once.
    private func ring(_ bell: AsyncStream<Void>.Continuation) async {
        let filter = EventFilter(streamTypes: [Order.streamType], eventTypes: ["OrderPlaced", "FillAdded"])
        do {
            for try await message in store.subscribe(.end, filter: filter) {
                if case .event = message { bell.yield() }
            }
        } catch {
            // The store closed or the task was cancelled: the timer keeps the poller going.
        }
    }

    /// Asks every broker once for the executions of its working orders; returns how many fills
    /// were recorded.
    @discardableResult
    public func pollOnce() async -> Int {
        var recorded = 0
        for brokerID in services.brokers.brokerIDs {
            guard let adapter = services.brokers.adapter(for: brokerID) else { continue }
            let working: [WorkingOrder]
            do {
                working = try await queries.ask(ListWorkingOrders(brokerID: brokerID))
            } catch {
                logger.warning(
                    "could not list working orders", metadata: ["broker": "\(brokerID)", "error": "\(error)"])
                continue
            }
            // A connection's credentials are read and opened once a poll, not once per order.
            var credentials: [UUID: BrokerCredentials] = [:]
            for order in working {
                recorded += await poll(order, adapter: adapter, credentials: &credentials)
            }
        }
        return recorded
    }

    private func poll(
        _ order: WorkingOrder, adapter: any BrokerAdapter, credentials opened: inout [UUID: BrokerCredentials]
    ) async -> Int {
        do {
            let credentials: BrokerCredentials
            if let known = opened[order.connectionID] {
                credentials = known
            } else {
                credentials = try await services.vault.credentials(
                    reference: BrokerConnection.credentialsReference(order.connectionID))
                opened[order.connectionID] = credentials
            }
            let executions = try await adapter.executions(
                of: order, credentials: credentials, environment: order.environment)
            var recorded = 0
            for execution in executions {
                if try await record(execution, of: order) { recorded += 1 }
            }
            return recorded
        } catch {
            logger.warning(
                "could not record an order's executions",
                metadata: ["order.id": "\(order.orderID.lowercasedText)", "error": "\(error)"])
            return 0
        }
    }

    /// Sends one execution as an AddFill. False when it was not sent: refused before, or now.
    private func record(_ execution: BrokerExecution, of order: WorkingOrder) async throws -> Bool {
        if refused.withLock({ $0.contains(execution.fillID) }) { return false }
        let fill = AddFill(
            orderID: order.orderID, userID: order.userID, fillID: execution.fillID, quantity: execution.quantity,
            price: execution.price, filledAt: execution.executedAt, sagaID: order.sagaID)
        let options = CommandOptions(
            commandID: NameBasedUUID.make(namespace: execution.fillID, name: "AddFill"), userID: order.userID,
            sagaID: order.sagaID)
        // The failure is taken out of the catch before it is looked at: a `catch … where` on this
        // typed throw crashes Swift 6.3.1's compiler (SILGen ownership verifier).
        let failure: CommandBusError
        do {
            _ = try await commands.send(fill, options: options)
            return true
        } catch {
            failure = error
        }
        guard failure.code == .rejected else { throw failure }
        refused.withLock { refused in
            if refused.count >= Self.refusedKept { refused.removeAll() }
            refused.insert(execution.fillID)
        }
        logger.error(
            "the order refuses an execution its broker reported; it is not sent again",
            metadata: [
                "order.id": "\(order.orderID.lowercasedText)", "fill.id": "\(execution.fillID.lowercasedText)",
                "error": "\(failure.message)",
            ])
        return false
    }
}
