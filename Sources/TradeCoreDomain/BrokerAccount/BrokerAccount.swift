import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages
import WireFormat

/// The events of a broker account, each a message of `Schemas/broker_account.proto`.
public enum BrokerAccountEvent: DomainEvents, Hashable {
    case linked(BrokerAccountLinked)
    case refreshed(BrokerAccountDataRefreshed)
    case refreshFailed(BrokerAccountRefreshFailed)
    case unlinked(BrokerAccountUnlinked)

    public init?(message: any ProtoSchemaMessage) {
        switch message {
        case let event as BrokerAccountLinked: self = .linked(event)
        case let event as BrokerAccountDataRefreshed: self = .refreshed(event)
        case let event as BrokerAccountRefreshFailed: self = .refreshFailed(event)
        case let event as BrokerAccountUnlinked: self = .unlinked(event)
        default: return nil
        }
    }

    public var message: any ProtoSchemaMessage {
        switch self {
        case .linked(let event): event
        case .refreshed(let event): event
        case .refreshFailed(let event): event
        case .unlinked(let event): event
        }
    }
}

/// An account at a broker that a connection gives access to, with its last known balances.
///
/// Its id derives from the connection and the broker's account number
/// (``BrokerAccount/id(connection:accountNumber:)``), so linking it twice finds the same account.
public struct BrokerAccount: Aggregate {
    public static let streamType = "broker_account"
    public static let eventCodec = ProtoEventCodec<BrokerAccountEvent>()

    /// The namespace of account ids.
    static let idNamespace = UUID(
        uuid: (0x2C, 0x51, 0x8E, 0x07, 0x4B, 0x3A, 0x4F, 0x6D, 0x9E, 0x12, 0x77, 0xA0, 0x5B, 0xC4, 0x1D, 0x36))

    /// The id of the account `accountNumber` of `connection`: the same every time it is linked.
    public static func id(connection: UUID, accountNumber: String) -> UUID {
        NameBasedUUID.make(namespace: idNamespace, name: "\(connection.lowercasedText)/\(accountNumber)")
    }

    public let id: UUID
    public private(set) var exists = false
    public private(set) var userID = UUID.none
    public private(set) var connectionID = UUID.none
    public private(set) var brokerID = ""
    public private(set) var accountNumber = ""
    public private(set) var environment = BrokerEnvironment.paper
    public private(set) var accountType: BrokerAccountType?
    public private(set) var currency = ""
    public private(set) var status = BrokerAccountStatus.active
    public private(set) var cash: ExactDecimal?
    public private(set) var equity: ExactDecimal?
    public private(set) var buyingPower: ExactDecimal?
    public private(set) var positions: [BrokerPosition] = []
    /// When the balances were last read from the broker; 0 never.
    public private(set) var lastSyncedAt: Int64 = 0
    /// The last refresh's failure, cleared by a successful one.
    public private(set) var lastRefreshError = ""

    public init(id: UUID) {
        self.id = id
    }

    /// Whether the account is linked to its connection (not unlinked).
    public var isLinked: Bool { exists && status != .unlinked }

    public mutating func apply(_ event: BrokerAccountEvent) {
        switch event {
        case .linked(let linked):
            exists = true
            userID = linked.userID
            connectionID = linked.brokerConnectionID
            brokerID = linked.brokerID
            accountNumber = linked.brokerAccountNumber
            environment = linked.environment
            accountType = linked.accountType
            currency = linked.currency
            status = .active
        case .refreshed(let refreshed):
            cash = refreshed.cash
            equity = refreshed.equity
            buyingPower = refreshed.buyingPower
            positions = refreshed.positions
            status = refreshed.status
            lastSyncedAt = refreshed.syncedAt
            lastRefreshError = ""
        case .refreshFailed(let failed):
            lastRefreshError = failed.error
        case .unlinked:
            status = .unlinked
        }
    }

    /// The account can take orders: linked and active (not restricted or closed).
    public func requireTradable() throws(DomainError) {
        guard isLinked else {
            throw .wrongState(
                "ACCOUNT_NOT_LINKED", "account \(id.lowercasedText) is not linked to a broker connection",
                facts: ["account_id": id.lowercasedText])
        }
        guard status == .active else {
            throw .wrongState(
                "ACCOUNT_NOT_ACTIVE",
                "account \(id.lowercasedText) is \(status.name) at its broker and takes no orders",
                facts: ["status": status.name])
        }
    }
}

/// What a broker says about one of a connection's accounts, for linking it.
public struct BrokerAccountDescription: Sendable, Hashable {
    /// The broker's own account number.
    public var number: String
    public var type: BrokerAccountType?
    /// ISO 4217.
    public var currency: String

