import Crypto
import EventSourcing
import EventStore
import Foundation
import Synchronization
import TradeCoreMessages
import WireFormat

/// The built-in paper-trading broker, id `virtual`: everything a real broker does, simulated and
/// deterministic given its seed.
///
/// - OAuth: the authorization URL points at a fictitious host; any code is accepted except one
///   starting with `denied` (the user refused). The tokens derive from the code, so the same code
///   gives the same accounts.
/// - API keys: a key starting with `vbk_`, of at least 12 characters, with a secret.
/// - Accounts: two per identity (token or key), a cash (`…-C`) and a margin (`…-M`) account in USD,
///   each starting with ``Configuration/startingCash``; fills move their cash and positions.
/// - Orders: refused above 1,000,000 units, when a cash account cannot pay for a buy at the
///   current price, or when a cash account sells more than it holds (it cannot sell short). Market
///   orders execute at the price table's price; limit orders when the price reaches the limit; stop
///   orders once the price crosses the stop; stop-limit orders when both hold. At most
///   ``Configuration/maxFillQuantity`` executes per poll, so large orders fill in parts. Only the
///   orders it accepted execute: an order placed with a broker order id it did not issue (by hand,
///   or another broker's) is not at this broker and never fills here.
/// - Prices: from the table (``Configuration/prices``, changed by ``setPrice(_:_:)``), or for a
///   symbol not in it a price derived from the symbol and the seed.
/// - Books: each account's cash and positions, and every fill executed, in its
///   ``VirtualBrokerBooks``: stored beside the read models by the server, so a restart keeps them
///   (a fill is booked once; executed again after a restart, it is the fill first booked).
public final class VirtualBroker: BrokerAdapter {
    /// The broker's settings.
    public struct Configuration: Sendable {
        /// Derives tokens, account numbers, order ids and unlisted prices.
        public var seed: UInt64
        /// Prices by symbol.
        public var prices: [String: ExactDecimal]
        /// The most that executes of one order per poll.
        public var maxFillQuantity: ExactDecimal
        /// Each account's cash when first seen.
        public var startingCash: ExactDecimal

        public init(
            seed: UInt64 = 42, prices: [String: ExactDecimal] = VirtualBroker.defaultPrices,
            maxFillQuantity: ExactDecimal = ExactDecimal(100), startingCash: ExactDecimal = ExactDecimal(100_000)
        ) {
            self.seed = seed
            self.prices = prices
            self.maxFillQuantity = maxFillQuantity
            self.startingCash = startingCash
        }
    }

    /// The price table it starts with.
    public static let defaultPrices: [String: ExactDecimal] = [
        "AAPL": ExactDecimal(coefficient: 19_025, scale: 2), "MSFT": ExactDecimal(coefficient: 4_105, scale: 1),
        "GOOGL": ExactDecimal(coefficient: 1_658, scale: 1), "AMZN": ExactDecimal(coefficient: 1_854, scale: 1),
        "TSLA": ExactDecimal(coefficient: 2_451, scale: 1), "NVDA": ExactDecimal(coefficient: 12_075, scale: 2),
        "SPY": ExactDecimal(coefficient: 5_302, scale: 1), "QQQ": ExactDecimal(coefficient: 4_556, scale: 1),
        "BTC-USD": ExactDecimal(65_000), "ETH-USD": ExactDecimal(3_400),
        "ES": ExactDecimal(coefficient: 530_025, scale: 2),
    ].compactMapValues { $0 }

    /// The largest order it takes.
    public static let maxOrderQuantity = ExactDecimal(1_000_000)

    private struct State {
        var prices: [String: ExactDecimal]
        var failingAccounts: Set<String> = []
    }

    public let brokerID = "virtual"
    public let defaultAuthMethod = AuthMethod.oauth
    private let configuration: Configuration
    private let clock: any EventSourcingClock
    private let books: any VirtualBrokerBooks
    private let state: Mutex<State>

    /// A broker whose books are `books` (in memory unless given).
    public init(
        configuration: Configuration = Configuration(), clock: any EventSourcingClock = SystemClock(),
        books: any VirtualBrokerBooks = InMemoryVirtualBrokerBooks()
    ) {
        self.configuration = configuration
        self.clock = clock
        self.books = books
        self.state = Mutex(State(prices: configuration.prices))
    }

    // MARK: - Steering (tests, demos)

    /// Sets a symbol's price; working orders see it at the next poll.
    public func setPrice(_ symbol: String, _ price: ExactDecimal) {
        state.withLock { $0.prices[symbol] = price }
    }

    /// The price an order of `symbol` executes at now.
    public func price(of symbol: String) -> ExactDecimal {
        state.withLock { $0.prices[symbol] } ?? derivedPrice(symbol)
    }

