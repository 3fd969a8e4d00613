import EventSourcing
import EventSourcingTesting
import Foundation
import Testing
import TradeCoreMessages

@testable import TradeCoreDomain

@Suite struct AutomationTests {
    let id = UUID()
    let user = UUID()
    let other = UUID()
    let now = Fixtures.now
    var scenario: AggregateScenario<Automation> { AggregateScenario(id: id) }

    func d(_ text: String) -> ExactDecimal { Fixtures.decimal(text) }

    func command(
        accounts: [UUID], asset: AssetType = .stock, option: OptionDetails? = nil, future: FutureDetails? = nil,
        side: SidePreference? = nil, stopLoss: StopLoss? = nil, takeProfit: TakeProfit? = nil,
        sizing: PositionSizing? = nil, preferences: OrderPreferences? = nil, metadata: [String: String] = [:],
        name: String = "Breakout"
    ) -> CreateAutomation {
        CreateAutomation(
            userID: user, name: name, symbol: "AAPL",
            positionSizing: sizing ?? PositionSizing(method: .fixedQuantity, value: d("10")), accountIDs: accounts,
            assetType: asset, optionDetails: option, futureDetails: future, sidePreference: side, stopLoss: stopLoss,
            takeProfit: takeProfit, orderPreferences: preferences, autoSubmit: true, metadata: metadata)
    }

    func accounts(_ states: BrokerAccount...) -> [UUID: BrokerAccount] {
        Dictionary(uniqueKeysWithValues: states.map { ($0.id, $0) })
    }

    func created(_ account: UUID) -> AutomationEvent {
        .created(
            AutomationCreated(
                automationID: id, userID: user, config: Fixtures.automationConfig(accounts: [account]),
                webhookURL: "https://h/w", webhookTokenSHA256: [1, 2], status: .inactive, createdAt: now))
    }

    @Test func createStartsInactiveWithItsWebhookDigestAndBothSidesByDefault() throws {
        let account = Fixtures.account(user: user)
        let state =
            try scenario
            .when {
                try $0.create(
                    command(accounts: [account.id]), webhookURL: "https://h/w", webhookTokenDigest: [1, 2],
                    accounts: accounts(account), now: now)
            }
            .then([
                .created(
                    AutomationCreated(
                        automationID: id, userID: user,
                        config: {
                            var config = Fixtures.automationConfig(accounts: [account.id])
                            config.autoSubmit = true
                            return config
                        }(), webhookURL: "https://h/w", webhookTokenSHA256: [1, 2], status: .inactive, createdAt: now))
            ])
        #expect(state.status == .inactive && state.config.sidePreference == .both)
    }

    @Test func createNeedsAccountsThatExistAreTheUsersAndLinked() throws {
        let mine = Fixtures.account(user: user)
        let foreign = Fixtures.account(user: other)
        let unlinked = Fixtures.account(user: user, unlinked: true)
        let missing = UUID()
        let cases: [([UUID], [UUID: BrokerAccount], CommandRejection.Code, String)] = [
            ([], [:], .invalidArgument, "INVALID_FIELD"),
            ([mine.id, mine.id], accounts(mine), .invalidArgument, "INVALID_FIELD"),
            ([missing], [:], .notFound, "ACCOUNT_NOT_FOUND"),
            ([foreign.id], accounts(foreign), .permissionDenied, "ACCOUNT_NOT_OWNED"),
            ([unlinked.id], accounts(unlinked), .failedPrecondition, "ACCOUNT_NOT_LINKED"),
        ]
        for (ids, known, code, reason) in cases {
            try scenario
                .when {
                    try $0.create(
                        command(accounts: ids), webhookURL: "u", webhookTokenDigest: [1], accounts: known, now: now)
                }
                .thenRejects(DomainError.self) { $0.is(code, reason) }
        }
    }

