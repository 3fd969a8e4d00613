import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads one order of the caller's.
public struct GetOrder: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Wait until the read model has reached this log position.
    /// Field 3, `min_position`.
    public var minPosition: UInt64

    /// Creates the message.
    public init(
        orderID: UUID,
        userID: UUID,
        minPosition: UInt64 = 0
    ) {
        self.orderID = orderID
        self.userID = userID
        self.minPosition = minPosition
    }
}

extension GetOrder: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            userID: .protoPlaceholder,
            minPosition: 0)
    }

    public static let protoSchema = ProtoSchema<GetOrder>(
        "tradecore.order.v1.GetOrder",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("min_position", 3, ProtoUInt64.self, \.minPosition),
        ])
}

/// One execution, as the read model keeps it.
public struct Fill: Sendable, Hashable {
    /// Field 1, `fill_id`.
    public var fillID: UUID
    /// Field 2, `quantity`.
    public var quantity: ExactDecimal
    /// Field 3, `price`.
    public var price: ExactDecimal
    /// Field 4, `filled_at`.
    public var filledAt: Int64

    /// Creates the message.
    public init(
        fillID: UUID,
        quantity: ExactDecimal,
        price: ExactDecimal,
        filledAt: Int64
    ) {
        self.fillID = fillID
        self.quantity = quantity
        self.price = price
        self.filledAt = filledAt
    }
}

extension Fill: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            fillID: .protoPlaceholder,
            quantity: .zero,
            price: .zero,
            filledAt: 0)
    }

    public static let protoSchema = ProtoSchema<Fill>(
        "tradecore.order.v1.Fill",
        [
            .field("fill_id", 1, ProtoUUID.self, \.fillID),
            .field("quantity", 2, ProtoDecimal.self, \.quantity),
            .field("price", 3, ProtoDecimal.self, \.price),
            .field("filled_at", 4, ProtoInt64.self, \.filledAt, required: true),
        ])
}

/// An order as the read model shows it.
public struct OrderView: Sendable, Hashable {
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
    /// Field 11, `status`.
    public var status: OrderStatus
    /// Field 12, `filled_quantity`.
    public var filledQuantity: ExactDecimal
    /// Absent until the first fill.
    /// Field 13, `average_fill_price`.
    public var averageFillPrice: ExactDecimal?
    /// Field 14, `broker_order_id`.
    public var brokerOrderID: String
    /// The most recent fills, oldest first: at most 100 (every fill is in the order's stream).
    /// Field 15, `fills`.
    public var fills: [Fill]
    /// Why the order was cancelled or rejected.
    /// Field 16, `status_reason`.
    public var statusReason: String
    /// Field 17, `created_at`.
    public var createdAt: Int64
    /// Field 18, `updated_at`.
    public var updatedAt: Int64
    /// Field 19, `version`.
    public var version: UInt64
    /// Field 20, `account_id`.
    public var accountID: UUID
    /// Field 21, `auto_submit`.
    public var autoSubmit: Bool
    /// How many fills the order has had, also those no longer in `fills`.
    /// Field 22, `fill_count`.
    public var fillCount: UInt32

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
        status: OrderStatus,
        filledQuantity: ExactDecimal,
        averageFillPrice: ExactDecimal? = nil,
        brokerOrderID: String = "",
        fills: [Fill] = [],
        statusReason: String = "",
        createdAt: Int64,
        updatedAt: Int64,
        version: UInt64 = 0,
        accountID: UUID,
        autoSubmit: Bool = false,
        fillCount: UInt32 = 0
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
        self.status = status
        self.filledQuantity = filledQuantity
        self.averageFillPrice = averageFillPrice
        self.brokerOrderID = brokerOrderID
        self.fills = fills
        self.statusReason = statusReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
        self.accountID = accountID
        self.autoSubmit = autoSubmit
        self.fillCount = fillCount
    }
}

