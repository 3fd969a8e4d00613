import EventStore
import Foundation

/// Why ``CommandBus/send(_:options:)`` did not return a result: every failure reaches the caller as
/// one of these, with a code to switch on and a message fit for a log line or the caller.
public struct CommandBusError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. New codes may be added; switch over them with a `default`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: String, Sendable, Hashable {
            case noHandler = "no handler"
            case rejected = "rejected"
            case conflict = "version conflict"
            case lockLost = "lock lost"
            case commandIDReused = "command id reused"
            case handlerFailed = "handler failed"
            case storeFailure = "store failure"
            case cancelled = "cancelled"
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// No handler is registered for the command's type.
        public static let noHandler = Code(.noHandler)
        /// The domain refused the command; ``CommandBusError/rejection`` says how and why. Recorded:
        /// the same command id is refused the same way again.
        public static let rejected = Code(.rejected)
        /// The aggregate kept changing under the handler: every attempt conflicted.
        /// ``CommandBusError/currentVersion`` is the stream's version at the last attempt.
        public static let conflict = Code(.conflict)
        /// An append carried a lock's fencing token after someone else acquired the lock.
        public static let lockLost = Code(.lockLost)
        /// The command id was recorded for a command of another type.
        public static let commandIDReused = Code(.commandIDReused)
        /// The handler threw something that is not a rejection: a bug or a dependency's failure.
        /// Not recorded; the same command id may be retried.
        public static let handlerFailed = Code(.handlerFailed)
        /// The event store failed (or is closed); whether the command's events were written is
        /// known only by looking its command id up later.
        public static let storeFailure = Code(.storeFailure)
        /// The caller's task was cancelled.
        public static let cancelled = Code(.cancelled)

        public var description: String { wrapped.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// The type of the command that failed.
    public let commandType: String
    /// The command's id, when it got one.
    public let commandID: UUID?
    /// What happened, in words.
    public let message: String
    /// The domain's refusal, for ``Code/rejected``.
    public let rejection: CommandRejection?
    /// The stream whose version conflicted, for ``Code/conflict``.
    public let stream: StreamName?
    /// The stream's version at the last attempt, for ``Code/conflict``; `nil` if it does not exist.
    public let currentVersion: Int64?
    /// The version the command expected, for ``Code/conflict``: the one its caller said it read,
    /// or the one its last attempt loaded.
    public let expectedVersion: Int64?
    /// How many times the handler ran.
    public let attempts: Int
    /// The error underneath, if any.
    public let underlying: (any Error & Sendable)?

    init(
        _ code: Code,
        commandType: String,
        commandID: UUID?,
        message: String,
        rejection: CommandRejection? = nil,
        stream: StreamName? = nil,
        currentVersion: Int64? = nil,
        expectedVersion: Int64? = nil,
        attempts: Int = 0,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.commandType = commandType
        self.commandID = commandID
        self.message = message
        self.rejection = rejection
        self.stream = stream
        self.currentVersion = currentVersion
        self.expectedVersion = expectedVersion
        self.attempts = attempts
        self.underlying = underlying
    }

    public var description: String {
        let id = commandID.map { " \($0.lowercasedText)" } ?? ""
        return "\(commandType)\(id): \(code): \(message)"
    }

    static func rejected(
        _ rejection: CommandRejection, commandType: String, commandID: UUID?, attempts: Int
    ) -> CommandBusError {
        CommandBusError(
            .rejected, commandType: commandType, commandID: commandID, message: rejection.description,
            rejection: rejection, attempts: attempts)
    }

    /// Turns whatever a handler, an interceptor or the store threw into the bus's error.
    static func wrapping(
        _ error: any Error, commandType: String, commandID: UUID?, attempts: Int
    ) -> CommandBusError {
        switch error {
        case let error as CommandBusError:
            return error
        case let error as any CommandRejectionConvertible:
            return .rejected(error.rejection, commandType: commandType, commandID: commandID, attempts: attempts)
        case let error as QueryBusError where error.rejection != nil:
            let rejection = error.rejection ?? CommandRejection(.notFound, error.message)
            return .rejected(rejection, commandType: commandType, commandID: commandID, attempts: attempts)
        case let conflict as VersionConflict:
            let expected: Int64? =
                if case .exact(let version) = conflict.expected { version } else { nil }
            return CommandBusError(
                .conflict, commandType: commandType, commandID: commandID,
                message: "\(conflict) after \(attempts) attempt(s)", stream: conflict.stream,
                currentVersion: conflict.currentVersion, expectedVersion: expected, attempts: attempts,
                underlying: conflict)
        case let mismatch as ExpectedVersionMismatch:
            return CommandBusError(
                .conflict, commandType: commandType, commandID: commandID, message: mismatch.description,
                stream: mismatch.stream, currentVersion: mismatch.current, expectedVersion: mismatch.expected,
                attempts: attempts, underlying: mismatch)
        case let error as EventStoreError where error.code == .staleFencingToken:
            return CommandBusError(
                .lockLost, commandType: commandType, commandID: commandID, message: error.message,
                attempts: attempts, underlying: error)
        case let error as EventStoreError:
            return CommandBusError(
                .storeFailure, commandType: commandType, commandID: commandID, message: error.description,
                attempts: attempts, underlying: error)
        case is CancellationError:
            return CommandBusError(
                .cancelled, commandType: commandType, commandID: commandID, message: "the command was cancelled",
                attempts: attempts)
        default:
            return CommandBusError(
                .handlerFailed, commandType: commandType, commandID: commandID,
                message: "the handler failed: \(error)", attempts: attempts, underlying: error)
        }
    }
}

/// A bus that cannot start: its handlers do not cover its commands (or queries) exactly once.
public struct HandlerRegistrationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `command` or `query`.
    public let kind: String
    /// Types without a handler.
    public let missingHandlers: [String]
    /// Types with more than one handler, and those handlers' type names.
    public let duplicateHandlers: [String: [String]]
    /// Handlers for types the bus was not told to expect.
    public let unexpectedHandlers: [String: [String]]
    /// Type names that different Swift types share.
    public let ambiguousTypes: [String: [String]]
    /// Projections named by query handlers that the query bus does not know.
    public let unknownProjections: [String: [String]]

