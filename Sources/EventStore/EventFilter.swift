/// Which events of the global log a read or a subscription wants.
///
/// Each dimension left `nil` accepts everything; a set accepts any of its members; dimensions
/// combine with AND. `EventFilter.all` accepts every event.
public struct EventFilter: Sendable, Hashable {
    /// Stream types to accept, such as `["order"]`.
    public var streamTypes: Set<String>?
    /// Streams to accept.
    public var streams: Set<StreamName>?
    /// Event types to accept, such as `["OrderCreated"]`.
    public var eventTypes: Set<String>?

    /// Makes a filter.
    public init(streamTypes: Set<String>? = nil, streams: Set<StreamName>? = nil, eventTypes: Set<String>? = nil) {
        self.streamTypes = streamTypes
        self.streams = streams
        self.eventTypes = eventTypes
    }

    /// Every event.
    public static let all = EventFilter()

    /// Events of streams of these types.
    public static func streamTypes(_ types: Set<String>) -> EventFilter { EventFilter(streamTypes: types) }

    /// Events of these streams.
    public static func streams(_ streams: Set<StreamName>) -> EventFilter { EventFilter(streams: streams) }

    /// Events of these types.
    public static func eventTypes(_ types: Set<String>) -> EventFilter { EventFilter(eventTypes: types) }

    /// Whether every event passes.
    public var acceptsEverything: Bool { streamTypes == nil && streams == nil && eventTypes == nil }

    /// Whether `event` passes the filter.
    public func matches(_ event: RecordedEvent) -> Bool {
        if let streamTypes, !streamTypes.contains(event.stream.type) { return false }
        if let streams, !streams.contains(event.stream) { return false }
        if let eventTypes, !eventTypes.contains(event.type) { return false }
        return true
    }
}
