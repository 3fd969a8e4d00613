import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `tradecore.broker.v1.GetAccountsByUser`.
public struct GetAccountsByUser: Sendable, Hashable {
    /// Field 1, `user_id`.
    public var userID: UUID
    /// Field 2, `include_unlinked`.
    public var includeUnlinked: Bool
    /// Wait until the read model has reached this log position.
    /// Field 3, `min_position`.
    public var minPosition: UInt64

    /// Creates the message.
    public init(
        userID: UUID,
        includeUnlinked: Bool = false,
        minPosition: UInt64 = 0
    ) {
        self.userID = userID
        self.includeUnlinked = includeUnlinked
        self.minPosition = minPosition
    }
}

extension GetAccountsByUser: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            userID: .protoPlaceholder,
            includeUnlinked: false,
            minPosition: 0)
    }

    public static let protoSchema = ProtoSchema<GetAccountsByUser>(
        "tradecore.broker.v1.GetAccountsByUser",
        [
            .field("user_id", 1, ProtoUUID.self, \.userID),
            .field("include_unlinked", 2, ProtoBool.self, \.includeUnlinked),
            .field("min_position", 3, ProtoUInt64.self, \.minPosition),
        ])
}

/// `tradecore.broker.v1.GetAccountsByConnection`.
public struct GetAccountsByConnection: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `include_unlinked`.
    public var includeUnlinked: Bool
    /// Wait until the read model has reached this log position.
    /// Field 4, `min_position`.
    public var minPosition: UInt64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        userID: UUID,
        includeUnlinked: Bool = false,
        minPosition: UInt64 = 0
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.userID = userID
        self.includeUnlinked = includeUnlinked
        self.minPosition = minPosition
    }
}

extension GetAccountsByConnection: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            userID: .protoPlaceholder,
            includeUnlinked: false,
            minPosition: 0)
    }

    public static let protoSchema = ProtoSchema<GetAccountsByConnection>(
        "tradecore.broker.v1.GetAccountsByConnection",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("include_unlinked", 3, ProtoBool.self, \.includeUnlinked),
            .field("min_position", 4, ProtoUInt64.self, \.minPosition),
        ])
}

/// `tradecore.broker.v1.BrokerAccountView`.
public struct BrokerAccountView: Sendable, Hashable {
    /// Field 1, `account_id`.
    public var accountID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 4, `broker_id`.
    public var brokerID: String
    /// Field 5, `broker_account_number`.
    public var brokerAccountNumber: String
    /// Field 6, `environment`.
    public var environment: BrokerEnvironment
    /// Field 7, `account_type`.
    public var accountType: BrokerAccountType?
    /// Field 8, `currency`.
    public var currency: String
    /// Field 9, `status`.
    public var status: BrokerAccountStatus
    /// Field 10, `cash`.
    public var cash: ExactDecimal?
    /// Field 11, `equity`.
    public var equity: ExactDecimal?
    /// Field 12, `buying_power`.
    public var buyingPower: ExactDecimal?
    /// Field 13, `last_synced_at`.
    public var lastSyncedAt: Int64
    /// Field 14, `created_at`.
    public var createdAt: Int64
    /// Field 15, `updated_at`.
    public var updatedAt: Int64
    /// Field 16, `version`.
    public var version: UInt64
    /// Field 17, `positions`.
    public var positions: [BrokerPosition]
    /// The last refresh's failure, cleared by a successful one.
    /// Field 18, `last_refresh_error`.
    public var lastRefreshError: String

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
        status: BrokerAccountStatus,
        cash: ExactDecimal? = nil,
        equity: ExactDecimal? = nil,
        buyingPower: ExactDecimal? = nil,
        lastSyncedAt: Int64 = 0,
        createdAt: Int64,
        updatedAt: Int64,
        version: UInt64 = 0,
        positions: [BrokerPosition] = [],
        lastRefreshError: String = ""
    ) {
        self.accountID = accountID
        self.userID = userID
        self.brokerConnectionID = brokerConnectionID
        self.brokerID = brokerID
        self.brokerAccountNumber = brokerAccountNumber
        self.environment = environment
        self.accountType = accountType
        self.currency = currency
        self.status = status
        self.cash = cash
        self.equity = equity
        self.buyingPower = buyingPower
        self.lastSyncedAt = lastSyncedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
        self.positions = positions
        self.lastRefreshError = lastRefreshError
    }
}

extension BrokerAccountView: ProtoSchemaMessage {
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
            status: .active,
            cash: nil,
            equity: nil,
            buyingPower: nil,
            lastSyncedAt: 0,
            createdAt: 0,
            updatedAt: 0,
            version: 0,
            positions: [],
            lastRefreshError: "")
    }

    public static let protoSchema = ProtoSchema<BrokerAccountView>(
        "tradecore.broker.v1.BrokerAccountView",
        [
            .field("account_id", 1, ProtoUUID.self, \.accountID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("broker_connection_id", 3, ProtoUUID.self, \.brokerConnectionID),
            .field("broker_id", 4, ProtoString.self, \.brokerID, required: true),
            .field("broker_account_number", 5, ProtoString.self, \.brokerAccountNumber, required: true),
            .field("environment", 6, ProtoEnumCodec<BrokerEnvironment>.self, \.environment),
            .field("account_type", 7, ProtoEnumCodec<BrokerAccountType>.self, \.accountType),
            .field("currency", 8, ProtoString.self, \.currency, required: true),
            .field("status", 9, ProtoEnumCodec<BrokerAccountStatus>.self, \.status),
            .field("cash", 10, ProtoDecimal.self, \.cash),
            .field("equity", 11, ProtoDecimal.self, \.equity),
            .field("buying_power", 12, ProtoDecimal.self, \.buyingPower),
            .field("last_synced_at", 13, ProtoInt64.self, \.lastSyncedAt),
            .field("created_at", 14, ProtoInt64.self, \.createdAt, required: true),
            .field("updated_at", 15, ProtoInt64.self, \.updatedAt, required: true),
            .field("version", 16, ProtoUInt64.self, \.version),
            .repeated("positions", 17, ProtoMessageCodec<BrokerPosition>.self, \.positions),
            .field("last_refresh_error", 18, ProtoString.self, \.lastRefreshError),
        ])
}

/// `tradecore.broker.v1.BrokerAccountList`.
public struct BrokerAccountList: Sendable, Hashable {
    /// Field 1, `accounts`.
    public var accounts: [BrokerAccountView]

    /// Creates the message.
    public init(
        accounts: [BrokerAccountView] = []
    ) {
        self.accounts = accounts
    }
}

extension BrokerAccountList: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            accounts: [])
    }

    public static let protoSchema = ProtoSchema<BrokerAccountList>(
        "tradecore.broker.v1.BrokerAccountList",
        [
            .repeated("accounts", 1, ProtoMessageCodec<BrokerAccountView>.self, \.accounts)
        ])
}
