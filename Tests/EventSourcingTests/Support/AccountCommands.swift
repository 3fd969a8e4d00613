import EventSourcing
import EventStore
import Foundation
import Synchronization

struct OpenAccount: Command {
    typealias Result = UUID
    static let commandType = "OpenAccount"
    /// `nil`: the handler makes one, as a server assigns the ids of what it creates.
    var accountID: UUID?
    var owner = UUID()
    var overdraft = 0
}

struct Deposit: Command {
    typealias Result = Int64
    static let commandType = "Deposit"
    var accountID: UUID
    var amount: Int
    var sagaID: UUID?
}

struct Withdraw: Command {
    typealias Result = Int64
    static let commandType = "Withdraw"
    var accountID: UUID
    var amount: Int
    var sagaID: UUID?
}

/// A command that emits nothing but still has an outcome.
struct Audit: Command {
    typealias Result = String
    static let commandType = "Audit"
    var accountID: UUID
}

/// What the tests watch and steer inside handlers, handed to them as a service.
final class HandlerProbe: Sendable {
    typealias Hook = @Sendable (CommandContext) async throws -> Void

    private let runs = Mutex<[String: Int]>([:])
    private let hooks = Mutex<[String: Hook]>([:])

    /// How many times the handler of `type` ran.
    func runCount(_ type: String) -> Int { runs.withLock { $0[type] ?? 0 } }

    /// Runs `hook` inside the handler of `type`, after it staged its writes.
    func setHook(_ type: String, _ hook: Hook?) { hooks.withLock { $0[type] = hook } }

    func ran(_ type: String, context: CommandContext) async throws {
        runs.withLock { $0[type, default: 0] += 1 }
        if let hook = hooks.withLock({ $0[type] }) { try await hook(context) }
    }
}

struct OpenAccountHandler: CommandHandler {
    func handle(_ command: OpenAccount, context: CommandContext) async throws -> UUID {
        var account = AggregateRoot<Account>(id: command.accountID ?? UUIDv7.next())
        try account.open(owner: command.owner, overdraft: command.overdraft)
        try context.save(account)
        try await context.services.require(HandlerProbe.self).ran(OpenAccount.commandType, context: context)
        return account.id
    }
}

struct DepositHandler: CommandHandler {
    func handle(_ command: Deposit, context: CommandContext) async throws -> Int64 {
        var account = try await context.load(Account.self, id: command.accountID)
        try account.deposit(command.amount)
        try context.save(account)
        try await context.services.require(HandlerProbe.self).ran(Deposit.commandType, context: context)
        return Int64(account.balance)
    }
}

struct WithdrawHandler: CommandHandler {
    func handle(_ command: Withdraw, context: CommandContext) async throws -> Int64 {
        var account = try await context.load(Account.self, id: command.accountID)
        try account.withdraw(command.amount)
        try context.save(account)
        try await context.services.require(HandlerProbe.self).ran(Withdraw.commandType, context: context)
        return Int64(account.balance)
    }
}

struct AuditHandler: CommandHandler {
    func handle(_ command: Audit, context: CommandContext) async throws -> String {
        let account = try await context.load(Account.self, id: command.accountID)
        try await context.services.require(HandlerProbe.self).ran(Audit.commandType, context: context)
        return "balance \(account.balance)"
    }
}

enum AccountHandlers {
    static let all: [any CommandHandler] = [OpenAccountHandler(), DepositHandler(), WithdrawHandler(), AuditHandler()]
    static let commands: [any Command.Type] = [OpenAccount.self, Deposit.self, Withdraw.self, Audit.self]
}
