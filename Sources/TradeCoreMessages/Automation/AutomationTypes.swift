import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `tradecore.automation.v1.AutomationStatus`.
public enum AutomationStatus: Int32, ProtoEnum {
    /// Created, not yet acting on signals.
    case inactive = 1
    /// `AUTOMATION_STATUS_ACTIVE`.
    case active = 2
    /// `AUTOMATION_STATUS_DELETED`.
    case deleted = 3

    public static var protoEnumName: String { "tradecore.automation.v1.AutomationStatus" }
}

/// How an automation sizes each order.
public enum PositionSizingMethod: Int32, ProtoEnum {
    /// `value` is a quantity of the instrument.
    case fixedQuantity = 1
    /// `value` is an amount of money.
    case fixedAmount = 2
    /// `value` is a percentage of account equity.
    case percentOfEquity = 3
    /// `value` is the percentage of equity risked between entry and stop loss.
    case riskPercent = 4

    public static var protoEnumName: String { "tradecore.automation.v1.PositionSizingMethod" }
}

/// Which signals an automation acts on.
public enum SidePreference: Int32, ProtoEnum {
    /// `SIDE_PREFERENCE_BOTH`.
    case both = 1
    /// `SIDE_PREFERENCE_LONG_ONLY`.
    case longOnly = 2
    /// `SIDE_PREFERENCE_SHORT_ONLY`.
    case shortOnly = 3

    public static var protoEnumName: String { "tradecore.automation.v1.SidePreference" }
}

/// How a stop loss or take profit distance is given.
public enum PriceOffsetType: Int32, ProtoEnum {
    /// `value` is a percentage of the entry price.
    case percent = 1
    /// `value` is an amount of money per unit.
    case amount = 2

    public static var protoEnumName: String { "tradecore.automation.v1.PriceOffsetType" }
}

/// `tradecore.automation.v1.OptionType`.
public enum OptionType: Int32, ProtoEnum {
    /// `OPTION_TYPE_CALL`.
    case call = 1
    /// `OPTION_TYPE_PUT`.
    case put = 2

    public static var protoEnumName: String { "tradecore.automation.v1.OptionType" }
}

/// `tradecore.automation.v1.PositionSizing`.
public struct PositionSizing: Sendable, Hashable {
    /// Field 1, `method`.
    public var method: PositionSizingMethod
    /// Field 2, `value`.
    public var value: ExactDecimal

    /// Creates the message.
    public init(
        method: PositionSizingMethod,
        value: ExactDecimal
    ) {
        self.method = method
        self.value = value
    }
}

extension PositionSizing: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            method: .fixedQuantity,
            value: .zero)
    }

    public static let protoSchema = ProtoSchema<PositionSizing>(
        "tradecore.automation.v1.PositionSizing",
        [
            .field("method", 1, ProtoEnumCodec<PositionSizingMethod>.self, \.method),
            .field("value", 2, ProtoDecimal.self, \.value),
        ])
}

/// The option contract an automation trades when asset_type is OPTION.
public struct OptionDetails: Sendable, Hashable {
    /// Field 1, `option_type`.
    public var optionType: OptionType
    /// Field 2, `strike_price`.
    public var strikePrice: ExactDecimal?
    /// A calendar date, "YYYY-MM-DD".
    /// Field 3, `expiration_date`.
    public var expirationDate: String
    /// Contracts further out than this many days are not chosen.
    /// Field 4, `max_days_to_expiration`.
    public var maxDaysToExpiration: UInt32
    /// Units per contract; absent: the exchange's standard.
    /// Field 5, `contract_multiplier`.
    public var contractMultiplier: UInt32

    /// Creates the message.
    public init(
        optionType: OptionType,
        strikePrice: ExactDecimal? = nil,
        expirationDate: String = "",
        maxDaysToExpiration: UInt32 = 0,
        contractMultiplier: UInt32 = 0
    ) {
        self.optionType = optionType
        self.strikePrice = strikePrice
        self.expirationDate = expirationDate
        self.maxDaysToExpiration = maxDaysToExpiration
        self.contractMultiplier = contractMultiplier
    }
}

extension OptionDetails: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            optionType: .call,
            strikePrice: nil,
            expirationDate: "",
            maxDaysToExpiration: 0,
            contractMultiplier: 0)
    }

    public static let protoSchema = ProtoSchema<OptionDetails>(
        "tradecore.automation.v1.OptionDetails",
        [
            .field("option_type", 1, ProtoEnumCodec<OptionType>.self, \.optionType),
            .field("strike_price", 2, ProtoDecimal.self, \.strikePrice),
            .field("expiration_date", 3, ProtoString.self, \.expirationDate),
            .field("max_days_to_expiration", 4, ProtoUInt32.self, \.maxDaysToExpiration),
            .field("contract_multiplier", 5, ProtoUInt32.self, \.contractMultiplier),
        ])
}

