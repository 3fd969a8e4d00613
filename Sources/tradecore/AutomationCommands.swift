import ArgumentParser
import Foundation
import TradeCoreClient
import TradeCoreMessages

struct AutomationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "automation", abstract: "Create, change, activate, deactivate, delete and read automations.",
        subcommands: [Create.self, Update.self, Activate.self, Deactivate.self, Delete.self, Get.self, List.self])

    /// The configuration flags shared by create and update.
    struct Settings: ParsableArguments {
        @Option(
            help:
                "How orders are sized: fixed-quantity, fixed-amount, percent-of-equity, risk-percent (create: required)."
        )
        var sizing: Choice<PositionSizingMethod>?
        @Option(
            parsing: .unconditional,
            help: "The sizing's value: a quantity, an amount or a percentage (create: required).") var size:
            ExactDecimal?
        @Option(help: "stock, option, future or crypto.") var assetType: Choice<AssetType>?
        @Option(help: "Option: call or put.") var optionType: Choice<OptionType>?
        @Option(parsing: .unconditional, help: "Option: the strike price.") var strikePrice: ExactDecimal?
        @Option(help: "Option or future: the expiration date, YYYY-MM-DD.") var expirationDate: String?
        @Option(help: "Future: the contract symbol, e.g. ESZ5.") var contractSymbol: String?
        @Option(help: "both, long-only or short-only.") var sidePreference: Choice<SidePreference>?
        @Option(parsing: .unconditional, help: "Stop loss distance.") var stopLoss: ExactDecimal?
        @Option(
            help:
                "How the stop loss is given: percent or amount (create: default percent; update: required with --stop-loss)."
        )
        var stopLossType: Choice<PriceOffsetType>?
        @Flag(help: "The stop loss trails the price.") var trailingStop = false
        @Option(parsing: .unconditional, help: "Take profit distance.") var takeProfit: ExactDecimal?
        @Option(
            help:
                "How the take profit is given: percent or amount (create: default percent; update: required with --take-profit)."
        )
        var takeProfitType: Choice<PriceOffsetType>?
        @Option(help: "The orders' type: market, limit, stop or stop-limit.") var orderType: Choice<OrderType>?
        @Option(help: "The orders' time in force; also takes gtc, ioc and fok.") var timeInForce: Choice<TimeInForce>?
        @Option(parsing: .unconditional, help: "For limit orders: the distance from the signal price.") var limitOffset:
            ExactDecimal?

        var positionSizing: PositionSizing? {
            guard let sizing, let size else { return nil }
            return PositionSizing(method: sizing.value, value: size)
        }

        var optionDetails: OptionDetails? {
            optionType.map {
                OptionDetails(optionType: $0.value, strikePrice: strikePrice, expirationDate: expirationDate ?? "")
            }
        }

        var futureDetails: FutureDetails? {
            contractSymbol.map { FutureDetails(contractSymbol: $0, expirationDate: expirationDate ?? "") }
        }

        var stop: StopLoss? {
            stopLoss.map { StopLoss(offsetType: stopLossType?.value ?? .percent, value: $0, trailing: trailingStop) }
        }

        var take: TakeProfit? {
            takeProfit.map { TakeProfit(offsetType: takeProfitType?.value ?? .percent, value: $0) }
        }

        var preferences: OrderPreferences? {
            guard orderType != nil || timeInForce != nil || limitOffset != nil else { return nil }
            return OrderPreferences(
                orderType: orderType?.value, timeInForce: timeInForce?.value, limitOffset: limitOffset)
        }

        func validate() throws {
            guard (sizing == nil) == (size == nil) else { throw ValidationError("--sizing and --size go together") }
            // Details that go into nothing would be dropped without a word.
            if stopLoss == nil, stopLossType != nil || trailingStop {
                throw ValidationError("--stop-loss-type and --trailing-stop describe a stop loss: give --stop-loss too")
            }
            if takeProfit == nil, takeProfitType != nil {
                throw ValidationError("--take-profit-type describes a take profit: give --take-profit too")
            }
            if strikePrice != nil, optionType == nil {
                throw ValidationError("--strike-price belongs to an option: give --option-type (call or put) too")
            }
            if expirationDate != nil, optionType == nil, contractSymbol == nil {
                throw ValidationError(
                    "--expiration-date belongs to an option or a future: give --option-type or --contract-symbol too")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an automation (INACTIVE) with its webhook.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "The automation's name.") var name: String
        @Option(help: "The instrument it trades, such as AAPL.") var symbol: String
        @Option(help: "A broker account its orders go to (repeatable; at least one).") var account: [UUID] = []
        @OptionGroup var settings: Settings
        @Flag(help: "Send its orders to the broker without confirmation.") var autoSubmit = false
        @Option(help: "KEY=VALUE (repeatable).") var metadata: [String] = []

        func validate() throws {
            try options.output.check(CreateAutomationResult.self)
            try options.refuseExpectedVersion("automation create makes a new automation")
            guard settings.sizing != nil else { throw ValidationError("--sizing and --size are required") }
            guard !account.isEmpty else { throw ValidationError("--account is required: the account its orders go to") }
            for entry in metadata where !entry.contains("=") {
                throw ValidationError("--metadata takes KEY=VALUE, not \"\(entry)\"")
            }
        }

        func run() async throws {
            let client = try options.connection.client()
            defer { Task { await client.close() } }
            var map: [String: String] = [:]
            for entry in metadata {
                let parts = entry.split(separator: "=", maxSplits: 1)
                map[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            guard let sizing = settings.positionSizing else { return }
            let result = try await calling {
                try await client.createAutomation(
                    CreateAutomation(
                        userID: user, name: name, symbol: symbol, positionSizing: sizing, accountIDs: account,
                        assetType: settings.assetType?.value ?? .stock, optionDetails: settings.optionDetails,
                        futureDetails: settings.futureDetails, sidePreference: settings.sidePreference?.value,
                        stopLoss: settings.stop, takeProfit: settings.take, orderPreferences: settings.preferences,
                        autoSubmit: autoSubmit, metadata: map), commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an automation's configuration.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The automation's id.") var automation: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "The automation's name.") var name: String = ""
        @OptionGroup var settings: Settings
        @Option(help: "true or false.") var autoSubmit: Bool?
        @Option(help: "A broker account its orders go to from now on (repeatable): replaces the accounts it had.")
        var account: [UUID] = []
        @Flag(help: "Remove the stop loss.") var clearStopLoss = false
        @Flag(help: "Remove the take profit.") var clearTakeProfit = false

        func validate() throws {
            // An update replaces a stop loss or take profit whole: a type left to its default
            // would silently turn an amount into a percentage.
            if settings.stopLoss != nil, settings.stopLossType == nil {
                throw ValidationError(
                    "--stop-loss replaces the stop loss whole: give --stop-loss-type (percent or amount) too, "
                        + "and --trailing-stop if it trails")
            }
            if settings.takeProfit != nil, settings.takeProfitType == nil {
                throw ValidationError(
                    "--take-profit replaces the take profit whole: give --take-profit-type (percent or amount) too")
            }
            try options.output.check(AutomationResult.self)
        }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.updateAutomation(
                    UpdateAutomation(
                        automationID: automation, userID: user, name: name, positionSizing: settings.positionSizing,
                        stopLoss: settings.stop, takeProfit: settings.take, orderPreferences: settings.preferences,
                        sidePreference: settings.sidePreference?.value, autoSubmit: autoSubmit,
                        assetType: settings.assetType?.value, optionDetails: settings.optionDetails,
                        futureDetails: settings.futureDetails, expectedVersion: options.expectedVersion,
                        accountIDs: account, clearStopLoss: clearStopLoss, clearTakeProfit: clearTakeProfit),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start acting on signals.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The automation's id.") var automation: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID

        func validate() throws { try options.output.check(AutomationResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.activateAutomation(
                    ActivateAutomation(
                        automationID: automation, userID: user, expectedVersion: options.expectedVersion),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop acting on signals.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The automation's id.") var automation: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "Why, as recorded on the event.") var reason: String = ""

        func validate() throws { try options.output.check(AutomationResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.deactivateAutomation(
                    DeactivateAutomation(
                        automationID: automation, userID: user, reason: reason, expectedVersion: options.expectedVersion
                    ),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an automation.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The automation's id.") var automation: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID

        func validate() throws { try options.output.check(AutomationResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.deleteAutomation(
                    DeleteAutomation(automationID: automation, userID: user, expectedVersion: options.expectedVersion),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an automation.")
        @OptionGroup var options: QueryOptions
        @Option(help: "The automation's id.") var automation: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID

        func validate() throws { try options.output.check(AutomationView.self) }

        func run() async throws {
            let view = try await options.connection.call { client in
                try await client.getAutomation(
                    GetAutomation(automationID: automation, userID: user, minPosition: options.minPosition))
            }
            try options.output.print(view)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's automations, oldest first.")
        @OptionGroup var options: QueryOptions
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Flag(help: "List deleted automations too.") var includeDeleted = false
        @Option(parsing: .unconditional, help: "At most this many; the server's default is 100.") var limit: UInt32?
        @Option(help: "Start after this automation (the last one of the page before).") var after: UUID?

        func validate() throws {
            try options.output.check(AutomationView.self)
            if let limit, limit > 1_000 { throw ValidationError("--limit is at most 1000, not \(limit)") }
        }

        func run() async throws {
            let list = try await options.connection.call { client in
                try await client.listAutomations(
                    ListAutomations(
                        userID: user, includeDeleted: includeDeleted, minPosition: options.minPosition,
                        pageSize: limit ?? 0, afterAutomationID: after))
            }
            try printEach(list.automations, options.output)
            if let next = list.nextAfterAutomationID {
                // On stderr, so the page on stdout stays one object per line.
                FileHandle.standardError.write(
                    Data("more automations follow: list them with --after \(next.uuidString.lowercased())\n".utf8))
            }
        }
    }
}
