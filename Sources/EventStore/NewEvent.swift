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
///
/// Its fields live in one shared, immutable box: a copy (into a subscriber's page, a batch, a
/// cache) costs one reference count, not one per string and payload it holds.
public struct RecordedEvent: Sendable, Hashable {
    /// The fields. Immutable, so sharing one between copies and threads is safe.
    private final class Fields: Sendable {
        let id: UUID
        let stream: StreamName
        let version: Int64
        let position: Int64
        let type: String
        let data: Data
        let metadata: EventMetadata

        init(
            id: UUID, stream: StreamName, version: Int64, position: Int64, type: String, data: Data,
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
    }

    private let fields: Fields

    /// The event's unique id.
    public var id: UUID { fields.id }
    /// The stream the event belongs to.
    public var stream: StreamName { fields.stream }
    /// The event's version in its stream: 0 for the first event, then 1, 2, … without holes.
    public var version: Int64 { fields.version }
    /// The event's position in the global log: 1 for the first event ever committed, strictly
    /// increasing in commit order, without holes.
    public var position: Int64 { fields.position }
    /// The event type.
    public var type: String { fields.type }
    /// The encoded event.
    public var data: Data { fields.data }
    /// Causation, correlation, saga, user, command type, time and extra metadata.
    public var metadata: EventMetadata { fields.metadata }

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
        fields = Fields(
            id: id, stream: stream, version: version, position: position, type: type, data: data, metadata: metadata)
    }

    public static func == (left: RecordedEvent, right: RecordedEvent) -> Bool {
        if left.fields === right.fields { return true }
        return left.id == right.id && left.stream == right.stream && left.version == right.version
            && left.position == right.position && left.type == right.type && left.data == right.data
            && left.metadata == right.metadata
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(stream)
        hasher.combine(version)
        hasher.combine(position)
        hasher.combine(type)
        hasher.combine(data)
        hasher.combine(metadata)
    }

    /// A rough count of the memory the event holds, for bounding buffers.
    public var approximateByteCount: Int {
        // The fixed part covers the ids, integers and string headers; the variable part the payloads.
        160 + data.count + type.utf8.count + stream.rawValue.utf8.count + (metadata.commandType?.utf8.count ?? 0)
            + metadata.extraByteCount
    }
}