    public init(number: String, type: BrokerAccountType?, currency: String) {
        self.number = number
        self.type = type
        self.currency = currency
    }
}

/// An account's balances and holdings as the broker reports them.
public struct BrokerAccountBalances: Sendable, Hashable {
    public var cash: ExactDecimal?
    public var equity: ExactDecimal?
    public var buyingPower: ExactDecimal?
    public var status: BrokerAccountStatus
    public var positions: [BrokerPosition]

    public init(
        cash: ExactDecimal?, equity: ExactDecimal?, buyingPower: ExactDecimal?, status: BrokerAccountStatus,
        positions: [BrokerPosition]
    ) {
        self.cash = cash
        self.equity = equity
        self.buyingPower = buyingPower
        self.status = status
        self.positions = positions
    }
}

extension AggregateRoot where State == BrokerAccount {
    /// Links the account to its connection. Linking an account that is linked changes nothing;
    /// an unlinked one is linked again. The account number (at most 64 characters) and currency
    /// (three uppercase letters) are required.
    public mutating func link(
        user: UUID, connection: UUID, brokerID: String, environment: BrokerEnvironment,
        description: BrokerAccountDescription, now: Int64
    ) throws(DomainError) {
        if state.exists {
            try Rules.owner(state.userID, is: user, "account", id, reason: "ACCOUNT_NOT_OWNED")
            if state.isLinked { return }
        }
        try Rules.text(description.number, field: "broker_account_number", maxLength: 64, required: true)
        guard description.currency.utf8.count == 3, description.currency.utf8.allSatisfy({ (65...90).contains($0) })
        else {
            throw .invalid("currency", "\"\(description.currency)\" is not an ISO 4217 code such as USD")
        }
        emit(
            .linked(
                BrokerAccountLinked(
                    accountID: id, userID: user, brokerConnectionID: connection, brokerID: brokerID,
                    brokerAccountNumber: description.number, environment: environment, accountType: description.type,
                    currency: description.currency, linkedAt: now)))
    }

    /// Unlinks the account from its connection (the connection was disconnected): it takes no
    /// orders until it is linked again. Unlinking an unlinked account changes nothing; the reason
    /// is free text of at most the usual length.
    public mutating func unlink(reason: String, user: UUID, now: Int64) throws(DomainError) {
        guard state.exists else { throw .notFound("account", id, reason: "ACCOUNT_NOT_FOUND") }
        try Rules.owner(state.userID, is: user, "account", id, reason: "ACCOUNT_NOT_OWNED")
        try Rules.text(reason, field: "reason")
        guard state.isLinked else { return }
        emit(.unlinked(BrokerAccountUnlinked(accountID: id, reason: reason, unlinkedAt: now)))
    }

    /// The account can be refreshed by `user`: it exists, is theirs and is linked.
    public func requireRefreshable(by user: UUID) throws(DomainError) {
        guard state.exists else { throw .notFound("account", id, reason: "ACCOUNT_NOT_FOUND") }
        try Rules.owner(state.userID, is: user, "account", id, reason: "ACCOUNT_NOT_OWNED")
        guard state.isLinked else {
            throw .wrongState(
                "ACCOUNT_NOT_LINKED", "account \(id.lowercasedText) is not linked to a broker connection",
                facts: ["account_id": id.lowercasedText])
        }
    }

    /// Records balances read from the broker.
    public mutating func recordRefresh(_ balances: BrokerAccountBalances, user: UUID, now: Int64) throws(DomainError) {
        try requireRefreshable(by: user)
        emit(
            .refreshed(
                BrokerAccountDataRefreshed(
                    accountID: id, cash: balances.cash, equity: balances.equity, buyingPower: balances.buyingPower,
                    status: balances.status, syncedAt: now, positions: balances.positions)))
    }

    /// Records that the broker could not be read, so the failure is kept, not lost.
    public mutating func recordRefreshFailure(_ error: String, user: UUID, now: Int64) throws(DomainError) {
        try requireRefreshable(by: user)
        let text = error.isEmpty ? "the broker did not answer" : String(error.prefix(Rules.maxTextLength))
        emit(.refreshFailed(BrokerAccountRefreshFailed(accountID: id, error: text, failedAt: now)))
    }

    /// The result of the account's commands.
    public func result(refreshError: String = "") -> BrokerAccountResult {
        BrokerAccountResult(
            accountID: id, status: state.status, version: UInt64(version ?? 0), refreshError: refreshError)
    }
}

extension BrokerAccountStatus {
    /// The name people use.
    public var name: String {
        switch self {
        case .active: "active"
        case .restricted: "restricted"
        case .closed: "closed"
        case .unlinked: "unlinked"
        }
    }
}
