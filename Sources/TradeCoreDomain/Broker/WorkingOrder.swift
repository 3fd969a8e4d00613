import Foundation
import TradeCoreMessages

/// An order that is working at its broker (placed or partially filled), with what the fill poller
/// needs to ask the broker for its executions. Kept by the orders read model.
public struct WorkingOrder: Sendable, Hashable, Codable {
    public var orderID: UUID
    public var userID: UUID
    public var accountID: UUID
    public var connectionID: UUID
    public var brokerID: String
    public var environmentNumber: Int32
    public var accountNumber: String
    public var brokerOrderID: String
    public var symbol: String
    public var sideNumber: Int32
    public var quantity: ExactDecimal
    public var orderTypeNumber: Int32
    public var limitPrice: ExactDecimal?
    public var stopPrice: ExactDecimal?
    public var filledQuantity: ExactDecimal
    /// How many fills are recorded: the next execution is the broker's `fillCount`th (from 0).
    public var fillCount: Int
    /// The execution saga that placed the order, so its fills reach it.
    public var sagaID: UUID?
    /// Its time in force; absent in entries written before it was kept (read as DAY).
    public var timeInForceNumber: Int32?

    public var environment: BrokerEnvironment { BrokerEnvironment(rawValue: environmentNumber) ?? .paper }
    public var side: OrderSide { OrderSide(rawValue: sideNumber) ?? .buy }
    public var orderType: OrderType { OrderType(rawValue: orderTypeNumber) ?? .market }
    public var timeInForce: TimeInForce { timeInForceNumber.flatMap(TimeInForce.init(rawValue:)) ?? .day }
    public var remainingQuantity: ExactDecimal { quantity.subtracting(filledQuantity) ?? .zero }
}