    @Test func createChecksEachFieldOfTheConfiguration() throws {
        let account = Fixtures.account(user: user)
        let ids = [account.id]
        let cases: [(CreateAutomation, String)] = [
            (command(accounts: ids, name: ""), "name"),
            (command(accounts: ids, name: "   "), "name"),
            (
                command(accounts: ids, sizing: PositionSizing(method: .fixedAmount, value: d("-1"))),
                "position_sizing.value"
            ),
            (
                command(accounts: ids, sizing: PositionSizing(method: .percentOfEquity, value: d("100.5"))),
                "position_sizing.value"
            ),
            (command(accounts: ids, asset: .option), "option_details"),
            (command(accounts: ids, asset: .stock, option: OptionDetails(optionType: .call)), "option_details"),
            (command(accounts: ids, asset: .future), "future_details"),
            (command(accounts: ids, asset: .crypto, future: FutureDetails(contractSymbol: "ESZ5")), "future_details"),
            (
                command(accounts: ids, asset: .option, option: OptionDetails(optionType: .put, strikePrice: d("-5"))),
                "option_details.strike_price"
            ),
            (
                command(
                    accounts: ids, asset: .option, option: OptionDetails(optionType: .put, expirationDate: "2025-02-30")
                ),
                "option_details.expiration_date"
            ),
            (
                command(
                    accounts: ids, asset: .future,
                    future: FutureDetails(contractSymbol: "ESZ5", expirationDate: "25-12-19")),
                "future_details.expiration_date"
            ),
            (
                command(accounts: ids, asset: .future, future: FutureDetails(contractSymbol: "ESZ5", tickSize: d("0"))),
                "future_details.tick_size"
            ),
            (command(accounts: ids, stopLoss: StopLoss(offsetType: .percent, value: d("100"))), "stop_loss.value"),
            (
                command(accounts: ids, side: .longOnly, stopLoss: StopLoss(offsetType: .amount, value: d("0"))),
                "stop_loss.value"
            ),
            (
                command(accounts: ids, side: .shortOnly, takeProfit: TakeProfit(offsetType: .percent, value: d("100"))),
                "take_profit.value"
            ),
            (
                command(accounts: ids, preferences: OrderPreferences(orderType: .market, limitOffset: d("0.5"))),
                "order_preferences.limit_offset"
            ),
            (command(accounts: ids, metadata: ["": "x"]), "metadata"),
            (command(accounts: ids, metadata: [String(repeating: "k", count: 65): "x"]), "metadata"),
            (command(accounts: ids, metadata: ["key": String(repeating: "v", count: 257)]), "metadata[key]"),
            // Expired the day before `now` (2023-11-14, UTC), or long ago.
            (
                command(
                    accounts: ids, asset: .option, option: OptionDetails(optionType: .put, expirationDate: "2023-11-13")
                ),
                "option_details.expiration_date"
            ),
            (
                command(
                    accounts: ids, asset: .future,
                    future: FutureDetails(contractSymbol: "ESZ0", expirationDate: "2000-12-15")),
                "future_details.expiration_date"
            ),
            (
                command(
                    accounts: ids, asset: .option, option: OptionDetails(optionType: .call),
                    sizing: PositionSizing(method: .fixedQuantity, value: d("1.5"))),
                "position_sizing.value"
            ),
        ]
        for (command, field) in cases {
            let error =
                try scenario
                .when {
                    try $0.create(
                        command, webhookURL: "u", webhookTokenDigest: [1], accounts: accounts(account), now: now)
                }
                .thenRejects(DomainError.self)
            #expect(error.code == .invalidArgument)
            #expect(error.fieldViolations.map(\.field) == [field], "\(error)")
            if let key = command.metadata.keys.first, key.count > 64 {
                #expect(error.message.contains("the key \"kkkkkkkkkkkkkkkkkkkkkkkk…\" has more than 64"), "\(error)")
            }
        }
        // What the side preference allows: a short-only automation's stop loss may pass 100%, a
        // long-only one's take profit too; a leap day exists in a leap year.
        let allowed: [CreateAutomation] = [
            command(accounts: ids, side: .shortOnly, stopLoss: StopLoss(offsetType: .percent, value: d("150"))),
            command(accounts: ids, side: .longOnly, takeProfit: TakeProfit(offsetType: .percent, value: d("250"))),
            command(
                accounts: ids, asset: .option, option: OptionDetails(optionType: .call, expirationDate: "2028-02-29")),
            command(
                accounts: ids, asset: .option, option: OptionDetails(optionType: .call, expirationDate: "2023-11-14")),
            command(accounts: ids, preferences: OrderPreferences(orderType: .limit, limitOffset: d("0.05"))),
        ]
        for command in allowed {
            var root = AggregateRoot<Automation>(id: id)
            try root.create(command, webhookURL: "u", webhookTokenDigest: [1], accounts: accounts(account), now: now)
            #expect(root.uncommittedEvents.count == 1)
        }
    }

