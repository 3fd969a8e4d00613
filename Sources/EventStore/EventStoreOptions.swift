/// Limits every backend enforces on what it is asked to store.
///
/// They protect the store and every subscriber from a single huge append; an append over a limit
/// fails with ``EventStoreError/Code/eventTooLarge`` or ``EventStoreError/Code/appendTooLarge`` and
/// writes nothing.
public struct EventStoreLimits: Sendable, Hashable {
    /// The largest event data, in bytes.
    public var maxEventDataBytes: Int = 1 << 20
    /// The largest extra metadata of one event (keys and values), in bytes.
    public var maxExtraMetadataBytes: Int = 64 << 10
    /// The most events in one append.
    public var maxEventsPerAppend: Int = 10_000
    /// The most bytes of event data and metadata in one append.
    public var maxAppendBytes: Int = 16 << 20
    /// The largest snapshot data, in bytes.
    public var maxSnapshotBytes: Int = 16 << 20
    /// The most events a ``VersionConflict`` carries; past it the caller reads the rest.
    public var maxConflictEvents: Int = 1_000
    /// The largest encoded command outcome (``CommandRecord/outcome``), in bytes.
    public var maxCommandOutcomeBytes: Int = 1 << 20

    /// The default limits.
    public init() {}
}

/// Settings shared by every backend.
public struct EventStoreOptions: Sendable {
    /// Size limits on appends and snapshots.
    public var limits: EventStoreLimits
    /// Buffers, page sizes and checkpoint interval of subscriptions.
    public var subscriptions: SubscriptionHub.Configuration

    /// Makes options; the defaults suit a server.
    public init(limits: EventStoreLimits = EventStoreLimits(), subscriptions: SubscriptionHub.Configuration = .init()) {
        self.limits = limits
        self.subscriptions = subscriptions
    }
}