    public var description: String {
        var problems: [String] = []
        if !missingHandlers.isEmpty {
            problems.append("no handler for \(missingHandlers.joined(separator: ", "))")
        }
        for (name, handlers) in duplicateHandlers.sorted(by: { $0.key < $1.key }) {
            problems.append("\(handlers.count) handlers for \(name) (\(handlers.joined(separator: ", ")))")
        }
        for (name, handlers) in unexpectedHandlers.sorted(by: { $0.key < $1.key }) {
            problems.append("\(handlers.joined(separator: ", ")) handle(s) \(name), which is not an expected \(kind)")
        }
        for (name, types) in ambiguousTypes.sorted(by: { $0.key < $1.key }) {
            problems.append("the \(kind) type name \(name) is used by \(types.joined(separator: " and "))")
        }
        for (handler, projections) in unknownProjections.sorted(by: { $0.key < $1.key }) {
            problems.append("\(handler) reads unknown projection(s) \(projections.joined(separator: ", "))")
        }
        return "\(kind) handlers do not match the \(kind)s: " + problems.joined(separator: "; ")
    }
}

/// Checks a set of handlers against the types they must cover: shared by the command and query buses.
struct HandlerTable<Entry: Sendable> {
    struct Handler {
        let typeName: String
        let swiftType: String
        let handlerName: String
        let entry: Entry
    }

    /// Builds the table, or throws naming every problem.
    static func build(
        kind: String,
        handlers: [Handler],
        expected: [(typeName: String, swiftType: String)]?,
        unknownProjections: [String: [String]] = [:]
    ) throws(HandlerRegistrationError) -> [String: Entry] {
        var registered: [String: [Handler]] = [:]
        var swiftTypes: [String: Set<String>] = [:]
        for handler in handlers {
            registered[handler.typeName, default: []].append(handler)
            swiftTypes[handler.typeName, default: []].insert(handler.swiftType)
        }
        var missing: [String] = []
        var unexpected: [String: [String]] = [:]
        if let expected {
            let names = Set(expected.map(\.typeName))
            for (name, swiftType) in expected {
                swiftTypes[name, default: []].insert(swiftType)
                if registered[name] == nil { missing.append(name) }
            }
            for (name, handlers) in registered where !names.contains(name) {
                unexpected[name] = handlers.map(\.handlerName)
            }
        }
        let duplicates = registered.filter { $0.value.count > 1 }.mapValues { $0.map(\.handlerName) }
        let ambiguous = swiftTypes.filter { $0.value.count > 1 }.mapValues { $0.sorted() }
        guard missing.isEmpty, duplicates.isEmpty, unexpected.isEmpty, ambiguous.isEmpty, unknownProjections.isEmpty
        else {
            throw HandlerRegistrationError(
                kind: kind,
                missingHandlers: Array(Set(missing)).sorted(),
                duplicateHandlers: duplicates,
                unexpectedHandlers: unexpected,
                ambiguousTypes: ambiguous,
                unknownProjections: unknownProjections
            )
        }
        return registered.compactMapValues { $0.first?.entry }
    }
}
