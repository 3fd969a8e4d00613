import EventSourcing
import EventStore
import Foundation
import HashTreeCollections
import TradeCoreMessages

/// The business rules of an order. Each method checks its rules against the state and emits the
/// events, or throws a ``DomainError`` and emits nothing.
extension AggregateRoot where State == Order {
    /// Creates the order, PENDING.
    ///
    /// - The account must exist, belong to the user, be linked and active.
    /// - An automation, when named, must exist, belong to the user, be active and list the account.
    /// - The quantity and prices are amounts an order can be executed in (``Rules/quantity(_:field:maxScale:)``,
    ///   ``Rules/price(_:field:maxScale:)``: above zero, at most 8 decimal places, bounded); the symbol is a
    ///   ticker (``Rules/symbol(_:field:)``).
    /// - Each type has exactly the prices it needs: market none, limit a limit price, stop a stop
    ///   price, stop-limit both.
    /// - An order through an automation trades what the automation trades
    ///   (``checkTradedBy(_:automationID:_:)``).
    /// - Time in force defaults to DAY.
    public mutating func create(
        _ command: CreateOrder, account: BrokerAccount?, automation: Automation?, now: Int64
    ) throws(DomainError) {
        guard isNew else { throw .wrongState("ORDER_EXISTS", "order \(id.lowercasedText) exists already") }
        // The request's own fields first, then what it refers to.
        try Rules.symbol(command.symbol)
        try Rules.quantity(command.quantity)
        try Self.checkPrices(command.orderType, limit: command.limitPrice, stop: command.stopPrice)
        guard let account, account.exists else {
            throw .notFound("account", command.accountID, reason: "ACCOUNT_NOT_FOUND")
        }
        try Rules.owner(account.userID, is: command.userID, "account", command.accountID, reason: "ACCOUNT_NOT_OWNED")
        try account.requireTradable()
        if let automationID = command.automationID {
            guard let automation, automation.exists else {
                throw .notFound("automation", automationID, reason: "AUTOMATION_NOT_FOUND")
            }
            try Rules.owner(
                automation.userID, is: command.userID, "automation", automationID, reason: "AUTOMATION_NOT_OWNED")
            guard automation.status != .deleted else {
                throw .wrongState(
                    "AUTOMATION_DELETED", "automation \(automationID.lowercasedText) is deleted",
                    facts: ["automation_id": automationID.lowercasedText])
            }
            guard automation.status == .active else {
                throw .wrongState(
                    "AUTOMATION_NOT_ACTIVE",
                    "automation \(automationID.lowercasedText) is not active: activate it first",
                    facts: ["automation_id": automationID.lowercasedText])
            }
            guard automation.config.accountIDs.contains(command.accountID) else {
                throw .invalid(
                    "account_id", "account \(command.accountID.lowercasedText) is not one of the automation's accounts",
                    reason: "ACCOUNT_NOT_IN_AUTOMATION")
            }
            try Self.checkTradedBy(automation.config, automationID: automationID, command)
        }
        emit(
            .created(
                OrderCreated(
                    orderID: id, userID: command.userID, automationID: command.automationID, symbol: command.symbol,
                    side: command.side, quantity: command.quantity, orderType: command.orderType,
                    limitPrice: command.limitPrice, stopPrice: command.stopPrice,
                    timeInForce: command.timeInForce ?? .day, createdAt: now, accountID: command.accountID,
                    autoSubmit: command.autoSubmit)))
    }

    /// Records that the broker accepted the order: PENDING → PLACED. The broker's order id is
    /// required (at most 128 characters); the time defaults to now, and a given one lies between
    /// the order's creation and now (``checkBrokerTime(_:field:now:)``).
    public mutating func place(brokerOrderID: String, placedAt: Int64, user: UUID, now: Int64) throws(DomainError) {
        try requireOwned(by: user)
        guard state.status == .pending else {
            throw .wrongState(
                "ORDER_NOT_PENDING", "only a pending order can be placed; this one is \(state.status.name)",
                facts: ["status": state.status.name])
        }
        try Rules.text(brokerOrderID, field: "broker_order_id", maxLength: 128, required: true)
        if placedAt != 0 { try checkBrokerTime(placedAt, field: "placed_at", now: now) }
        emit(.placed(OrderPlaced(orderID: id, brokerOrderID: brokerOrderID, placedAt: placedAt > 0 ? placedAt : now)))
    }

