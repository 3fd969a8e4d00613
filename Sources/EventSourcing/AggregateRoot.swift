import EventStore
import Foundation

/// An aggregate being worked on: its identity, its state, the version it was loaded at and the
/// events emitted since.
///
/// A value: a handler loads one, calls business methods on it (which ``emit(_:)`` events), and
/// hands it to the repository (or its ``CommandContext``) to save. The version recorded at load,
/// ``loadedVersion``, is what the save expects the stream to still be at — the seed's "store the
/// original version BEFORE mutations", done for every handler rather than left to each.
@dynamicMemberLookup
public struct AggregateRoot<State: Aggregate>: Sendable {
    /// The aggregate's identity.
    public let id: UUID
    /// The state, folded from every event so far, committed or not.
    public private(set) var state: State
    /// The version of the last committed event folded into ``state``; `nil` for an aggregate
    /// whose stream does not exist yet.
    public private(set) var loadedVersion: Int64?
    /// Events emitted since the aggregate was loaded (or last saved), oldest first.
    public private(set) var uncommittedEvents: [State.Event]
    /// The stream's name, made once: a cached aggregate serves many commands, and each names its
    /// stream to load and to save. `nil` only for a type whose ``Aggregate/streamType`` is not a
    /// valid stream type, which ``streamName()`` then reports.
    private let stream: StreamName?

    /// A new aggregate: no events, nothing committed.
    public init(id: UUID) {
        self.init(id: id, state: State(id: id), version: nil)
    }

    /// An aggregate rebuilt from storage at `version`.
    init(id: UUID, state: State, version: Int64?) {
        self.id = id
        self.state = state
        self.loadedVersion = version
        self.uncommittedEvents = []
        self.stream = try? StreamName(type: State.streamType, id: id)
    }

    /// Reads a property of the state: `order.status` for `order.state.status`.
    public subscript<Value>(dynamicMember keyPath: KeyPath<State, Value>) -> Value {
        state[keyPath: keyPath]
    }

    /// The version the aggregate will have once its uncommitted events are saved; `nil` while it
    /// has no event at all.
    public var version: Int64? {
        guard let loadedVersion else {
            return uncommittedEvents.isEmpty ? nil : Int64(uncommittedEvents.count) - 1
        }
        return loadedVersion + Int64(uncommittedEvents.count)
    }

    /// Whether the aggregate has no committed event.
    public var isNew: Bool { loadedVersion == nil }

    /// What a save expects of the stream: at ``loadedVersion``, or absent for a new aggregate.
    public var expectedVersion: ExpectedVersion {
        loadedVersion.map(ExpectedVersion.exact) ?? .noStream
    }

    /// The aggregate's stream, `<streamType>-<id>`.
    public func streamName() throws(EventStoreError) -> StreamName {
        if let stream { return stream }
        return try StreamName(type: State.streamType, id: id)
    }

    /// Records an event and folds it into the state. Called by business methods once they have
    /// checked their rules.
    public mutating func emit(_ event: State.Event) {
        state.apply(event)
        uncommittedEvents.append(event)
    }

    /// Records events in order, folding each into the state.
    public mutating func emit(contentsOf events: some Sequence<State.Event>) {
        for event in events { emit(event) }
    }

    /// Runs a decision against the current state and emits the events it returns; for business
    /// rules written as functions `(State) throws -> [Event]`. Nothing is emitted when it throws.
    public mutating func execute<Failure: Error>(
        _ decide: (State) throws(Failure) -> [State.Event]
    ) throws(Failure) {
        emit(contentsOf: try decide(state))
    }

    /// Marks the uncommitted events as committed, the last one at `version`.
    mutating func markCommitted(version: Int64) {
        loadedVersion = version
        uncommittedEvents.removeAll()
    }

    /// Folds a committed event read from the store.
    mutating func replay(_ event: State.Event, version: Int64) {
        state.apply(event)
        loadedVersion = version
    }
}
