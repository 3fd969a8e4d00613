import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages

// The order's handlers load, let the order decide, and save: the rules are in `Order+Rules.swift`.

struct CreateOrderHandler: CommandHandler {
    func handle(_ command: CreateOrder, context: CommandContext) async throws -> OrderResult {
        // The account and automation are read from their own streams, not a read model: the rules
        // must hold for what is committed, even just now.
        let account = try await context.loadIfPresent(BrokerAccount.self, id: command.accountID)
        var automation: AggregateRoot<Automation>?
        if let automationID = command.automationID {
            automation = try await context.loadIfPresent(Automation.self, id: automationID)
        }
        var order = AggregateRoot<Order>(id: UUIDv7.next())
        try order.create(command, account: account?.state, automation: automation?.state, now: context.now)
        try context.save(order)
        return order.result
    }
}

struct PlaceOrderHandler: CommandHandler {
    func handle(_ command: PlaceOrder, context: CommandContext) async throws -> OrderResult {
        var order = try await context.order(command.orderID, expectedVersion: command.expectedVersion)
        try order.place(
            brokerOrderID: command.brokerOrderID, placedAt: command.placedAt, user: command.userID, now: context.now)
        try context.save(order)
        return order.result
    }
}

struct AddFillHandler: CommandHandler {
    func handle(_ command: AddFill, context: CommandContext) async throws -> OrderResult {
        var order = try await context.order(command.orderID, expectedVersion: command.expectedVersion)
        try order.addFill(
            fillID: command.fillID, quantity: command.quantity, price: command.price, filledAt: command.filledAt,
            user: command.userID, now: context.now)
        try context.save(order)
        return order.result
    }
}

struct UpdateOrderHandler: CommandHandler {
    func handle(_ command: UpdateOrder, context: CommandContext) async throws -> OrderResult {
        var order = try await context.order(command.orderID, expectedVersion: command.expectedVersion)
        let account = try await context.loadIfPresent(BrokerAccount.self, id: order.state.accountID)
        var automation: AggregateRoot<Automation>?
        if command.quantity != nil, let automationID = order.state.automationID {
            automation = try await context.loadIfPresent(Automation.self, id: automationID)
        }
        try order.update(command, account: account?.state, automation: automation?.state, now: context.now)
        try context.save(order)
        return order.result
    }
}

struct CancelOrderHandler: CommandHandler {
    func handle(_ command: CancelOrder, context: CommandContext) async throws -> OrderResult {
        var order = try await context.order(command.orderID, expectedVersion: command.expectedVersion)
        try order.cancel(reason: command.reason, user: command.userID, now: context.now)
        try context.save(order)
        return order.result
    }
}

struct RejectOrderHandler: CommandHandler {
    func handle(_ command: RejectOrder, context: CommandContext) async throws -> OrderResult {
        var order = try await context.order(command.orderID, expectedVersion: command.expectedVersion)
        try order.reject(reason: command.reason, user: command.userID, now: context.now)
        try context.save(order)
        return order.result
    }
}

struct DeleteOrderHandler: CommandHandler {
    func handle(_ command: DeleteOrder, context: CommandContext) async throws -> OrderResult {
        var order = try await context.order(command.orderID, expectedVersion: command.expectedVersion)
        try order.delete(user: command.userID, now: context.now)
        try context.save(order)
        return order.result
    }
}

/// Submits a pending order to its account's broker and records the answer: placed under the
/// broker's id, or rejected with its reason. Sent by the order execution saga.
///
/// The broker is asked before the order is saved; when the save conflicts and the bus runs this
/// again, the broker is asked again with the same client order id, which it treats as the same order.
public struct SubmitOrderToBroker: Command {
    public typealias Result = OrderResult
    public static var commandType: String { "SubmitOrderToBroker" }

    public var orderID: UUID
    public var userID: UUID
    public var sagaID: UUID?
    public var actingUserID: UUID? { userID }

    public init(orderID: UUID, userID: UUID, sagaID: UUID?) {
        self.orderID = orderID
        self.userID = userID
        self.sagaID = sagaID
    }
}

struct SubmitOrderToBrokerHandler: CommandHandler {
    func handle(_ command: SubmitOrderToBroker, context: CommandContext) async throws -> OrderResult {
        var order = try await context.order(command.orderID, expectedVersion: nil)
        try order.requireOwned(by: command.userID)
        // Submitted before (a redone saga step): the order says how it went.
        guard order.status == .pending else { return order.result }
        let account = try await context.load(BrokerAccount.self, id: order.accountID)
        let connection = try await context.load(BrokerConnection.self, id: account.connectionID)
        try connection.requireConnected(by: command.userID)
        let domain = try context.domain
        let adapter = try domain.adapter(for: account.brokerID)
        let credentials = try await domain.vault.credentials(reference: connection.credentialsReference)
        let request = BrokerOrderRequest(
            clientOrderID: order.id, accountNumber: account.accountNumber, symbol: order.symbol, side: order.side,
            quantity: order.quantity, type: order.orderType, limitPrice: order.limitPrice, stopPrice: order.stopPrice,
            timeInForce: order.timeInForce)
        switch try await adapter.submit(request, credentials: credentials, environment: account.environment) {
        case .accepted(let brokerOrderID):
            try order.place(brokerOrderID: brokerOrderID, placedAt: 0, user: command.userID, now: context.now)
        case .rejected(let reason):
            try order.reject(reason: reason, user: command.userID, now: context.now)
        }
        try context.save(order)
        return order.result
    }
}

extension CommandContext {
    /// Loads an order that must exist, at the version its caller read if it said.
    func order(_ id: UUID, expectedVersion: UInt64?) async throws -> AggregateRoot<Order> {
        try await existing(Order.self, id, expectedVersion, or: .notFound("order", id, reason: "ORDER_NOT_FOUND"))
    }

    /// Loads an aggregate that must exist, at the version its caller read if it said; `missing`
    /// is the domain's error for one that does not, built only then (its message formats ids).
    func existing<State: Aggregate>(
        _ type: State.Type, _ id: UUID, _ expectedVersion: UInt64?, or missing: @autoclosure () -> DomainError
    ) async throws -> AggregateRoot<State> {
        do {
            return try await load(type, id: id, expectedVersion: expectedVersion)
        } catch is AggregateNotFound {
            throw missing()
        }
    }
}