/// The futures contract an automation trades when asset_type is FUTURE.
public struct FutureDetails: Sendable, Hashable {
    /// Field 1, `contract_symbol`.
    public var contractSymbol: String
    /// A calendar date, "YYYY-MM-DD".
    /// Field 2, `expiration_date`.
    public var expirationDate: String
    /// Field 3, `multiplier`.
    public var multiplier: ExactDecimal?
    /// Field 4, `tick_size`.
    public var tickSize: ExactDecimal?
    /// Field 5, `exchange`.
    public var exchange: String

    /// Creates the message.
    public init(
        contractSymbol: String,
        expirationDate: String = "",
        multiplier: ExactDecimal? = nil,
        tickSize: ExactDecimal? = nil,
        exchange: String = ""
    ) {
        self.contractSymbol = contractSymbol
        self.expirationDate = expirationDate
        self.multiplier = multiplier
        self.tickSize = tickSize
        self.exchange = exchange
    }
}

extension FutureDetails: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            contractSymbol: "",
            expirationDate: "",
            multiplier: nil,
            tickSize: nil,
            exchange: "")
    }

    public static let protoSchema = ProtoSchema<FutureDetails>(
        "tradecore.automation.v1.FutureDetails",
        [
            .field("contract_symbol", 1, ProtoString.self, \.contractSymbol, required: true),
            .field("expiration_date", 2, ProtoString.self, \.expirationDate),
            .field("multiplier", 3, ProtoDecimal.self, \.multiplier),
            .field("tick_size", 4, ProtoDecimal.self, \.tickSize),
            .field("exchange", 5, ProtoString.self, \.exchange),
        ])
}

/// `tradecore.automation.v1.StopLoss`.
public struct StopLoss: Sendable, Hashable {
    /// Field 1, `offset_type`.
    public var offsetType: PriceOffsetType
    /// Field 2, `value`.
    public var value: ExactDecimal
    /// Follows the price as it moves in the position's favour.
    /// Field 3, `trailing`.
    public var trailing: Bool

    /// Creates the message.
    public init(
        offsetType: PriceOffsetType,
        value: ExactDecimal,
        trailing: Bool = false
    ) {
        self.offsetType = offsetType
        self.value = value
        self.trailing = trailing
    }
}

extension StopLoss: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            offsetType: .percent,
            value: .zero,
            trailing: false)
    }

    public static let protoSchema = ProtoSchema<StopLoss>(
        "tradecore.automation.v1.StopLoss",
        [
            .field("offset_type", 1, ProtoEnumCodec<PriceOffsetType>.self, \.offsetType),
            .field("value", 2, ProtoDecimal.self, \.value),
            .field("trailing", 3, ProtoBool.self, \.trailing),
        ])
}

/// `tradecore.automation.v1.TakeProfit`.
public struct TakeProfit: Sendable, Hashable {
    /// Field 1, `offset_type`.
    public var offsetType: PriceOffsetType
    /// Field 2, `value`.
    public var value: ExactDecimal

    /// Creates the message.
    public init(
        offsetType: PriceOffsetType,
        value: ExactDecimal
    ) {
        self.offsetType = offsetType
        self.value = value
    }
}

extension TakeProfit: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            offsetType: .percent,
            value: .zero)
    }

    public static let protoSchema = ProtoSchema<TakeProfit>(
        "tradecore.automation.v1.TakeProfit",
        [
            .field("offset_type", 1, ProtoEnumCodec<PriceOffsetType>.self, \.offsetType),
            .field("value", 2, ProtoDecimal.self, \.value),
        ])
}

/// How the orders an automation creates are built.
public struct OrderPreferences: Sendable, Hashable {
    /// Field 1, `order_type`.
    public var orderType: OrderType?
    /// Field 2, `time_in_force`.
    public var timeInForce: TimeInForce?
    /// For limit orders: the distance from the signal price.
    /// Field 3, `limit_offset`.
    public var limitOffset: ExactDecimal?
    /// Field 4, `extended_hours`.
    public var extendedHours: Bool

    /// Creates the message.
    public init(
        orderType: OrderType? = nil,
        timeInForce: TimeInForce? = nil,
        limitOffset: ExactDecimal? = nil,
        extendedHours: Bool = false
    ) {
        self.orderType = orderType
        self.timeInForce = timeInForce
        self.limitOffset = limitOffset
        self.extendedHours = extendedHours
    }
}

