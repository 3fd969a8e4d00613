import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages
import WireFormat

/// The events of an automation, each a message of `Schemas/automation.proto`.
public enum AutomationEvent: DomainEvents, Hashable {
    case created(AutomationCreated)
    case updated(AutomationUpdated)
    case activated(AutomationActivated)
    case deactivated(AutomationDeactivated)
    case deleted(AutomationDeleted)

    public init?(message: any ProtoSchemaMessage) {
        switch message {
        case let event as AutomationCreated: self = .created(event)
        case let event as AutomationUpdated: self = .updated(event)
        case let event as AutomationActivated: self = .activated(event)
        case let event as AutomationDeactivated: self = .deactivated(event)
        case let event as AutomationDeleted: self = .deleted(event)
        default: return nil
        }
    }

    public var message: any ProtoSchemaMessage {
        switch self {
        case .created(let event): event
        case .updated(let event): event
        case .activated(let event): event
        case .deactivated(let event): event
        case .deleted(let event): event
        }
    }
}

/// A trading strategy's configuration, triggered by signals sent to its webhook.
public struct Automation: Aggregate {
    public static let streamType = "automation"
    public static let eventCodec = ProtoEventCodec<AutomationEvent>()

    public let id: UUID
    public private(set) var exists = false
    public private(set) var userID = UUID.none
    public private(set) var config = AutomationConfig(
        name: "", symbol: "", positionSizing: PositionSizing(method: .fixedQuantity, value: .zero), assetType: .stock,
        sidePreference: .both)
    public private(set) var status = AutomationStatus.inactive
    public private(set) var webhookURL = ""
    /// SHA-256 of the webhook token: enough to check a signal, useless to forge one.
    public private(set) var webhookTokenDigest: [UInt8] = []

    public init(id: UUID) {
        self.id = id
    }

    public mutating func apply(_ event: AutomationEvent) {
        switch event {
        case .created(let created):
            exists = true
            userID = created.userID
            config = created.config
            status = created.status
            webhookURL = created.webhookURL
            webhookTokenDigest = created.webhookTokenSHA256
        case .updated(let updated):
            config = updated.config
        case .activated:
            status = .active
        case .deactivated:
            status = .inactive
        case .deleted:
            status = .deleted
        }
    }
}

extension AggregateRoot where State == Automation {
    /// Creates the automation, INACTIVE, with its webhook (see ``AutomationRules`` for what a
    /// configuration must satisfy). `accounts` holds the accounts the command names that exist.
    public mutating func create(
        _ command: CreateAutomation, webhookURL: String, webhookTokenDigest: [UInt8], accounts: [UUID: BrokerAccount],
        now: Int64
    ) throws(DomainError) {
        guard isNew else { throw .wrongState("AUTOMATION_EXISTS", "automation \(id.lowercasedText) exists already") }
        let config = AutomationConfig(
            name: command.name, symbol: command.symbol, positionSizing: command.positionSizing,
            accountIDs: command.accountIDs, assetType: command.assetType, optionDetails: command.optionDetails,
            futureDetails: command.futureDetails, sidePreference: command.sidePreference ?? .both,
            stopLoss: command.stopLoss, takeProfit: command.takeProfit, orderPreferences: command.orderPreferences,
            autoSubmit: command.autoSubmit, metadata: command.metadata)
        try AutomationRules.check(config, user: command.userID, accounts: accounts, now: now)
        emit(
            .created(
                AutomationCreated(
                    automationID: id, userID: command.userID, config: config, webhookURL: webhookURL,
                    webhookTokenSHA256: webhookTokenDigest, status: .inactive, createdAt: now)))
    }

