import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages
import WireFormat

/// Links one account of a connection; its id derives from the connection and the broker's account
/// number, so linking it again finds it linked and changes nothing. Sent by SyncBrokerAccounts.
public struct LinkBrokerAccount: Command {
    public typealias Result = BrokerAccountResult
    public static var commandType: String { "LinkBrokerAccount" }

    public var userID: UUID
    public var connectionID: UUID
    public var brokerID: String
    public var environment: BrokerEnvironment
    public var description: BrokerAccountDescription
    public var sagaID: UUID?
    public var actingUserID: UUID? { userID }

    public init(
        userID: UUID, connectionID: UUID, brokerID: String, environment: BrokerEnvironment,
        description: BrokerAccountDescription, sagaID: UUID?
    ) {
        self.userID = userID
        self.connectionID = connectionID
        self.brokerID = brokerID
        self.environment = environment
        self.description = description
        self.sagaID = sagaID
    }
}

struct LinkBrokerAccountHandler: CommandHandler {
    func handle(_ command: LinkBrokerAccount, context: CommandContext) async throws -> BrokerAccountResult {
        let id = BrokerAccount.id(connection: command.connectionID, accountNumber: command.description.number)
        var account = try await context.loadIfPresent(BrokerAccount.self, id: id) ?? AggregateRoot(id: id)
        try account.link(
            user: command.userID, connection: command.connectionID, brokerID: command.brokerID,
            environment: command.environment, description: command.description, now: context.now)
        try context.save(account)
        return account.result()
    }
}

/// Unlinks one account from its connection: it takes no more orders and is no longer refreshed.
/// Unlinking an unlinked account changes nothing. Sent by DisconnectBroker for each account of
/// the connection; InitiateBrokerConnection and its onboarding link them again.
public struct UnlinkBrokerAccount: Command {
    public typealias Result = BrokerAccountResult
    public static var commandType: String { "UnlinkBrokerAccount" }

    public var accountID: UUID
    public var userID: UUID
    public var reason: String
    public var sagaID: UUID?
    public var actingUserID: UUID? { userID }

    public init(accountID: UUID, userID: UUID, reason: String, sagaID: UUID?) {
        self.accountID = accountID
        self.userID = userID
        self.reason = reason
        self.sagaID = sagaID
    }
}

struct UnlinkBrokerAccountHandler: CommandHandler {
    func handle(_ command: UnlinkBrokerAccount, context: CommandContext) async throws -> BrokerAccountResult {
        var account = try await context.existing(
            BrokerAccount.self, command.accountID, nil,
            or: .notFound("account", command.accountID, reason: "ACCOUNT_NOT_FOUND"))
        try account.unlink(reason: command.reason, user: command.userID, now: context.now)
        try context.save(account)
        return account.result()
    }
}

/// Reads one account's balances from its broker. A broker that fails is recorded on the account
/// (BrokerAccountRefreshFailed) and reported in the result's `refresh_error`: not lost, and not a
/// refusal of the command.
struct RefreshAccountDataFromBrokerHandler: CommandHandler {
    func handle(_ command: RefreshAccountDataFromBroker, context: CommandContext) async throws -> BrokerAccountResult {
        var account = try await context.existing(
            BrokerAccount.self, command.accountID, command.expectedVersion,
            or: .notFound("account", command.accountID, reason: "ACCOUNT_NOT_FOUND"))
        try account.requireRefreshable(by: command.userID)
        let domain = try context.domain
        var failure: String?
        do {
            let connection = try await context.connection(account.connectionID, nil)
            try connection.requireConnected(by: command.userID)
            let adapter = try domain.adapter(for: account.brokerID)
            let credentials = try await domain.vault.credentials(reference: connection.credentialsReference)
            let balances = try await adapter.balances(
                accountNumber: account.accountNumber, credentials: credentials, environment: account.environment)
            try account.recordRefresh(balances, user: command.userID, now: context.now)
        } catch let error as BrokerError {
            failure = error.message
        } catch let error as DomainError where error.code == .failedPrecondition {
            // A connection that is not connected cannot be read either: a failed refresh.
            failure = error.message
        }
        if let failure {
            try account.recordRefreshFailure(failure, user: command.userID, now: context.now)
        }
        try context.save(account)
        return account.result(refreshError: failure ?? "")
    }
}

