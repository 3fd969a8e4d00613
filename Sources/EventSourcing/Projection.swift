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

    /// Whether the projection looks at `event`; the others are skipped (but still move its position).
    func handles(_ event: RecordedEvent) -> Bool

    /// Applies one event to the read model.
    func apply(_ event: RecordedEvent, to models: any ReadModelWriter) throws
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
