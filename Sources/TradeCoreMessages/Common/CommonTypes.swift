import WireFormat

/// Which way an order trades.
public enum OrderSide: Int32, ProtoEnum {
    /// `ORDER_SIDE_BUY`.
    case buy = 1
    /// `ORDER_SIDE_SELL`.
    case sell = 2

    public static var protoEnumName: String { "tradecore.common.v1.OrderSide" }
}

/// How an order is priced.
public enum OrderType: Int32, ProtoEnum {
    /// `ORDER_TYPE_MARKET`.
    case market = 1
    /// Needs a limit price.
    case limit = 2
    /// Needs a stop price.
    case stop = 3
    /// Needs a limit price and a stop price.
    case stopLimit = 4

    public static var protoEnumName: String { "tradecore.common.v1.OrderType" }
}

/// How long an order stays working.
public enum TimeInForce: Int32, ProtoEnum {
    /// `TIME_IN_FORCE_DAY`.
    case day = 1
    /// `TIME_IN_FORCE_GOOD_TILL_CANCELLED`.
    case goodTillCancelled = 2
    /// `TIME_IN_FORCE_IMMEDIATE_OR_CANCEL`.
    case immediateOrCancel = 3
    /// `TIME_IN_FORCE_FILL_OR_KILL`.
    case fillOrKill = 4

    public static var protoEnumName: String { "tradecore.common.v1.TimeInForce" }
}

/// What kind of instrument an automation trades.
public enum AssetType: Int32, ProtoEnum {
    /// `ASSET_TYPE_STOCK`.
    case stock = 1
    /// `ASSET_TYPE_OPTION`.
    case option = 2
    /// `ASSET_TYPE_FUTURE`.
    case future = 3
    /// `ASSET_TYPE_CRYPTO`.
    case crypto = 4

    public static var protoEnumName: String { "tradecore.common.v1.AssetType" }
}
