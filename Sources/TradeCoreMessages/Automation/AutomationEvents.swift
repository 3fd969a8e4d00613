import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `tradecore.automation.v1.AutomationCreated`.
public struct AutomationCreated: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `config`.
    public var config: AutomationConfig
    /// Field 4, `webhook_url`.
    public var webhookURL: String
    /// SHA-256 of the webhook token: enough to check a signal, useless to forge one.
    /// Field 5, `webhook_token_sha256`.
    public var webhookTokenSHA256: [UInt8]
    /// Field 6, `status`.
    public var status: AutomationStatus
    /// Field 7, `created_at`.
    public var createdAt: Int64

    /// Creates the message.
    public init(
        automationID: UUID,
        userID: UUID,
        config: AutomationConfig,
        webhookURL: String,
        webhookTokenSHA256: [UInt8],
        status: AutomationStatus,
        createdAt: Int64
    ) {
        self.automationID = automationID
        self.userID = userID
        self.config = config
        self.webhookURL = webhookURL
        self.webhookTokenSHA256 = webhookTokenSHA256
        self.status = status
        self.createdAt = createdAt
    }
}

extension AutomationCreated: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            automationID: .protoPlaceholder,
            userID: .protoPlaceholder,
            config: AutomationConfig(protoPlaceholder: placeholder),
            webhookURL: "",
            webhookTokenSHA256: [],
            status: .inactive,
            createdAt: 0)
    }

    public static let protoSchema = ProtoSchema<AutomationCreated>(
        "tradecore.automation.v1.AutomationCreated",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("config", 3, ProtoMessageCodec<AutomationConfig>.self, \.config),
            .field("webhook_url", 4, ProtoString.self, \.webhookURL, required: true),
            .field("webhook_token_sha256", 5, ProtoBytes.self, \.webhookTokenSHA256, required: true),
            .field("status", 6, ProtoEnumCodec<AutomationStatus>.self, \.status),
            .field("created_at", 7, ProtoInt64.self, \.createdAt, required: true),
        ])
}

/// The whole configuration after the update.
public struct AutomationUpdated: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `config`.
    public var config: AutomationConfig
    /// Field 3, `updated_at`.
    public var updatedAt: Int64

    /// Creates the message.
    public init(
        automationID: UUID,
        config: AutomationConfig,
        updatedAt: Int64
    ) {
        self.automationID = automationID
        self.config = config
        self.updatedAt = updatedAt
    }
}

extension AutomationUpdated: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            automationID: .protoPlaceholder,
            config: AutomationConfig(protoPlaceholder: placeholder),
            updatedAt: 0)
    }

    public static let protoSchema = ProtoSchema<AutomationUpdated>(
        "tradecore.automation.v1.AutomationUpdated",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("config", 2, ProtoMessageCodec<AutomationConfig>.self, \.config),
            .field("updated_at", 3, ProtoInt64.self, \.updatedAt, required: true),
        ])
}

/// `tradecore.automation.v1.AutomationActivated`.
public struct AutomationActivated: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `activated_at`.
    public var activatedAt: Int64

    /// Creates the message.
    public init(
        automationID: UUID,
        activatedAt: Int64
    ) {
        self.automationID = automationID
        self.activatedAt = activatedAt
    }
}

extension AutomationActivated: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            automationID: .protoPlaceholder,
            activatedAt: 0)
    }

    public static let protoSchema = ProtoSchema<AutomationActivated>(
        "tradecore.automation.v1.AutomationActivated",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("activated_at", 2, ProtoInt64.self, \.activatedAt, required: true),
        ])
}

/// `tradecore.automation.v1.AutomationDeactivated`.
public struct AutomationDeactivated: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `reason`.
    public var reason: String
    /// Field 3, `deactivated_at`.
    public var deactivatedAt: Int64

    /// Creates the message.
    public init(
        automationID: UUID,
        reason: String = "",
        deactivatedAt: Int64
    ) {
        self.automationID = automationID
        self.reason = reason
        self.deactivatedAt = deactivatedAt
    }
}

extension AutomationDeactivated: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            automationID: .protoPlaceholder,
            reason: "",
            deactivatedAt: 0)
    }

    public static let protoSchema = ProtoSchema<AutomationDeactivated>(
        "tradecore.automation.v1.AutomationDeactivated",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("reason", 2, ProtoString.self, \.reason),
            .field("deactivated_at", 3, ProtoInt64.self, \.deactivatedAt, required: true),
        ])
}

/// `tradecore.automation.v1.AutomationDeleted`.
public struct AutomationDeleted: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `deleted_at`.
    public var deletedAt: Int64

    /// Creates the message.
    public init(
        automationID: UUID,
        deletedAt: Int64
    ) {
        self.automationID = automationID
        self.deletedAt = deletedAt
    }
}

extension AutomationDeleted: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            automationID: .protoPlaceholder,
            deletedAt: 0)
    }

    public static let protoSchema = ProtoSchema<AutomationDeleted>(
        "tradecore.automation.v1.AutomationDeleted",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("deleted_at", 2, ProtoInt64.self, \.deletedAt, required: true),
        ])
}
