import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages

struct CreateAutomationHandler: CommandHandler {
    func handle(_ command: CreateAutomation, context: CommandContext) async throws -> AutomationResult {
        let domain = try context.domain
        let id = UUIDv7.next()
        let accounts = try await context.accounts(command.accountIDs)
        var automation = AggregateRoot<Automation>(id: id)
        try automation.create(
            command, webhookURL: domain.webhookURL(for: id),
            webhookTokenDigest: ServerSecrets.digest(domain.secrets.webhookToken(for: id)), accounts: accounts,
            now: context.now)
        try context.save(automation)
        return automation.result
    }
}

struct UpdateAutomationHandler: CommandHandler {
    func handle(_ command: UpdateAutomation, context: CommandContext) async throws -> AutomationResult {
        var automation = try await context.automation(command.automationID, command.expectedVersion)
        let accounts = try await context.accounts(
            command.accountIDs.isEmpty ? automation.config.accountIDs : command.accountIDs)
        try automation.update(command, accounts: accounts, now: context.now)
        try context.save(automation)
        return automation.result
    }
}

struct ActivateAutomationHandler: CommandHandler {
    func handle(_ command: ActivateAutomation, context: CommandContext) async throws -> AutomationResult {
        var automation = try await context.automation(command.automationID, command.expectedVersion)
        let accounts = try await context.accounts(automation.config.accountIDs)
        try automation.activate(user: command.userID, accounts: accounts, now: context.now)
        try context.save(automation)
        return automation.result
    }
}

struct DeactivateAutomationHandler: CommandHandler {
    func handle(_ command: DeactivateAutomation, context: CommandContext) async throws -> AutomationResult {
        var automation = try await context.automation(command.automationID, command.expectedVersion)
        try automation.deactivate(reason: command.reason, user: command.userID, now: context.now)
        try context.save(automation)
        return automation.result
    }
}

struct DeleteAutomationHandler: CommandHandler {
    func handle(_ command: DeleteAutomation, context: CommandContext) async throws -> AutomationResult {
        var automation = try await context.automation(command.automationID, command.expectedVersion)
        try automation.delete(user: command.userID, now: context.now)
        try context.save(automation)
        return automation.result
    }
}

extension CommandContext {
    func automation(_ id: UUID, _ expectedVersion: UInt64?) async throws -> AggregateRoot<Automation> {
        try await existing(
            Automation.self, id, expectedVersion, or: .notFound("automation", id, reason: "AUTOMATION_NOT_FOUND"))
    }

    /// The accounts among `ids` that exist (at most the rules' limit are read; the rules refuse more).
    func accounts(_ ids: [UUID]) async throws -> [UUID: BrokerAccount] {
        var accounts: [UUID: BrokerAccount] = [:]
        for id in Set(ids).prefix(AutomationRules.maxAccounts) {
            if let account = try await loadIfPresent(BrokerAccount.self, id: id) { accounts[id] = account.state }
        }
        return accounts
    }
}
