/// A command refused by the domain: invalid for the current state, not allowed, not found.
///
/// A rejection is a final outcome: the bus records it under the command id like a result, so the
/// same command sent again is refused the same way without running the handler. Its code says which
/// kind of refusal it is (the API maps codes to statuses); its message says why, in words fit for
/// the caller (never a secret).
public struct CommandRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of refusal; new codes may be added, and the domain may make its own.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String

        public init(rawValue: String) { self.rawValue = rawValue }

        /// The command is malformed or its values are out of range.
        public static let invalidArgument = Code(rawValue: "INVALID_ARGUMENT")
        /// The aggregate the command addresses does not exist.
        public static let notFound = Code(rawValue: "NOT_FOUND")
        /// What the command would create exists already.
        public static let alreadyExists = Code(rawValue: "ALREADY_EXISTS")
        /// The caller may not do this.
        public static let permissionDenied = Code(rawValue: "PERMISSION_DENIED")
        /// The caller is not authenticated.
        public static let unauthenticated = Code(rawValue: "UNAUTHENTICATED")
        /// The aggregate is in the wrong state for the command.
        public static let failedPrecondition = Code(rawValue: "FAILED_PRECONDITION")
        /// A limit was reached.
        public static let resourceExhausted = Code(rawValue: "RESOURCE_EXHAUSTED")

        public var description: String { rawValue }
    }

    /// The kind of refusal.
    public var code: Code
    /// Why, for the caller.
    public var message: String
    /// Structured details (a field name, a limit), for the caller.
    public var details: [String: String]

    /// Makes a rejection.
    public init(_ code: Code, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(code): \(message)" }
}

/// A domain error that is a ``CommandRejection``: thrown by a handler or an aggregate, it is
/// recorded as the command's outcome and reaches the caller as ``CommandBusError/Code/rejected``.
///
/// Errors that do not conform are not outcomes but failures (bugs, storage trouble): the bus does
/// not record them, so a retry with the same command id runs the handler again.
public protocol CommandRejectionConvertible: Error {
    /// The rejection this error stands for.
    var rejection: CommandRejection { get }
}

extension CommandRejection: CommandRejectionConvertible {
    public var rejection: CommandRejection { self }
}
