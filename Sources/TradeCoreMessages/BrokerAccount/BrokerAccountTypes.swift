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

/// A holding in an account, as the broker reports it.
public struct BrokerPosition: Sendable, Hashable {
    /// Field 1, `symbol`.
    public var symbol: String
    /// Negative for a short position.
    /// Field 2, `quantity`.
    public var quantity: ExactDecimal
    /// Field 3, `average_price`.
    public var averagePrice: ExactDecimal?
    /// Field 4, `market_value`.
    public var marketValue: ExactDecimal?

    /// Creates the message.
    public init(
        symbol: String, quantity: ExactDecimal, averagePrice: ExactDecimal? = nil, marketValue: ExactDecimal? = nil
    ) {
        self.symbol = symbol
        self.quantity = quantity
        self.averagePrice = averagePrice
        self.marketValue = marketValue
    }
}

extension BrokerPosition: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(symbol: "", quantity: .zero)
    }

    public static let protoSchema = ProtoSchema<BrokerPosition>(
        "tradecore.broker.v1.BrokerPosition",
        [
            .field("symbol", 1, ProtoString.self, \.symbol, required: true),
            .field("quantity", 2, ProtoDecimal.self, \.quantity),
            .field("average_price", 3, ProtoDecimal.self, \.averagePrice),
            .field("market_value", 4, ProtoDecimal.self, \.marketValue),
        ])
}
