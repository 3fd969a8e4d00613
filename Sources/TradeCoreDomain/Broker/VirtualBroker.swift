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
/// - Orders: refused above 1,000,000 units, when the account's buying power cannot pay for a buy
///   (at its limit price, else the current price), or when a cash account sells more than it holds
///   (it cannot sell short), or when a margin account's short sale is more than its buying power. A
///   cash account's buying power is its cash; a margin account's is twice its equity less what its
///   positions, long and short, are worth (they stay within twice its equity). It keeps no reservation for the orders
///   it accepted: each execution is checked the same way when it is booked, at its own price, so
///   orders that together spend more than the account has, or an order changed after it was
///   accepted, never take the books below those limits. An execution that fails the check cancels
///   the rest of the order, with the reason; so does the next poll of an order changed to more
///   than 1,000,000 units. Market
///   orders execute at the price table's price; limit orders when the price reaches the limit; stop
///   orders once the price crosses the stop; stop-limit orders when both hold. At most
///   ``Configuration/maxFillQuantity`` executes per poll, so large orders fill in parts. Time in
///   force: an immediate-or-cancel order executes what it can when it first reaches a poll (at
///   most that much) and is cancelled for the rest; a fill-or-kill order executes whole then, or is
///   cancelled; DAY and good-till-cancelled orders work until they fill or are cancelled (the
///   virtual broker keeps no trading calendar). Only the
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
        var positions: [BrokerPosition] = []
        for (symbol, holding) in account.holdings.sorted(by: { $0.key < $1.key }) where !holding.quantity.isZero {
            let price = prices[symbol] ?? derivedPrice(symbol)
            positions.append(
                BrokerPosition(
                    symbol: symbol, quantity: holding.quantity,
                    averagePrice: holding.cost.divided(by: holding.quantity, scale: Order.averagePriceScale),
                    marketValue: holding.quantity.multiplied(by: price) ?? .zero))
        }
        return BrokerAccountBalances(
            cash: account.cash, equity: equity(of: account, prices: prices),
            buyingPower: buyingPower(of: account, number: accountNumber, prices: prices), status: .active,
            positions: positions)
    }

    /// Cash plus the holdings at the current prices.
    private func equity(of ledger: VirtualBrokerLedger, prices: [String: ExactDecimal]) -> ExactDecimal {
        ledger.holdings.reduce(ledger.cash) { equity, entry in
            let value = entry.value.quantity.multiplied(by: prices[entry.key] ?? derivedPrice(entry.key)) ?? .zero
            return equity.adding(value) ?? equity
        }
    }

    /// What the account can add to its positions: a cash account its cash; a margin account twice
    /// its equity less what its positions, long and short, are worth (so they stay within twice its
    /// equity). Never below zero.
    private func buyingPower(
        of ledger: VirtualBrokerLedger, number: String, prices: [String: ExactDecimal]
    ) -> ExactDecimal {
        guard number.hasSuffix("-M") else { return max(ledger.cash, .zero) }
        let gross = ledger.holdings.reduce(ExactDecimal.zero) { gross, entry in
            let quantity =
                entry.value.quantity < .zero
                ? ExactDecimal.zero.subtracting(entry.value.quantity) : entry.value.quantity
            let value = quantity?.multiplied(by: prices[entry.key] ?? derivedPrice(entry.key)) ?? .zero
            return gross.adding(value) ?? gross
        }
        let power = equity(of: ledger, prices: prices).multiplied(by: ExactDecimal(2))?.subtracting(gross)
        return max(power ?? .zero, .zero)
    }

    /// Why the broker does not take an order of `quantity` units, or `nil`.
    private static func sizeRefusal(_ quantity: ExactDecimal) -> String? {
        quantity <= maxOrderQuantity ? nil : "the virtual broker takes at most \(maxOrderQuantity) units per order"
    }

    /// Why the account cannot take `quantity` of `symbol` bought or sold at `price`, or `nil` when it
    /// can: the one check of an order when it is submitted and of each of its executions. A buy
    /// stays within the buying power; a cash account sells only what it holds; a margin account's
    /// sale beyond what it holds (a short) stays within the buying power too. `prices` values the
    /// holdings (taken once, before a booking, so a store that runs the booking twice decides the
    /// same both times).
    private func refusal(
        _ side: OrderSide, _ quantity: ExactDecimal, of symbol: String, at price: ExactDecimal,
        ledger: VirtualBrokerLedger, account: String, prices: [String: ExactDecimal]
    ) -> String? {
        let held = ledger.holdings[symbol]?.quantity ?? .zero
        let power = buyingPower(of: ledger, number: account, prices: prices)
        if side == .buy {
            guard let cost = quantity.multiplied(by: price), cost <= power else {
                let cost = quantity.multiplied(by: price).map { "\($0)" } ?? "more than 38 digits"
                return "insufficient buying power: \(cost) needed, \(power) available"
            }
        } else if account.hasSuffix("-C") {
            if quantity > held {
                return "a cash account cannot sell short: selling \(quantity) \(symbol), holding \(held)"
            }
        } else {
            // The part of the sale beyond what is held long opens (or adds to) a short position.
            let short = quantity.subtracting(max(held, .zero)) ?? quantity
            if short > .zero {
                guard let value = short.multiplied(by: price), value <= power else {
                    let value = short.multiplied(by: price).map { "\($0)" } ?? "more than 38 digits"
                    return "insufficient buying power to sell short: \(value) needed, \(power) available"
                }
            }
        }
        return nil
    }

    // MARK: - Orders

    public func submit(
        _ order: BrokerOrderRequest, credentials: BrokerCredentials, environment: BrokerEnvironment
    ) async throws(BrokerError) -> BrokerOrderAcknowledgement {
        if let refusal = Self.sizeRefusal(order.quantity) { return .rejected(reason: refusal) }
        let ledger = try await ledger(of: order.accountNumber)
        let price = order.limitPrice ?? price(of: order.symbol)
        if let refusal = refusal(
            order.side, order.quantity, of: order.symbol, at: price, ledger: ledger, account: order.accountNumber,
            prices: state.withLock { $0.prices })
        {
            return .rejected(reason: refusal)
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
    ) async throws(BrokerError) -> BrokerOrderReport {
        let remaining = order.remainingQuantity
        let price = price(of: order.symbol)
        let immediate = order.timeInForce == .immediateOrCancel || order.timeInForce == .fillOrKill
        let executes = Self.executes(order, at: price)
        // An order changed after it was accepted to more than the broker takes.
        let oversized = Self.sizeRefusal(order.quantity)
        // Asked of every working order at every poll: the cheap tests first, the order id's hash
        // only for an order that executes or must be cancelled.
        guard remaining > .zero, executes || immediate || oversized != nil,
            order.brokerOrderID == brokerOrderID(for: order.orderID)
        else { return BrokerOrderReport() }
        if let oversized { return BrokerOrderReport(cancellation: oversized) }
        guard executes else {
            return BrokerOrderReport(
                cancellation:
                    "\(order.timeInForce == .fillOrKill ? "FILL_OR_KILL" : "IMMEDIATE_OR_CANCEL"): "
                    + "it does not execute at the price of \(price)")
        }
        let quantity = min(remaining, configuration.maxFillQuantity)
        if order.timeInForce == .fillOrKill, quantity < remaining {
            return BrokerOrderReport(
                cancellation: "FILL_OR_KILL: \(remaining) does not execute at once (at most \(quantity) at a time)")
        }
        // What an immediate-or-cancel order does not execute now is cancelled.
        let rest =
            order.timeInForce == .immediateOrCancel && quantity < remaining ? remaining.subtracting(quantity) : nil
        // An immediate-or-cancel order executes once, whatever a later poll (behind the order's
        // cancellation) says its fill count is: that poll finds this fill booked, not a new one.
        let fillID = NameBasedUUID.make(
            namespace: order.orderID,
            name: order.timeInForce == .immediateOrCancel ? "virtual immediate fill" : "virtual fill \(order.fillCount)"
        )
        // The books are read only when the order executes, not at every poll of a working order.
        // An execution booked before a restart whose AddFill was never recorded has the same fill
        // id: booking it again returns it as first booked.
        switch try await book(
            VirtualBrokerFill(quantity: quantity, price: price, executedAt: clock.now()), id: fillID, of: order)
        {
        case .booked(let fill):
            return BrokerOrderReport(
                executions: [
                    BrokerExecution(
                        fillID: fillID, quantity: fill.quantity, price: fill.price, executedAt: fill.executedAt)
                ],
                cancellation: rest.map { "IMMEDIATE_OR_CANCEL: \($0) did not execute at once" })
        case .refused(let reason):
            return BrokerOrderReport(cancellation: reason)
        }
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

    /// Books an execution on the account's ledger, once per fill id, if the account can take it
    /// (``refusal(_:_:of:at:ledger:account:prices:)``, checked in the same step); the fill as booked is the
    /// first execution under the id, when it was booked before.
    private func book(
        _ fill: VirtualBrokerFill, id fillID: UUID, of order: WorkingOrder
    ) async throws(BrokerError) -> VirtualBrokerBooking {
        let symbol = order.symbol
        let side = order.side
        let buying = side == .buy
        let account = order.accountNumber
        let prices = state.withLock { $0.prices }
        do {
            return try await books.book(
                fill, id: fillID, on: account, opening: VirtualBrokerLedger(cash: configuration.startingCash)
            ) { [self] ledger in
                if let refusal = refusal(
                    side, fill.quantity, of: symbol, at: fill.price, ledger: ledger, account: account, prices: prices)
                {
                    return refusal
                }
                guard let notional = fill.quantity.multiplied(by: fill.price) else {
                    return "the execution's value \(fill.quantity) × \(fill.price) needs more than 38 digits"
                }
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
                return nil
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
