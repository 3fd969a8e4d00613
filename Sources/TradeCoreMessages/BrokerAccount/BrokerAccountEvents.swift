import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An account of a connection became known.
public struct BrokerAccountLinked: Sendable, Hashable {
    /// Field 1, `account_id`.
    public var accountID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 4, `broker_id`.
    public var brokerID: String
    /// The broker's own account number.
    /// Field 5, `broker_account_number`.
    public var brokerAccountNumber: String
    /// Field 6, `environment`.
    public var environment: BrokerEnvironment
    /// Field 7, `account_type`.
    public var accountType: BrokerAccountType?
    /// ISO 4217, e.g. "USD".
    /// Field 8, `currency`.
    public var currency: String
    /// Field 9, `linked_at`.
    public var linkedAt: Int64

    /// Creates the message.
    public init(
        accountID: UUID,
        userID: UUID,
        brokerConnectionID: UUID,
        brokerID: String,
        brokerAccountNumber: String,
        environment: BrokerEnvironment,
        accountType: BrokerAccountType? = nil,
        currency: String,
        linkedAt: Int64
    ) {
        self.accountID = accountID
        self.userID = userID
        self.brokerConnectionID = brokerConnectionID
        self.brokerID = brokerID
        self.brokerAccountNumber = brokerAccountNumber
        self.environment = environment
        self.accountType = accountType
        self.currency = currency
        self.linkedAt = linkedAt
    }
}

extension BrokerAccountLinked: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            accountID: .protoPlaceholder,
            userID: .protoPlaceholder,
            brokerConnectionID: .protoPlaceholder,
            brokerID: "",
            brokerAccountNumber: "",
            environment: .paper,
            accountType: nil,
            currency: "",
            linkedAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerAccountLinked>(
        "tradecore.broker.v1.BrokerAccountLinked",
        [
            .field("account_id", 1, ProtoUUID.self, \.accountID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("broker_connection_id", 3, ProtoUUID.self, \.brokerConnectionID),
            .field("broker_id", 4, ProtoString.self, \.brokerID, required: true),
            .field("broker_account_number", 5, ProtoString.self, \.brokerAccountNumber, required: true),
            .field("environment", 6, ProtoEnumCodec<BrokerEnvironment>.self, \.environment),
            .field("account_type", 7, ProtoEnumCodec<BrokerAccountType>.self, \.accountType),
            .field("currency", 8, ProtoString.self, \.currency, required: true),
            .field("linked_at", 9, ProtoInt64.self, \.linkedAt, required: true),
        ])
}

/// `tradecore.broker.v1.BrokerAccountDataRefreshed`.
public struct BrokerAccountDataRefreshed: Sendable, Hashable {
    /// Field 1, `account_id`.
    public var accountID: UUID
    /// Field 2, `cash`.
    public var cash: ExactDecimal?
    /// Field 3, `equity`.
    public var equity: ExactDecimal?
    /// Field 4, `buying_power`.
    public var buyingPower: ExactDecimal?
    /// Field 5, `status`.
    public var status: BrokerAccountStatus
    /// Field 6, `synced_at`.
    public var syncedAt: Int64
    /// Field 7, `positions`.
    public var positions: [BrokerPosition]

    /// Creates the message.
    public init(
        accountID: UUID,
        cash: ExactDecimal? = nil,
        equity: ExactDecimal? = nil,
        buyingPower: ExactDecimal? = nil,
        status: BrokerAccountStatus,
        syncedAt: Int64,
        positions: [BrokerPosition] = []
    ) {
        self.accountID = accountID
        self.cash = cash
        self.equity = equity
        self.buyingPower = buyingPower
        self.status = status
        self.syncedAt = syncedAt
        self.positions = positions
    }
}

extension BrokerAccountDataRefreshed: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            accountID: .protoPlaceholder,
            cash: nil,
            equity: nil,
            buyingPower: nil,
            status: .active,
            syncedAt: 0,
            positions: [])
    }

    public static let protoSchema = ProtoSchema<BrokerAccountDataRefreshed>(
        "tradecore.broker.v1.BrokerAccountDataRefreshed",
        [
            .field("account_id", 1, ProtoUUID.self, \.accountID),
            .field("cash", 2, ProtoDecimal.self, \.cash),
            .field("equity", 3, ProtoDecimal.self, \.equity),
            .field("buying_power", 4, ProtoDecimal.self, \.buyingPower),
            .field("status", 5, ProtoEnumCodec<BrokerAccountStatus>.self, \.status),
            .field("synced_at", 6, ProtoInt64.self, \.syncedAt, required: true),
            .repeated("positions", 7, ProtoMessageCodec<BrokerPosition>.self, \.positions),
        ])
}