    /// Changes the configuration: the owner only, not once deleted, at least one field given.
    /// Absent fields stay (`clear_stop_loss` and `clear_take_profit` remove those); the whole
    /// configuration after the change must satisfy
    /// ``AutomationRules``. A change to nothing new emits nothing.
    public mutating func update(
        _ command: UpdateAutomation, accounts: [UUID: BrokerAccount], now: Int64
    ) throws(DomainError) {
        try requireOwned(by: command.userID)
        try requireNotDeleted()
        guard
            !command.name.isEmpty || command.positionSizing != nil || command.stopLoss != nil
                || command.takeProfit != nil || command.orderPreferences != nil || command.sidePreference != nil
                || command.autoSubmit != nil || command.assetType != nil || command.optionDetails != nil
                || command.futureDetails != nil || !command.accountIDs.isEmpty || command.clearStopLoss
                || command.clearTakeProfit
        else {
            throw DomainError(
                .invalidArgument, reason: "NOTHING_TO_UPDATE", "give at least one field of the configuration to change")
        }
        if command.clearStopLoss, command.stopLoss != nil {
            throw .invalid("clear_stop_loss", "removes the stop loss: give it or stop_loss, not both")
        }
        if command.clearTakeProfit, command.takeProfit != nil {
            throw .invalid("clear_take_profit", "removes the take profit: give it or take_profit, not both")
        }
        var config = state.config
        if !command.name.isEmpty { config.name = command.name }
        if let value = command.positionSizing { config.positionSizing = value }
        if let value = command.stopLoss { config.stopLoss = value }
        if let value = command.takeProfit { config.takeProfit = value }
        if command.clearStopLoss { config.stopLoss = nil }
        if command.clearTakeProfit { config.takeProfit = nil }
        if let value = command.orderPreferences { config.orderPreferences = value }
        if let value = command.sidePreference { config.sidePreference = value }
        if let value = command.autoSubmit { config.autoSubmit = value }
        if let value = command.assetType {
            config.assetType = value
            // Details of another asset type do not carry over a change of type.
            if value != .option { config.optionDetails = nil }
            if value != .future { config.futureDetails = nil }
        }
        if let value = command.optionDetails { config.optionDetails = value }
        if let value = command.futureDetails { config.futureDetails = value }
        if !command.accountIDs.isEmpty { config.accountIDs = command.accountIDs }
        try AutomationRules.check(config, user: command.userID, accounts: accounts, now: now)
        guard config != state.config else { return }
        emit(.updated(AutomationUpdated(automationID: id, config: config, updatedAt: now)))
    }

    /// INACTIVE → ACTIVE: the automation acts on signals from now on. Its configuration holds
    /// then as it did when it was made (``AutomationRules``): in particular its accounts are still
    /// linked, or it would take signals it cannot trade on (change its accounts first).
    public mutating func activate(user: UUID, accounts: [UUID: BrokerAccount], now: Int64) throws(DomainError) {
        try requireOwned(by: user)
        try requireNotDeleted()
        guard state.status == .inactive else {
            throw .wrongState("AUTOMATION_ALREADY_ACTIVE", "automation \(id.lowercasedText) is active already")
        }
        try AutomationRules.check(state.config, user: user, accounts: accounts, now: now)
        emit(.activated(AutomationActivated(automationID: id, activatedAt: now)))
    }

    /// ACTIVE → INACTIVE, with an optional reason.
    public mutating func deactivate(reason: String, user: UUID, now: Int64) throws(DomainError) {
        try requireOwned(by: user)
        try requireNotDeleted()
        try Rules.text(reason, field: "reason")
        guard state.status == .active else {
            throw .wrongState(
                "AUTOMATION_NOT_ACTIVE", "automation \(id.lowercasedText) is not active",
                facts: ["automation_id": id.lowercasedText])
        }
        emit(.deactivated(AutomationDeactivated(automationID: id, reason: reason, deactivatedAt: now)))
    }

    /// Deletes the automation (active or not); it then takes no command.
    public mutating func delete(user: UUID, now: Int64) throws(DomainError) {
        try requireOwned(by: user)
        try requireNotDeleted()
        emit(.deleted(AutomationDeleted(automationID: id, deletedAt: now)))
    }

    /// The result of the automation's commands.
    public var result: AutomationResult {
        AutomationResult(automationID: id, status: state.status, version: UInt64(version ?? 0))
    }

