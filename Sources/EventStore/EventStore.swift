import Foundation

/// An append-only store of event streams with a global log, snapshots and subscriptions.
///
/// The semantics every backend shares (and the conformance suite checks):
/// - A stream per aggregate, named `<type>-<uuid>`; its versions start at 0 and have no holes.
/// - ``append(_:)`` commits all events of a request or none. It checks the expected version and
///   throws ``VersionConflict`` when it does not hold, carrying the current version and the events
///   since the expected one. A retry of an append whose event ids are already committed in the
///   stream returns the first result and writes nothing; a partial match is a conflict.
/// - Every committed event gets a global position, strictly increasing in commit order, without
///   holes; a reader never sees a position before a smaller one.
/// - An append returns only once its events are durable (for a durable backend: on disk).
/// - Committed events are handed to ``subscriptions`` in commit order.
/// - Command records (``CommandRecord``) are unique by command id and commit atomically with the
///   append that carries them; fencing tokens (``FencingCheck``) grow with each issue, per key,
///   and survive restarts as long as the store's data does.
///
/// Every method may throw ``EventStoreError`` for bad input or failed storage.
public protocol EventStore: AnyObject, Sendable {
    /// Appends events to a stream, checking the expected version.
    ///
    /// - Throws: ``VersionConflict`` when the expected version does not hold (or a retry matches
    ///   only in part); ``EventStoreError`` for invalid input or failed storage. When it throws,
    ///   nothing of the request was committed, except that a storage failure may leave it
    ///   unknown whether the commit reached the disk — a retry with the same event ids is then safe.
    @discardableResult
    func append(_ request: AppendRequest) async throws -> AppendResult

    /// Reads up to `limit` events of a stream starting at `version`: ascending versions `version...`
    /// for `.forward`, descending versions `...version` for `.backward` (pass `Int64.max` to start
    /// from the newest). A stream that does not exist reads as empty.
    func readStream(
        _ stream: StreamName, from version: Int64, direction: ReadDirection, limit: Int
    ) async throws
        -> [RecordedEvent]

    /// The stream's current version (that of its last event), or `nil` if it does not exist.
    func streamVersion(_ stream: StreamName) async throws -> Int64?

    /// Reads up to `limit` events of the global log that pass `filter`, with positions from
    /// `position` on, in position order. Fewer than `limit` events means the read reached the head.
    func readAll(from position: Int64, filter: EventFilter, limit: Int) async throws -> [RecordedEvent]

    /// The position of the last committed event; 0 when the store is empty.
    func headPosition() async throws -> Int64

    /// Whether the store can take appends now, as far as it knows without writing, for health
    /// checks: throws the error an append would fail with when it cannot (the database cannot be
    /// reached; on SQLite, appends stopped after a storage failure). The default reads the head
    /// position.
    func checkAppendable() async throws

    /// Saves a snapshot, unless one at a later version of the same stream and shape is already
    /// stored. The snapshot's version must be a committed version of the stream.
    func saveSnapshot(_ snapshot: Snapshot) async throws

    /// The newest snapshot of `stream` with this shape version; snapshots of other shapes are ignored.
    func loadSnapshot(of stream: StreamName, shapeVersion: Int) async throws -> Snapshot?

    /// Loads a stream for rebuilding an aggregate: its newest snapshot of `shapeVersion` (if any)
    /// and every event after it. A default implementation reads through ``loadSnapshot(of:shapeVersion:)``
    /// and ``readStream(_:from:direction:limit:)`` in pages of `pageSize`; a backend may do it in one read.
    func load(_ stream: StreamName, shapeVersion: Int, pageSize: Int) async throws -> StreamLoad

    /// Records the outcome of a command that appended nothing (a rejection, or a command that emitted
    /// no events), durably, on its own.
    ///
    /// - Returns: the record as stored.
    /// - Throws: ``DuplicateCommand`` when the command id is already recorded (nothing is written);
    ///   ``EventStoreError`` for invalid input or failed storage.
    @discardableResult
    func recordCommand(_ record: CommandRecord) async throws -> RecordedCommand

    /// The record of a command, or `nil` if none is stored under `commandID` (never recorded, or purged).
    func recordedCommand(_ commandID: UUID) async throws -> RecordedCommand?

    /// Deletes the command records whose ``CommandRecord/time`` is before `time` (Unix nanoseconds);
    /// returns how many it deleted. After that, those command ids are no longer deduplicated.
    @discardableResult
    func purgeCommandRecords(recordedBefore time: Int64) async throws -> Int

    /// Issues a new fencing token for `key`: larger than every token issued for it before, durably
    /// (for a durable backend: on disk before it returns). A lock calls this on each acquisition;
    /// from then on, appends carrying an older token for `key` are refused.
    func issueFencingToken(for key: String) async throws -> Int64

    /// The hub that hands committed events to subscribers; see ``subscribe(_:filter:)``.
    var subscriptions: SubscriptionHub { get }

    /// Stops accepting work, finishes what was accepted, ends subscriptions and releases resources.
    func close() async
}

extension EventStore {
    public func checkAppendable() async throws {
        _ = try await headPosition()
    }

    /// Appends `events` to `stream` if it is at the `expected` version.
    @discardableResult
    public func append(
        to stream: StreamName,
        expected: ExpectedVersion,
        events: [NewEvent]
    ) async throws -> AppendResult {
        try await append(AppendRequest(stream: stream, expectedVersion: expected, events: events))
    }

    /// Subscribes to the events that pass `filter`, from `start` on: first those already committed,
    /// read from storage in pages, then live ones as they commit, with no gap and no duplicate.
    ///
    /// The subscription is registered when this returns, so events committed after this call are
    /// never missed; iterate it once, from one task. Cancelling the iterating task ends it.
    public func subscribe(_ start: SubscriptionStart, filter: EventFilter = .all) -> EventSubscription {
        subscriptions.subscribe(start, filter: filter, reader: self)
    }

    /// Loads a stream with the default page size; see ``load(_:shapeVersion:pageSize:)``.
    public func load(_ stream: StreamName, shapeVersion: Int) async throws -> StreamLoad {
        try await load(stream, shapeVersion: shapeVersion, pageSize: 1_000)
    }

    /// The default ``load(_:shapeVersion:pageSize:)``: the snapshot, then the later events in pages.
    public func load(_ stream: StreamName, shapeVersion: Int, pageSize: Int) async throws -> StreamLoad {
        let snapshot = try await loadSnapshot(of: stream, shapeVersion: shapeVersion)
        var events: [RecordedEvent] = []
        var next = snapshot.map { $0.version + 1 } ?? 0
        while true {
            let page = try await readStream(stream, from: next, direction: .forward, limit: pageSize)
            events.append(contentsOf: page)
            guard page.count == pageSize, let last = page.last else { break }
            next = last.version + 1
        }
        return StreamLoad(snapshot: snapshot, events: events)
    }
}