extension OrderView: ProtoSchemaMessage {
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
            status: .pending,
            filledQuantity: .zero,
            averageFillPrice: nil,
            brokerOrderID: "",
            fills: [],
            statusReason: "",
            createdAt: 0,
            updatedAt: 0,
            version: 0,
            accountID: .protoPlaceholder,
            autoSubmit: false,
            fillCount: 0)
    }

    public static let protoSchema = ProtoSchema<OrderView>(
        "tradecore.order.v1.OrderView",
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
            .field("status", 11, ProtoEnumCodec<OrderStatus>.self, \.status),
            .field("filled_quantity", 12, ProtoDecimal.self, \.filledQuantity),
            .field("average_fill_price", 13, ProtoDecimal.self, \.averageFillPrice),
            .field("broker_order_id", 14, ProtoString.self, \.brokerOrderID),
            .repeated("fills", 15, ProtoMessageCodec<Fill>.self, \.fills),
            .field("status_reason", 16, ProtoString.self, \.statusReason),
            .field("created_at", 17, ProtoInt64.self, \.createdAt, required: true),
            .field("updated_at", 18, ProtoInt64.self, \.updatedAt, required: true),
            .field("version", 19, ProtoUInt64.self, \.version),
            .field("account_id", 20, ProtoUUID.self, \.accountID),
            .field("auto_submit", 21, ProtoBool.self, \.autoSubmit),
            .field("fill_count", 22, ProtoUInt32.self, \.fillCount),
        ])
}

/// Lists a user's orders, oldest first.
public struct ListOrders: Sendable, Hashable {
    /// Field 1, `user_id`.
    public var userID: UUID
    /// Only orders in these states; empty: every state but DELETED.
    /// Field 2, `statuses`.
    public var statuses: [OrderStatus]
    /// At most this many; absent: 100. At most 1000.
    /// Field 3, `page_size`.
    public var pageSize: UInt32
    /// Start after this order (the previous page's `next_after_order_id`). An id that is not one
    /// of the user's orders is INVALID_ARGUMENT (`UNKNOWN_PAGE_CURSOR`).
    /// Field 4, `after_order_id`.
    public var afterOrderID: UUID?
    /// Field 5, `min_position`.
    public var minPosition: UInt64

    /// Creates the message.
    public init(
        userID: UUID,
        statuses: [OrderStatus] = [],
        pageSize: UInt32 = 0,
        afterOrderID: UUID? = nil,
        minPosition: UInt64 = 0
    ) {
        self.userID = userID
        self.statuses = statuses
        self.pageSize = pageSize
        self.afterOrderID = afterOrderID
        self.minPosition = minPosition
    }
}

extension ListOrders: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(userID: .protoPlaceholder)
    }

    public static let protoSchema = ProtoSchema<ListOrders>(
        "tradecore.order.v1.ListOrders",
        [
            .field("user_id", 1, ProtoUUID.self, \.userID),
            .repeated("statuses", 2, ProtoEnumCodec<OrderStatus>.self, \.statuses),
            .field("page_size", 3, ProtoUInt32.self, \.pageSize),
            .field("after_order_id", 4, ProtoUUID.self, \.afterOrderID),
            .field("min_position", 5, ProtoUInt64.self, \.minPosition),
        ])
}

/// `tradecore.order.v1.OrderList`.
public struct OrderList: Sendable, Hashable {
    /// Field 1, `orders`.
    public var orders: [OrderView]
    /// Set when there may be more: pass it as `after_order_id`.
    /// Field 2, `next_after_order_id`.
    public var nextAfterOrderID: UUID?

    /// Creates the message.
    public init(orders: [OrderView] = [], nextAfterOrderID: UUID? = nil) {
        self.orders = orders
        self.nextAfterOrderID = nextAfterOrderID
    }
}

extension OrderList: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init()
    }

    public static let protoSchema = ProtoSchema<OrderList>(
        "tradecore.order.v1.OrderList",
        [
            .repeated("orders", 1, ProtoMessageCodec<OrderView>.self, \.orders),
            .field("next_after_order_id", 2, ProtoUUID.self, \.nextAfterOrderID),
        ])
}
