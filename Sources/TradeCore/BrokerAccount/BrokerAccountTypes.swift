import WireFormat

/// `tradecore.broker.v1.BrokerAccountType`.
public enum BrokerAccountType: Int32, ProtoEnum {
    case cash = 1
    case margin = 2

    public static var protoEnumName: String { "tradecore.broker.v1.BrokerAccountType" }
}

/// `tradecore.broker.v1.BrokerAccountStatus`.
public enum BrokerAccountStatus: Int32, ProtoEnum {
    case active = 1
    case restricted = 2
    case closed = 3
    case unlinked = 4

    public static var protoEnumName: String { "tradecore.broker.v1.BrokerAccountStatus" }
}