    /// Records the broker's (or a risk check's) refusal: a pending or placed order, not yet filled
    /// at all, becomes REJECTED with the reason (required).
    public mutating func reject(reason: String, user: UUID, now: Int64) throws(DomainError) {
        try requireOwned(by: user)
        guard state.status == .pending || state.status == .placed else {
            throw .wrongState(
                "ORDER_NOT_REJECTABLE",
                "only a pending or placed order can be rejected; this one is \(state.status.name)",
                facts: ["status": state.status.name])
        }
        try Rules.text(reason, field: "reason", required: true)
        emit(.rejected(OrderRejected(orderID: id, reason: reason, rejectedAt: now)))
    }

    /// Records one execution.
    ///
    /// - Only a placed or partially filled order takes fills.
    /// - A fill id seen before with the same quantity and price changes nothing (the broker
    ///   reported it twice); with another quantity or price it is refused (ALREADY_EXISTS,
    ///   `FILL_ID_REUSED`): two different trades under one id is an error at their source, and
    ///   dropping the second silently would hide it.
    /// - Quantity and price are amounts (``Rules/quantity(_:field:maxScale:)``, ``Rules/price(_:field:maxScale:)``);
    ///   the filled quantity never passes the order's.
    /// - The filled notional is kept exactly; the average is rounded (``Order/averagePriceScale``).
    /// - The fill that completes the order is followed by OrderFilled.
    public mutating func addFill(
        fillID: UUID, quantity: ExactDecimal, price: ExactDecimal, filledAt: Int64, user: UUID, now: Int64
    ) throws(DomainError) {
        try requireOwned(by: user)
        if let recorded = state.fills[fillID] {
            guard recorded.quantity == quantity, recorded.price == price else {
                throw DomainError(
                    .alreadyExists, reason: "FILL_ID_REUSED",
                    "fill \(fillID.lowercasedText) was recorded as \(recorded.quantity) at \(recorded.price); "
                        + "this one says \(quantity) at \(price)",
                    fieldViolations: [.init(field: "fill_id", description: "was recorded with other terms")],
                    facts: [
                        "fill_id": fillID.lowercasedText, "recorded_quantity": "\(recorded.quantity)",
                        "recorded_price": "\(recorded.price)",
                    ])
            }
            return
        }
        guard state.status == .placed || state.status == .partiallyFilled else {
            throw .wrongState(
                "ORDER_NOT_FILLABLE",
                "only a placed or partially filled order takes fills; this one is \(state.status.name)",
                facts: ["status": state.status.name])
        }
        // An order accepted before the bounds on amounts keeps the decimal places it was accepted with.
        try Rules.quantity(quantity, maxScale: max(Rules.maxAmountScale, state.quantity.scale))
        try Rules.price(
            price, field: "price",
            maxScale: max(Rules.maxAmountScale, state.limitPrice?.scale ?? 0, state.stopPrice?.scale ?? 0))
        guard filledAt != 0 else { throw .invalid("filled_at", "is required") }
        guard filledAt > 0 else {
            throw .invalid("filled_at", "must be nanoseconds after 1970-01-01 (the Unix epoch), not \(filledAt)")
        }
        try checkBrokerTime(filledAt, field: "filled_at", now: now)
        guard let filled = state.filledQuantity.adding(quantity), filled <= state.quantity else {
            throw .wrongState(
                "OVERFILL",
                "a fill of \(quantity) would take the filled quantity past the order's \(state.quantity) "
                    + "(\(state.filledQuantity) filled)",
                facts: ["quantity": "\(state.quantity)", "filled_quantity": "\(state.filledQuantity)"])
        }
        guard let product = quantity.multiplied(by: price), let notional = state.filledNotional.adding(product),
            let average = notional.divided(by: filled, scale: Order.averagePriceScale)
        else {
            throw .invalid(
                "price",
                "quantity × price, added to what is filled, needs more than \(ExactDecimal.maxDigits) digits "
                    + "(or \(ExactDecimal.maxScale) decimal places) to be kept exactly")
        }
        let complete = filled == state.quantity
        emit(
            .fillAdded(
                FillAdded(
                    orderID: id, fillID: fillID, quantity: quantity, price: price, filledAt: filledAt,
                    filledQuantity: filled, averageFillPrice: average, status: complete ? .filled : .partiallyFilled)))
        if complete {
            emit(
                .filled(OrderFilled(orderID: id, filledQuantity: filled, averageFillPrice: average, filledAt: filledAt))
            )
        }
    }

