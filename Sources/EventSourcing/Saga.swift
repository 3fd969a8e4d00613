import EventStore
import Foundation

/// A long-running process that reacts to events by sending commands: the seed's sagas.
///
/// A ``SagaManager`` feeds a saga the global log. An event for which ``start(on:context:)`` returns
/// a step starts an instance, whose id is derived from that event (so starting twice is impossible);
/// the commands an instance sends carry its id, so the events they cause come back to it through
/// ``react(to:state:context:)``. Each step is recorded as an event in the instance's own stream,
/// `saga-<id>`, before its commands are sent, with the command ids derived from the step, so after
/// a crash the manager redoes the step and the command bus answers commands that already ran from
/// their recorded outcomes.
///
/// Steps must be deterministic: the same state and event give the same step (take times from the
/// event or the context, never from a clock), because redoing a step recomputes its commands.
///
/// When a step throws, a command it sent is refused, or the instance's deadline passes, the manager
/// runs ``compensate(state:reason:context:)`` and the instance ends.
///
/// An event that none of an instance's commands caused (a user cancelling an order the saga is
/// following) carries no saga id. A saga that must see such events names its instances after what
/// they follow, through ``instanceID(for:)``: the manager then starts each instance under that id
/// and hands it the events that map to it.
public protocol Saga: Sendable {
    /// The state an instance keeps between steps (recorded as JSON).
    associatedtype State: Codable & Sendable

    /// The saga's name: its checkpoint and its instances' records carry it. 1 to 64 lowercase
    /// letters, digits and `_`, starting with a letter; keep it stable.
    static var sagaType: String { get }

    /// Whether the saga looks at `event` at all (a cheap filter; default: every event).
    func handles(_ event: RecordedEvent) -> Bool

    /// The instance `event` belongs to, or would start, when the saga names its instances after
    /// what they follow (one per order, say); `nil` when the event can have no instance of its own
    /// (the default: instances are named after the events that start them, and only the events
    /// their commands cause reach them). Asked for events that carry no id of one of this saga's
    /// instances; must give the same id for the event that starts an instance as for every later
    /// one that belongs to it.
    func instanceID(for event: RecordedEvent) -> UUID?

    /// The first step of a new instance, if `event` starts one.
    func start(on event: RecordedEvent, context: SagaContext) throws -> SagaStep<State>?

    /// The next step of an instance, for an event caused by one of its commands (or otherwise
    /// carrying its id); `nil` to ignore the event (nothing is recorded).
    func react(to event: RecordedEvent, state: State, context: SagaContext) throws -> SagaStep<State>?

    /// The compensating step: undo what can be undone. The instance ends after it.
    func compensate(state: State, reason: SagaFailureReason, context: SagaContext) -> SagaStep<State>
}

extension Saga {
    public func handles(_ event: RecordedEvent) -> Bool { true }

    public func instanceID(for event: RecordedEvent) -> UUID? { nil }
}

/// What a step knows besides the state and the event.
public struct SagaContext: Sendable {
    /// The instance's id: put it in the commands the step sends (``Command/sagaID``).
    public var sagaID: UUID { id() }
    /// The time of the step, Unix nanoseconds: the triggering event's time, or the deadline for a timeout.
    public let time: Int64
    private let id: @Sendable () -> UUID

    init(sagaID: UUID, time: Int64) {
        self.init(deriving: { sagaID }, time: time)
    }

    /// A context whose id is derived when a step asks for it: most events a saga is asked to start
    /// on start nothing, and a derived id (a SHA-1, ``SagaManager/sagaID(startedBy:)``) was a
    /// measurable share of the server's CPU per command.
    init(deriving id: @escaping @Sendable () -> UUID, time: Int64) {
        self.id = id
        self.time = time
    }
}

/// What a saga does in one step.
public struct SagaStep<State: Sendable>: Sendable {
    /// What happens to the instance's deadline.
    public enum Deadline: Sendable, Hashable {
        /// Keep it as it is.
        case unchanged
        /// Remove it.
        case cleared
        /// Set it to this time (Unix nanoseconds); when it passes, the instance is compensated.
        case at(Int64)
    }

    /// The state after the step.
    public var state: State
    /// The commands to send, in order.
    public var commands: [any Command]
    /// The deadline after the step.
    public var deadline: Deadline
    /// Whether the instance is done after this step.
    public var completes: Bool

    /// Makes a step.
    public init(state: State, commands: [any Command] = [], deadline: Deadline = .unchanged, completes: Bool = false) {
        self.state = state
        self.commands = commands
        self.deadline = deadline
        self.completes = completes
    }
}

/// Why an instance is being compensated.
public enum SagaFailureReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Its deadline passed.
    case timedOut(deadline: Int64)
    /// The domain refused one of its commands.
    case commandRejected(commandType: String, message: String)
    /// One of its commands failed (after the manager's retries).
    case commandFailed(commandType: String, message: String)
    /// Its step threw.
    case stepFailed(message: String)

    public var description: String {
        switch self {
        case .timedOut(let deadline): "timed out (deadline \(deadline))"
        case .commandRejected(let type, let message): "\(type) was rejected: \(message)"
        case .commandFailed(let type, let message): "\(type) failed: \(message)"
        case .stepFailed(let message): "a step failed: \(message)"
        }
    }
}

/// Where an instance stands.
public enum SagaStatus: Sendable, Hashable, Codable {
    /// Still running.
    case active
    /// Done.
    case completed
    /// Ended by its compensating step, for this reason.
    case compensated(SagaFailureReason)
    /// Its compensating step's commands failed too: it needs an operator.
    case failed(SagaFailureReason)

    /// Whether the instance has ended.
    public var isFinal: Bool { self != .active }
}

/// One saga instance, as recorded.
public struct SagaInstance<State: Sendable>: Sendable {
    /// The instance's id (its stream is `saga-<id>`).
    public let id: UUID
    /// The state after its last step.
    public let state: State
    /// Where it stands.
    public let status: SagaStatus
    /// When it times out, if it has a deadline.
    public let deadline: Int64?
    /// The version of its stream: its number of steps minus one.
    public let version: Int64
}

/// A saga instance that did not complete, as ``SagaManager/waitUntilFinished(_:timeout:)`` reports it.
public struct SagaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Hashable {
        /// The instance was compensated.
        case compensated
        /// Its compensation failed too.
        case failed
        /// It did not finish within the wait.
        case stillRunning
    }

    /// The kind of failure.
    public let code: Code
    /// The saga type.
    public let sagaType: String
    /// The instance.
    public let sagaID: UUID
    /// Why it was compensated, when it was.
    public let reason: SagaFailureReason?

    public var description: String {
        let id = sagaID.lowercasedText
        switch code {
        case .compensated: return "saga \(sagaType) \(id) was compensated: \(reason.map { "\($0)" } ?? "?")"
        case .failed:
            return "saga \(sagaType) \(id) failed, and so did its compensation: \(reason.map { "\($0)" } ?? "?")"
        case .stillRunning: return "saga \(sagaType) \(id) has not finished"
        }
    }
}
