import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `tradecore.automation.v1.GetAutomation`.
public struct GetAutomation: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Wait until the read model has reached this log position.
    /// Field 3, `min_position`.
    public var minPosition: UInt64

    /// Creates the message.
    public init(
        automationID: UUID,
        userID: UUID,
        minPosition: UInt64 = 0
    ) {
        self.automationID = automationID
        self.userID = userID
        self.minPosition = minPosition
    }
}

extension GetAutomation: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            automationID: .protoPlaceholder,
            userID: .protoPlaceholder,
            minPosition: 0)
    }

    public static let protoSchema = ProtoSchema<GetAutomation>(
        "tradecore.automation.v1.GetAutomation",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("min_position", 3, ProtoUInt64.self, \.minPosition),
        ])
}

/// `tradecore.automation.v1.AutomationView`.
public struct AutomationView: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `config`.
    public var config: AutomationConfig
    /// Field 4, `status`.
    public var status: AutomationStatus
    /// Field 5, `webhook_url`.
    public var webhookURL: String
    /// Field 6, `created_at`.
    public var createdAt: Int64
    /// Field 7, `updated_at`.
    public var updatedAt: Int64
    /// Field 8, `version`.
    public var version: UInt64

    /// Creates the message.
    public init(
        automationID: UUID,
        userID: UUID,
        config: AutomationConfig,
        status: AutomationStatus,
        webhookURL: String,
        createdAt: Int64,
        updatedAt: Int64,
        version: UInt64 = 0
    ) {
        self.automationID = automationID
        self.userID = userID
        self.config = config
        self.status = status
        self.webhookURL = webhookURL
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

extension AutomationView: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            automationID: .protoPlaceholder,
            userID: .protoPlaceholder,
            config: AutomationConfig(protoPlaceholder: placeholder),
            status: .inactive,
            webhookURL: "",
            createdAt: 0,
            updatedAt: 0,
            version: 0)
    }

    public static let protoSchema = ProtoSchema<AutomationView>(
        "tradecore.automation.v1.AutomationView",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("config", 3, ProtoMessageCodec<AutomationConfig>.self, \.config),
            .field("status", 4, ProtoEnumCodec<AutomationStatus>.self, \.status),
            .field("webhook_url", 5, ProtoString.self, \.webhookURL, required: true),
            .field("created_at", 6, ProtoInt64.self, \.createdAt, required: true),
            .field("updated_at", 7, ProtoInt64.self, \.updatedAt, required: true),
            .field("version", 8, ProtoUInt64.self, \.version),
        ])
}

/// Lists a user's automations, oldest first.
public struct ListAutomations: Sendable, Hashable {
    /// Field 1, `user_id`.
    public var userID: UUID
    /// Field 2, `include_deleted`.
    public var includeDeleted: Bool
    /// Field 3, `min_position`.
    public var minPosition: UInt64
    /// At most this many; 0: the server's default (100).
    /// Field 4, `page_size`.
    public var pageSize: UInt32
    /// Start after this automation (the previous page's `next_after_automation_id`).
    /// Field 5, `after_automation_id`.
    public var afterAutomationID: UUID?

    /// Creates the message.
    public init(
        userID: UUID, includeDeleted: Bool = false, minPosition: UInt64 = 0, pageSize: UInt32 = 0,
        afterAutomationID: UUID? = nil
    ) {
        self.userID = userID
        self.includeDeleted = includeDeleted
        self.minPosition = minPosition
        self.pageSize = pageSize
        self.afterAutomationID = afterAutomationID
    }
}

extension ListAutomations: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(userID: .protoPlaceholder)
    }

    public static let protoSchema = ProtoSchema<ListAutomations>(
        "tradecore.automation.v1.ListAutomations",
        [
            .field("user_id", 1, ProtoUUID.self, \.userID),
            .field("include_deleted", 2, ProtoBool.self, \.includeDeleted),
            .field("min_position", 3, ProtoUInt64.self, \.minPosition),
            .field("page_size", 4, ProtoUInt32.self, \.pageSize),
            .field("after_automation_id", 5, ProtoUUID.self, \.afterAutomationID),
        ])
}

/// `tradecore.automation.v1.AutomationList`.
public struct AutomationList: Sendable, Hashable {
    /// Field 1, `automations`.
    public var automations: [AutomationView]
    /// Set when there may be more: pass it as `after_automation_id`.
    /// Field 2, `next_after_automation_id`.
    public var nextAfterAutomationID: UUID?

    /// Creates the message.
    public init(automations: [AutomationView] = [], nextAfterAutomationID: UUID? = nil) {
        self.automations = automations
        self.nextAfterAutomationID = nextAfterAutomationID
    }
}

extension AutomationList: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init()
    }

    public static let protoSchema = ProtoSchema<AutomationList>(
        "tradecore.automation.v1.AutomationList",
        [
            .repeated("automations", 1, ProtoMessageCodec<AutomationView>.self, \.automations),
            .field("next_after_automation_id", 2, ProtoUUID.self, \.nextAfterAutomationID),
        ])
}
