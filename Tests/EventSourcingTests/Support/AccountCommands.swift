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

extension CommandContext {
    /// Loads an account, runs a business method on it, stages it and reports to the probe;
    /// returns the new balance.
    fileprivate func change(
        _ account: UUID, as type: String, _ method: (inout AggregateRoot<Account>) throws -> Void
    ) async throws -> Int64 {
        var root = try await load(Account.self, id: account)
        try method(&root)
        try save(root)
        try await services.require(HandlerProbe.self).ran(type, context: self)
        return Int64(root.balance)
    }
}

struct DepositHandler: CommandHandler {
    func handle(_ command: Deposit, context: CommandContext) async throws -> Int64 {
        try await context.change(command.accountID, as: Deposit.commandType) { try $0.deposit(command.amount) }
    }
}

struct WithdrawHandler: CommandHandler {
    func handle(_ command: Withdraw, context: CommandContext) async throws -> Int64 {
        try await context.change(command.accountID, as: Withdraw.commandType) { try $0.withdraw(command.amount) }
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
