import Foundation
import Synchronization

/// An event store in memory, for tests and tools. Nothing survives the process.
///
/// It follows the same rules as the durable backends (the conformance suite runs on it), applying
/// each append under one lock, so appends are serialised and committed in order.
public final class InMemoryEventStore: EventStore {
    private struct SnapshotKey: Hashable {
        var stream: StreamName
        var shapeVersion: Int
    }

    private struct State {
        /// The global log; the event at position p is at index p - 1.
        var log: [RecordedEvent] = []
        /// Each stream's events as indexes into `log`; the event of version v is at index v.
        var streams: [StreamName: [Int]] = [:]
        var eventIDs: [UUID: AppendRules.CommittedEvent] = [:]
        var snapshots: [SnapshotKey: Snapshot] = [:]
        var commands: [UUID: RecordedCommand] = [:]
        var fencingTokens: [String: Int64] = [:]
        var isClosed = false
    }

    /// The hub handing committed events to subscribers.
    public let subscriptions: SubscriptionHub
    private let limits: EventStoreLimits
    private let state = Mutex(State())

    /// Makes an empty store.
    public init(options: EventStoreOptions = EventStoreOptions()) {
        self.limits = options.limits
        self.subscriptions = SubscriptionHub(configuration: options.subscriptions)
    }

    public func append(_ request: AppendRequest) async throws -> AppendResult {
        try AppendRules.validate(request, limits: limits)
        return try state.withLock { state throws -> AppendResult in
            guard !state.isClosed else { throw EventStoreError.closed }
            let stream = request.stream
            let current = state.streams[stream].map { Int64($0.count) - 1 }
            var committed: [UUID: AppendRules.CommittedEvent] = [:]
            for event in request.events {
                if let found = state.eventIDs[event.id] { committed[event.id] = found }
            }
            let decision = AppendRules.decide(
                request,
                currentVersion: current,
                committed: committed,
                recordedCommand: request.command.flatMap { state.commands[$0.commandID] },
                latestToken: request.fencing.flatMap { state.fencingTokens[$0.key] }
            )
            switch decision {
            case .alreadyCommitted(let result):
                return result
            case .duplicateCommand(let existing):
                throw DuplicateCommand(existing: existing)
            case .staleFencingToken(let latest):
                throw AppendRules.staleFencingTokenError(request, latest: latest)
            case .conflict(let reason):
                throw conflict(request, current: current, reason: reason, state: state)
            case .duplicateEventIDs(let ids):
                throw EventStoreError(
                    code: .duplicateEventID,
                    message: "event ids \(ids) of an append to \(stream) are already committed in other streams"
                )
            case .write:
                let firstVersion = (current ?? -1) + 1
                var recorded: [RecordedEvent] = []
                recorded.reserveCapacity(request.events.count)
                for (offset, event) in request.events.enumerated() {
                    let position = Int64(state.log.count) + 1
                    let version = firstVersion + Int64(offset)
                    let record = RecordedEvent(
                        id: event.id,
                        stream: stream,
                        version: version,
                        position: position,
                        type: event.type,
                        data: event.data,
                        metadata: event.metadata
                    )
                    state.streams[stream, default: []].append(state.log.count)
                    state.log.append(record)
                    state.eventIDs[event.id] = AppendRules.CommittedEvent(
                        stream: stream, version: version, position: position)
                    recorded.append(record)
                }
                let result = AppendResult(
                    stream: stream, firstVersion: firstVersion, positions: recorded.map(\.position))
                if let command = request.command {
                    state.commands[command.commandID] = RecordedCommand(record: command, append: result)
                }
                // Published under the lock, so subscribers see commits in commit order.
                subscriptions.publish(recorded)
                return result
            }
        }
    }

    private func conflict(
        _ request: AppendRequest,
        current: Int64?,
        reason: VersionConflict.Reason,
        state: State
    ) -> VersionConflict {
        var events: [RecordedEvent] = []
        var complete = true
        if let (versions, isComplete) = AppendRules.conflictVersions(
            expected: request.expectedVersion,
            currentVersion: current,
            limit: limits.maxConflictEvents
        ), let indexes = state.streams[request.stream] {
            events = versions.map { state.log[indexes[Int($0)]] }
            complete = isComplete
        }
        return VersionConflict(
            stream: request.stream,
            expected: request.expectedVersion,
            currentVersion: current,
            reason: reason,
            eventsSinceExpected: events,
            eventsSinceExpectedAreComplete: complete
        )
    }

