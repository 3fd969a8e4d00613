import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Creates an automation in INACTIVE state, with a webhook for its signals.
public struct CreateAutomation: Sendable, Hashable {
    /// Field 1, `user_id`.
    public var userID: UUID
    /// Field 2, `name`.
    public var name: String
    /// Field 3, `symbol`.
    public var symbol: String
    /// Field 4, `position_sizing`.
    public var positionSizing: PositionSizing
    /// The broker accounts its orders go to.
    /// Field 5, `account_ids`.
    public var accountIDs: [UUID]
    /// Field 6, `asset_type`.
    public var assetType: AssetType
    /// Field 7, `option_details`.
    public var optionDetails: OptionDetails?
    /// Field 8, `future_details`.
    public var futureDetails: FutureDetails?
    /// Absent: BOTH.
    /// Field 9, `side_preference`.
    public var sidePreference: SidePreference?
    /// Field 10, `stop_loss`.
    public var stopLoss: StopLoss?
    /// Field 11, `take_profit`.
    public var takeProfit: TakeProfit?
    /// Field 12, `order_preferences`.
    public var orderPreferences: OrderPreferences?
    /// Field 13, `auto_submit`.
    public var autoSubmit: Bool
    /// Field 14, `metadata`.
    public var metadata: [String: String]
    /// Field 15, `saga_id`.
    public var sagaID: UUID?

    /// Creates the command.
    public init(
        userID: UUID,
        name: String,
        symbol: String,
        positionSizing: PositionSizing,
        accountIDs: [UUID] = [],
        assetType: AssetType,
        optionDetails: OptionDetails? = nil,
        futureDetails: FutureDetails? = nil,
        sidePreference: SidePreference? = nil,
        stopLoss: StopLoss? = nil,
        takeProfit: TakeProfit? = nil,
        orderPreferences: OrderPreferences? = nil,
        autoSubmit: Bool = false,
        metadata: [String: String] = [:],
        sagaID: UUID? = nil
    ) {
        self.userID = userID
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
        self.sagaID = sagaID
    }
}

extension CreateAutomation: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        userID = .protoPlaceholder
        name = ""
        symbol = ""
        positionSizing = PositionSizing(protoPlaceholder: placeholder)
        accountIDs = []
        assetType = .stock
        optionDetails = nil
        futureDetails = nil
        sidePreference = nil
        stopLoss = nil
        takeProfit = nil
        orderPreferences = nil
        autoSubmit = false
        metadata = [:]
        sagaID = nil
    }

    public static let protoSchema = ProtoSchema<CreateAutomation>(
        "tradecore.automation.v1.CreateAutomation",
        [
            .field("user_id", 1, ProtoUUID.self, \.userID),
            .field("name", 2, ProtoString.self, \.name, required: true),
            .field("symbol", 3, ProtoString.self, \.symbol, required: true),
            .field("position_sizing", 4, ProtoMessageCodec<PositionSizing>.self, \.positionSizing),
            .repeated("account_ids", 5, ProtoUUID.self, \.accountIDs),
            .field("asset_type", 6, ProtoEnumCodec<AssetType>.self, \.assetType),
            .field("option_details", 7, ProtoMessageCodec<OptionDetails>.self, \.optionDetails),
            .field("future_details", 8, ProtoMessageCodec<FutureDetails>.self, \.futureDetails),
            .field("side_preference", 9, ProtoEnumCodec<SidePreference>.self, \.sidePreference),
            .field("stop_loss", 10, ProtoMessageCodec<StopLoss>.self, \.stopLoss),
            .field("take_profit", 11, ProtoMessageCodec<TakeProfit>.self, \.takeProfit),
            .field("order_preferences", 12, ProtoMessageCodec<OrderPreferences>.self, \.orderPreferences),
            .field("auto_submit", 13, ProtoBool.self, \.autoSubmit),
            .map("metadata", 14, ProtoString.self, ProtoString.self, \.metadata),
            .field("saga_id", 15, ProtoUUID.self, \.sagaID),
        ])
}

