import Foundation

/// What every event carries besides its data: who caused it, in which flow, and when.
///
/// The event id itself is ``NewEvent/id``. The command id of the command that produced an event is
/// its causation id. Free-form extra metadata is for what the typed fields do not cover; it must not
/// carry secrets.
public struct EventMetadata: Sendable, Hashable {
    /// The id of the command that caused the event.
    public var causationID: UUID?
    /// The id shared by everything done on behalf of one request, across commands and services.
    public var correlationID: UUID?
    /// The saga on whose behalf the command ran, if any.
    public var sagaID: UUID?
    /// The user on whose behalf the command ran, if any.
    public var userID: UUID?
    /// The type name of the command that caused the event, such as `CreateOrder`.
    public var commandType: String?
    /// When the event happened, in nanoseconds since the Unix epoch (UTC).
    public var time: Int64
    /// Further key-value pairs.
    public var extra: [String: String]

    /// Makes metadata; `time` defaults to now.
    public init(
        causationID: UUID? = nil,
        correlationID: UUID? = nil,
        sagaID: UUID? = nil,
        userID: UUID? = nil,
        commandType: String? = nil,
        time: Int64 = UnixTime.nowNanoseconds(),
        extra: [String: String] = [:]
    ) {
        self.causationID = causationID
        self.correlationID = correlationID
        self.sagaID = sagaID
        self.userID = userID
        self.commandType = commandType
        self.time = time
        self.extra = extra
    }

    /// The bytes the extra metadata takes, keys and values, as counted against the store's limit.
    public var extraByteCount: Int {
        extra.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
    }
}

/// Wall-clock time as int64 Unix nanoseconds, the store's one representation of time.
public enum UnixTime {
    /// Now, in nanoseconds since the Unix epoch (UTC).
    public static func nowNanoseconds() -> Int64 {
        // clock_gettime keeps full nanosecond precision; a Double of seconds since 1970 would not.
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
