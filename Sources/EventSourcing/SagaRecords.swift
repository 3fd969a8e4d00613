import EventStore
import Foundation

/// The events of a saga instance's own stream, `saga-<id>`: one per step, as JSON.
/// Where saga managers record their instances.
public enum SagaManagerStreams {
    /// The type of the streams that hold the saga instances' steps, one stream per instance.
    public static let streamType = "saga"

    /// The types of the events in those streams, one per kind of step.
    public static let eventTypes: Set<String> = [
        EventType.started, EventType.advanced, EventType.closing, EventType.compensating, EventType.completed,
        EventType.compensated, EventType.failed,
    ]

    enum EventType {
        static let started = "SagaStarted"
        static let advanced = "SagaAdvanced"
        static let closing = "SagaClosing"
        static let compensating = "SagaCompensating"
        static let completed = "SagaCompleted"
        static let compensated = "SagaCompensated"
        static let failed = "SagaFailed"
    }
}

struct SagaStepRecord: Codable, Sendable {
    /// What caused the step.
    enum Cause: Codable, Sendable, Hashable {
        /// The event at `position` started the instance.
        case start(position: Int64)
        /// The event at `position` moved it on.
        case event(position: Int64)
        /// Compensation, because of `reason`; `position` is the event being handled, if any.
        case compensation(reason: SagaFailureReason, position: Int64?)
        /// The compensation's commands failed; the instance needs an operator. No commands.
        case compensationFailed(reason: SagaFailureReason, position: Int64?)
        /// The commands of the step before went through; the instance takes that step's final status.
        case closed(position: Int64?)

        var position: Int64? {
            switch self {
            case .start(let position), .event(let position): position
            case .closed(let position), .compensation(_, let position), .compensationFailed(_, let position): position
            }
        }
    }

    var sagaType: String
    var cause: Cause
    var state: Data
    var deadline: Int64?
    /// The instance's status after this record.
    var status: SagaStatus
    /// For a step that ends the instance but still has commands to send: the status it ends with,
    /// taken by a ``Cause/closed(position:)`` record once they went through. The instance is closing
    /// meanwhile: it ignores further events.
    var closing: SagaStatus?

    var eventType: String {
        switch (cause, status) {
        case (.start, _): SagaManagerStreams.EventType.started
        case (.compensation, _) where closing != nil: SagaManagerStreams.EventType.compensating
        case (_, .completed): SagaManagerStreams.EventType.completed
        case (_, .compensated): SagaManagerStreams.EventType.compensated
        case (_, .failed): SagaManagerStreams.EventType.failed
        case (_, .active): closing == nil ? SagaManagerStreams.EventType.advanced : SagaManagerStreams.EventType.closing
        }
    }

    func encoded() throws -> NewEvent {
        NewEvent(type: eventType, data: try JSONEncoder().encode(self))
    }
}

/// A saga instance read back from its stream.
struct LoadedSaga<State: Codable & Sendable>: Sendable {
    struct Step: Sendable {
        let version: Int64
        let record: SagaStepRecord
        let state: State
    }

    let id: UUID
    let steps: [Step]

    /// Reads the steps; `nil` when the stream does not exist, or belongs to another saga type.
    static func load(_ id: UUID, sagaType: String, from store: any EventStore) async throws -> LoadedSaga? {
        let stream = try StreamName(type: SagaManagerStreams.streamType, id: id)
        var steps: [Step] = []
        var next: Int64 = 0
        let decoder = JSONDecoder()
        while true {
            let page = try await store.readStream(stream, from: next, direction: .forward, limit: 500)
            for event in page {
                do {
                    let record = try decoder.decode(SagaStepRecord.self, from: event.data)
                    guard record.sagaType == sagaType else { return nil }
                    steps.append(
                        Step(
                            version: event.version, record: record,
                            state: try decoder.decode(State.self, from: record.state)))
                } catch {
                    throw UndecodableEvent(
                        stream: stream, version: event.version, type: event.type, reason: "\(error)")
                }
            }
            guard page.count == 500, let last = page.last else { break }
            next = last.version + 1
        }
        return steps.isEmpty ? nil : LoadedSaga(id: id, steps: steps)
    }

    var last: Step? { steps.last }
    var version: Int64 { last?.version ?? -1 }
    var status: SagaStatus { last?.record.status ?? .active }
    /// Whether the instance still takes events: active, and not closing.
    var isOpen: Bool { status == .active && last?.record.closing == nil }

    var instance: SagaInstance<State>? {
        guard let last else { return nil }
        return SagaInstance(
            id: id, state: last.state, status: last.record.status, deadline: last.record.deadline,
            version: last.version)
    }

    /// The state before the step at `index` (`nil` before the first).
    func state(before index: Int) -> State? {
        index > 0 ? steps[index - 1].state : nil
    }
}
