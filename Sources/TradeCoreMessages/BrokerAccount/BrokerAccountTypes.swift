import WireFormat

/// `tradecore.broker.v1.BrokerAccountType`.
public enum BrokerAccountType: Int32, ProtoEnum {
    /// `BROKER_ACCOUNT_TYPE_CASH`.
    case cash = 1
    /// `BROKER_ACCOUNT_TYPE_MARGIN`.
    case margin = 2

    public static var protoEnumName: String { "tradecore.broker.v1.BrokerAccountType" }
}

/// `tradecore.broker.v1.BrokerAccountStatus`.
public enum BrokerAccountStatus: Int32, ProtoEnum {
    /// `BROKER_ACCOUNT_STATUS_ACTIVE`.
    case active = 1
    /// `BROKER_ACCOUNT_STATUS_RESTRICTED`.
    case restricted = 2
    /// `BROKER_ACCOUNT_STATUS_CLOSED`.
    case closed = 3
    /// `BROKER_ACCOUNT_STATUS_UNLINKED`.
    case unlinked = 4

    public static var protoEnumName: String { "tradecore.broker.v1.BrokerAccountStatus" }
}