    /// Makes reading an account's balances fail (`true`) or work again.
    public func setRefreshFailing(_ failing: Bool, accountNumber: String) {
        state.withLock { state in
            if failing {
                state.failingAccounts.insert(accountNumber)
            } else {
                state.failingAccounts.remove(accountNumber)
            }
        }
    }

    // MARK: - Authentication

    public func authorizationURL(state: String, redirectURI: String, environment: BrokerEnvironment) -> String {
        let redirect = redirectURI.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return "https://virtual-broker.tradecore.invalid/oauth/authorize?response_type=code&client_id=tradecore"
            + "&environment=\(environment.name)&redirect_uri=\(redirect)&state=\(state)"
    }

    public func exchangeAuthorizationCode(
        _ code: String, redirectURI: String, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerCredentials {
        guard !code.isEmpty, !code.hasPrefix("denied") else {
            throw BrokerError(.refused, "the virtual broker refused the authorization code: the user denied access")
        }
        let identity = hex("code/\(code)").prefix(32)
        return .oauth(
            accessToken: "vbat_\(identity)", refreshToken: "vbrt_\(hex("refresh/\(code)").prefix(32))",
            expiresAt: clock.now() + Duration.seconds(3_600).nanoseconds)
    }

    public func verifyAPIKey(
        _ key: String, secret: String, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerCredentials {
        guard key.hasPrefix("vbk_"), key.count >= 12, !secret.isEmpty else {
            throw BrokerError(
                .refused,
                "the virtual broker refused the API key (its keys start with vbk_, have at least "
                    + "12 characters, and come with a secret)")
        }
        return .apiKey(key, secret: secret)
    }

    // MARK: - Accounts

    public func accounts(
        credentials: BrokerCredentials, environment: BrokerEnvironment
    ) async throws(BrokerError) -> [BrokerAccountDescription] {
        let identity = credentials.accessToken ?? credentials.apiKey ?? ""
        let base = "VB\(environment == .live ? "L" : "P")-\(hex("account/\(identity)").prefix(8).uppercased())"
        return [
            BrokerAccountDescription(number: "\(base)-C", type: .cash, currency: "USD"),
            BrokerAccountDescription(number: "\(base)-M", type: .margin, currency: "USD"),
        ]
    }

    public func balances(
        accountNumber: String, credentials: BrokerCredentials, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerAccountBalances {
        let (failing, prices) = state.withLock { state in
            (state.failingAccounts.contains(accountNumber), state.prices)
        }
        guard !failing else {
            throw BrokerError(.unavailable, "the virtual broker did not answer for account \(accountNumber)")
        }
        let account = try await ledger(of: accountNumber)
        var equity = account.cash
        var positions: [BrokerPosition] = []
        for (symbol, holding) in account.holdings.sorted(by: { $0.key < $1.key }) where !holding.quantity.isZero {
            let price = prices[symbol] ?? derivedPrice(symbol)
            let value = holding.quantity.multiplied(by: price) ?? .zero
            equity = equity.adding(value) ?? equity
            positions.append(
                BrokerPosition(
                    symbol: symbol, quantity: holding.quantity,
                    averagePrice: holding.cost.divided(by: holding.quantity, scale: Order.averagePriceScale),
                    marketValue: value))
        }
        let isMargin = accountNumber.hasSuffix("-M")
        return BrokerAccountBalances(
            cash: account.cash, equity: equity,
            buyingPower: isMargin ? equity.multiplied(by: ExactDecimal(2)) : account.cash, status: .active,
            positions: positions)
    }

    // MARK: - Orders

    public func submit(
        _ order: BrokerOrderRequest, credentials: BrokerCredentials, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerOrderAcknowledgement {
        guard order.quantity <= Self.maxOrderQuantity else {
            return .rejected(reason: "the virtual broker takes at most \(Self.maxOrderQuantity) units per order")
        }
        if order.side == .buy, order.accountNumber.hasSuffix("-C") {
            let price = order.limitPrice ?? price(of: order.symbol)
            let cash = try await ledger(of: order.accountNumber).cash
            if let cost = order.quantity.multiplied(by: price), cost > cash {
                return .rejected(reason: "insufficient buying power: \(cost) needed, \(cash) in cash")
            }
        }
        if order.side == .sell, order.accountNumber.hasSuffix("-C") {
            let held = try await ledger(of: order.accountNumber).holdings[order.symbol]?.quantity ?? .zero
            if order.quantity > held {
                return .rejected(
                    reason:
                        "a cash account cannot sell short: selling \(order.quantity) \(order.symbol), holding \(held)")
            }
        }
        return .accepted(brokerOrderID: brokerOrderID(for: order.clientOrderID))
    }

    /// The id it gives the order it accepts: derived from our order id, so after a restart it still
    /// knows which orders are its own.
    private func brokerOrderID(for orderID: UUID) -> String {
        "VB-\(hex("order/\(orderID.lowercasedText)").prefix(16).uppercased())"
    }

    public func executions(
        of order: WorkingOrder, credentials: BrokerCredentials, environment: BrokerEnvironment
    ) async throws(BrokerError) -> [BrokerExecution] {
        let remaining = order.remainingQuantity
        let price = price(of: order.symbol)
        // Asked of every working order at every poll: the cheap test first.
        guard remaining > .zero, Self.executes(order, at: price),
            order.brokerOrderID == brokerOrderID(for: order.orderID)
        else { return [] }
        let fillID = NameBasedUUID.make(namespace: order.orderID, name: "virtual fill \(order.fillCount)")
        let quantity = min(remaining, configuration.maxFillQuantity)
        // The books are read only when the order executes, not at every poll of a working order.
        // An execution booked before a restart whose AddFill was never recorded has the same fill
        // id: booking it again returns it as first booked.
        let fill = try await book(
            VirtualBrokerFill(quantity: quantity, price: price, executedAt: clock.now()), id: fillID, of: order)
        return [
            BrokerExecution(fillID: fillID, quantity: fill.quantity, price: fill.price, executedAt: fill.executedAt)
        ]
    }

    /// Whether `order` executes at `price`.
    static func executes(_ order: WorkingOrder, at price: ExactDecimal) -> Bool {
        let buying = order.side == .buy
        let limitHolds = order.limitPrice.map { buying ? price <= $0 : price >= $0 } ?? true
        let stopCrossed = order.stopPrice.map { buying ? price >= $0 : price <= $0 } ?? true
        switch order.orderType {
        case .market: return true
        case .limit: return limitHolds
        case .stop: return stopCrossed
        case .stopLimit: return stopCrossed && limitHolds
        }
    }

    /// The account's ledger: as booked, or the opening one (``Configuration/startingCash``).
    private func ledger(of account: String) async throws(BrokerError) -> VirtualBrokerLedger {
        do {
            return try await books.ledger(of: account) ?? VirtualBrokerLedger(cash: configuration.startingCash)
        } catch {
            throw BrokerError(.unavailable, "the virtual broker could not read its books: \(error)")
        }
    }

    /// Books an execution on the account's ledger, once per fill id; returns the fill as booked
    /// (the first execution under the id, when it was booked before).
    private func book(
        _ fill: VirtualBrokerFill, id fillID: UUID, of order: WorkingOrder
    ) async throws(BrokerError) -> VirtualBrokerFill {
        let symbol = order.symbol
        let buying = order.side == .buy
        do {
            return try await books.book(
                fill, id: fillID, on: order.accountNumber,
                opening: VirtualBrokerLedger(cash: configuration.startingCash)
            ) { ledger in
                guard let notional = fill.quantity.multiplied(by: fill.price) else { return }
                var holding = ledger.holdings[symbol] ?? VirtualBrokerLedger.Holding()
                if buying {
                    ledger.cash = ledger.cash.subtracting(notional) ?? ledger.cash
                    holding.quantity = holding.quantity.adding(fill.quantity) ?? holding.quantity
                    holding.cost = holding.cost.adding(notional) ?? holding.cost
                } else {
                    ledger.cash = ledger.cash.adding(notional) ?? ledger.cash
                    let average =
                        holding.quantity.isZero
                        ? fill.price : holding.cost.divided(by: holding.quantity, scale: 8) ?? fill.price
                    holding.quantity = holding.quantity.subtracting(fill.quantity) ?? holding.quantity
                    holding.cost = holding.quantity.multiplied(by: average) ?? .zero
                }
                ledger.holdings[symbol] = holding
            }
        } catch {
            throw BrokerError(.unavailable, "the virtual broker could not book an execution: \(error)")
        }
    }

    // MARK: - Derivations

    /// A price for a symbol the table does not list: 10.00 to 500.00, fixed by the symbol and seed.
    private func derivedPrice(_ symbol: String) -> ExactDecimal {
        let digest = SHA256.hash(data: Data("\(configuration.seed)/price/\(symbol)".utf8))
        let number = digest.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return ExactDecimal(coefficient: Int128(1_000 + number % 49_001), scale: 2) ?? ExactDecimal(100)
    }

    /// Hex of SHA-256 over the seed and `text`.
    private func hex(_ text: String) -> String {
        Hex.encode(SHA256.hash(data: Data("\(configuration.seed)/\(text)".utf8)))
    }
}
