import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Who and what caused an event.
public struct EventMetadata: Sendable, Hashable {
    /// The id of the command that produced the event.
    /// Field 1, `causation_id`.
    public var causationID: UUID?
    /// Shared by everything one request set in motion.
    /// Field 2, `correlation_id`.
    public var correlationID: UUID?
    /// Field 3, `saga_id`.
    public var sagaID: UUID?
    /// Field 4, `user_id`.
    public var userID: UUID?
    /// The command's message name, e.g. "tradecore.order.v1.CreateOrder".
    /// Field 5, `command_type`.
    public var commandType: String

    /// Creates the message.
    public init(
        causationID: UUID? = nil,
        correlationID: UUID? = nil,
        sagaID: UUID? = nil,
        userID: UUID? = nil,
        commandType: String = ""
    ) {
        self.causationID = causationID
        self.correlationID = correlationID
        self.sagaID = sagaID
        self.userID = userID
        self.commandType = commandType
    }
}

extension EventMetadata: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            causationID: nil,
            correlationID: nil,
            sagaID: nil,
            userID: nil,
            commandType: "")
    }

    public static let protoSchema = ProtoSchema<EventMetadata>(
        "tradecore.events.v1.EventMetadata",
        [
            .field("causation_id", 1, ProtoUUID.self, \.causationID),
            .field("correlation_id", 2, ProtoUUID.self, \.correlationID),
            .field("saga_id", 3, ProtoUUID.self, \.sagaID),
            .field("user_id", 4, ProtoUUID.self, \.userID),
            .field("command_type", 5, ProtoString.self, \.commandType),
        ])
}

/// One committed event.
public struct EventEnvelope: Sendable, Hashable {
    /// The event's place in the whole log: strictly increasing in commit order.
    /// Field 1, `global_position`.
    public var globalPosition: UInt64
    /// The stream the event belongs to, "<stream_type>-<uuid>", e.g. "order-…".
    /// Field 2, `stream`.
    public var stream: String
    /// The stream's type, e.g. "order".
    /// Field 3, `stream_type`.
    public var streamType: String
    /// The event's version within its stream: 0 for the first, no holes.
    /// Field 4, `version`.
    public var version: UInt64
    /// The payload's message name without package, e.g. "OrderCreated".
    /// Field 5, `event_type`.
    public var eventType: String
    /// Field 6, `event_id`.
    public var eventID: UUID
    /// Field 7, `recorded_at`.
    public var recordedAt: Int64
    /// Field 8, `metadata`.
    public var metadata: EventMetadata?
    /// The event message, serialized.
    /// Field 9, `payload`.
    public var payload: [UInt8]

    /// Creates the message.
    public init(
        globalPosition: UInt64 = 0,
        stream: String,
        streamType: String,
        version: UInt64 = 0,
        eventType: String,
        eventID: UUID,
        recordedAt: Int64,
        metadata: EventMetadata? = nil,
        payload: [UInt8] = []
    ) {
        self.globalPosition = globalPosition
        self.stream = stream
        self.streamType = streamType
        self.version = version
        self.eventType = eventType
        self.eventID = eventID
        self.recordedAt = recordedAt
        self.metadata = metadata
        self.payload = payload
    }
}

extension EventEnvelope: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            globalPosition: 0,
            stream: "",
            streamType: "",
            version: 0,
            eventType: "",
            eventID: .protoPlaceholder,
            recordedAt: 0,
            metadata: nil,
            payload: [])
    }

    public static let protoSchema = ProtoSchema<EventEnvelope>(
        "tradecore.events.v1.EventEnvelope",
        [
            .field("global_position", 1, ProtoUInt64.self, \.globalPosition),
            .field("stream", 2, ProtoString.self, \.stream, required: true),
            .field("stream_type", 3, ProtoString.self, \.streamType, required: true),
            .field("version", 4, ProtoUInt64.self, \.version),
            .field("event_type", 5, ProtoString.self, \.eventType, required: true),
            .field("event_id", 6, ProtoUUID.self, \.eventID),
            .field("recorded_at", 7, ProtoInt64.self, \.recordedAt, required: true),
            .field("metadata", 8, ProtoMessageCodec<EventMetadata>.self, \.metadata),
            .field("payload", 9, ProtoBytes.self, \.payload),
        ])
}

/// A position within one stream.
public struct StreamVersion: Sendable, Hashable {
    /// Field 1, `stream`.
    public var stream: String
    /// Field 2, `version`.
    public var version: UInt64

    /// Creates the message.
    public init(
        stream: String,
        version: UInt64 = 0
    ) {
        self.stream = stream
        self.version = version
    }
}

extension StreamVersion: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            stream: "",
            version: 0)
    }

    public static let protoSchema = ProtoSchema<StreamVersion>(
        "tradecore.events.v1.StreamVersion",
        [
            .field("stream", 1, ProtoString.self, \.stream, required: true),
            .field("version", 2, ProtoUInt64.self, \.version),
        ])
}

