import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages

/// Carries an order with `auto_submit` to its broker: submits it (SubmitOrderToBroker), follows it
/// while it is placed and filled (the fill poller's AddFill commands carry this saga's id), and ends
/// when it is filled, rejected or cancelled. An order that could not be submitted is cancelled.
///
/// The steps decide from the events alone (each step is a value: the next state and the commands),
/// so redoing a step after a restart sends the same commands with the same ids.
///
/// Its instances are named after their orders (``instanceID(order:)``), so the order's end reaches
/// its instance whoever caused it: a user who cancels a working order ends the saga as well.
public struct OrderExecutionSaga: Saga {
    public struct State: Codable, Sendable, Hashable {
        public enum Stage: String, Codable, Sendable {
            case submitting
            case working
        }

        public var orderID: UUID
        public var userID: UUID
        public var stage: Stage
    }

    public static let sagaType = "order_execution"

    public init() {}

    public func handles(_ event: RecordedEvent) -> Bool { event.stream.type == Order.streamType }

    /// The instance that follows order `order`.
    public static func instanceID(order: UUID) -> UUID {
        NameBasedUUID.make(namespace: NameBasedUUID.sagaNamespace, name: "\(sagaType)/order/\(order.lowercasedText)")
    }

    /// An auto-submitted order's creation, and the order events the saga reacts to.
    public func instanceID(for event: RecordedEvent) -> UUID? {
        switch event.type {
        case "OrderCreated":
            guard case .created(let created)? = try? event.domainEvent(OrderEvent.self), created.autoSubmit else {
                return nil
            }
        case "OrderPlaced", "OrderFilled", "OrderRejected", "OrderCancelled":
            break
        default:
            return nil
        }
        return Self.instanceID(order: event.stream.id)
    }

    public func start(on event: RecordedEvent, context: SagaContext) throws -> SagaStep<State>? {
        guard event.type == "OrderCreated", case .created(let created) = try event.domainEvent(OrderEvent.self),
            created.autoSubmit
        else { return nil }
        return SagaStep(
            state: State(orderID: created.orderID, userID: created.userID, stage: .submitting),
            commands: [SubmitOrderToBroker(orderID: created.orderID, userID: created.userID, sagaID: context.sagaID)])
    }

    public func react(to event: RecordedEvent, state: State, context: SagaContext) throws -> SagaStep<State>? {
        guard event.stream.id == state.orderID else { return nil }
        switch event.type {
        case "OrderPlaced":
            var next = state
            next.stage = .working
            return SagaStep(state: next)
        case "OrderFilled", "OrderRejected", "OrderCancelled":
            return SagaStep(state: state, completes: true)
        default:
            return nil
        }
    }

    public func compensate(state: State, reason: SagaFailureReason, context: SagaContext) -> SagaStep<State> {
        // An order that never reached its broker must not wait as if it might: cancel it.
        guard state.stage == .submitting else { return SagaStep(state: state) }
        return SagaStep(
            state: state,
            commands: [
                CancelOrder(
                    orderID: state.orderID, userID: state.userID,
                    reason: String("could not be submitted to the broker: \(reason)".prefix(Rules.maxTextLength)),
                    sagaID: context.sagaID)
            ])
    }
}

/// Onboards a connection once it is established: links the accounts its broker gives access to
/// (SyncBrokerAccounts), then refreshes them all (RefreshAllAccounts, forced), and ends when the
/// refresh run reports its figures (AllAccountsRefreshCompleted).
public struct ConnectionOnboardingSaga: Saga {
    public struct State: Codable, Sendable, Hashable {
        public enum Stage: String, Codable, Sendable {
            case linking
            case refreshing
        }

        public var connectionID: UUID
        public var userID: UUID
        public var stage: Stage
    }

    public static let sagaType = "connection_onboarding"

    public init() {}

    public func handles(_ event: RecordedEvent) -> Bool {
        event.stream.type == BrokerConnection.streamType || event.stream.type == AccountRefreshRun.streamType
    }

    public func start(on event: RecordedEvent, context: SagaContext) throws -> SagaStep<State>? {
        guard event.type == "BrokerConnectionEstablished", let user = event.metadata.userID else { return nil }
        let connection = event.stream.id
        return SagaStep(
            state: State(connectionID: connection, userID: user, stage: .linking),
            commands: [SyncBrokerAccounts(brokerConnectionID: connection, userID: user, sagaID: context.sagaID)])
    }

    public func react(to event: RecordedEvent, state: State, context: SagaContext) throws -> SagaStep<State>? {
        switch (event.type, state.stage) {
        case ("BrokerAccountsSynced", .linking) where event.stream.id == state.connectionID:
            var next = state
            next.stage = .refreshing
            return SagaStep(
                state: next,
                commands: [
                    RefreshAllAccounts(
                        userID: state.userID, brokerConnectionID: state.connectionID, forceRefresh: true,
                        sagaID: context.sagaID)
                ])
        case ("AllAccountsRefreshCompleted", .refreshing):
            return SagaStep(state: state, completes: true)
        default:
            return nil
        }
    }

    public func compensate(state: State, reason: SagaFailureReason, context: SagaContext) -> SagaStep<State> {
        // Linked accounts stay linked, and a refresh can be asked for again: nothing to undo.
        SagaStep(state: state)
    }
}
