import EventSourcing
import Foundation
import TradeCoreMessages

@testable import TradeCoreDomain

/// States of the aggregates an order or automation refers to, built from their events.
enum Fixtures {
    static let now: Int64 = 1_700_000_000_000_000_000

    static func decimal(_ text: String) -> ExactDecimal {
        guard let value = ExactDecimal(text) else { fatalError("bad decimal literal \(text) in a test") }
        return value
    }

    /// A linked account of `user`; `refreshedStatus` is what a later refresh reported, if any.
    static func account(
        id: UUID = UUID(), user: UUID, connection: UUID = UUID(), unlinked: Bool = false,
        refreshedStatus: BrokerAccountStatus? = nil
    ) -> BrokerAccount {
        var root = AggregateRoot<BrokerAccount>(id: id)
        root.emit(
            .linked(
                BrokerAccountLinked(
                    accountID: id, userID: user, brokerConnectionID: connection, brokerID: "virtual",
                    brokerAccountNumber: "VBP-TEST-C", environment: .paper, accountType: .cash, currency: "USD",
                    linkedAt: now)))
        if let refreshedStatus {
            root.emit(
                .refreshed(
                    BrokerAccountDataRefreshed(
                        accountID: id, cash: decimal("100"), status: refreshedStatus, syncedAt: now)))
        }
        if unlinked { root.emit(.unlinked(BrokerAccountUnlinked(accountID: id, unlinkedAt: now))) }
        return root.state
    }

    static func automationConfig(accounts: [UUID], symbol: String = "AAPL") -> AutomationConfig {
        AutomationConfig(
            name: "Breakout", symbol: symbol,
            positionSizing: PositionSizing(method: .fixedQuantity, value: decimal("10")),
            accountIDs: accounts, assetType: .stock, sidePreference: .both)
    }

    /// An automation of `user` trading through `accounts`, active or not, deleted or not
    /// (``automationConfig(accounts:symbol:)`` unless `config` is given).
    static func automation(
        id: UUID = UUID(), user: UUID, accounts: [UUID], active: Bool, config: AutomationConfig? = nil,
        deleted: Bool = false
    ) -> Automation {
        var root = AggregateRoot<Automation>(id: id)
        root.emit(
            .created(
                AutomationCreated(
                    automationID: id, userID: user, config: config ?? automationConfig(accounts: accounts),
                    webhookURL: "https://h/x",
                    webhookTokenSHA256: Array(repeating: 1, count: 32), status: .inactive, createdAt: now)))
        if active { root.emit(.activated(AutomationActivated(automationID: id, activatedAt: now))) }
        if deleted { root.emit(.deleted(AutomationDeleted(automationID: id, deletedAt: now))) }
        return root.state
    }

    /// The event that creates an order of `user` (a market buy of `quantity`, or a limit order).
    static func orderCreated(
        _ id: UUID, user: UUID, account: UUID = UUID(), quantity: String = "100", type: OrderType = .market,
        limit: String? = nil, stop: String? = nil
    ) -> OrderEvent {
        .created(
            OrderCreated(
                orderID: id, userID: user, symbol: "AAPL", side: .buy, quantity: decimal(quantity), orderType: type,
                limitPrice: limit.map(decimal), stopPrice: stop.map(decimal), timeInForce: .day, createdAt: now,
                accountID: account))
    }

    static func placed(_ id: UUID) -> OrderEvent {
        .placed(OrderPlaced(orderID: id, brokerOrderID: "B-1", placedAt: now))
    }

    static func fill(
        _ order: UUID, _ fill: UUID, quantity: String, price: String, filled: String, average: String,
        status: OrderStatus
    ) -> OrderEvent {
        .fillAdded(
            FillAdded(
                orderID: order, fillID: fill, quantity: decimal(quantity), price: decimal(price), filledAt: now,
                filledQuantity: decimal(filled), averageFillPrice: decimal(average), status: status))
    }
}

extension DomainError {
    /// Whether the error is of `code` with `reason` (and, when given, names `field`).
    func `is`(_ code: CommandRejection.Code, _ reason: String, field: String? = nil) -> Bool {
        self.code == code && self.reason == reason
            && (field.map { f in fieldViolations.contains { $0.field == f } } ?? true)
    }
}
