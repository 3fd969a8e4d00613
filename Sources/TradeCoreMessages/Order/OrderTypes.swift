import WireFormat

/// Where an order is in its life.
public enum OrderStatus: Int32, ProtoEnum {
    /// `ORDER_STATUS_PENDING`.
    case pending = 1
    /// `ORDER_STATUS_PLACED`.
    case placed = 2
    /// `ORDER_STATUS_PARTIALLY_FILLED`.
    case partiallyFilled = 3
    /// `ORDER_STATUS_FILLED`.
    case filled = 4
    /// `ORDER_STATUS_CANCELLED`.
    case cancelled = 5
    /// `ORDER_STATUS_REJECTED`.
    case rejected = 6
    /// `ORDER_STATUS_DELETED`.
    case deleted = 7

    public static var protoEnumName: String { "tradecore.order.v1.OrderStatus" }
}
