import Foundation

/// An event to append: its id, type, encoded data and metadata.
///
/// The id makes retries safe: appending an event whose id is already committed in the stream
/// returns the first result instead of writing it twice. Let the store generate ids (the default,
/// ``UUIDv7``): they are time-ordered, which keeps index inserts at the right edge of the B-tree.
public struct NewEvent: Sendable, Hashable {
    /// The event's unique id, in the whole store.
    public var id: UUID
    /// The event type, such as `OrderCreated`: 1 to 128 printable ASCII characters without spaces.
    public var type: String
    /// The encoded event (the domain chooses the encoding).
    public var data: Data
    /// Causation, correlation, saga, user, command type, time and extra metadata.
    public var metadata: EventMetadata

    /// Makes an event to append; the id defaults to a new time-ordered UUID.
    public init(id: UUID = UUIDv7.next(), type: String, data: Data, metadata: EventMetadata = EventMetadata()) {
        self.id = id
        self.type = type
        self.data = data
        self.metadata = metadata
    }
}

/// A committed event, as read back from the store.
public struct RecordedEvent: Sendable, Hashable {
    /// The event's unique id.
    public let id: UUID
    /// The stream the event belongs to.
    public let stream: StreamName
    /// The event's version in its stream: 0 for the first event, then 1, 2, … without holes.
    public let version: Int64
    /// The event's position in the global log: 1 for the first event ever committed, strictly
    /// increasing in commit order, without holes.
    public let position: Int64
    /// The event type.
    public let type: String
    /// The encoded event.
    public let data: Data
    /// Causation, correlation, saga, user, command type, time and extra metadata.
    public let metadata: EventMetadata

    /// Makes a recorded event; backends use this when they read events back.
    public init(
        id: UUID,
        stream: StreamName,
        version: Int64,
        position: Int64,
        type: String,
        data: Data,
        metadata: EventMetadata
    ) {
        self.id = id
        self.stream = stream
        self.version = version
        self.position = position
        self.type = type
        self.data = data
        self.metadata = metadata
    }

    /// A rough count of the memory the event holds, for bounding buffers.
    public var approximateByteCount: Int {
        // The fixed part covers the ids, integers and string headers; the variable part the payloads.
        160 + data.count + type.utf8.count + stream.rawValue.utf8.count + (metadata.commandType?.utf8.count ?? 0)
            + metadata.extraByteCount
    }
}
