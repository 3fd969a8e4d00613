import Foundation
import TradeCoreMessages

/// A broker, as the domain talks to it: authentication, accounts, orders and executions.
///
/// Every call may be made again for the same thing (a command retried after a version conflict,
/// a saga's step redone after a restart), so each must be safe to repeat: an order submitted twice
/// with the same client order id is one order at the broker, and the same execution keeps its id.
/// Failures are ``BrokerError``s with a message fit for the user.
public protocol BrokerAdapter: Sendable {
    /// The broker's id, as commands name it (`virtual`).
    var brokerID: String { get }

    /// How users authenticate when a command does not say.
    var defaultAuthMethod: AuthMethod { get }

    /// Where to send the user to authorize TradeCore, carrying `state` for the callback.
    func authorizationURL(state: String, redirectURI: String, environment: BrokerEnvironment) -> String

    /// Exchanges the code of an OAuth callback for credentials.
    func exchangeAuthorizationCode(
        _ code: String, redirectURI: String, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerCredentials

    /// Checks API credentials with the broker and returns them as credentials to keep.
    func verifyAPIKey(
        _ key: String, secret: String, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerCredentials

    /// The accounts the credentials give access to.
    func accounts(
        credentials: BrokerCredentials, environment: BrokerEnvironment
    ) async throws(BrokerError) -> [BrokerAccountDescription]

    /// One account's balances and holdings.
    func balances(
        accountNumber: String, credentials: BrokerCredentials, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerAccountBalances

    /// Submits an order; the broker accepts it (with its own order id) or refuses it.
    func submit(
        _ order: BrokerOrderRequest, credentials: BrokerCredentials, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerOrderAcknowledgement

    /// The executions of a working order beyond the `order.fillCount` already recorded, and
    /// whether the broker cancelled the rest of it.
    func executions(
        of order: WorkingOrder, credentials: BrokerCredentials, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerOrderReport
}

/// A broker call that failed, with a message fit for the user.
public struct BrokerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: String, Sendable, Hashable {
        /// The broker refused the credentials or the code.
        case refused
        /// The broker could not be reached or did not answer; trying again later may help.
        case unavailable
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// What a broker connection authenticates with. A secret: kept only in the ``CredentialVault``,
/// never in an event, an outcome or a log line (its description is redacted).
public struct BrokerCredentials: Sendable, Hashable, Codable, CustomStringConvertible {
    public var authMethod: Int32
    public var accessToken: String?
    public var refreshToken: String?
    public var apiKey: String?
    public var apiSecret: String?
    /// When access expires (Unix nanoseconds); `nil` for API keys.
    public var expiresAt: Int64?

    /// OAuth tokens.
    public static func oauth(accessToken: String, refreshToken: String?, expiresAt: Int64?) -> BrokerCredentials {
        BrokerCredentials(
            authMethod: AuthMethod.oauth.rawValue, accessToken: accessToken, refreshToken: refreshToken,
            expiresAt: expiresAt)
    }

    /// An API key and its secret.
    public static func apiKey(_ key: String, secret: String) -> BrokerCredentials {
        BrokerCredentials(authMethod: AuthMethod.apiKey.rawValue, apiKey: key, apiSecret: secret)
    }

    init(
        authMethod: Int32, accessToken: String? = nil, refreshToken: String? = nil, apiKey: String? = nil,
        apiSecret: String? = nil, expiresAt: Int64? = nil
    ) {
        self.authMethod = authMethod
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.apiKey = apiKey
        self.apiSecret = apiSecret
        self.expiresAt = expiresAt
    }

    /// How these credentials were obtained.
    public var method: AuthMethod { AuthMethod(rawValue: authMethod) ?? .apiKey }

    public var description: String { "BrokerCredentials(<redacted>)" }
}

/// An order as a broker is asked to take it.
public struct BrokerOrderRequest: Sendable, Hashable {
    /// TradeCore's order id: submitting the same id twice is one order.
    public var clientOrderID: UUID
    public var accountNumber: String
    public var symbol: String
    public var side: OrderSide
    public var quantity: ExactDecimal
    public var type: OrderType
    public var limitPrice: ExactDecimal?
    public var stopPrice: ExactDecimal?
    public var timeInForce: TimeInForce

    public init(
        clientOrderID: UUID, accountNumber: String, symbol: String, side: OrderSide, quantity: ExactDecimal,
        type: OrderType, limitPrice: ExactDecimal?, stopPrice: ExactDecimal?, timeInForce: TimeInForce
    ) {
        self.clientOrderID = clientOrderID
        self.accountNumber = accountNumber
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.type = type
        self.limitPrice = limitPrice
        self.stopPrice = stopPrice
        self.timeInForce = timeInForce
    }
}

/// A broker's answer to a submitted order.
public enum BrokerOrderAcknowledgement: Sendable, Hashable {
    /// The broker took the order under its own id.
    case accepted(brokerOrderID: String)
    /// The broker refused it, saying why.
    case rejected(reason: String)
}

/// What a broker says of a working order: its executions beyond those recorded, and whether it
/// cancelled what remains (the fill poller then cancels the order, with the broker's reason).
public struct BrokerOrderReport: Sendable, Hashable {
    public var executions: [BrokerExecution]
    /// Why the broker cancelled the rest of the order; `nil` while the order works.
    public var cancellation: String?

    public init(executions: [BrokerExecution] = [], cancellation: String? = nil) {
        self.executions = executions
        self.cancellation = cancellation
    }
}

/// One execution of an order at a broker.
public struct BrokerExecution: Sendable, Hashable {
    /// Stable for the execution: reported again, it has the same id.
    public var fillID: UUID
    public var quantity: ExactDecimal
    public var price: ExactDecimal
    public var executedAt: Int64

    public init(fillID: UUID, quantity: ExactDecimal, price: ExactDecimal, executedAt: Int64) {
        self.fillID = fillID
        self.quantity = quantity
        self.price = price
        self.executedAt = executedAt
    }
}

/// The brokers this server can talk to, by id.
public struct BrokerRegistry: Sendable {
    private let adapters: [String: any BrokerAdapter]

    public init(_ adapters: [any BrokerAdapter]) {
        self.adapters = Dictionary(adapters.map { ($0.brokerID, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The adapter of `brokerID`, if this server knows that broker.
    public func adapter(for brokerID: String) -> (any BrokerAdapter)? { adapters[brokerID] }

    /// The ids of the brokers known, sorted.
    public var brokerIDs: [String] { adapters.keys.sorted() }
}
