/// A failure of the event store: bad input, or storage that cannot be trusted or written.
///
/// Compare `code` to find out what happened (`error.code == .eventTooLarge`); `message` says it in
/// words fit for a log line or an operator. A version conflict is not an `EventStoreError`: it is an
/// expected outcome of optimistic concurrency and is thrown as ``VersionConflict``.
public struct EventStoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch over them with a `default`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: String, Sendable, Hashable {
            case invalidStreamName = "invalid stream name"
            case invalidArgument = "invalid argument"
            case eventTooLarge = "event too large"
            case appendTooLarge = "append too large"
            case duplicateEventID = "duplicate event id"
            case storageFull = "storage full"
            case storageFailure = "storage failure"
            case corruptStore = "corrupt store"
            case foreignStore = "foreign store"
            case incompatibleStore = "incompatible store"
            case storeLocked = "store locked"
            case staleFencingToken = "stale fencing token"
            case closed = "store closed"
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A stream name that is not `<type>-<uuid>` with a valid type.
        public static let invalidStreamName = Code(.invalidStreamName)
        /// An argument outside its domain: an empty append, a negative version, a bad event type, a limit below 1.
        public static let invalidArgument = Code(.invalidArgument)
        /// One event (its data or its metadata) is larger than the store's limit.
        public static let eventTooLarge = Code(.eventTooLarge)
        /// An append has more events, or more bytes in all, than the store's limit.
        public static let appendTooLarge = Code(.appendTooLarge)
        /// An event id is already committed in another stream (event ids are unique in the whole store).
        public static let duplicateEventID = Code(.duplicateEventID)
        /// The disk (or the store's configured maximum size) is full. Nothing of the failed append was written.
        public static let storageFull = Code(.storageFull)
        /// The storage failed (an I/O error, for instance). Nothing of the failed append was acknowledged.
        public static let storageFailure = Code(.storageFailure)
        /// The store's file is damaged; the store refuses to use it.
        public static let corruptStore = Code(.corruptStore)
        /// The file belongs to something else than this event store; the store refuses to use it.
        public static let foreignStore = Code(.foreignStore)
        /// The file was written by a newer version of the store, whose schema this version does not know.
        public static let incompatibleStore = Code(.incompatibleStore)
        /// Another process has the store open.
        public static let storeLocked = Code(.storeLocked)
        /// The store was closed.
        public static let closed = Code(.closed)
        /// An append's fencing token is not the newest issued for its lock key: the lock was acquired
        /// by someone else since (or the token was never issued). Nothing of the append was written.
        public static let staleFencingToken = Code(.staleFencingToken)

        public var description: String { wrapped.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// What happened, in words.
    public let message: String
    /// The lower-level error this one wraps, if any (a SQLite error, for instance).
    public let underlying: (any Error & Sendable)?

    /// Makes an error. Backends use the static factories below where one fits.
    public init(code: Code, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying {
            return "\(code): \(message) (\(underlying))"
        }
        return "\(code): \(message)"
    }

    /// A stream name that cannot be used, and why.
    public static func invalidStreamName(_ name: String, reason: String) -> EventStoreError {
        EventStoreError(code: .invalidStreamName, message: "invalid stream name '\(name.prefix(200))': \(reason)")
    }

    /// An argument outside its domain.
    public static func invalidArgument(_ message: String) -> EventStoreError {
        EventStoreError(code: .invalidArgument, message: message)
    }

    /// The store was closed before or while the operation ran.
    public static let closed = EventStoreError(code: .closed, message: "the event store is closed")
}