/// Refreshes the accounts of a connection, or all of the user's, exactly as the seed does: the
/// accounts come from the query bus (read after every write committed before the command), those
/// synced in the last ``skipWindow`` are skipped unless forced, each is refreshed by its own
/// RefreshAccountDataFromBroker through the command bus (carrying the saga id), and failures are
/// counted and listed without stopping the rest. Within a saga, the figures are recorded as
/// AllAccountsRefreshCompleted on a stream of the run's own.
struct RefreshAllAccountsHandler: CommandHandler {
    /// Accounts synced more recently than this are skipped unless the command forces a refresh.
    static let skipWindow = Duration.seconds(300)

    func handle(_ command: RefreshAllAccounts, context: CommandContext) async throws -> RefreshAllAccountsResult {
        let head = try await context.store.headPosition()
        let consistency = ReadConsistency.atLeast(position: head, timeout: .seconds(10))
        let list: BrokerAccountList
        if let connectionID = command.brokerConnectionID {
            list = try await context.ask(
                GetAccountsByConnection(brokerConnectionID: connectionID, userID: command.userID),
                consistency: consistency)
        } else {
            list = try await context.ask(GetAccountsByUser(userID: command.userID), consistency: consistency)
        }
        let cutoff = context.now - Self.skipWindow.nanoseconds
        let due = list.accounts.filter { command.forceRefresh || $0.lastSyncedAt == 0 || $0.lastSyncedAt < cutoff }
        var result = RefreshAllAccountsResult(
            total: UInt32(clamping: due.count), skipped: UInt32(clamping: list.accounts.count - due.count))
        for account in due {
            let failure: String
            do {
                let outcome = try await context.send(
                    RefreshAccountDataFromBroker(
                        accountID: account.accountID, userID: command.userID, sagaID: command.sagaID))
                failure = outcome.result.refreshError
            } catch {
                if error.code == .cancelled { throw error }
                failure = error.rejection?.message ?? error.message
            }
            if failure.isEmpty {
                result.refreshed += 1
            } else {
                result.failed += 1
                result.errors.append(AccountRefreshError(accountID: account.accountID, error: failure))
            }
        }
        if context.sagaID != nil {
            var run = AggregateRoot<AccountRefreshRun>(
                id: NameBasedUUID.make(namespace: context.commandID, name: "refresh run"))
            run.complete(
                AllAccountsRefreshCompleted(
                    userID: command.userID, brokerConnectionID: command.brokerConnectionID, total: result.total,
                    refreshed: result.refreshed, failed: result.failed, completedAt: context.now,
                    errors: result.errors))
            try context.save(run)
        }
        return result
    }
}

/// One RefreshAllAccounts run within a saga: its stream holds the run's figures, where the saga
/// (and any subscriber) finds them.
public struct AccountRefreshRun: Aggregate {
    public enum Event: DomainEvents, Hashable {
        case completed(AllAccountsRefreshCompleted)

        public init?(message: any ProtoSchemaMessage) {
            guard let completed = message as? AllAccountsRefreshCompleted else { return nil }
            self = .completed(completed)
        }

        public var message: any ProtoSchemaMessage {
            switch self {
            case .completed(let event): event
            }
        }
    }

    public static let streamType = "account_refresh"
    public static let eventCodec = ProtoEventCodec<Event>()

    public let id: UUID
    public private(set) var completed: AllAccountsRefreshCompleted?

    public init(id: UUID) {
        self.id = id
    }

    public mutating func apply(_ event: Event) {
        switch event {
        case .completed(let event): completed = event
        }
    }
}

extension AggregateRoot where State == AccountRefreshRun {
    /// Records the run's figures, once.
    mutating func complete(_ figures: AllAccountsRefreshCompleted) {
        guard state.completed == nil else { return }
        emit(.completed(figures))
    }
}
