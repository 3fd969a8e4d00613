import EventStore
import Foundation
import Logging

/// Loads and saves the aggregates of one type: the seed's `_load_aggregate` and
/// `publish_and_commit_events`.
///
/// - Load: the newest snapshot (for a ``SnapshottingAggregate``) plus the events after it. A bounded
///   cache (least recently used out) keeps warm aggregates: a cached aggregate is checked against
///   the stream's version (which a store may answer from memory) and brought up to date by reading
///   only the events after its version when the stream moved, so a hot aggregate is not replayed
///   per command, and writes made elsewhere (another repository, another process) are seen. Committed events never change, so a cached state is never wrong,
///   only possibly behind.
/// - Save: appends the uncommitted events expecting the version the aggregate was loaded at, each
///   with its own time-ordered event id and the caller's metadata, then marks them committed and
///   caches the result. A ``VersionConflict`` is thrown as is (the command bus reloads and retries).
/// - Snapshots: after a save that crossed the scheduler's interval, the state is encoded and saved
///   in the background (``SnapshotScheduler``); a save never waits for it.
public final class Repository<State: Aggregate>: Sendable {
    /// What the repository did, for tests and metrics.
    public typealias Statistics = RepositoryStatistics

    private let store: any EventStore
    private let cache: AggregateCache
    private let snapshots: SnapshotScheduler?
    private let snapshotShape: Int?
    private let pageSize: Int
    private let logger: Logger

    /// Makes a repository over `store`.
    ///
    /// - Parameters:
    ///   - cacheCapacity: the most aggregates kept warm.
    ///   - snapshots: where to schedule snapshots; `nil` takes none. Only a ``SnapshottingAggregate``
    ///     is snapshotted and loaded from snapshots.
    ///   - pageSize: events per read when replaying.
    public init(
        store: any EventStore,
        cacheCapacity: Int = 1_000,
        snapshots: SnapshotScheduler? = nil,
        pageSize: Int = 500,
        logger: Logger = Logger(label: "tradecore.eventsourcing.repository")
    ) {
        self.store = store
        self.cache = AggregateCache(capacity: cacheCapacity)
        self.snapshots = snapshots
        self.snapshotShape = (State.self as? any SnapshottingAggregate.Type)?.snapshotShapeVersion
        self.pageSize = max(pageSize, 1)
        self.logger = logger
    }

    /// The repository's counters.
    public var statistics: Statistics { cache.statistics }

    /// Loads an aggregate that must exist.
    ///
    /// - Throws: ``AggregateNotFound`` when its stream has no events; ``UndecodableEvent`` when a
    ///   stored event cannot be decoded; the store's errors.
    public func load(_ id: UUID) async throws -> AggregateRoot<State> {
        guard let root = try await loadIfPresent(id) else {
            throw AggregateNotFound(stream: try StreamName(type: State.streamType, id: id))
        }
        return root
    }

    /// Loads an aggregate, or returns `nil` when its stream has no events.
    public func loadIfPresent(_ id: UUID) async throws -> AggregateRoot<State>? {
        // An entry of another type could only come from a bug; it is treated as a miss.
        if var cached = (cache.entry(for: id)?.root as? CachedRoot<State>)?.root {
            let stream = try cached.streamName()
            let before = cached.loadedVersion
            // The stream's version is usually known without a read (the SQLite store keeps the
            // versions it committed); only a stream that moved is read, from after the cache.
            let current = try await store.streamVersion(stream)
            if current != before {
                let replayed = try await catchUp(&cached, stream: stream)
                remember(cached) { $0.eventsReplayed += replayed }
            }
            return cached
        }
        let stream = try StreamName(type: State.streamType, id: id)
        guard let loaded = try await loadFromStore(id, stream: stream) else { return nil }
        remember(loaded)
        return loaded
    }

    /// Appends the aggregate's uncommitted events and marks them committed.
    ///
    /// Each event gets a new UUIDv7 id and a copy of `metadata` (causation, correlation, saga,
    /// user, command type, time, extra). The append expects the stream at ``AggregateRoot/loadedVersion``
    /// (absent for a new aggregate), and carries `command` and `fencing` when given. Returns `nil`,
    /// writing nothing, when there is nothing to save (a command record needs an append to ride on;
    /// record it with ``EventStore/recordCommand(_:)`` instead).
    ///
    /// - Throws: ``VersionConflict`` when the stream moved since the load (the aggregate is left as
    ///   it was); ``InvalidEvent`` for an event its codec does not read back; ``DuplicateCommand``;
    ///   the store's and the codec's errors. Nothing is written then.
    @discardableResult
    public func save(
        _ root: inout AggregateRoot<State>,
        metadata: EventMetadata,
        command: CommandRecord? = nil,
        fencing: FencingCheck? = nil
    ) async throws -> AppendResult? {
        guard !root.uncommittedEvents.isEmpty else { return nil }
        let codec = State.eventCodec
        var events: [NewEvent] = []
        events.reserveCapacity(root.uncommittedEvents.count)
        for event in root.uncommittedEvents {
            let encoded = try codec.encode(event)
            // An event that does not read back would make the aggregate unloadable once stored.
            do {
                _ = try codec.decode(encoded)
            } catch {
                throw InvalidEvent(stream: try root.streamName(), type: encoded.type, reason: "\(error)")
            }
            events.append(NewEvent(type: encoded.type, data: encoded.data, metadata: metadata))
        }
        let request = AppendRequest(
            stream: try root.streamName(),
            expectedVersion: root.expectedVersion,
            events: events,
            command: command,
            fencing: fencing
        )
        let result = try await store.append(request)
        root.markCommitted(version: result.version)
        remember(root) { $0.saves += 1 }
        scheduleSnapshot(of: root, after: result)
        return result
    }

