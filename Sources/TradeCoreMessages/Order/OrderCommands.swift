import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Creates an order in PENDING state. The server assigns the order id.
public struct CreateOrder: Sendable, Hashable {
    /// Field 1, `user_id`.
    public var userID: UUID
    /// Field 2, `automation_id`.
    public var automationID: UUID?
    /// Field 3, `symbol`.
    public var symbol: String
    /// Field 4, `side`.
    public var side: OrderSide
    /// Field 5, `quantity`.
    public var quantity: ExactDecimal
    /// Field 6, `order_type`.
    public var orderType: OrderType
    /// Field 7, `limit_price`.
    public var limitPrice: ExactDecimal?
    /// Field 8, `stop_price`.
    public var stopPrice: ExactDecimal?
    /// Absent: DAY.
    /// Field 9, `time_in_force`.
    public var timeInForce: TimeInForce?
    /// Field 10, `saga_id`.
    public var sagaID: UUID?
    /// The broker account the order trades through.
    /// Field 11, `account_id`.
    public var accountID: UUID
    /// Submit the order to the account's broker at once.
    /// Field 12, `auto_submit`.
    public var autoSubmit: Bool

    /// Creates the command.
    public init(
        userID: UUID,
        automationID: UUID? = nil,
        symbol: String,
        side: OrderSide,
        quantity: ExactDecimal,
        orderType: OrderType,
        limitPrice: ExactDecimal? = nil,
        stopPrice: ExactDecimal? = nil,
        timeInForce: TimeInForce? = nil,
        sagaID: UUID? = nil,
        accountID: UUID,
        autoSubmit: Bool = false
    ) {
        self.userID = userID
        self.automationID = automationID
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.orderType = orderType
        self.limitPrice = limitPrice
        self.stopPrice = stopPrice
        self.timeInForce = timeInForce
        self.sagaID = sagaID
        self.accountID = accountID
        self.autoSubmit = autoSubmit
    }
}

extension CreateOrder: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        userID = .protoPlaceholder
        automationID = nil
        symbol = ""
        side = .buy
        quantity = .zero
        orderType = .market
        limitPrice = nil
        stopPrice = nil
        timeInForce = nil
        sagaID = nil
        accountID = .protoPlaceholder
        autoSubmit = false
    }

    public static let protoSchema = ProtoSchema<CreateOrder>(
        "tradecore.order.v1.CreateOrder",
        [
            .field("user_id", 1, ProtoUUID.self, \.userID),
            .field("automation_id", 2, ProtoUUID.self, \.automationID),
            .field("symbol", 3, ProtoString.self, \.symbol, required: true),
            .field("side", 4, ProtoEnumCodec<OrderSide>.self, \.side),
            .field("quantity", 5, ProtoDecimal.self, \.quantity),
            .field("order_type", 6, ProtoEnumCodec<OrderType>.self, \.orderType),
            .field("limit_price", 7, ProtoDecimal.self, \.limitPrice),
            .field("stop_price", 8, ProtoDecimal.self, \.stopPrice),
            .field("time_in_force", 9, ProtoEnumCodec<TimeInForce>.self, \.timeInForce),
            .field("saga_id", 10, ProtoUUID.self, \.sagaID),
            .field("account_id", 11, ProtoUUID.self, \.accountID),
            .field("auto_submit", 12, ProtoBool.self, \.autoSubmit),
        ])
}

/// Records that the broker accepted the order.
public struct PlaceOrder: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `broker_order_id`.
    public var brokerOrderID: String
    /// When the broker accepted it. Absent: the server's time.
    /// Field 4, `placed_at`.
    public var placedAt: Int64
    /// Field 5, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 6, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        orderID: UUID,
        userID: UUID,
        brokerOrderID: String,
        placedAt: Int64 = 0,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.orderID = orderID
        self.userID = userID
        self.brokerOrderID = brokerOrderID
        self.placedAt = placedAt
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension PlaceOrder: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        orderID = .protoPlaceholder
        userID = .protoPlaceholder
        brokerOrderID = ""
        placedAt = 0
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<PlaceOrder>(
        "tradecore.order.v1.PlaceOrder",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("broker_order_id", 3, ProtoString.self, \.brokerOrderID, required: true),
            .field("placed_at", 4, ProtoInt64.self, \.placedAt),
            .field("saga_id", 5, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 6, ProtoUInt64.self, \.expectedVersion),
        ])
}

