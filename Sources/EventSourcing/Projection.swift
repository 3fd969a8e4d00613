import EventStore

/// Keeps a read model from the global log: the seed's projectors.
///
/// ``apply(_:to:)`` is called for each event the projection ``handles(_:)``, in log order, inside
/// the transaction that also moves the projection's checkpoint; it must only write through the
/// writer it is given (no other I/O), and be deterministic, so a rebuild from position 0 produces
/// the same rows as applying the log incrementally.
public protocol Projection: Sendable {
    /// The projection's name: the key of its checkpoint, and what query handlers name to wait for
    /// it. Keep it stable; renaming it rebuilds the read model from scratch.
    var name: String { get }

    /// The collections the projection owns: a rebuild empties them before replaying.
    var collections: [String] { get }

    /// The version of what ``apply(_:to:)`` writes; 1 unless the projection says otherwise. Raise
    /// it when the projection writes something else for the same events (a new field, another
    /// key): its runner then rebuilds the read model from the start of the log before it follows
    /// the log again, so no read model mixes rows of two shapes.
    var version: Int { get }

    /// Whether the projection looks at `event`; the others are skipped (but still move its position).
    func handles(_ event: RecordedEvent) -> Bool

    /// Applies one event to the read model.
    func apply(_ event: RecordedEvent, to models: any ReadModelWriter) throws
}

extension Projection {
    public var version: Int { 1 }
}

/// A read model was built by a newer version of its projection than the one running: a server
/// older than the read model must not write into it.
public struct ProjectionVersionTooNew: Error, Sendable, Hashable, CustomStringConvertible {
    /// The projection.
    public let projection: String
    /// The version that built the read model.
    public let built: Int
    /// The version this process runs.
    public let running: Int

    public var description: String {
        "the read model of projection \(projection) was built by version \(built) of it, but this server runs "
            + "version \(running): run a server at least as new, or rebuild the read models with this one"
    }
}

/// A projection failed to apply an event: its batch was rolled back and its runner stopped.
public struct ProjectionFailure: Error, Sendable, CustomStringConvertible {
    /// The projection.
    public let projection: String
    /// The global position of the event.
    public let position: Int64
    /// The event's type.
    public let eventType: String
    /// The error the projection threw.
    public let underlying: any Error

    public var description: String {
        "projection \(projection) failed on event \(position) (\(eventType)): \(underlying)"
    }
}
