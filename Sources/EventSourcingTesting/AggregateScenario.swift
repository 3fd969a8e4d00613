import EventSourcing
import Foundation

/// Given/when/then tests of an aggregate's business rules, without a store.
///
/// ```swift
/// try AggregateScenario<Account>()
///     .given([.opened(owner: alice), .deposited(100)])
///     .when { try $0.withdraw(30) }
///     .then([.withdrawn(30)])
/// ```
/// `given` folds events into a fresh aggregate as if they had been loaded; `when` runs a business
/// method; `then` checks the events it emitted (and nothing else), `thenRejects` the error it threw.
/// A failed expectation throws ``ScenarioFailure`` describing expected and actual.
public struct AggregateScenario<State: Aggregate> where State.Event: Equatable {
    private let id: UUID
    private let history: [State.Event]

    /// A scenario for an aggregate with identity `id`.
    public init(id: UUID = UUID()) {
        self.id = id
        self.history = []
    }

    private init(id: UUID, history: [State.Event]) {
        self.id = id
        self.history = history
    }

    /// The events already committed before the command.
    public func given(_ events: [State.Event]) -> AggregateScenario {
        AggregateScenario(id: id, history: history + events)
    }

    /// Runs a business method on the aggregate built from the given events.
    public func when(_ command: (inout AggregateRoot<State>) throws -> Void) -> Outcome {
        var root = AggregateRoot<State>(id: id)
        root.emit(contentsOf: history)
        let committed = root.uncommittedEvents.count
        do {
            try command(&root)
            return Outcome(result: .success(Array(root.uncommittedEvents.dropFirst(committed))), root: root)
        } catch {
            return Outcome(
                result: .failure(error), root: root, emittedBeforeThrowing: root.uncommittedEvents.count - committed)
        }
    }

    /// What the command did.
    public struct Outcome {
        let result: Result<[State.Event], any Error>
        /// The aggregate after the command.
        public let root: AggregateRoot<State>
        /// How many events the command emitted before it threw.
        var emittedBeforeThrowing = 0

        /// Checks that the command emitted exactly `expected`, in order; returns the state after them.
        @discardableResult
        public func then(_ expected: [State.Event]) throws -> State {
            switch result {
            case .success(let emitted):
                guard emitted == expected else {
                    throw ScenarioFailure(message: "expected events \(expected), but the command emitted \(emitted)")
                }
                return root.state
            case .failure(let error):
                throw ScenarioFailure(message: "expected events \(expected), but the command threw \(error)")
            }
        }

        /// Checks that the command threw an error of type `Failure` for which `matches` holds, and
        /// emitted nothing.
        @discardableResult
        public func thenRejects<Failure: Error>(
            _ type: Failure.Type, where matches: (Failure) -> Bool = { _ in true }
        ) throws -> Failure {
            switch result {
            case .success(let emitted):
                throw ScenarioFailure(message: "expected \(type) to be thrown, but the command emitted \(emitted)")
            case .failure(let error):
                guard let failure = error as? Failure, matches(failure) else {
                    throw ScenarioFailure(message: "expected a matching \(type), but the command threw \(error)")
                }
                guard emittedBeforeThrowing == 0 else {
                    throw ScenarioFailure(
                        message: "the command threw \(failure) as expected, but emitted \(emittedBeforeThrowing) "
                            + "event(s) before it")
                }
                return failure
            }
        }
    }
}

/// An aggregate scenario whose expectation did not hold.
public struct ScenarioFailure: Error, CustomStringConvertible {
    /// What was expected and what happened.
    public let message: String

    public var description: String { message }
}