    public func readStream(
        _ stream: StreamName,
        from version: Int64,
        direction: ReadDirection,
        limit: Int
    ) async throws -> [RecordedEvent] {
        try ReadRules.checkLimit(limit)
        return try state.withLock { state throws -> [RecordedEvent] in
            guard !state.isClosed else { throw EventStoreError.closed }
            guard let indexes = state.streams[stream] else { return [] }
            let count = Int64(indexes.count)
            switch direction {
            case .forward:
                guard version < count else { return [] }
                let first = max(version, 0)
                let last = min(count, first + Int64(limit))
                return (first..<last).map { state.log[indexes[Int($0)]] }
            case .backward:
                guard version >= 0 else { return [] }
                let first = min(version, count - 1)
                let last = max(first - Int64(limit) + 1, 0)
                guard first >= last else { return [] }
                return stride(from: first, through: last, by: -1).map { state.log[indexes[Int($0)]] }
            }
        }
    }

    public func streamVersion(_ stream: StreamName) async throws -> Int64? {
        try state.withLock { state throws -> Int64? in
            guard !state.isClosed else { throw EventStoreError.closed }
            return state.streams[stream].map { Int64($0.count) - 1 }
        }
    }

    public func readAll(from position: Int64, filter: EventFilter, limit: Int) async throws -> [RecordedEvent] {
        try ReadRules.checkLimit(limit)
        return try state.withLock { state throws -> [RecordedEvent] in
            guard !state.isClosed else { throw EventStoreError.closed }
            var result: [RecordedEvent] = []
            var index = Int(max(position, 1) - 1)
            while index < state.log.count && result.count < limit {
                let event = state.log[index]
                if filter.matches(event) { result.append(event) }
                index += 1
            }
            return result
        }
    }

    public func headPosition() async throws -> Int64 {
        try state.withLock { state throws -> Int64 in
            guard !state.isClosed else { throw EventStoreError.closed }
            return Int64(state.log.count)
        }
    }

    public func saveSnapshot(_ snapshot: Snapshot) async throws {
        guard snapshot.data.count <= limits.maxSnapshotBytes else {
            throw EventStoreError(
                code: .eventTooLarge,
                message: "a snapshot of \(snapshot.stream) has \(snapshot.data.count) bytes; the limit is "
                    + "\(limits.maxSnapshotBytes)"
            )
        }
        try state.withLock { state throws in
            guard !state.isClosed else { throw EventStoreError.closed }
            let current = state.streams[snapshot.stream].map { Int64($0.count) - 1 }
            guard let current, (0...current).contains(snapshot.version) else {
                throw EventStoreError.invalidArgument(
                    "a snapshot of \(snapshot.stream) at version \(snapshot.version) does not match a committed "
                        + "version (the stream is at \(current.map(String.init) ?? "no stream"))"
                )
            }
            let key = SnapshotKey(stream: snapshot.stream, shapeVersion: snapshot.shapeVersion)
            if let existing = state.snapshots[key], existing.version > snapshot.version { return }
            state.snapshots[key] = snapshot
        }
    }

    public func loadSnapshot(of stream: StreamName, shapeVersion: Int) async throws -> Snapshot? {
        try state.withLock { state throws -> Snapshot? in
            guard !state.isClosed else { throw EventStoreError.closed }
            return state.snapshots[SnapshotKey(stream: stream, shapeVersion: shapeVersion)]
        }
    }

    @discardableResult
    public func recordCommand(_ record: CommandRecord) async throws -> RecordedCommand {
        try AppendRules.validate(record, limits: limits)
        return try state.withLock { state throws -> RecordedCommand in
            guard !state.isClosed else { throw EventStoreError.closed }
            if let existing = state.commands[record.commandID] { throw DuplicateCommand(existing: existing) }
            let recorded = RecordedCommand(record: record, append: nil)
            state.commands[record.commandID] = recorded
            return recorded
        }
    }

    public func recordedCommand(_ commandID: UUID) async throws -> RecordedCommand? {
        try state.withLock { state throws -> RecordedCommand? in
            guard !state.isClosed else { throw EventStoreError.closed }
            return state.commands[commandID]
        }
    }

    @discardableResult
    public func purgeCommandRecords(recordedBefore time: Int64) async throws -> Int {
        try state.withLock { state throws -> Int in
            guard !state.isClosed else { throw EventStoreError.closed }
            let before = state.commands.count
            state.commands = state.commands.filter { $0.value.record.time >= time }
            return before - state.commands.count
        }
    }

    public func issueFencingToken(for key: String) async throws -> Int64 {
        try AppendRules.validateFencingKey(key)
        return try state.withLock { state throws -> Int64 in
            guard !state.isClosed else { throw EventStoreError.closed }
            let token = (state.fencingTokens[key] ?? 0) + 1
            state.fencingTokens[key] = token
            return token
        }
    }

    public func close() async {
        state.withLock { $0.isClosed = true }
        subscriptions.close()
    }
}