/// `tradecore.broker.v1.BrokerAccountRefreshFailed`.
public struct BrokerAccountRefreshFailed: Sendable, Hashable {
    /// Field 1, `account_id`.
    public var accountID: UUID
    /// Field 2, `error`.
    public var error: String
    /// Field 3, `failed_at`.
    public var failedAt: Int64

    /// Creates the message.
    public init(
        accountID: UUID,
        error: String,
        failedAt: Int64
    ) {
        self.accountID = accountID
        self.error = error
        self.failedAt = failedAt
    }
}

extension BrokerAccountRefreshFailed: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            accountID: .protoPlaceholder,
            error: "",
            failedAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerAccountRefreshFailed>(
        "tradecore.broker.v1.BrokerAccountRefreshFailed",
        [
            .field("account_id", 1, ProtoUUID.self, \.accountID),
            .field("error", 2, ProtoString.self, \.error, required: true),
            .field("failed_at", 3, ProtoInt64.self, \.failedAt, required: true),
        ])
}

/// `tradecore.broker.v1.BrokerAccountUnlinked`.
public struct BrokerAccountUnlinked: Sendable, Hashable {
    /// Field 1, `account_id`.
    public var accountID: UUID
    /// Field 2, `reason`.
    public var reason: String
    /// Field 3, `unlinked_at`.
    public var unlinkedAt: Int64

    /// Creates the message.
    public init(
        accountID: UUID,
        reason: String = "",
        unlinkedAt: Int64
    ) {
        self.accountID = accountID
        self.reason = reason
        self.unlinkedAt = unlinkedAt
    }
}

extension BrokerAccountUnlinked: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            accountID: .protoPlaceholder,
            reason: "",
            unlinkedAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerAccountUnlinked>(
        "tradecore.broker.v1.BrokerAccountUnlinked",
        [
            .field("account_id", 1, ProtoUUID.self, \.accountID),
            .field("reason", 2, ProtoString.self, \.reason),
            .field("unlinked_at", 3, ProtoInt64.self, \.unlinkedAt, required: true),
        ])
}

/// A RefreshAllAccounts run within a saga finished.
public struct AllAccountsRefreshCompleted: Sendable, Hashable {
    /// Field 1, `user_id`.
    public var userID: UUID
    /// Field 2, `broker_connection_id`.
    public var brokerConnectionID: UUID?
    /// Field 3, `total`.
    public var total: UInt32
    /// Field 4, `refreshed`.
    public var refreshed: UInt32
    /// Field 5, `failed`.
    public var failed: UInt32
    /// Field 6, `completed_at`.
    public var completedAt: Int64
    /// Field 7, `errors`.
    public var errors: [AccountRefreshError]

    /// Creates the message.
    public init(
        userID: UUID,
        brokerConnectionID: UUID? = nil,
        total: UInt32 = 0,
        refreshed: UInt32 = 0,
        failed: UInt32 = 0,
        completedAt: Int64,
        errors: [AccountRefreshError] = []
    ) {
        self.userID = userID
        self.brokerConnectionID = brokerConnectionID
        self.total = total
        self.refreshed = refreshed
        self.failed = failed
        self.completedAt = completedAt
        self.errors = errors
    }
}

extension AllAccountsRefreshCompleted: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            userID: .protoPlaceholder,
            brokerConnectionID: nil,
            total: 0,
            refreshed: 0,
            failed: 0,
            completedAt: 0,
            errors: [])
    }

    public static let protoSchema = ProtoSchema<AllAccountsRefreshCompleted>(
        "tradecore.broker.v1.AllAccountsRefreshCompleted",
        [
            .field("user_id", 1, ProtoUUID.self, \.userID),
            .field("broker_connection_id", 2, ProtoUUID.self, \.brokerConnectionID),
            .field("total", 3, ProtoUInt32.self, \.total),
            .field("refreshed", 4, ProtoUInt32.self, \.refreshed),
            .field("failed", 5, ProtoUInt32.self, \.failed),
            .field("completed_at", 6, ProtoInt64.self, \.completedAt, required: true),
            .repeated("errors", 7, ProtoMessageCodec<AccountRefreshError>.self, \.errors),
        ])
}
