import EventStore
import Foundation
import Synchronization

/// What one run of a handler works with: who sent the command and why, the dependencies, and the
/// write the handler has staged.
///
/// A command writes one aggregate, in one append that also records the command's outcome, so a
/// command is either applied whole and recorded or not applied at all. Work across aggregates is a
/// saga's, or one command per aggregate (``send(_:)``).
///
/// One context per attempt: when a save conflicts and the bus retries, the handler gets a new
/// context and loads its aggregates afresh.
public final class CommandContext: Sendable {
    /// The command's id: the causation id of every event it emits.
    public let commandID: UUID
    /// The command's type name.
    public let commandType: String
    /// The id shared by everything done for the same request.
    public let correlationID: UUID
    /// The user the command runs for, if known.
    public let userID: UUID?
    /// The saga the command runs for, if any.
    public let sagaID: UUID?
    /// Extra metadata attached to every event.
    public let extraMetadata: [String: String]
    /// Which attempt this is: 1, then 2 after a first version conflict, and so on.
    public let attempt: Int
    /// The time stamped on the command's events (Unix nanoseconds), read once per attempt.
    public let now: Int64
    /// Everything the handler may use: the bus's own, read in place (a copy per attempt would
    /// retain each of its references).
    public var dependencies: HandlerDependencies { bus.dependencies }
    let bus: CommandBus
    private let leases: CommandLeases

    private struct StagedWrite: Sendable {
        typealias Commit = @Sendable (EventMetadata, CommandRecord?) async throws -> AppendResult?
        let stream: StreamName
        let commit: Commit
    }

    private struct Staging {
        var write: StagedWrite?
        var appended = 0
        /// The newest global position this attempt's own append or the commands it sent reached.
        var lastPosition: Int64?
        /// Commands sent so far in this attempt.
        var sent = 0
    }

    private let staging = Mutex(Staging())

    init(
        invocation: CommandInvocation,
        attempt: Int,
        bus: CommandBus,
        leases: CommandLeases
    ) {
        self.commandID = invocation.commandID
        self.commandType = invocation.commandType
        self.correlationID = invocation.correlationID
        self.userID = invocation.userID
        self.sagaID = invocation.sagaID
        self.extraMetadata = invocation.extraMetadata
        self.attempt = attempt
        self.now = bus.dependencies.clock.now()
        self.bus = bus
        self.leases = leases
    }

    /// The event store.
    public var store: any EventStore { dependencies.store }
    /// The query bus.
    public var queries: QueryBus { dependencies.queries }
    /// The distributed lock.
    public var lock: any DistributedLock { dependencies.lock }
    /// The clock.
    public var clock: any EventSourcingClock { dependencies.clock }
    /// The domain's services.
    public var services: HandlerServices { dependencies.services }

    /// The metadata attached to each event the command appends.
    public var eventMetadata: EventMetadata {
        EventMetadata(
            causationID: commandID,
            correlationID: correlationID,
            sagaID: sagaID,
            userID: userID,
            commandType: commandType,
            time: now,
            extra: extraMetadata
        )
    }

    // MARK: - Aggregates

    /// Loads an aggregate that must exist (through its repository's cache).
    ///
    /// - Throws: ``AggregateNotFound`` (a ``CommandRejection/Code/notFound`` rejection) when it does not.
    public func load<State: Aggregate>(_ type: State.Type, id: UUID) async throws -> AggregateRoot<State> {
        try await dependencies.repositories.repository(for: type).load(id)
    }

    /// Loads an aggregate that must exist and must be at the version its caller read.
    ///
    /// - Parameter expectedVersion: the version the caller of the command said it read; `nil`
    ///   accepts any.
    /// - Throws: ``AggregateNotFound``; ``ExpectedVersionMismatch`` when the aggregate has moved on
    ///   (the bus does not retry it: the caller decided on a state that is gone).
    public func load<State: Aggregate>(
        _ type: State.Type, id: UUID, expectedVersion: UInt64?
    ) async throws -> AggregateRoot<State> {
        let root = try await load(type, id: id)
        if let expectedVersion, root.loadedVersion.map({ UInt64($0) }) != expectedVersion {
            throw ExpectedVersionMismatch(
                stream: try root.streamName(), expected: Int64(clamping: expectedVersion), current: root.loadedVersion)
        }
        return root
    }

    /// Loads an aggregate, or returns `nil` when it does not exist.
    public func loadIfPresent<State: Aggregate>(
        _ type: State.Type, id: UUID
    ) async throws -> AggregateRoot<State>? {
        try await dependencies.repositories.repository(for: type).loadIfPresent(id)
    }

