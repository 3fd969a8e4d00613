import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The result of CreateAutomation. The webhook token is shown here once; events keep only its
/// SHA-256 digest.
public struct CreateAutomationResult: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `webhook_url`.
    public var webhookURL: String
    /// Field 3, `webhook_token`.
    public var webhookToken: String
    /// Field 4, `status`.
    public var status: AutomationStatus
    /// Field 5, `version`.
    public var version: UInt64
    /// The global log position of the command's last event; 0 when it changed nothing.
    /// Field 6, `position`.
    public var position: UInt64

    /// Creates the message.
    public init(
        automationID: UUID,
        webhookURL: String,
        webhookToken: String,
        status: AutomationStatus,
        version: UInt64 = 0,
        position: UInt64 = 0
    ) {
        self.automationID = automationID
        self.webhookURL = webhookURL
        self.webhookToken = webhookToken
        self.status = status
        self.version = version
        self.position = position
    }
}

extension CreateAutomationResult: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            automationID: .protoPlaceholder,
            webhookURL: "",
            webhookToken: "",
            status: .inactive,
            version: 0,
            position: 0)
    }

    public static let protoSchema = ProtoSchema<CreateAutomationResult>(
        "tradecore.automation.v1.CreateAutomationResult",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("webhook_url", 2, ProtoString.self, \.webhookURL, required: true),
            .field("webhook_token", 3, ProtoString.self, \.webhookToken, required: true),
            .field("status", 4, ProtoEnumCodec<AutomationStatus>.self, \.status),
            .field("version", 5, ProtoUInt64.self, \.version),
            .field("position", 6, ProtoUInt64.self, \.position),
        ])
}

/// The result of every other automation command.
public struct AutomationResult: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `status`.
    public var status: AutomationStatus
    /// Field 3, `version`.
    public var version: UInt64
    /// The global log position of the command's last event; 0 when it changed nothing.
    /// Field 4, `position`.
    public var position: UInt64

    /// Creates the message.
    public init(
        automationID: UUID,
        status: AutomationStatus,
        version: UInt64 = 0,
        position: UInt64 = 0
    ) {
        self.automationID = automationID
        self.status = status
        self.version = version
        self.position = position
    }
}

extension AutomationResult: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            automationID: .protoPlaceholder,
            status: .inactive,
            version: 0,
            position: 0)
    }

    public static let protoSchema = ProtoSchema<AutomationResult>(
        "tradecore.automation.v1.AutomationResult",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("status", 2, ProtoEnumCodec<AutomationStatus>.self, \.status),
            .field("version", 3, ProtoUInt64.self, \.version),
            .field("position", 4, ProtoUInt64.self, \.position),
        ])
}
