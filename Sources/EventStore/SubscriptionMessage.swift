/// Where a subscription starts.
public enum SubscriptionStart: Sendable, Hashable {
    /// From the first event ever committed.
    case beginning
    /// From the event at this global position on (resume with the last position seen plus one).
    case position(Int64)
    /// Only events committed after subscribing.
    case end
    /// The events of one stream, from this version on.
    case stream(StreamName, version: Int64)
}

/// What a subscription delivers.
public enum SubscriptionMessage: Sendable, Hashable {
    /// The next event, in commit order.
    case event(RecordedEvent)
    /// Every event committed so far has been delivered; live events follow.
    case caughtUp
    /// The subscriber did not keep up with the live log: its buffer was released and it reads from
    /// storage again, still without a gap or a duplicate, until it sends ``caughtUp`` again.
    case fellBehind
    /// Nothing was delivered for a while; every event up to this global position that passes the
    /// filter has been delivered, so a subscriber may store it as its resume point.
    case checkpoint(position: Int64)
}
