import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `tradecore.order.v1.OrderCreated`.
public struct OrderCreated: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `automation_id`.
    public var automationID: UUID?
    /// Field 4, `symbol`.
    public var symbol: String
    /// Field 5, `side`.
    public var side: OrderSide
    /// Field 6, `quantity`.
    public var quantity: ExactDecimal
    /// Field 7, `order_type`.
    public var orderType: OrderType
    /// Field 8, `limit_price`.
    public var limitPrice: ExactDecimal?
    /// Field 9, `stop_price`.
    public var stopPrice: ExactDecimal?
    /// Field 10, `time_in_force`.
    public var timeInForce: TimeInForce
    /// Field 11, `created_at`.
    public var createdAt: Int64
    /// Field 12, `account_id`.
    public var accountID: UUID
    /// Field 13, `auto_submit`.
    public var autoSubmit: Bool

    /// Creates the message.
    public init(
        orderID: UUID,
        userID: UUID,
        automationID: UUID? = nil,
        symbol: String,
        side: OrderSide,
        quantity: ExactDecimal,
        orderType: OrderType,
        limitPrice: ExactDecimal? = nil,
        stopPrice: ExactDecimal? = nil,
        timeInForce: TimeInForce,
        createdAt: Int64,
        accountID: UUID,
        autoSubmit: Bool = false
    ) {
        self.orderID = orderID
        self.userID = userID
        self.automationID = automationID
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.orderType = orderType
        self.limitPrice = limitPrice
        self.stopPrice = stopPrice
        self.timeInForce = timeInForce
        self.createdAt = createdAt
        self.accountID = accountID
        self.autoSubmit = autoSubmit
    }
}

extension OrderCreated: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            userID: .protoPlaceholder,
            automationID: nil,
            symbol: "",
            side: .buy,
            quantity: .zero,
            orderType: .market,
            limitPrice: nil,
            stopPrice: nil,
            timeInForce: .day,
            createdAt: 0,
            accountID: .protoPlaceholder,
            autoSubmit: false)
    }

    public static let protoSchema = ProtoSchema<OrderCreated>(
        "tradecore.order.v1.OrderCreated",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("automation_id", 3, ProtoUUID.self, \.automationID),
            .field("symbol", 4, ProtoString.self, \.symbol, required: true),
            .field("side", 5, ProtoEnumCodec<OrderSide>.self, \.side),
            .field("quantity", 6, ProtoDecimal.self, \.quantity),
            .field("order_type", 7, ProtoEnumCodec<OrderType>.self, \.orderType),
            .field("limit_price", 8, ProtoDecimal.self, \.limitPrice),
            .field("stop_price", 9, ProtoDecimal.self, \.stopPrice),
            .field("time_in_force", 10, ProtoEnumCodec<TimeInForce>.self, \.timeInForce),
            .field("created_at", 11, ProtoInt64.self, \.createdAt, required: true),
            .field("account_id", 12, ProtoUUID.self, \.accountID),
            .field("auto_submit", 13, ProtoBool.self, \.autoSubmit),
        ])
}

/// `tradecore.order.v1.OrderPlaced`.
public struct OrderPlaced: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `broker_order_id`.
    public var brokerOrderID: String
    /// Field 3, `placed_at`.
    public var placedAt: Int64

    /// Creates the message.
    public init(
        orderID: UUID,
        brokerOrderID: String,
        placedAt: Int64
    ) {
        self.orderID = orderID
        self.brokerOrderID = brokerOrderID
        self.placedAt = placedAt
    }
}

extension OrderPlaced: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            brokerOrderID: "",
            placedAt: 0)
    }

    public static let protoSchema = ProtoSchema<OrderPlaced>(
        "tradecore.order.v1.OrderPlaced",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("broker_order_id", 2, ProtoString.self, \.brokerOrderID, required: true),
            .field("placed_at", 3, ProtoInt64.self, \.placedAt, required: true),
        ])
}

/// One execution. Emitted for every fill; OrderFilled follows the fill that completes the order.
public struct FillAdded: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `fill_id`.
    public var fillID: UUID
    /// Field 3, `quantity`.
    public var quantity: ExactDecimal
    /// Field 4, `price`.
    public var price: ExactDecimal
    /// Field 5, `filled_at`.
    public var filledAt: Int64
    /// Totals after this fill.
    /// Field 6, `filled_quantity`.
    public var filledQuantity: ExactDecimal
    /// Field 7, `average_fill_price`.
    public var averageFillPrice: ExactDecimal
    /// PARTIALLY_FILLED or FILLED.
    /// Field 8, `status`.
    public var status: OrderStatus

    /// Creates the message.
    public init(
        orderID: UUID,
        fillID: UUID,
        quantity: ExactDecimal,
        price: ExactDecimal,
        filledAt: Int64,
        filledQuantity: ExactDecimal,
        averageFillPrice: ExactDecimal,
        status: OrderStatus
    ) {
        self.orderID = orderID
        self.fillID = fillID
        self.quantity = quantity
        self.price = price
        self.filledAt = filledAt
        self.filledQuantity = filledQuantity
        self.averageFillPrice = averageFillPrice
        self.status = status
    }
}

