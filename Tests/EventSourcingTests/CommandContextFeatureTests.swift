import EventSourcingTesting
import EventStore
import Foundation
import Synchronization
import Testing

@testable import EventSourcing

/// A deposit that names the user it acts for.
struct DepositFor: Command {
    typealias Result = Int64
    static let commandType = "DepositFor"
    var accountID: UUID
    var amount: Int
    var user: UUID
    var actingUserID: UUID? { user }
}

/// A deposit made by a caller who read the account at `expectedVersion`.
struct DepositExpecting: Command {
    typealias Result = Int64
    static let commandType = "DepositExpecting"
    var accountID: UUID
    var amount: Int
    var expectedVersion: UInt64
}

/// A deposit that holds the lock `deposits/<account>` until it commits.
struct LockedDeposit: Command {
    typealias Result = Int64
    static let commandType = "LockedDeposit"
    var accountID: UUID
    var amount: Int
}

/// A deposit that asks the query bus whether the account may take it first.
struct CheckedDeposit: Command {
    typealias Result = Int64
    static let commandType = "CheckedDeposit"
    var accountID: UUID
    var amount: Int
}

struct IsAccountAllowed: Query {
    typealias Result = Bool
    static let queryType = "IsAccountAllowed"
    var accountID: UUID
}

/// Knows no account: every question is answered "not found".
struct NoAccountsHandler: QueryHandler {
    func handle(_ query: IsAccountAllowed, context: QueryContext) async throws -> Bool {
        throw CommandRejection(.notFound, "no read model knows account \(query.accountID)")
    }
}

struct DepositForHandler: CommandHandler {
    func handle(_ command: DepositFor, context: CommandContext) async throws -> Int64 {
        var account = try await context.load(Account.self, id: command.accountID)
        try account.deposit(command.amount)
        try context.save(account)
        return Int64(account.balance)
    }
}

struct DepositExpectingHandler: CommandHandler {
    func handle(_ command: DepositExpecting, context: CommandContext) async throws -> Int64 {
        var account = try await context.load(
            Account.self, id: command.accountID, expectedVersion: command.expectedVersion)
        try account.deposit(command.amount)
        try context.save(account)
        try await context.services.require(HandlerProbe.self).ran(DepositExpecting.commandType, context: context)
        return Int64(account.balance)
    }
}

struct LockedDepositHandler: CommandHandler {
    func handle(_ command: LockedDeposit, context: CommandContext) async throws -> Int64 {
        let lease = try await context.lock(
            "deposits/\(command.accountID)", ttl: .seconds(60), timeout: .milliseconds(200))
        var account = try await context.load(Account.self, id: command.accountID)
        try account.deposit(command.amount)
        try context.save(account, fencedBy: lease)
        try await context.services.require(HandlerProbe.self).ran(LockedDeposit.commandType, context: context)
        return Int64(account.balance)
    }
}

struct CheckedDepositHandler: CommandHandler {
    func handle(_ command: CheckedDeposit, context: CommandContext) async throws -> Int64 {
        _ = try await context.ask(IsAccountAllowed(accountID: command.accountID))
        var account = try await context.load(Account.self, id: command.accountID)
        try account.deposit(command.amount)
        try context.save(account)
        return Int64(account.balance)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct CommandContextFeatureTests {
    private static let handlers: [any CommandHandler] =
        AccountHandlers.all + [
            DepositForHandler(), DepositExpectingHandler(), LockedDepositHandler(), CheckedDepositHandler(),
        ]

    private func bus(_ environment: TestEnvironment, queries: QueryBus? = nil) throws -> CommandBus {
        try environment.bus(queries: queries, handlers: Self.handlers, commands: nil)
    }

    @Test func aCommandNamingItsUserPutsThatUserInItsEvents() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try bus(environment)
            let account = try await bus.send(OpenAccount()).result
            let user = UUID()
            _ = try await bus.send(
                DepositFor(accountID: account, amount: 5, user: user), options: CommandOptions(userID: UUID()))
            let event = try #require(try await environment.events(of: environment.accountStream(account)).last)
            #expect(event.metadata.userID == user)
            #expect(event.metadata.commandType == "DepositFor")
        }
    }