    /// Changes a working order (pending, placed or partially filled).
    ///
    /// - At least one field is given.
    /// - The quantity stays above zero and above what is filled already (to stop a partly filled
    ///   order, cancel it).
    /// - A limit price only on a limit or stop-limit order, a stop price only on a stop or
    ///   stop-limit order; prices above zero.
    /// - Values equal to the current ones change nothing; an update that changes nothing emits nothing.
    /// - Its account is still tradable (linked, active), when known; an order through an option or
    ///   future automation stays in whole contracts.
    public mutating func update(
        _ command: UpdateOrder, account: BrokerAccount?, automation: Automation? = nil, now: Int64
    ) throws(DomainError) {
        try requireOwned(by: command.userID)
        guard
            command.quantity != nil || command.limitPrice != nil || command.stopPrice != nil
                || command.timeInForce != nil
        else {
            throw DomainError(
                .invalidArgument, reason: "NOTHING_TO_UPDATE",
                "give at least one of quantity, limit_price, stop_price and time_in_force")
        }
        try requireWorking("ORDER_NOT_WORKING", "only a working order can be changed")
        // A change goes to the broker as a new order would: not through an account that was
        // unlinked (its connection disconnected) or that its broker restricted. Cancelling still works.
        try account?.requireTradable()
        if let quantity = command.quantity {
            try Rules.quantity(quantity)
            if let automation { try Rules.wholeContracts(quantity, of: automation.config.assetType, field: "quantity") }
            guard quantity > state.filledQuantity else {
                throw .invalid(
                    "quantity",
                    "must stay above the \(state.filledQuantity) already filled (cancel the order to stop it)",
                    reason: "QUANTITY_BELOW_FILLED")
            }
        }
        if let limit = command.limitPrice {
            guard state.orderType.hasLimitPrice else {
                throw .invalid("limit_price", "a \(state.orderType.name) order has no limit price")
            }
            try Rules.price(limit, field: "limit_price")
        }
        if let stop = command.stopPrice {
            guard state.orderType.hasStopPrice else {
                throw .invalid("stop_price", "a \(state.orderType.name) order has no stop price")
            }
            try Rules.price(stop, field: "stop_price")
        }
        let changed = OrderUpdated(
            orderID: id,
            quantity: command.quantity.flatMap { $0 == state.quantity ? nil : $0 },
            limitPrice: command.limitPrice.flatMap { $0 == state.limitPrice ? nil : $0 },
            stopPrice: command.stopPrice.flatMap { $0 == state.stopPrice ? nil : $0 },
            timeInForce: command.timeInForce.flatMap { $0 == state.timeInForce ? nil : $0 },
            updatedAt: now)
        guard
            changed.quantity != nil || changed.limitPrice != nil || changed.stopPrice != nil
                || changed.timeInForce != nil
        else { return }
        emit(.updated(changed))
    }

    /// Cancels a working order (pending, placed or partially filled), with an optional reason.
    public mutating func cancel(reason: String, user: UUID, now: Int64) throws(DomainError) {
        try requireOwned(by: user)
        try Rules.text(reason, field: "reason")
        try requireWorking("ORDER_NOT_CANCELLABLE", "only a working order can be cancelled")
        emit(.cancelled(OrderCancelled(orderID: id, reason: reason, cancelledAt: now)))
    }

    /// Deletes a finished order (filled, cancelled or rejected); its events stay in the log.
    public mutating func delete(user: UUID, now: Int64) throws(DomainError) {
        try requireOwned(by: user)
        guard [.filled, .cancelled, .rejected].contains(state.status) else {
            throw .wrongState(
                state.status == .deleted ? "ORDER_DELETED" : "ORDER_STILL_WORKING",
                state.status == .deleted
                    ? "the order is deleted already"
                    : "only a filled, cancelled or rejected order can be deleted; "
                        + "this one is \(state.status.name) (cancel it first)",
                facts: ["status": state.status.name])
        }
        emit(.deleted(OrderDeleted(orderID: id, deletedAt: now)))
    }

    /// The order exists and is the user's.
    public func requireOwned(by user: UUID) throws(DomainError) {
        guard state.exists else { throw .notFound("order", id, reason: "ORDER_NOT_FOUND") }
        try Rules.owner(state.userID, is: user, "order", id, reason: "ORDER_NOT_OWNED")
    }