    @Test func updateMergesChecksAndEmitsTheWholeConfigurationOrNothing() throws {
        let account = Fixtures.account(user: user)
        var expected = Fixtures.automationConfig(accounts: [account.id])
        expected.name = "Renamed"
        expected.assetType = .future
        expected.futureDetails = FutureDetails(contractSymbol: "ESZ5")
        let update = UpdateAutomation(
            automationID: id, userID: user, name: "Renamed", assetType: .future,
            futureDetails: FutureDetails(contractSymbol: "ESZ5"))
        try scenario.given([created(account.id)])
            .when { try $0.update(update, accounts: accounts(account), now: now) }
            .then([.updated(AutomationUpdated(automationID: id, config: expected, updatedAt: now))])
        try scenario.given([created(account.id)])
            .when {
                try $0.update(
                    UpdateAutomation(automationID: id, userID: user, name: "Breakout"), accounts: accounts(account),
                    now: now)
            }
            .then([])
        try scenario.given([created(account.id)])
            .when {
                try $0.update(UpdateAutomation(automationID: id, userID: user), accounts: accounts(account), now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "NOTHING_TO_UPDATE") }
        try scenario.given([created(account.id)])
            .when {
                try $0.update(
                    UpdateAutomation(automationID: id, userID: user, assetType: .option), accounts: accounts(account),
                    now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "option_details") }
        try scenario.given([created(account.id)])
            .when {
                try $0.update(
                    UpdateAutomation(automationID: id, userID: other, name: "X"), accounts: accounts(account), now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.permissionDenied, "AUTOMATION_NOT_OWNED") }
        try AggregateScenario<Automation>(id: id)
            .when {
                try $0.update(UpdateAutomation(automationID: id, userID: user, name: "X"), accounts: [:], now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.notFound, "AUTOMATION_NOT_FOUND") }
    }

