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
/// A failure that lasts — credentials that no longer open (the connection was disconnected under
/// working orders), a broker that cannot be reached — is logged as a warning when it starts or
/// changes, not at every poll, and its end is logged too; polling goes on.
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
    /// The failure last logged for a connection (its credentials) or an order (its executions).
    private let failing = Mutex<[UUID: String]>([:])

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
            // A connection's credentials are read and opened once a poll, not once per order; one
            // that failed is not tried again in the same poll.
            var credentials: [UUID: BrokerCredentials?] = [:]
            for order in working {
                // Stopping (the server drains): the orders left wait for the next poll, after a start.
                if Task.isCancelled { return recorded }
                recorded += await poll(order, adapter: adapter, credentials: &credentials)
            }
        }
        return recorded
    }

    private func poll(
        _ order: WorkingOrder, adapter: any BrokerAdapter, credentials opened: inout [UUID: BrokerCredentials?]
    ) async -> Int {
        let credentials: BrokerCredentials
        let connection: Logger.Metadata = ["broker_connection.id": "\(order.connectionID.lowercasedText)"]
        if let known = opened[order.connectionID] {
            guard let known else { return 0 }
            credentials = known
        } else {
            do {
                credentials = try await services.vault.credentials(
                    reference: BrokerConnection.credentialsReference(order.connectionID))
                opened[order.connectionID] = credentials
                ended(order.connectionID, "a broker connection's credentials open again", connection)
            } catch {
                opened[order.connectionID] = .some(nil)
                failed(
                    order.connectionID,
                    "cannot open a broker connection's credentials: its working orders' executions are not read",
                    error, connection)
                return 0
            }
        }
        let about: Logger.Metadata = ["order.id": "\(order.orderID.lowercasedText)"]
        do {
            let report = try await adapter.executions(
                of: order, credentials: credentials, environment: order.environment)
            var recorded = 0
            for execution in report.executions {
                if try await record(execution, of: order) { recorded += 1 }
            }
            ended(order.orderID, "an order's executions are recorded again", about)
            if let reason = report.cancellation {
                // Its own key for the failure log: the executions' key is cleared just above.
                let commandID = NameBasedUUID.make(namespace: order.orderID, name: "broker cancellation")
                do {
                    try await cancel(order, reason: reason, commandID: commandID)
                    ended(commandID, "an order its broker cancelled is cancelled", about)
                } catch {
                    failed(commandID, "could not cancel an order its broker cancelled", error, about)
                }
            }
            return recorded
        } catch {
            // Stopped half-way: not a failure to tell; the next poll after a start reads them again.
            if !Task.isCancelled { failed(order.orderID, "could not record an order's executions", error, about) }
            return 0
        }
    }

    /// Logs a failure of `key` (a connection or an order) unless the same failure was logged last.
    private func failed(_ key: UUID, _ message: Logger.Message, _ error: any Error, _ metadata: Logger.Metadata) {
        let description = "\(error)"
        let isNew = failing.withLock { failing in
            guard failing[key] != description else { return false }
            if failing.count >= Self.refusedKept { failing.removeAll() }
            failing[key] = description
            return true
        }
        if isNew { logger.warning(message, metadata: metadata.merging(["error": "\(description)"]) { $1 }) }
    }

    /// Logs that a failure logged for `key` is over.
    private func ended(_ key: UUID, _ message: Logger.Message, _ metadata: Logger.Metadata) {
        if failing.withLock({ $0.removeValue(forKey: key) != nil }) { logger.info(message, metadata: metadata) }
    }

    /// Cancels an order its broker cancelled, with the broker's reason. Sent again (a later poll,
    /// another process), the command is answered from its first result.
    private func cancel(_ order: WorkingOrder, reason: String, commandID: UUID) async throws {
        let cancel = CancelOrder(
            orderID: order.orderID, userID: order.userID,
            reason: String("cancelled by the broker: \(reason)".prefix(Rules.maxTextLength)), sagaID: order.sagaID)
        let options = CommandOptions(commandID: commandID, userID: order.userID, sagaID: order.sagaID)
        // Said once: a poll behind the cancellation sends it again and gets the first result back.
        guard try await !commands.send(cancel, options: options).replayed else { return }
        logger.notice(
            "the broker cancelled an order",
            metadata: ["order.id": "\(order.orderID.lowercasedText)", "reason": "\(reason)"])
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