    /// Stages the aggregate's uncommitted events; the bus appends them when the handler returns,
    /// expecting the version the aggregate was loaded at, together with the command's outcome.
    ///
    /// Saving the same aggregate again replaces the earlier staging (the later value holds every
    /// event since the load). Saving a second, different aggregate throws ``MoreThanOneAggregate``:
    /// two appends could not be one atomic write. With `lease`, the append carries the lock's fencing token and is
    /// refused (``CommandBusError/Code/lockLost``) if the lock was acquired by someone else since.
    /// `extraMetadata` is added to the command's own extra metadata on these events (never a secret).
    public func save<State: Aggregate>(
        _ root: AggregateRoot<State>, fencedBy lease: LockLease? = nil, extraMetadata: [String: String] = [:]
    ) throws {
        guard !root.uncommittedEvents.isEmpty else { return }
        let stream = try root.streamName()
        let repository = dependencies.repositories.repository(for: State.self)
        let fencing = lease?.fencing
        let write = StagedWrite(stream: stream) { metadata, command in
            var root = root
            var metadata = metadata
            metadata.extra.merge(extraMetadata) { _, added in added }
            return try await repository.save(&root, metadata: metadata, command: command, fencing: fencing)
        }
        try staging.withLock { staging in
            if let staged = staging.write, staged.stream != stream {
                throw MoreThanOneAggregate(saved: staged.stream, other: stream)
            }
            staging.write = write
        }
    }

    // MARK: - Locks

    /// Acquires the distributed lock on `key` for this command: held until the command has
    /// committed (or failed), and kept across the bus's retries after version conflicts, so a retry
    /// never waits for its own lease. Pass the lease to ``save(_:fencedBy:extraMetadata:)`` so the
    /// append is refused if the lease ran out and someone else took the lock meanwhile.
    ///
    /// - Throws: ``LockError`` `.timeout` when the lock stayed held by others for `timeout`.
    public func lock(_ key: String, ttl: Duration, timeout: Duration) async throws -> LockLease {
        try await leases.lease(key, now: clock.now()) {
            try await self.dependencies.lock.acquire(key, ttl: ttl, timeout: timeout)
        }
    }

    // MARK: - Other commands and queries

    /// Sends another command for the same request, with this command's correlation id, user, saga
    /// and extra metadata. It commits on its own, before this command does.
    ///
    /// Its id derives from this command's id, the order of the send in the attempt and the command
    /// type: when this command runs again (a retry after a conflict, or a client repeating its
    /// command id after a failure), its sends get the same ids, so each command it sends is applied
    /// once and answered from its recorded outcome after that.
    public func send<C: Command>(_ command: C) async throws(CommandBusError) -> CommandOutcome<C.Result> {
        let index = staging.withLock { staging in
            defer { staging.sent += 1 }
            return staging.sent
        }
        let outcome = try await bus.send(
            command,
            options: CommandOptions(
                commandID: NameBasedUUID.make(namespace: commandID, name: "send \(index) \(C.commandType)"),
                correlationID: correlationID, userID: userID, sagaID: sagaID, extraMetadata: extraMetadata))
        if let position = outcome.position {
            staging.withLock { $0.lastPosition = max($0.lastPosition ?? 0, position) }
        }
        return outcome
    }

    /// Asks the query bus.
    public func ask<Q: Query>(
        _ query: Q, consistency: ReadConsistency = .eventual
    ) async throws(QueryBusError) -> Q.Result {
        try await dependencies.queries.ask(query, consistency: consistency)
    }

    // MARK: - Committing (the bus)

    /// Whether there is a staged write.
    var hasStagedWrites: Bool { staging.withLock { $0.write != nil } }

    /// How many appends this attempt has committed.
    var appendsCommitted: Int { staging.withLock { $0.appended } }

    /// The newest global position this attempt's append or the commands it sent reached.
    var lastPosition: Int64? { staging.withLock { $0.lastPosition } }

    /// Appends the staged write with `record`; returns its result, or `nil` if nothing was staged.
    @discardableResult
    func commitStaged(record: CommandRecord?) async throws -> AppendResult? {
        guard
            let write = staging.withLock({ staging in
                defer { staging.write = nil }
                return staging.write
            })
        else { return nil }
        guard let result = try await write.commit(eventMetadata, record) else { return nil }
        staging.withLock { staging in
            staging.appended += 1
            staging.lastPosition = max(staging.lastPosition ?? 0, result.lastPosition)
        }
        return result
    }
}
