import EventSourcing
import EventStore
import Foundation

/// Moves money between two accounts: withdraw, then deposit; refunds if the deposit fails or the
/// transfer is not done within ten minutes.
struct TransferSaga: Saga {
    struct Request: Codable {
        var from: UUID
        var to: UUID
        var amount: Int
    }

    struct State: Codable, Sendable, Hashable {
        enum Stage: String, Codable, Sendable { case withdrawing, depositing, done }
        var from: UUID
        var to: UUID
        var amount: Int
        var stage: Stage
    }

    static let sagaType = "transfer"
    static let requested = "TransferRequested"

    func handles(_ event: RecordedEvent) -> Bool {
        event.type == Self.requested || event.metadata.sagaID != nil
    }

    func start(on event: RecordedEvent, context: SagaContext) throws -> SagaStep<State>? {
        guard event.type == Self.requested else { return nil }
        let request = try JSONDecoder().decode(Request.self, from: event.data)
        return SagaStep(
            state: State(from: request.from, to: request.to, amount: request.amount, stage: .withdrawing),
            commands: [Withdraw(accountID: request.from, amount: request.amount, sagaID: context.sagaID)],
            deadline: .at(context.time + Duration.seconds(600).nanoseconds))
    }

    func react(to event: RecordedEvent, state: State, context: SagaContext) throws -> SagaStep<State>? {
        var next = state
        switch (event.type, state.stage) {
        case ("Withdrawn", .withdrawing) where event.stream.id == state.from:
            next.stage = .depositing
            return SagaStep(
                state: next, commands: [Deposit(accountID: state.to, amount: state.amount, sagaID: context.sagaID)])
        case ("Deposited", .depositing) where event.stream.id == state.to:
            next.stage = .done
            return SagaStep(state: next, deadline: .cleared, completes: true)
        default:
            return nil
        }
    }

    func compensate(state: State, reason: SagaFailureReason, context: SagaContext) -> SagaStep<State> {
        // Money left the source only once the withdrawal went through: give it back.
        let refund: [any Command] =
            state.stage == .depositing
            ? [Deposit(accountID: state.from, amount: state.amount, sagaID: context.sagaID)] : []
        return SagaStep(state: state, commands: refund)
    }

    /// Appends the event that starts a transfer; returns the saga's id.
    static func request(
        _ store: any EventStore, from: UUID, to: UUID, amount: Int, time: Int64 = UnixTime.nowNanoseconds()
    ) async throws -> UUID {
        let event = NewEvent(
            type: requested, data: try JSONEncoder().encode(Request(from: from, to: to, amount: amount)),
            metadata: EventMetadata(time: time))
        try await store.append(
            to: try StreamName(type: "transfer_request", id: UUIDv7.next()), expected: .noStream, events: [event])
        return SagaManager<TransferSaga>.sagaID(startedBy: event.id)
    }
}

/// A step that throws, for the step-failure path: it fails when the withdrawal comes back.
struct BrokenSaga: Saga {
    struct State: Codable, Sendable {}
    struct StepBroke: Error, CustomStringConvertible {
        var description: String { "the step cannot read the withdrawal" }
    }

    static let sagaType = "broken"

    func start(on event: RecordedEvent, context: SagaContext) throws -> SagaStep<State>? {
        guard event.type == TransferSaga.requested else { return nil }
        let request = try JSONDecoder().decode(TransferSaga.Request.self, from: event.data)
        return SagaStep(
            state: State(), commands: [Withdraw(accountID: request.from, amount: 1, sagaID: context.sagaID)])
    }

    func react(to event: RecordedEvent, state: State, context: SagaContext) throws -> SagaStep<State>? {
        throw StepBroke()
    }

    func compensate(state: State, reason: SagaFailureReason, context: SagaContext) -> SagaStep<State> {
        SagaStep(state: state)
    }
}

/// Holds money until someone releases it; gives it back when nobody does within ten minutes.
struct HoldSaga: Saga {
    struct Request: Codable {
        var account: UUID
        var amount: Int
    }

    struct State: Codable, Sendable, Hashable {
        var account: UUID
        var amount: Int
    }

    static let sagaType = "hold"
    static let requested = "HoldRequested"
    static let released = "HoldReleased"
    static let timeout = Duration.seconds(600)

    func start(on event: RecordedEvent, context: SagaContext) throws -> SagaStep<State>? {
        guard event.type == Self.requested else { return nil }
        let request = try JSONDecoder().decode(Request.self, from: event.data)
        return SagaStep(
            state: State(account: request.account, amount: request.amount),
            commands: [Withdraw(accountID: request.account, amount: request.amount, sagaID: context.sagaID)],
            deadline: .at(context.time + Self.timeout.nanoseconds))
    }

    func react(to event: RecordedEvent, state: State, context: SagaContext) throws -> SagaStep<State>? {
        guard event.type == Self.released else { return nil }
        return SagaStep(state: state, deadline: .cleared, completes: true)
    }

    func compensate(state: State, reason: SagaFailureReason, context: SagaContext) -> SagaStep<State> {
        SagaStep(
            state: state, commands: [Deposit(accountID: state.account, amount: state.amount, sagaID: context.sagaID)])
    }

    /// Appends the event that starts a hold, stamped `time`; returns the saga's id.
    static func request(_ store: any EventStore, account: UUID, amount: Int, time: Int64) async throws -> UUID {
        let event = NewEvent(
            type: requested, data: try JSONEncoder().encode(Request(account: account, amount: amount)),
            metadata: EventMetadata(time: time))
        try await store.append(
            to: try StreamName(type: "hold_request", id: UUIDv7.next()), expected: .noStream, events: [event])
        return SagaManager<HoldSaga>.sagaID(startedBy: event.id)
    }
}