    @Test func activateDeactivateAndDeleteFollowTheStatus() throws {
        let linked = Fixtures.account(user: user)
        let account = linked.id
        let linkedAccounts = accounts(linked)
        try scenario.given([created(account)]).when { try $0.activate(user: user, accounts: linkedAccounts, now: now) }
            .then([.activated(AutomationActivated(automationID: id, activatedAt: now))])
        let active: [AutomationEvent] = [
            created(account), .activated(AutomationActivated(automationID: id, activatedAt: now)),
        ]
        try scenario.given(active).when { try $0.activate(user: user, accounts: linkedAccounts, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "AUTOMATION_ALREADY_ACTIVE") }
        try scenario.given(active).when { try $0.deactivate(reason: "pause", user: user, now: now) }
            .then([.deactivated(AutomationDeactivated(automationID: id, reason: "pause", deactivatedAt: now))])
        try scenario.given([created(account)]).when { try $0.deactivate(reason: "", user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "AUTOMATION_NOT_ACTIVE") }
        try scenario.given(active).when { try $0.activate(user: other, accounts: linkedAccounts, now: now) }
            .thenRejects(DomainError.self) { $0.is(.permissionDenied, "AUTOMATION_NOT_OWNED") }
        let deleted = active + [.deleted(AutomationDeleted(automationID: id, deletedAt: now))]
        try scenario.given(active).when { try $0.delete(user: user, now: now) }
            .then([.deleted(AutomationDeleted(automationID: id, deletedAt: now))])
        for command in [
            { (root: inout AggregateRoot<Automation>) throws in
                try root.activate(user: user, accounts: linkedAccounts, now: now)
            },
            { (root: inout AggregateRoot<Automation>) throws in try root.delete(user: user, now: now) },
        ] {
            try scenario.given(deleted).when(command)
                .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "AUTOMATION_DELETED") }
        }
    }

    @Test func aStopLossOrTakeProfitOnceSetCanBeRemoved() throws {
        let account = Fixtures.account(user: user)
        var config = Fixtures.automationConfig(accounts: [account.id])
        config.stopLoss = StopLoss(offsetType: .amount, value: d("5"))
        config.takeProfit = TakeProfit(offsetType: .percent, value: d("10"))
        let withExits: AutomationEvent = .created(
            AutomationCreated(
                automationID: id, userID: user, config: config, webhookURL: "https://h/w",
                webhookTokenSHA256: [1, 2], status: .inactive, createdAt: now))
        var withoutStop = config
        withoutStop.stopLoss = nil
        try scenario.given([withExits])
            .when {
                try $0.update(
                    UpdateAutomation(automationID: id, userID: user, clearStopLoss: true), accounts: accounts(account),
                    now: now)
            }
            .then([.updated(AutomationUpdated(automationID: id, config: withoutStop, updatedAt: now))])
        var withoutExits = withoutStop
        withoutExits.takeProfit = nil
        try scenario.given([withExits])
            .when {
                try $0.update(
                    UpdateAutomation(automationID: id, userID: user, clearStopLoss: true, clearTakeProfit: true),
                    accounts: accounts(account), now: now)
            }
            .then([.updated(AutomationUpdated(automationID: id, config: withoutExits, updatedAt: now))])
        // Removing and setting at once is a contradiction, not a choice to make for the caller.
        try scenario.given([withExits])
            .when {
                try $0.update(
                    UpdateAutomation(
                        automationID: id, userID: user, stopLoss: StopLoss(offsetType: .amount, value: d("3")),
                        clearStopLoss: true),
                    accounts: accounts(account), now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "clear_stop_loss") }
    }

    /// An automation whose accounts were unlinked (their connection disconnected) is not switched
    /// on: it would take signals it cannot trade on. Its accounts can be replaced, then it can.
    @Test func anAutomationWhoseAccountsAreUnlinkedGetsNewAccountsBeforeItIsActivated() throws {
        let old = Fixtures.account(user: user, unlinked: true)
        let new = Fixtures.account(user: user)
        try scenario.given([created(old.id)]).when { try $0.activate(user: user, accounts: accounts(old), now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ACCOUNT_NOT_LINKED") }
        let replaced = try scenario.given([created(old.id)])
            .when {
                try $0.update(
                    UpdateAutomation(automationID: id, userID: user, accountIDs: [new.id]), accounts: accounts(new),
                    now: now)
            }
            .then([
                .updated(
                    AutomationUpdated(
                        automationID: id, config: Fixtures.automationConfig(accounts: [new.id]), updatedAt: now))
            ])
        #expect(replaced.config.accountIDs == [new.id])
        // New accounts are checked as at creation: another user's is refused.
        let foreign = Fixtures.account(user: other)
        try scenario.given([created(old.id)])
            .when {
                try $0.update(
                    UpdateAutomation(automationID: id, userID: user, accountIDs: [foreign.id]),
                    accounts: accounts(foreign), now: now)
            }
            .thenRejects(DomainError.self) { $0.code == .permissionDenied }
    }
}
