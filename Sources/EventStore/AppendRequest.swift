/// One append: events for one stream, with the version the caller expects the stream to be at.
///
/// All events of one request are committed together or not at all, and so is the command record
/// it may carry. Checks run in this order: an exact retry of a committed append returns its first
/// result; a command id already recorded is refused with ``DuplicateCommand``; the expected version
/// must hold (``VersionConflict``); the fencing token must be the newest issued for its key
/// (``EventStoreError/Code/staleFencingToken``).
public struct AppendRequest: Sendable, Hashable {
    /// The stream to append to.
    public var stream: StreamName
    /// The optimistic-concurrency check.
    public var expectedVersion: ExpectedVersion
    /// The events, in order; at least one.
    public var events: [NewEvent]
    /// The outcome of the command that produced the events, committed with them; see ``CommandRecord``.
    public var command: CommandRecord?
    /// A lock's fencing token that must still be the newest for its key; see ``FencingCheck``.
    public var fencing: FencingCheck?

    /// Makes an append request.
    public init(
        stream: StreamName,
        expectedVersion: ExpectedVersion,
        events: [NewEvent],
        command: CommandRecord? = nil,
        fencing: FencingCheck? = nil
    ) {
        self.stream = stream
        self.expectedVersion = expectedVersion
        self.events = events
        self.command = command
        self.fencing = fencing
    }
}

/// What a successful append committed.
///
/// A retry of an append that was already committed returns the same result as the first time.
public struct AppendResult: Sendable, Hashable {
    /// The stream appended to.
    public let stream: StreamName
    /// The version of the first event of the append; also the number of events the stream held before it.
    public let firstVersion: Int64
    /// The stream's version after the append: the version of its last event.
    public let version: Int64
    /// The global position of each event of the append, in order.
    public let positions: [Int64]

    /// Makes a result; backends build these.
    public init(stream: StreamName, firstVersion: Int64, positions: [Int64]) {
        self.stream = stream
        self.firstVersion = firstVersion
        self.version = firstVersion + Int64(positions.count) - 1
        self.positions = positions
    }

    /// The global position of the last event of the append.
    public var lastPosition: Int64 { positions.last ?? 0 }
}

/// An append whose expected version did not hold, thrown by ``EventStore/append(_:)``.
///
/// It carries what the caller needs to rebase without a second read: the stream's current version
/// and the events written after the version the caller expected.
public struct VersionConflict: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the append conflicted.
    public enum Reason: Sendable, Hashable {
        /// The stream's version is not the one expected.
        case wrongExpectedVersion
        /// Some of the append's event ids are already committed in the stream, but not as the exact
        /// same append: only part of it, or at other versions. A retry must send the same events.
        case partiallyCommittedRetry
    }

    /// The stream appended to.
    public let stream: StreamName
    /// What the caller expected.
    public let expected: ExpectedVersion
    /// The stream's current version; `nil` if the stream does not exist.
    public let currentVersion: Int64?
    /// Why the append conflicted.
    public let reason: Reason
    /// The events after the expected version, oldest first: after version `n` for `.exact(n)`, the
    /// whole stream for `.noStream`, none for the other expectations.
    public let eventsSinceExpected: [RecordedEvent]
    /// False when ``eventsSinceExpected`` was cut at the store's limit (read the rest from the stream).
    public let eventsSinceExpectedAreComplete: Bool

    /// Makes a conflict; backends build these.
    public init(
        stream: StreamName,
        expected: ExpectedVersion,
        currentVersion: Int64?,
        reason: Reason,
        eventsSinceExpected: [RecordedEvent],
        eventsSinceExpectedAreComplete: Bool
    ) {
        self.stream = stream
        self.expected = expected
        self.currentVersion = currentVersion
        self.reason = reason
        self.eventsSinceExpected = eventsSinceExpected
        self.eventsSinceExpectedAreComplete = eventsSinceExpectedAreComplete
    }

    public var description: String {
        let current = currentVersion.map { "version \($0)" } ?? "no stream"
        switch reason {
        case .wrongExpectedVersion:
            return "version conflict on \(stream): expected \(expected), found \(current)"
        case .partiallyCommittedRetry:
            return "version conflict on \(stream): some event ids of this append are already committed, "
                + "but not as this append (expected \(expected), found \(current))"
        }
    }
}
