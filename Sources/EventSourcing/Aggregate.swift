import EventStore
import Foundation

/// The state of an event-sourced aggregate, built only by folding its events.
///
/// A conforming type is a value holding what the aggregate's business rules need to decide. Its
/// ``apply(_:)`` is pure: a `switch` over the aggregate's events that changes the state and does
/// nothing else (no I/O, no clock, no randomness, no throwing), so loading replays exactly what
/// happened. Business methods live in an extension of ``AggregateRoot`` constrained to the state
/// type: they check the rules against ``AggregateRoot/state`` and ``AggregateRoot/emit(_:)`` events.
///
/// ```swift
/// extension AggregateRoot where State == Account {
///     mutating func withdraw(_ amount: Int) throws {
///         guard amount <= state.balance else { throw CommandRejection(.failedPrecondition, "insufficient funds") }
///         emit(.withdrawn(amount))
///     }
/// }
/// ```
public protocol Aggregate: Sendable {
    /// The aggregate's events, usually an enum.
    associatedtype Event: Sendable
    /// How the events become bytes in the store and back.
    associatedtype Codec: EventCodec where Codec.Event == Event

    /// The type part of the aggregate's stream names (`order` in `order-<uuid>`): 1 to 64 lowercase
    /// letters, digits and `_`, starting with a letter.
    static var streamType: String { get }

    /// The codec of the aggregate's events.
    static var eventCodec: Codec { get }

    /// The state of an aggregate with no events yet.
    init(id: UUID)

    /// Folds one event into the state. Pure; see the protocol's documentation.
    mutating func apply(_ event: Event)
}

/// An aggregate whose state can be saved as a snapshot, so loading it starts from the newest
/// snapshot and replays only the events after it.
public protocol SnapshottingAggregate: Aggregate {
    /// The layout of ``encodeSnapshot()``'s bytes. Bump it whenever the layout changes: snapshots of
    /// other shapes are then ignored (the aggregate is rebuilt from its events) rather than misread.
    static var snapshotShapeVersion: Int { get }

    /// Encodes the state.
    func encodeSnapshot() throws -> Data

    /// Decodes a state encoded by ``encodeSnapshot()`` with the current shape version.
    init(id: UUID, snapshot: Data) throws
}

/// An event as the store keeps it: its type name and its encoded payload.
public struct EncodedEvent: Sendable, Hashable {
    /// The event type, such as `OrderCreated` (see ``NewEvent/type`` for the rules).
    public var type: String
    /// The encoded payload.
    public var data: Data

    /// Makes an encoded event.
    public init(type: String, data: Data) {
        self.type = type
        self.data = data
    }
}

/// Turns an aggregate's events into ``EncodedEvent``s and back.
///
/// The domain plugs its wire codecs in here (the TradeCore protobuf messages, keyed by message
/// name). Decoding must not trap on bad bytes: it throws, and the repository reports the stream,
/// version and type that could not be read.
public protocol EventCodec: Sendable {
    /// The events this codec handles.
    associatedtype Event

    /// Encodes an event.
    func encode(_ event: Event) throws -> EncodedEvent

    /// Decodes an event of the type `encoded.type`; throws for an unknown type or bad bytes.
    func decode(_ encoded: EncodedEvent) throws -> Event
}
