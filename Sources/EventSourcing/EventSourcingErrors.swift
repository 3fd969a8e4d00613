import EventStore
import Foundation

/// An aggregate that does not exist: its stream has no events.
///
/// A rejection with code ``CommandRejection/Code/notFound`` when a handler lets it escape.
public struct AggregateNotFound: Error, Sendable, Hashable, CommandRejectionConvertible, CustomStringConvertible {
    /// The stream that was looked for.
    public let stream: StreamName

    /// Makes the error.
    public init(stream: StreamName) {
        self.stream = stream
    }

    public var description: String { "\(stream.type) \(stream.id.lowercasedText) does not exist" }

    public var rejection: CommandRejection { CommandRejection(.notFound, description) }
}

/// A stored event or snapshot that the aggregate's codec could not decode: a bug, or data written
/// by a version of the domain that this one does not understand. Never a caller's fault.
public struct UndecodableEvent: Error, Sendable, CustomStringConvertible {
    /// The stream it belongs to.
    public let stream: StreamName
    /// Its version in the stream.
    public let version: Int64
    /// Its event type.
    public let type: String
    /// What the codec said.
    public let reason: String

    /// Makes the error.
    public init(stream: StreamName, version: Int64, type: String, reason: String) {
        self.stream = stream
        self.version = version
        self.type = type
        self.reason = reason
    }

    public var description: String {
        "cannot decode event \(version) (\(type)) of \(stream): \(reason)"
    }
}

/// A handler saved a second aggregate. A command writes one aggregate, in one append that also
/// records its outcome; work across aggregates goes through a saga, or one command per aggregate.
public struct MoreThanOneAggregate: Error, Sendable, Hashable, CustomStringConvertible {
    /// The aggregate saved first.
    public let saved: StreamName
    /// The one the handler tried to save as well.
    public let other: StreamName

    /// Makes the error.
    public init(saved: StreamName, other: StreamName) {
        self.saved = saved
        self.other = other
    }

    public var description: String {
        "a command writes one aggregate: \(saved) is saved already, so \(other) cannot be as well "
            + "(coordinate several aggregates with a saga, or send one command per aggregate)"
    }
}

/// An event its own codec would not read back (a required field left empty, a zero time): refused
/// before it is appended, so no stored event can make its aggregate unloadable. A bug in the
/// aggregate that emitted it, never a caller's fault.
public struct InvalidEvent: Error, Sendable, CustomStringConvertible {
    /// The stream it was to be appended to.
    public let stream: StreamName
    /// Its event type.
    public let type: String
    /// What the codec said when reading it back.
    public let reason: String

    /// Makes the error.
    public init(stream: StreamName, type: String, reason: String) {
        self.stream = stream
        self.type = type
        self.reason = reason
    }

    public var description: String { "refused to append \(type) to \(stream): it does not read back: \(reason)" }
}

/// The caller said which version of an aggregate it read, and the aggregate has moved on since:
/// the command is not applied (and not retried: deciding again on the newer state is the caller's
/// business).
public struct ExpectedVersionMismatch: Error, Sendable, Hashable, CustomStringConvertible {
    /// The aggregate's stream.
    public let stream: StreamName
    /// The version the caller read.
    public let expected: Int64
    /// The aggregate's version now.
    public let current: Int64?

    /// Makes the error.
    public init(stream: StreamName, expected: Int64, current: Int64?) {
        self.stream = stream
        self.expected = expected
        self.current = current
    }

    public var description: String {
        "\(stream) is at version \(current.map(String.init) ?? "none"), not the expected \(expected)"
    }
}