    @Test func aQueryRefusalInsideAHandlerIsTheCommandsRefusal() async throws {
        try await withEnvironment(.memory) { environment in
            let queries = try QueryBus(handlers: [NoAccountsHandler()], readModels: InMemoryProjectionStore())
            let bus = try bus(environment, queries: queries)
            let account = try await bus.send(OpenAccount()).result
            let head = try await environment.store.headPosition()
            let error = try await #require(throws: CommandBusError.self) {
                try await bus.send(CheckedDeposit(accountID: account, amount: 5))
            }
            #expect(error.code == .rejected)
            #expect(error.rejection?.code == .notFound)
            #expect(error.rejection?.message.contains("no read model knows") == true)
            #expect(try await environment.store.headPosition() == head)
        }
    }

    @Test func aStaleExpectedVersionIsAConflictWithBothVersionsAndIsNotRetried() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try bus(environment)
            let account = try await open(bus, deposit: 10)
            let error = try await #require(throws: CommandBusError.self) {
                try await bus.send(DepositExpecting(accountID: account, amount: 1, expectedVersion: 0))
            }
            #expect(error.code == .conflict)
            #expect(error.expectedVersion == 0)
            #expect(error.currentVersion == 1)
            #expect(error.attempts == 1)
            #expect(try await environment.events(of: environment.accountStream(account)).count == 2)

            let applied = try await bus.send(DepositExpecting(accountID: account, amount: 1, expectedVersion: 1))
            #expect(applied.result == 11)
        }
    }

    @Test func aLockIsHeldUntilTheCommitAndReusedByTheRetryOfItsOwnCommand() async throws {
        try await withEnvironment(.memory) { environment in
            let lock = InProcessLock(store: environment.store)
            let bus = try environment.bus(lock: lock, handlers: Self.handlers, commands: nil)
            let account = try await open(bus)
            let key = "deposits/\(account)"
            let conflicted = Mutex(false)
            let heldDuringTheAttempt = Mutex<[Bool]>([])
            environment.probe.setHook(LockedDeposit.commandType) { _ in
                // Between staging and commit: nobody else can take the lock.
                let free = (try? await lock.acquire(key, ttl: .seconds(1), timeout: .milliseconds(20))) != nil
                heldDuringTheAttempt.withLock { $0.append(!free) }
                // Make the first attempt's append conflict, so the bus runs the handler again.
                if !conflicted.withLock({ $0 }) {
                    conflicted.withLock { $0 = true }
                    _ = try await bus.send(Deposit(accountID: account, amount: 100))
                }
            }
            let outcome = try await bus.send(LockedDeposit(accountID: account, amount: 1))
            #expect(outcome.attempts == 2)
            #expect(outcome.result == 101)
            #expect(heldDuringTheAttempt.withLock { $0 } == [true, true])
            // Released after the commit.
            let lease = try await lock.acquire(key, ttl: .seconds(1), timeout: .zero)
            try await lock.release(lease)
        }
    }

    @Test func anEventThatDoesNotReadBackIsRefusedBeforeItIsStored() async throws {
        try await withEnvironment(.memory) { environment in
            let repository = Repository<Gadget>(store: environment.store)
            var gadget = AggregateRoot<Gadget>(id: UUID())
            gadget.emit(.made)
            gadget.emit(.unreadable)
            do {
                try await repository.save(&gadget, metadata: EventMetadata())
                Issue.record("an event that does not read back was appended")
            } catch {
                #expect(error is InvalidEvent)
            }
            let head = try await environment.store.headPosition()
            #expect(head == 0)
        }
    }

    private func open(_ bus: CommandBus, deposit: Int = 0) async throws -> UUID {
        let id = try await bus.send(OpenAccount()).result
        if deposit > 0 { _ = try await bus.send(Deposit(accountID: id, amount: deposit)) }
        return id
    }
}

/// An aggregate whose codec writes an event it cannot read back.
struct Gadget: Aggregate {
    enum Event: Sendable, Hashable {
        case made
        case unreadable
    }

    struct Codec: EventCodec {
        struct Unreadable: Error {}

        func encode(_ event: Event) throws -> EncodedEvent {
            EncodedEvent(type: event == .made ? "GadgetMade" : "GadgetBroken", data: Data())
        }

        func decode(_ encoded: EncodedEvent) throws -> Event {
            guard encoded.type == "GadgetMade" else { throw Unreadable() }
            return .made
        }
    }

    static let streamType = "gadget"
    static let eventCodec = Codec()

    init(id: UUID) {}

    mutating func apply(_ event: Event) {}
}
