import EventSourcing
import EventStore
import Foundation

/// A business rule the command breaks: what a caller is told, typed.
///
/// Every refusal of the domain is one of these. Its ``code`` chooses the gRPC status; its
/// ``reason`` is a stable machine-readable name (`ORDER_NOT_FOUND`, `OVERFILL`); its ``message``
/// says what is wrong in words a person understands; ``fieldViolations`` name the request fields at
/// fault (for INVALID_ARGUMENT); ``facts`` carry what the caller may need to act (`filled_quantity`).
/// It is a ``CommandRejection``, so the bus records it as the command's outcome and a repeated
/// command id is refused the same way, details and all.
public struct DomainError: Error, Sendable, Hashable, CustomStringConvertible, CommandRejectionConvertible {
    /// One request field at fault.
    public struct FieldViolation: Sendable, Hashable {
        /// The field's path in the request, as the `.proto` file names it (`limit_price`).
        public var field: String
        /// What is wrong with it.
        public var description: String

        public init(field: String, description: String) {
            self.field = field
            self.description = description
        }
    }

    /// The kind of refusal (and so the status).
    public var code: CommandRejection.Code
    /// A stable name for the rule, upper snake case.
    public var reason: String
    /// What is wrong, for a person.
    public var message: String
    /// The request fields at fault.
    public var fieldViolations: [FieldViolation]
    /// Facts for the caller, by name.
    public var facts: [String: String]

    public init(
        _ code: CommandRejection.Code, reason: String, _ message: String,
        fieldViolations: [FieldViolation] = [], facts: [String: String] = [:]
    ) {
        self.code = code
        self.reason = reason
        self.message = message
        self.fieldViolations = fieldViolations
        self.facts = facts
    }

    /// A request field that breaks a rule: INVALID_ARGUMENT naming the field.
    public static func invalid(_ field: String, _ description: String, reason: String = "INVALID_FIELD") -> DomainError
    {
        DomainError(
            .invalidArgument, reason: reason, "\(field): \(description)",
            fieldViolations: [FieldViolation(field: field, description: description)])
    }

    /// Several fields at fault at once: INVALID_ARGUMENT naming each.
    public static func invalid(_ violations: [FieldViolation]) -> DomainError {
        let message = violations.map { "\($0.field): \($0.description)" }.joined(separator: "; ")
        return DomainError(.invalidArgument, reason: "INVALID_FIELD", message, fieldViolations: violations)
    }

    /// Something the command names does not exist.
    public static func notFound(_ kind: String, _ id: UUID, reason: String) -> DomainError {
        DomainError(
            .notFound, reason: reason, "\(kind) \(id.lowercasedText) does not exist",
            facts: [idKey(kind): id.lowercasedText])
    }

    /// Something a query names is not in its read model. Read models follow the log just after
    /// each commit, so the message says how to wait for a write the caller has just made.
    public static func notInReadModel(_ kind: String, _ id: UUID, reason: String) -> DomainError {
        notInReadModel(
            "\(kind) \(id.lowercasedText) does not exist", reason: reason, facts: [idKey(kind): id.lowercasedText])
    }

    /// The same, saying what is missing in the caller's terms (`absence`, "… does not exist").
    public static func notInReadModel(_ absence: String, reason: String, facts: [String: String]) -> DomainError {
        DomainError(
            .notFound, reason: reason,
            "\(absence) (read models follow each commit shortly after it: to read a write of your own, "
                + "pass the position its command returned as min_position)",
            facts: facts)
    }

    /// Something the command names belongs to another user.
    public static func notOwned(_ kind: String, _ id: UUID, reason: String) -> DomainError {
        DomainError(
            .permissionDenied, reason: reason, "\(kind) \(id.lowercasedText) belongs to another user",
            facts: [idKey(kind): id.lowercasedText])
    }

    /// The `ErrorInfo` key of a kind's id, named as the schemas name the field: `broker connection`
    /// is `broker_connection_id` (ErrorInfo's keys are `[a-z][a-zA-Z0-9-_]+`, without spaces).
    static func idKey(_ kind: String) -> String {
        kind.replacingOccurrences(of: " ", with: "_") + "_id"
    }

    /// The aggregate is in the wrong state for the command.
    public static func wrongState(_ reason: String, _ message: String, facts: [String: String] = [:]) -> DomainError {
        DomainError(.failedPrecondition, reason: reason, message, facts: facts)
    }

    public var description: String { "\(code) \(reason): \(message)" }

    // MARK: - As a recorded rejection

    private static let reasonKey = "reason"
    private static let fieldPrefix = "field:"
    private static let factPrefix = "fact:"

    public var rejection: CommandRejection {
        var details = [Self.reasonKey: reason]
        for violation in fieldViolations {
            details[Self.fieldPrefix + violation.field] = violation.description
        }
        for (name, value) in facts {
            details[Self.factPrefix + name] = value
        }
        return CommandRejection(code, message, details: details)
    }

    /// Reads a rejection back: the domain's own (recorded, or just thrown) with its reason, fields
    /// and facts; any other with a reason made from its code and its details as facts.
    public init(_ rejection: CommandRejection) {
        var violations: [FieldViolation] = []
        var facts: [String: String] = [:]
        var reason: String?
        for (key, value) in rejection.details {
            if key == Self.reasonKey {
                reason = value
            } else if key.hasPrefix(Self.fieldPrefix) {
                violations.append(
                    FieldViolation(field: String(key.dropFirst(Self.fieldPrefix.count)), description: value))
            } else if key.hasPrefix(Self.factPrefix) {
                facts[String(key.dropFirst(Self.factPrefix.count))] = value
            } else {
                facts[key] = value
            }
        }
        self.init(
            rejection.code, reason: reason ?? rejection.code.rawValue, rejection.message,
            fieldViolations: violations.sorted { $0.field < $1.field }, facts: facts)
    }
}