    private func requireWorking(_ reason: String, _ message: String) throws(DomainError) {
        guard state.isWorking else {
            throw .wrongState(
                reason, "\(message); this one is \(state.status.name)", facts: ["status": state.status.name])
        }
    }

    /// How far a broker's clock may be from ours: a time it reports may lie this much before the
    /// order's creation or after now.
    static let brokerClockTolerance: Int64 = 5 * 60 * 1_000_000_000

    /// A time the broker reports for the order (placed, filled) lies between the order's creation
    /// and now, give or take ``brokerClockTolerance``: a fill dated before its order existed, or in
    /// the future, is an error at its source, and trade-date reports would carry it.
    func checkBrokerTime(_ time: Int64, field: String, now: Int64) throws(DomainError) {
        // Saturating: a stored creation time is not trusted to be far from the edges.
        let (earliest, below) = state.createdAt.subtractingReportingOverflow(Self.brokerClockTolerance)
        let (latest, above) = now.addingReportingOverflow(Self.brokerClockTolerance)
        guard below || time >= earliest, above || time <= latest else {
            throw .invalid(
                field,
                "must lie between the order's creation (\(state.createdAt)) and now (\(now)), within five "
                    + "minutes either side, not \(time) (Unix nanoseconds)")
        }
    }

    /// An order through an automation trades the automation's symbol (or, for a future, its
    /// contract symbol), and an option or future automation trades whole contracts.
    ///
    /// Its side is not held to the automation's side preference: a long-only automation sells to
    /// close what it bought, and the order does not know the account's position at its broker
    /// (the broker's own checks apply: a cash account cannot sell short).
    static func checkTradedBy(
        _ config: AutomationConfig, automationID: UUID, _ command: CreateOrder
    ) throws(DomainError) {
        let symbols = [config.symbol] + (config.futureDetails.map { [$0.contractSymbol] } ?? [])
        guard symbols.contains(command.symbol) else {
            throw .invalid(
                "symbol",
                "automation \(automationID.lowercasedText) trades \(symbols.joined(separator: " or ")), "
                    + "not \(command.symbol)",
                reason: "SYMBOL_NOT_IN_AUTOMATION")
        }
        try Rules.wholeContracts(command.quantity, of: config.assetType, field: "quantity")
    }

    /// Each type has exactly the prices it needs, each an amount (``Rules/price(_:field:maxScale:)``).
    static func checkPrices(_ type: OrderType, limit: ExactDecimal?, stop: ExactDecimal?) throws(DomainError) {
        var violations: [DomainError.FieldViolation] = []
        switch (type.hasLimitPrice, limit) {
        case (true, nil):
            violations.append(.init(field: "limit_price", description: "a \(type.name) order needs a limit price"))
        case (false, .some):
            violations.append(.init(field: "limit_price", description: "a \(type.name) order has no limit price"))
        case (true, .some(let price)):
            if let problem = Rules.amountProblem(price, below: Rules.priceBound) {
                violations.append(.init(field: "limit_price", description: problem))
            }
        default: break
        }
        switch (type.hasStopPrice, stop) {
        case (true, nil):
            violations.append(.init(field: "stop_price", description: "a \(type.name) order needs a stop price"))
        case (false, .some):
            violations.append(.init(field: "stop_price", description: "a \(type.name) order has no stop price"))
        case (true, .some(let price)):
            if let problem = Rules.amountProblem(price, below: Rules.priceBound) {
                violations.append(.init(field: "stop_price", description: problem))
            }
        default: break
        }
        if !violations.isEmpty { throw .invalid(violations) }
    }
}

extension OrderType {
    /// Whether orders of this type carry a limit price.
    public var hasLimitPrice: Bool { self == .limit || self == .stopLimit }
    /// Whether orders of this type carry a stop price.
    public var hasStopPrice: Bool { self == .stop || self == .stopLimit }

    /// The name people use: `stop-limit`.
    public var name: String {
        switch self {
        case .market: "market"
        case .limit: "limit"
        case .stop: "stop"
        case .stopLimit: "stop-limit"
        }
    }
}

extension OrderStatus {
    /// The name people use: `partially filled`.
    public var name: String {
        switch self {
        case .pending: "pending"
        case .placed: "placed"
        case .partiallyFilled: "partially filled"
        case .filled: "filled"
        case .cancelled: "cancelled"
        case .rejected: "rejected"
        case .deleted: "deleted"
        }
    }
}
