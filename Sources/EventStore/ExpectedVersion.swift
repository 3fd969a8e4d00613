/// What the caller believes about a stream when appending to it: the optimistic-concurrency check.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// No check: append whatever the stream's state.
    case any
    /// The stream must not exist yet (this append creates it).
    case noStream
    /// The stream must exist, at any version.
    case streamExists
    /// The stream's current version (the version of its last event) must be exactly this.
    case exact(Int64)

    /// Whether a stream whose current version is `current` (`nil`: no stream) satisfies this expectation.
    public func isSatisfied(byCurrentVersion current: Int64?) -> Bool {
        switch self {
        case .any: true
        case .noStream: current == nil
        case .streamExists: current != nil
        case .exact(let version): current == version
        }
    }

    public var description: String {
        switch self {
        case .any: "any"
        case .noStream: "no stream"
        case .streamExists: "stream exists"
        case .exact(let version): "version \(version)"
        }
    }
}

/// The order in which a stream is read.
public enum ReadDirection: Sendable, Hashable {
    /// Oldest first: versions ascending from the start version.
    case forward
    /// Newest first: versions descending from the start version.
    case backward
}