/// Which events a subscription delivers. Empty lists do not filter; an event passes when it
/// matches every non-empty list.
public struct SubscriptionFilter: Sendable, Hashable {
    /// Field 1, `stream_types`.
    public var streamTypes: [String]
    /// Field 2, `streams`.
    public var streams: [String]
    /// Field 3, `event_types`.
    public var eventTypes: [String]

    /// Creates the message.
    public init(
        streamTypes: [String] = [],
        streams: [String] = [],
        eventTypes: [String] = []
    ) {
        self.streamTypes = streamTypes
        self.streams = streams
        self.eventTypes = eventTypes
    }
}

extension SubscriptionFilter: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            streamTypes: [],
            streams: [],
            eventTypes: [])
    }

    public static let protoSchema = ProtoSchema<SubscriptionFilter>(
        "tradecore.events.v1.SubscriptionFilter",
        [
            .repeated("stream_types", 1, ProtoString.self, \.streamTypes),
            .repeated("streams", 2, ProtoString.self, \.streams),
            .repeated("event_types", 3, ProtoString.self, \.eventTypes),
        ])
}

/// Opens a subscription. Without a start, delivery begins at the first event of the log.
public struct SubscribeRequest: Sendable, Hashable {
    /// The `start` oneof.
    public enum Start: Sendable, Hashable {
        /// Resume after this global position (the last one the subscriber handled).
        case afterPosition(UInt64)
        /// Resume after this version of one stream (with a filter on that stream).
        case afterStreamVersion(StreamVersion)
    }

    /// Field 3, `filter`.
    public var filter: SubscriptionFilter?
    /// How often an idle subscription is sent a checkpoint; absent: the server's default.
    /// Field 4, `checkpoint_interval_ms`.
    public var checkpointIntervalMs: UInt32
    /// The `start` oneof: fields 1, 2.
    public var start: Start?

    /// Creates the message.
    public init(
        filter: SubscriptionFilter? = nil,
        checkpointIntervalMs: UInt32 = 0,
        start: Start? = nil
    ) {
        self.filter = filter
        self.checkpointIntervalMs = checkpointIntervalMs
        self.start = start
    }
}

extension SubscribeRequest: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            filter: nil,
            checkpointIntervalMs: 0,
            start: nil)
    }

    public static let protoSchema = ProtoSchema<SubscribeRequest>(
        "tradecore.events.v1.SubscribeRequest",
        [
            .oneof(
                "start", "after_position", 1, ProtoUInt64.self,
                get: { if case .afterPosition(let value) = $0.start { value } else { nil } },
                set: { $0.start = .afterPosition($1) }),
            .oneof(
                "start", "after_stream_version", 2, ProtoMessageCodec<StreamVersion>.self,
                get: { if case .afterStreamVersion(let value) = $0.start { value } else { nil } },
                set: { $0.start = .afterStreamVersion($1) }),
            .field("filter", 3, ProtoMessageCodec<SubscriptionFilter>.self, \.filter),
            .field("checkpoint_interval_ms", 4, ProtoUInt32.self, \.checkpointIntervalMs),
        ])
}

/// One message of a subscription's stream.
public struct SubscribeResponse: Sendable, Hashable {
    /// The `message` oneof.
    public enum Message: Sendable, Hashable {
        case event(EventEnvelope)
        case checkpoint(SubscriptionCheckpoint)
        case caughtUp(SubscriptionCaughtUp)
        case fellBehind(SubscriptionFellBehind)
    }

    /// The `message` oneof: fields 1, 2, 3, 4.
    public var message: Message?

    /// Creates the message.
    public init(
        message: Message? = nil
    ) {
        self.message = message
    }
}

extension SubscribeResponse: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            message: nil)
    }

    public static let protoSchema = ProtoSchema<SubscribeResponse>(
        "tradecore.events.v1.SubscribeResponse",
        [
            .oneof(
                "message", "event", 1, ProtoMessageCodec<EventEnvelope>.self,
                get: { if case .event(let value) = $0.message { value } else { nil } },
                set: { $0.message = .event($1) }),
            .oneof(
                "message", "checkpoint", 2, ProtoMessageCodec<SubscriptionCheckpoint>.self,
                get: { if case .checkpoint(let value) = $0.message { value } else { nil } },
                set: { $0.message = .checkpoint($1) }),
            .oneof(
                "message", "caught_up", 3, ProtoMessageCodec<SubscriptionCaughtUp>.self,
                get: { if case .caughtUp(let value) = $0.message { value } else { nil } },
                set: { $0.message = .caughtUp($1) }),
            .oneof(
                "message", "fell_behind", 4, ProtoMessageCodec<SubscriptionFellBehind>.self,
                get: { if case .fellBehind(let value) = $0.message { value } else { nil } },
                set: { $0.message = .fellBehind($1) }),
        ])
}

