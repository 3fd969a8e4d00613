import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `tradecore.broker.v1.BrokerAccountResult`.
public struct BrokerAccountResult: Sendable, Hashable {
    /// Field 1, `account_id`.
    public var accountID: UUID
    /// Field 2, `status`.
    public var status: BrokerAccountStatus
    /// Field 3, `version`.
    public var version: UInt64
    /// Set when the broker could not be read: the failure is recorded.
    /// Field 4, `refresh_error`.
    public var refreshError: String
    /// The global log position of the command's last event; 0 when it changed nothing.
    /// Field 5, `position`.
    public var position: UInt64

    /// Creates the message.
    public init(
        accountID: UUID,
        status: BrokerAccountStatus,
        version: UInt64 = 0,
        refreshError: String = "",
        position: UInt64 = 0
    ) {
        self.accountID = accountID
        self.status = status
        self.version = version
        self.refreshError = refreshError
        self.position = position
    }
}

extension BrokerAccountResult: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            accountID: .protoPlaceholder,
            status: .active,
            version: 0,
            refreshError: "",
            position: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerAccountResult>(
        "tradecore.broker.v1.BrokerAccountResult",
        [
            .field("account_id", 1, ProtoUUID.self, \.accountID),
            .field("status", 2, ProtoEnumCodec<BrokerAccountStatus>.self, \.status),
            .field("version", 3, ProtoUInt64.self, \.version),
            .field("refresh_error", 4, ProtoString.self, \.refreshError),
            .field("position", 5, ProtoUInt64.self, \.position),
        ])
}

/// `tradecore.broker.v1.RefreshAllAccountsResult`.
public struct RefreshAllAccountsResult: Sendable, Hashable {
    /// Field 1, `total`.
    public var total: UInt32
    /// Field 2, `refreshed`.
    public var refreshed: UInt32
    /// Field 3, `failed`.
    public var failed: UInt32
    /// Field 4, `errors`.
    public var errors: [AccountRefreshError]
    /// The global log position of the command's last event; 0 when it changed nothing.
    /// Field 5, `position`.
    public var position: UInt64
    /// Linked accounts left alone: synced within the last 5 minutes (`force_refresh` refreshes them).
    /// Field 6, `skipped`.
    public var skipped: UInt32

    /// Creates the message.
    public init(
        total: UInt32 = 0,
        refreshed: UInt32 = 0,
        failed: UInt32 = 0,
        errors: [AccountRefreshError] = [],
        position: UInt64 = 0,
        skipped: UInt32 = 0
    ) {
        self.total = total
        self.refreshed = refreshed
        self.failed = failed
        self.errors = errors
        self.position = position
        self.skipped = skipped
    }
}

extension RefreshAllAccountsResult: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            total: 0,
            refreshed: 0,
            failed: 0,
            errors: [],
            position: 0)
    }

    public static let protoSchema = ProtoSchema<RefreshAllAccountsResult>(
        "tradecore.broker.v1.RefreshAllAccountsResult",
        [
            .field("total", 1, ProtoUInt32.self, \.total),
            .field("refreshed", 2, ProtoUInt32.self, \.refreshed),
            .field("failed", 3, ProtoUInt32.self, \.failed),
            .repeated("errors", 4, ProtoMessageCodec<AccountRefreshError>.self, \.errors),
            .field("position", 5, ProtoUInt64.self, \.position),
            .field("skipped", 6, ProtoUInt32.self, \.skipped),
        ])
}

/// `tradecore.broker.v1.AccountRefreshError`.
public struct AccountRefreshError: Sendable, Hashable {
    /// Field 1, `account_id`.
    public var accountID: UUID
    /// Field 2, `error`.
    public var error: String

    /// Creates the message.
    public init(
        accountID: UUID,
        error: String
    ) {
        self.accountID = accountID
        self.error = error
    }
}

extension AccountRefreshError: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            accountID: .protoPlaceholder,
            error: "")
    }

    public static let protoSchema = ProtoSchema<AccountRefreshError>(
        "tradecore.broker.v1.AccountRefreshError",
        [
            .field("account_id", 1, ProtoUUID.self, \.accountID),
            .field("error", 2, ProtoString.self, \.error, required: true),
        ])
}
