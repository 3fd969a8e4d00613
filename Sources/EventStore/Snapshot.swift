import Foundation

/// The encoded state of an aggregate as of one version of its stream.
///
/// Loading an aggregate starts from its newest snapshot and applies only the events after it. The
/// shape version names the layout of `data`: when an aggregate's state changes shape, it bumps the
/// number, and snapshots of other shapes are ignored rather than decoded with the wrong layout.
public struct Snapshot: Sendable, Hashable {
    /// The aggregate's stream.
    public var stream: StreamName
    /// The stream version the state reflects: the state after applying events 0 through `version`.
    public var version: Int64
    /// The layout of `data`, chosen by the aggregate.
    public var shapeVersion: Int
    /// The encoded state.
    public var data: Data
    /// When the snapshot was taken, in Unix nanoseconds.
    public var time: Int64

    /// Makes a snapshot; `time` defaults to now.
    public init(
        stream: StreamName, version: Int64, shapeVersion: Int, data: Data, time: Int64 = UnixTime.nowNanoseconds()
    ) {
        self.stream = stream
        self.version = version
        self.shapeVersion = shapeVersion
        self.data = data
        self.time = time
    }
}

/// When to take a snapshot: after every `interval` events of a stream.
public struct SnapshotPolicy: Sendable, Hashable {
    /// Events between snapshots; `nil` never snapshots.
    public let interval: Int64?

    /// Snapshot each time a stream's event count crosses a multiple of `interval` (at least 1).
    public static func every(_ interval: Int64) -> SnapshotPolicy { SnapshotPolicy(interval: max(interval, 1)) }

    /// Never snapshot.
    public static let never = SnapshotPolicy(interval: nil)

    /// Whether the append that produced `result` crossed a multiple of the interval.
    ///
    /// An append of several events may jump over the exact multiple; it still counts, so a stream
    /// never goes more than about `interval` events without a snapshot.
    public func isDue(after result: AppendResult) -> Bool {
        guard let interval else { return false }
        let countBefore = result.firstVersion
        let countAfter = result.version + 1
        return countAfter / interval > countBefore / interval
    }
}

/// A stream read for loading an aggregate: the newest usable snapshot and the events after it.
public struct StreamLoad: Sendable, Hashable {
    /// The newest snapshot of the requested shape, if there is one.
    public var snapshot: Snapshot?
    /// The events after the snapshot (all events if there is none), oldest first.
    public var events: [RecordedEvent]

    /// Makes a load result.
    public init(snapshot: Snapshot?, events: [RecordedEvent]) {
        self.snapshot = snapshot
        self.events = events
    }

    /// The stream's version as loaded; `nil` if the stream does not exist.
    public var version: Int64? { events.last?.version ?? snapshot?.version }
}