    /// Forgets every cached aggregate (the next loads read from the store).
    public func clearCache() {
        cache.removeAll()
    }

    // MARK: - Loading

    private func loadFromStore(_ id: UUID, stream: StreamName) async throws -> AggregateRoot<State>? {
        var root = AggregateRoot<State>(id: id)
        var snapshotUsed = false
        var snapshotUnreadable = false
        var replayed = 0
        if let snapshotShape, let type = State.self as? any SnapshottingAggregate.Type {
            let load = try await store.load(stream, shapeVersion: snapshotShape, pageSize: pageSize)
            if let snapshot = load.snapshot {
                do {
                    guard let state = try type.init(id: id, snapshot: snapshot.data) as? State else {
                        throw SnapshotTypeMismatch()
                    }
                    root = AggregateRoot(id: id, state: state, version: snapshot.version)
                    snapshotUsed = true
                } catch {
                    // A snapshot is an optimisation: rebuild from the events rather than fail the load.
                    snapshotUnreadable = true
                    logger.warning(
                        "could not decode a snapshot; replaying the stream instead",
                        metadata: ["eventsourcing.stream": "\(stream)", "eventsourcing.error": "\(error)"]
                    )
                }
            }
            // The load holds the events after the snapshot, or all of them when there is none; only
            // an unreadable snapshot sends the load back to the stream's start.
            if snapshotUsed || load.snapshot == nil {
                for event in load.events {
                    root.replay(try decode(event), version: event.version)
                }
                replayed = load.events.count
            } else {
                replayed = try await catchUp(&root, stream: stream)
            }
        } else {
            replayed = try await catchUp(&root, stream: stream)
        }
        cache.count {
            $0.cacheMisses += 1
            $0.eventsReplayed += replayed
            if snapshotUsed { $0.snapshotsUsed += 1 }
            if snapshotUnreadable { $0.snapshotsUnreadable += 1 }
        }
        return root.loadedVersion == nil ? nil : root
    }

    /// Folds the events after the root's version; returns how many.
    private func catchUp(_ root: inout AggregateRoot<State>, stream: StreamName) async throws -> Int {
        var replayed = 0
        while true {
            let next = (root.loadedVersion ?? -1) + 1
            let page = try await store.readStream(stream, from: next, direction: .forward, limit: pageSize)
            for event in page {
                root.replay(try decode(event), version: event.version)
            }
            replayed += page.count
            guard page.count == pageSize else { return replayed }
        }
    }

    private func decode(_ event: RecordedEvent) throws -> State.Event {
        do {
            return try State.eventCodec.decode(EncodedEvent(type: event.type, data: event.data))
        } catch {
            throw UndecodableEvent(stream: event.stream, version: event.version, type: event.type, reason: "\(error)")
        }
    }

    /// Caches a committed state, unless the cache already holds a newer one, and counts under the
    /// same lock.
    private func remember(_ root: AggregateRoot<State>, counting count: (inout Statistics) -> Void = { _ in }) {
        cache.remember(CachedRoot(root), version: root.loadedVersion ?? -1, for: root.id, counting: count)
    }

    // MARK: - Snapshots

    private func scheduleSnapshot(of root: AggregateRoot<State>, after result: AppendResult) {
        guard let snapshots, let snapshotShape, snapshots.policy.isDue(after: result),
            let state = root.state as? any SnapshottingAggregate
        else { return }
        let stream = result.stream
        let version = result.version
        snapshots.appended(result) {
            Snapshot(stream: stream, version: version, shapeVersion: snapshotShape, data: try state.encodeSnapshot())
        }
    }
}

/// A snapshot decoded into another type than the repository's: a bug in the aggregate's conformance.
private struct SnapshotTypeMismatch: Error, CustomStringConvertible {
    var description: String { "the snapshot decoded into another type than the aggregate's" }
}