extension OrderPreferences: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderType: nil,
            timeInForce: nil,
            limitOffset: nil,
            extendedHours: false)
    }

    public static let protoSchema = ProtoSchema<OrderPreferences>(
        "tradecore.automation.v1.OrderPreferences",
        [
            .field("order_type", 1, ProtoEnumCodec<OrderType>.self, \.orderType),
            .field("time_in_force", 2, ProtoEnumCodec<TimeInForce>.self, \.timeInForce),
            .field("limit_offset", 3, ProtoDecimal.self, \.limitOffset),
            .field("extended_hours", 4, ProtoBool.self, \.extendedHours),
        ])
}

/// An automation's whole configuration, as events and views carry it.
public struct AutomationConfig: Sendable, Hashable {
    /// Field 1, `name`.
    public var name: String
    /// Field 2, `symbol`.
    public var symbol: String
    /// Field 3, `position_sizing`.
    public var positionSizing: PositionSizing
    /// Field 4, `account_ids`.
    public var accountIDs: [UUID]
    /// Field 5, `asset_type`.
    public var assetType: AssetType
    /// Field 6, `option_details`.
    public var optionDetails: OptionDetails?
    /// Field 7, `future_details`.
    public var futureDetails: FutureDetails?
    /// Field 8, `side_preference`.
    public var sidePreference: SidePreference
    /// Field 9, `stop_loss`.
    public var stopLoss: StopLoss?
    /// Field 10, `take_profit`.
    public var takeProfit: TakeProfit?
    /// Field 11, `order_preferences`.
    public var orderPreferences: OrderPreferences?
    /// Orders are sent to the broker without confirmation.
    /// Field 12, `auto_submit`.
    public var autoSubmit: Bool
    /// Field 13, `metadata`.
    public var metadata: [String: String]

    /// Creates the message.
    public init(
        name: String,
        symbol: String,
        positionSizing: PositionSizing,
        accountIDs: [UUID] = [],
        assetType: AssetType,
        optionDetails: OptionDetails? = nil,
        futureDetails: FutureDetails? = nil,
        sidePreference: SidePreference,
        stopLoss: StopLoss? = nil,
        takeProfit: TakeProfit? = nil,
        orderPreferences: OrderPreferences? = nil,
        autoSubmit: Bool = false,
        metadata: [String: String] = [:]
    ) {
        self.name = name
        self.symbol = symbol
        self.positionSizing = positionSizing
        self.accountIDs = accountIDs
        self.assetType = assetType
        self.optionDetails = optionDetails
        self.futureDetails = futureDetails
        self.sidePreference = sidePreference
        self.stopLoss = stopLoss
        self.takeProfit = takeProfit
        self.orderPreferences = orderPreferences
        self.autoSubmit = autoSubmit
        self.metadata = metadata
    }
}

extension AutomationConfig: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            name: "",
            symbol: "",
            positionSizing: PositionSizing(protoPlaceholder: placeholder),
            accountIDs: [],
            assetType: .stock,
            optionDetails: nil,
            futureDetails: nil,
            sidePreference: .both,
            stopLoss: nil,
            takeProfit: nil,
            orderPreferences: nil,
            autoSubmit: false,
            metadata: [:])
    }

    public static let protoSchema = ProtoSchema<AutomationConfig>(
        "tradecore.automation.v1.AutomationConfig",
        [
            .field("name", 1, ProtoString.self, \.name, required: true),
            .field("symbol", 2, ProtoString.self, \.symbol, required: true),
            .field("position_sizing", 3, ProtoMessageCodec<PositionSizing>.self, \.positionSizing),
            .repeated("account_ids", 4, ProtoUUID.self, \.accountIDs),
            .field("asset_type", 5, ProtoEnumCodec<AssetType>.self, \.assetType),
            .field("option_details", 6, ProtoMessageCodec<OptionDetails>.self, \.optionDetails),
            .field("future_details", 7, ProtoMessageCodec<FutureDetails>.self, \.futureDetails),
            .field("side_preference", 8, ProtoEnumCodec<SidePreference>.self, \.sidePreference),
            .field("stop_loss", 9, ProtoMessageCodec<StopLoss>.self, \.stopLoss),
            .field("take_profit", 10, ProtoMessageCodec<TakeProfit>.self, \.takeProfit),
            .field("order_preferences", 11, ProtoMessageCodec<OrderPreferences>.self, \.orderPreferences),
            .field("auto_submit", 12, ProtoBool.self, \.autoSubmit),
            .map("metadata", 13, ProtoString.self, ProtoString.self, \.metadata),
        ])
}
