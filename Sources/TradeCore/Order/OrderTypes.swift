import WireFormat

/// Where an order is in its life.
public enum OrderStatus: Int32, ProtoEnum {
    case pending = 1
    case placed = 2
    case partiallyFilled = 3
    case filled = 4
    case cancelled = 5
    case rejected = 6
    case deleted = 7

    public static var protoEnumName: String { "tradecore.order.v1.OrderStatus" }
}