/// Changes an automation's configuration. Absent fields stay as they are.
public struct UpdateAutomation: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `name`.
    public var name: String
    /// Field 4, `position_sizing`.
    public var positionSizing: PositionSizing?
    /// Field 5, `stop_loss`.
    public var stopLoss: StopLoss?
    /// Field 6, `take_profit`.
    public var takeProfit: TakeProfit?
    /// Field 7, `order_preferences`.
    public var orderPreferences: OrderPreferences?
    /// Field 8, `side_preference`.
    public var sidePreference: SidePreference?
    /// Field 9, `auto_submit`.
    public var autoSubmit: Bool?
    /// Field 10, `asset_type`.
    public var assetType: AssetType?
    /// Field 11, `option_details`.
    public var optionDetails: OptionDetails?
    /// Field 12, `future_details`.
    public var futureDetails: FutureDetails?
    /// Field 13, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 14, `expected_version`.
    public var expectedVersion: UInt64?
    /// When given, the accounts its orders go to from now on, in place of the old ones (for
    /// instance after a broker connection was made again); absent, they stay.
    /// Field 15, `account_ids`.
    public var accountIDs: [UUID]
    /// Removes the stop loss (refused together with `stop_loss`).
    /// Field 16, `clear_stop_loss`.
    public var clearStopLoss: Bool
    /// Removes the take profit (refused together with `take_profit`).
    /// Field 17, `clear_take_profit`.
    public var clearTakeProfit: Bool

    /// Creates the command.
    public init(
        automationID: UUID,
        userID: UUID,
        name: String = "",
        positionSizing: PositionSizing? = nil,
        stopLoss: StopLoss? = nil,
        takeProfit: TakeProfit? = nil,
        orderPreferences: OrderPreferences? = nil,
        sidePreference: SidePreference? = nil,
        autoSubmit: Bool? = nil,
        assetType: AssetType? = nil,
        optionDetails: OptionDetails? = nil,
        futureDetails: FutureDetails? = nil,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil,
        accountIDs: [UUID] = [],
        clearStopLoss: Bool = false,
        clearTakeProfit: Bool = false
    ) {
        self.automationID = automationID
        self.userID = userID
        self.name = name
        self.positionSizing = positionSizing
        self.stopLoss = stopLoss
        self.takeProfit = takeProfit
        self.orderPreferences = orderPreferences
        self.sidePreference = sidePreference
        self.autoSubmit = autoSubmit
        self.assetType = assetType
        self.optionDetails = optionDetails
        self.futureDetails = futureDetails
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
        self.accountIDs = accountIDs
        self.clearStopLoss = clearStopLoss
        self.clearTakeProfit = clearTakeProfit
    }
}

extension UpdateAutomation: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        automationID = .protoPlaceholder
        userID = .protoPlaceholder
        name = ""
        positionSizing = nil
        stopLoss = nil
        takeProfit = nil
        orderPreferences = nil
        sidePreference = nil
        autoSubmit = nil
        assetType = nil
        optionDetails = nil
        futureDetails = nil
        sagaID = nil
        expectedVersion = nil
        accountIDs = []
        clearStopLoss = false
        clearTakeProfit = false
    }

    public static let protoSchema = ProtoSchema<UpdateAutomation>(
        "tradecore.automation.v1.UpdateAutomation",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("name", 3, ProtoString.self, \.name),
            .field("position_sizing", 4, ProtoMessageCodec<PositionSizing>.self, \.positionSizing),
            .field("stop_loss", 5, ProtoMessageCodec<StopLoss>.self, \.stopLoss),
            .field("take_profit", 6, ProtoMessageCodec<TakeProfit>.self, \.takeProfit),
            .field("order_preferences", 7, ProtoMessageCodec<OrderPreferences>.self, \.orderPreferences),
            .field("side_preference", 8, ProtoEnumCodec<SidePreference>.self, \.sidePreference),
            .optional("auto_submit", 9, ProtoBool.self, \.autoSubmit),
            .field("asset_type", 10, ProtoEnumCodec<AssetType>.self, \.assetType),
            .field("option_details", 11, ProtoMessageCodec<OptionDetails>.self, \.optionDetails),
            .field("future_details", 12, ProtoMessageCodec<FutureDetails>.self, \.futureDetails),
            .field("saga_id", 13, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 14, ProtoUInt64.self, \.expectedVersion),
            .repeated("account_ids", 15, ProtoUUID.self, \.accountIDs),
            .field("clear_stop_loss", 16, ProtoBool.self, \.clearStopLoss),
            .field("clear_take_profit", 17, ProtoBool.self, \.clearTakeProfit),
        ])
}

/// `tradecore.automation.v1.ActivateAutomation`.
public struct ActivateAutomation: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 4, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        automationID: UUID,
        userID: UUID,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.automationID = automationID
        self.userID = userID
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension ActivateAutomation: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        automationID = .protoPlaceholder
        userID = .protoPlaceholder
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<ActivateAutomation>(
        "tradecore.automation.v1.ActivateAutomation",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("saga_id", 3, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 4, ProtoUInt64.self, \.expectedVersion),
        ])
}

/// `tradecore.automation.v1.DeactivateAutomation`.
public struct DeactivateAutomation: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
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
        automationID: UUID,
        userID: UUID,
        reason: String = "",
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.automationID = automationID
        self.userID = userID
        self.reason = reason
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension DeactivateAutomation: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        automationID = .protoPlaceholder
        userID = .protoPlaceholder
        reason = ""
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<DeactivateAutomation>(
        "tradecore.automation.v1.DeactivateAutomation",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("reason", 3, ProtoString.self, \.reason),
            .field("saga_id", 4, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 5, ProtoUInt64.self, \.expectedVersion),
        ])
}

/// `tradecore.automation.v1.DeleteAutomation`.
public struct DeleteAutomation: Sendable, Hashable {
    /// Field 1, `automation_id`.
    public var automationID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 4, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        automationID: UUID,
        userID: UUID,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.automationID = automationID
        self.userID = userID
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension DeleteAutomation: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        automationID = .protoPlaceholder
        userID = .protoPlaceholder
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<DeleteAutomation>(
        "tradecore.automation.v1.DeleteAutomation",
        [
            .field("automation_id", 1, ProtoUUID.self, \.automationID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("saga_id", 3, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 4, ProtoUInt64.self, \.expectedVersion),
        ])
}