/// Where the subscription is while nothing matches its filter, so an idle subscriber can save
/// its position.
public struct SubscriptionCheckpoint: Sendable, Hashable {
    /// Every event up to here has been delivered or filtered out.
    /// Field 1, `position`.
    public var position: UInt64
    /// The log's last committed position.
    /// Field 2, `head_position`.
    public var headPosition: UInt64

    /// Creates the message.
    public init(
        position: UInt64 = 0,
        headPosition: UInt64 = 0
    ) {
        self.position = position
        self.headPosition = headPosition
    }
}

extension SubscriptionCheckpoint: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            position: 0,
            headPosition: 0)
    }

    public static let protoSchema = ProtoSchema<SubscriptionCheckpoint>(
        "tradecore.events.v1.SubscriptionCheckpoint",
        [
            .field("position", 1, ProtoUInt64.self, \.position),
            .field("head_position", 2, ProtoUInt64.self, \.headPosition),
        ])
}

/// Catch-up reading has reached the head; delivery is live from here on.
public struct SubscriptionCaughtUp: Sendable, Hashable {
    /// Field 1, `position`.
    public var position: UInt64

    /// Creates the message.
    public init(
        position: UInt64 = 0
    ) {
        self.position = position
    }
}

extension SubscriptionCaughtUp: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            position: 0)
    }

    public static let protoSchema = ProtoSchema<SubscriptionCaughtUp>(
        "tradecore.events.v1.SubscriptionCaughtUp",
        [
            .field("position", 1, ProtoUInt64.self, \.position)
        ])
}

/// The subscriber did not keep up with live delivery; the server went back to catch-up reads
/// from `position` and will send caught_up again. No event is skipped or repeated.
public struct SubscriptionFellBehind: Sendable, Hashable {
    /// Field 1, `position`.
    public var position: UInt64
    /// Field 2, `head_position`.
    public var headPosition: UInt64

    /// Creates the message.
    public init(
        position: UInt64 = 0,
        headPosition: UInt64 = 0
    ) {
        self.position = position
        self.headPosition = headPosition
    }
}

extension SubscriptionFellBehind: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            position: 0,
            headPosition: 0)
    }

    public static let protoSchema = ProtoSchema<SubscriptionFellBehind>(
        "tradecore.events.v1.SubscriptionFellBehind",
        [
            .field("position", 1, ProtoUInt64.self, \.position),
            .field("head_position", 2, ProtoUInt64.self, \.headPosition),
        ])
}

/// Reads one stream in version order.
public struct ReadStreamRequest: Sendable, Hashable {
    /// Field 1, `stream`.
    public var stream: String
    /// The first version to return.
    /// Field 2, `from_version`.
    public var fromVersion: UInt64
    /// Absent: the server's page size.
    /// Field 3, `max_count`.
    public var maxCount: UInt32

    /// Creates the message.
    public init(
        stream: String,
        fromVersion: UInt64 = 0,
        maxCount: UInt32 = 0
    ) {
        self.stream = stream
        self.fromVersion = fromVersion
        self.maxCount = maxCount
    }
}

extension ReadStreamRequest: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            stream: "",
            fromVersion: 0,
            maxCount: 0)
    }

    public static let protoSchema = ProtoSchema<ReadStreamRequest>(
        "tradecore.events.v1.ReadStreamRequest",
        [
            .field("stream", 1, ProtoString.self, \.stream, required: true),
            .field("from_version", 2, ProtoUInt64.self, \.fromVersion),
            .field("max_count", 3, ProtoUInt32.self, \.maxCount),
        ])
}

/// `tradecore.events.v1.ReadStreamResponse`.
public struct ReadStreamResponse: Sendable, Hashable {
    /// Field 1, `events`.
    public var events: [EventEnvelope]
    /// The version to read from next.
    /// Field 2, `next_version`.
    public var nextVersion: UInt64
    /// Field 3, `end_of_stream`.
    public var endOfStream: Bool

    /// Creates the message.
    public init(
        events: [EventEnvelope] = [],
        nextVersion: UInt64 = 0,
        endOfStream: Bool = false
    ) {
        self.events = events
        self.nextVersion = nextVersion
        self.endOfStream = endOfStream
    }
}

extension ReadStreamResponse: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            events: [],
            nextVersion: 0,
            endOfStream: false)
    }

    public static let protoSchema = ProtoSchema<ReadStreamResponse>(
        "tradecore.events.v1.ReadStreamResponse",
        [
            .repeated("events", 1, ProtoMessageCodec<EventEnvelope>.self, \.events),
            .field("next_version", 2, ProtoUInt64.self, \.nextVersion),
            .field("end_of_stream", 3, ProtoBool.self, \.endOfStream),
        ])
}