extension FillAdded: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            fillID: .protoPlaceholder,
            quantity: .zero,
            price: .zero,
            filledAt: 0,
            filledQuantity: .zero,
            averageFillPrice: .zero,
            status: .pending)
    }

    public static let protoSchema = ProtoSchema<FillAdded>(
        "tradecore.order.v1.FillAdded",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("fill_id", 2, ProtoUUID.self, \.fillID),
            .field("quantity", 3, ProtoDecimal.self, \.quantity),
            .field("price", 4, ProtoDecimal.self, \.price),
            .field("filled_at", 5, ProtoInt64.self, \.filledAt, required: true),
            .field("filled_quantity", 6, ProtoDecimal.self, \.filledQuantity),
            .field("average_fill_price", 7, ProtoDecimal.self, \.averageFillPrice),
            .field("status", 8, ProtoEnumCodec<OrderStatus>.self, \.status),
        ])
}

/// The order is completely filled.
public struct OrderFilled: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `filled_quantity`.
    public var filledQuantity: ExactDecimal
    /// Field 3, `average_fill_price`.
    public var averageFillPrice: ExactDecimal
    /// Field 4, `filled_at`.
    public var filledAt: Int64

    /// Creates the message.
    public init(
        orderID: UUID,
        filledQuantity: ExactDecimal,
        averageFillPrice: ExactDecimal,
        filledAt: Int64
    ) {
        self.orderID = orderID
        self.filledQuantity = filledQuantity
        self.averageFillPrice = averageFillPrice
        self.filledAt = filledAt
    }
}

extension OrderFilled: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            filledQuantity: .zero,
            averageFillPrice: .zero,
            filledAt: 0)
    }

    public static let protoSchema = ProtoSchema<OrderFilled>(
        "tradecore.order.v1.OrderFilled",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("filled_quantity", 2, ProtoDecimal.self, \.filledQuantity),
            .field("average_fill_price", 3, ProtoDecimal.self, \.averageFillPrice),
            .field("filled_at", 4, ProtoInt64.self, \.filledAt, required: true),
        ])
}

/// The new values of the fields that changed; absent fields did not change.
public struct OrderUpdated: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `quantity`.
    public var quantity: ExactDecimal?
    /// Field 3, `limit_price`.
    public var limitPrice: ExactDecimal?
    /// Field 4, `stop_price`.
    public var stopPrice: ExactDecimal?
    /// Field 5, `time_in_force`.
    public var timeInForce: TimeInForce?
    /// Field 6, `updated_at`.
    public var updatedAt: Int64

    /// Creates the message.
    public init(
        orderID: UUID,
        quantity: ExactDecimal? = nil,
        limitPrice: ExactDecimal? = nil,
        stopPrice: ExactDecimal? = nil,
        timeInForce: TimeInForce? = nil,
        updatedAt: Int64
    ) {
        self.orderID = orderID
        self.quantity = quantity
        self.limitPrice = limitPrice
        self.stopPrice = stopPrice
        self.timeInForce = timeInForce
        self.updatedAt = updatedAt
    }
}

extension OrderUpdated: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            quantity: nil,
            limitPrice: nil,
            stopPrice: nil,
            timeInForce: nil,
            updatedAt: 0)
    }

    public static let protoSchema = ProtoSchema<OrderUpdated>(
        "tradecore.order.v1.OrderUpdated",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("quantity", 2, ProtoDecimal.self, \.quantity),
            .field("limit_price", 3, ProtoDecimal.self, \.limitPrice),
            .field("stop_price", 4, ProtoDecimal.self, \.stopPrice),
            .field("time_in_force", 5, ProtoEnumCodec<TimeInForce>.self, \.timeInForce),
            .field("updated_at", 6, ProtoInt64.self, \.updatedAt, required: true),
        ])
}

/// `tradecore.order.v1.OrderCancelled`.
public struct OrderCancelled: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `reason`.
    public var reason: String
    /// Field 3, `cancelled_at`.
    public var cancelledAt: Int64

    /// Creates the message.
    public init(
        orderID: UUID,
        reason: String = "",
        cancelledAt: Int64
    ) {
        self.orderID = orderID
        self.reason = reason
        self.cancelledAt = cancelledAt
    }
}

extension OrderCancelled: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            reason: "",
            cancelledAt: 0)
    }

    public static let protoSchema = ProtoSchema<OrderCancelled>(
        "tradecore.order.v1.OrderCancelled",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("reason", 2, ProtoString.self, \.reason),
            .field("cancelled_at", 3, ProtoInt64.self, \.cancelledAt, required: true),
        ])
}

/// `tradecore.order.v1.OrderRejected`.
public struct OrderRejected: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `reason`.
    public var reason: String
    /// Field 3, `rejected_at`.
    public var rejectedAt: Int64

    /// Creates the message.
    public init(
        orderID: UUID,
        reason: String,
        rejectedAt: Int64
    ) {
        self.orderID = orderID
        self.reason = reason
        self.rejectedAt = rejectedAt
    }
}

extension OrderRejected: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            reason: "",
            rejectedAt: 0)
    }

    public static let protoSchema = ProtoSchema<OrderRejected>(
        "tradecore.order.v1.OrderRejected",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("reason", 2, ProtoString.self, \.reason, required: true),
            .field("rejected_at", 3, ProtoInt64.self, \.rejectedAt, required: true),
        ])
}

/// `tradecore.order.v1.OrderDeleted`.
public struct OrderDeleted: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `deleted_at`.
    public var deletedAt: Int64

    /// Creates the message.
    public init(
        orderID: UUID,
        deletedAt: Int64
    ) {
        self.orderID = orderID
        self.deletedAt = deletedAt
    }
}

extension OrderDeleted: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            deletedAt: 0)
    }

    public static let protoSchema = ProtoSchema<OrderDeleted>(
        "tradecore.order.v1.OrderDeleted",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("deleted_at", 2, ProtoInt64.self, \.deletedAt, required: true),
        ])
}