    private func requireOwned(by user: UUID) throws(DomainError) {
        guard state.exists else { throw .notFound("automation", id, reason: "AUTOMATION_NOT_FOUND") }
        try Rules.owner(state.userID, is: user, "automation", id, reason: "AUTOMATION_NOT_OWNED")
    }

    private func requireNotDeleted() throws(DomainError) {
        guard state.status != .deleted else {
            throw .wrongState(
                "AUTOMATION_DELETED", "automation \(id.lowercasedText) is deleted",
                facts: ["automation_id": id.lowercasedText])
        }
    }
}

/// What an automation's configuration must satisfy, on creation and after every update.
public enum AutomationRules {
    /// The most accounts one automation trades through.
    public static let maxAccounts = 20
    /// The most metadata entries.
    public static let maxMetadata = 32

    /// Checks a whole configuration.
    ///
    /// - A name (at most 100 characters) and a symbol.
    /// - Position sizing above zero; a percentage of equity or risk at most 100; a fixed quantity
    ///   of options or futures in whole contracts.
    /// - One to ``maxAccounts`` distinct accounts, each existing, the user's and linked.
    /// - The details of its asset type and no other: an option needs option details (a strike above
    ///   zero, real calendar dates), a future needs future details (a contract symbol, a multiplier
    ///   and tick size above zero); a stock or crypto automation has neither. An expiration date
    ///   is not before today (UTC), so a contract that expired is refused (at activation too).
    /// - A stop loss and a take profit above zero, consistent with the sides it may hold: a long
    ///   position cannot lose 100% or more (so a percent stop loss is below 100 unless the
    ///   automation only sells short), and a short one cannot gain 100% or more (so a percent take
    ///   profit is below 100 unless it only buys).
    /// - A limit offset only for limit or stop-limit orders, above zero.
    /// - At most ``maxMetadata`` metadata entries, keys of 1 to 64 characters, values of at most 256.
    public static func check(
        _ config: AutomationConfig, user: UUID, accounts: [UUID: BrokerAccount], now: Int64
    ) throws(DomainError) {
        try Rules.text(config.name, field: "name", maxLength: 100, required: true)
        try Rules.symbol(config.symbol)
        try checkSizing(config.positionSizing)
        if config.positionSizing.method == .fixedQuantity {
            try Rules.wholeContracts(config.positionSizing.value, of: config.assetType, field: "position_sizing.value")
        }
        try checkAccounts(config.accountIDs, user: user, accounts: accounts)
        try checkAssetDetails(config, today: utcDate(now))
        try checkExits(config)
        if let preferences = config.orderPreferences, let offset = preferences.limitOffset {
            guard let type = preferences.orderType, type.hasLimitPrice else {
                throw .invalid(
                    "order_preferences.limit_offset", "applies only to limit and stop-limit orders")
            }
            try Rules.positive(offset, field: "order_preferences.limit_offset")
        }
        guard config.metadata.count <= maxMetadata else {
            throw .invalid("metadata", "has at most \(maxMetadata) entries")
        }
        for (key, value) in config.metadata {
            // The field is the map; the description names the key at fault.
            let shown = key.count > 24 ? "\"\(key.prefix(24))…\"" : "\"\(key)\""
            if key.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
                throw .invalid("metadata", "a key is empty, or only white space")
            }
            guard key.count <= 64 else { throw .invalid("metadata", "the key \(shown) has more than 64 characters") }
            guard !key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw .invalid("metadata", "the key \(shown) contains control characters")
            }
            try Rules.text(value, field: "metadata[\(key)]", maxLength: 256)
        }
    }

    private static func checkSizing(_ sizing: PositionSizing) throws(DomainError) {
        try Rules.positive(sizing.value, field: "position_sizing.value")
        let isPercentage = sizing.method == .percentOfEquity || sizing.method == .riskPercent
        if isPercentage, sizing.value > ExactDecimal(100) {
            throw .invalid("position_sizing.value", "a percentage is at most 100, not \(sizing.value)")
        }
    }

    private static func checkAccounts(
        _ ids: [UUID], user: UUID, accounts: [UUID: BrokerAccount]
    ) throws(DomainError) {
        guard !ids.isEmpty else { throw .invalid("account_ids", "an automation trades through at least one account") }
        guard ids.count <= maxAccounts else { throw .invalid("account_ids", "at most \(maxAccounts) accounts") }
        guard Set(ids).count == ids.count else { throw .invalid("account_ids", "names an account twice") }
        for id in ids {
            guard let account = accounts[id], account.exists else {
                throw .notFound("account", id, reason: "ACCOUNT_NOT_FOUND")
            }
            try Rules.owner(account.userID, is: user, "account", id, reason: "ACCOUNT_NOT_OWNED")
            guard account.isLinked else {
                throw .wrongState(
                    "ACCOUNT_NOT_LINKED", "account \(id.lowercasedText) is not linked to a broker connection",
                    facts: ["account_id": id.lowercasedText])
            }
        }
    }

    private static func checkAssetDetails(_ config: AutomationConfig, today: String) throws(DomainError) {
        let type = config.assetType
        if type != .option, config.optionDetails != nil {
            throw .invalid("option_details", "only an option automation has option details")
        }
        if type != .future, config.futureDetails != nil {
            throw .invalid("future_details", "only a future automation has future details")
        }
        switch type {
        case .option:
            guard let option = config.optionDetails else {
                throw .invalid("option_details", "an option automation needs option details")
            }
            if let strike = option.strikePrice { try Rules.positive(strike, field: "option_details.strike_price") }
            try checkDate(option.expirationDate, field: "option_details.expiration_date", notBefore: today)
        case .future:
            guard let future = config.futureDetails else {
                throw .invalid("future_details", "a future automation needs future details")
            }
            try Rules.symbol(future.contractSymbol, field: "future_details.contract_symbol")
            try checkDate(future.expirationDate, field: "future_details.expiration_date", notBefore: today)
            if let multiplier = future.multiplier { try Rules.positive(multiplier, field: "future_details.multiplier") }
            if let tick = future.tickSize { try Rules.positive(tick, field: "future_details.tick_size") }
            try Rules.text(future.exchange, field: "future_details.exchange", maxLength: 32)
        case .stock, .crypto:
            break
        }
    }

    private static func checkExits(_ config: AutomationConfig) throws(DomainError) {
        let hundred = ExactDecimal(100)
        let mayBeLong = config.sidePreference != .shortOnly
        let mayBeShort = config.sidePreference != .longOnly
        if let stop = config.stopLoss {
            try Rules.positive(stop.value, field: "stop_loss.value")
            if stop.offsetType == .percent, mayBeLong, stop.value >= hundred {
                throw .invalid(
                    "stop_loss.value",
                    "a long position cannot lose 100% or more: a percent stop loss must be below 100")
            }
        }
        if let take = config.takeProfit {
            try Rules.positive(take.value, field: "take_profit.value")
            if take.offsetType == .percent, mayBeShort, take.value >= hundred {
                throw .invalid(
                    "take_profit.value",
                    "a short position cannot gain 100% or more: a percent take profit must be below 100")
            }
        }
    }

    /// The calendar day (UTC) of `nanoseconds` since the Unix epoch, as YYYY-MM-DD.
    static func utcDate(_ nanoseconds: Int64) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = Int(parts.tm_year) + 1900
        let month = Int(parts.tm_mon) + 1
        let day = Int(parts.tm_mday)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))"
    }

    /// An optional calendar date, `YYYY-MM-DD`, that exists and is not before `today` (a contract that
    /// expired cannot be traded; an automation on it would take signals it can never act on).
    static func checkDate(_ text: String, field: String, notBefore today: String) throws(DomainError) {
        guard !text.isEmpty else { return }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.utf8.allSatisfy { (48...57).contains($0) } }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month)
        else {
            throw .invalid(field, "\"\(text)\" is not a date of the form YYYY-MM-DD")
        }
        let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { throw .invalid(field, "\(text) is not a day of the calendar") }
        // Both YYYY-MM-DD: their text orders as their days do.
        guard text >= today else {
            throw .invalid(field, "\(text) has passed: the contract expired (today is \(today), UTC)")
        }
    }
}