/// Records one execution against the order.
public struct AddFill: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Identifies the execution, so that a fill reported twice is recorded once.
    /// Field 3, `fill_id`.
    public var fillID: UUID
    /// Field 4, `quantity`.
    public var quantity: ExactDecimal
    /// Field 5, `price`.
    public var price: ExactDecimal
    /// Field 6, `filled_at`.
    public var filledAt: Int64
    /// Field 7, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 8, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        orderID: UUID,
        userID: UUID,
        fillID: UUID,
        quantity: ExactDecimal,
        price: ExactDecimal,
        filledAt: Int64,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.orderID = orderID
        self.userID = userID
        self.fillID = fillID
        self.quantity = quantity
        self.price = price
        self.filledAt = filledAt
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension AddFill: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        orderID = .protoPlaceholder
        userID = .protoPlaceholder
        fillID = .protoPlaceholder
        quantity = .zero
        price = .zero
        filledAt = 0
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<AddFill>(
        "tradecore.order.v1.AddFill",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("fill_id", 3, ProtoUUID.self, \.fillID),
            .field("quantity", 4, ProtoDecimal.self, \.quantity),
            .field("price", 5, ProtoDecimal.self, \.price),
            .field("filled_at", 6, ProtoInt64.self, \.filledAt, required: true),
            .field("saga_id", 7, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 8, ProtoUInt64.self, \.expectedVersion),
        ])
}

/// Changes a working order. Absent fields stay as they are.
public struct UpdateOrder: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `quantity`.
    public var quantity: ExactDecimal?
    /// Field 4, `limit_price`.
    public var limitPrice: ExactDecimal?
    /// Field 5, `stop_price`.
    public var stopPrice: ExactDecimal?
    /// Field 6, `time_in_force`.
    public var timeInForce: TimeInForce?
    /// Field 7, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 8, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        orderID: UUID,
        userID: UUID,
        quantity: ExactDecimal? = nil,
        limitPrice: ExactDecimal? = nil,
        stopPrice: ExactDecimal? = nil,
        timeInForce: TimeInForce? = nil,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.orderID = orderID
        self.userID = userID
        self.quantity = quantity
        self.limitPrice = limitPrice
        self.stopPrice = stopPrice
        self.timeInForce = timeInForce
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension UpdateOrder: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        orderID = .protoPlaceholder
        userID = .protoPlaceholder
        quantity = nil
        limitPrice = nil
        stopPrice = nil
        timeInForce = nil
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<UpdateOrder>(
        "tradecore.order.v1.UpdateOrder",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("quantity", 3, ProtoDecimal.self, \.quantity),
            .field("limit_price", 4, ProtoDecimal.self, \.limitPrice),
            .field("stop_price", 5, ProtoDecimal.self, \.stopPrice),
            .field("time_in_force", 6, ProtoEnumCodec<TimeInForce>.self, \.timeInForce),
            .field("saga_id", 7, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 8, ProtoUInt64.self, \.expectedVersion),
        ])
}

/// Cancels the order.
public struct CancelOrder: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `reason`.
    public var reason: String
    /// Field 4, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 5, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        orderID: UUID,
        userID: UUID,
        reason: String = "",
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.orderID = orderID
        self.userID = userID
        self.reason = reason
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension CancelOrder: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        orderID = .protoPlaceholder
        userID = .protoPlaceholder
        reason = ""
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<CancelOrder>(
        "tradecore.order.v1.CancelOrder",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("reason", 3, ProtoString.self, \.reason),
            .field("saga_id", 4, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 5, ProtoUInt64.self, \.expectedVersion),
        ])
}

/// Records that the broker (or a risk check) refused the order.
public struct RejectOrder: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `reason`.
    public var reason: String
    /// Field 4, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 5, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        orderID: UUID,
        userID: UUID,
        reason: String,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.orderID = orderID
        self.userID = userID
        self.reason = reason
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension RejectOrder: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        orderID = .protoPlaceholder
        userID = .protoPlaceholder
        reason = ""
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<RejectOrder>(
        "tradecore.order.v1.RejectOrder",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("reason", 3, ProtoString.self, \.reason, required: true),
            .field("saga_id", 4, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 5, ProtoUInt64.self, \.expectedVersion),
        ])
}

/// Deletes the order; its events stay in the log.
public struct DeleteOrder: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 4, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        orderID: UUID,
        userID: UUID,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.orderID = orderID
        self.userID = userID
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension DeleteOrder: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        orderID = .protoPlaceholder
        userID = .protoPlaceholder
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<DeleteOrder>(
        "tradecore.order.v1.DeleteOrder",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("saga_id", 3, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 4, ProtoUInt64.self, \.expectedVersion),
        ])
}
