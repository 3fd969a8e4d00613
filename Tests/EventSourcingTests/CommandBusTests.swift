import EventSourcingTesting
import EventStore
import Foundation
import Synchronization
import Testing

@testable import EventSourcing

struct Boom: Error, CustomStringConvertible {
    var description: String { "boom: the handler's dependency broke" }
}

/// A command no bus here knows.
struct Unregistered: Command {
    typealias Result = NoResult
    static let commandType = "Unregistered"
}

/// Another Swift type claiming the name `Deposit`.
struct FakeDeposit: Command {
    typealias Result = NoResult
    static let commandType = "Deposit"
}

struct FakeDepositHandler: CommandHandler {
    func handle(_ command: FakeDeposit, context: CommandContext) async throws -> NoResult { NoResult() }
}

@Suite(.timeLimit(.minutes(1)))
struct CommandBusTests {
    private func open(_ bus: CommandBus, deposit: Int = 0) async throws -> UUID {
        let id = try await bus.send(OpenAccount()).result
        if deposit > 0 { _ = try await bus.send(Deposit(accountID: id, amount: deposit)) }
        return id
    }

    // MARK: - Registration and bad input

    @Test func registrationNamesMissingDuplicateUnexpectedAndAmbiguousHandlers() async throws {
        try await withEnvironment(.memory) { environment in
            let missing = try #require(throws: HandlerRegistrationError.self) {
                try environment.bus(handlers: [OpenAccountHandler()])
            }
            #expect(missing.missingHandlers == ["Audit", "Deposit", "Withdraw"])
            #expect(missing.description.contains("no handler for Audit, Deposit, Withdraw"))

            let duplicate = try #require(throws: HandlerRegistrationError.self) {
                try environment.bus(handlers: AccountHandlers.all + [DepositHandler()])
            }
            #expect(duplicate.duplicateHandlers == ["Deposit": ["DepositHandler", "DepositHandler"]])
            #expect(duplicate.description.contains("2 handlers for Deposit (DepositHandler, DepositHandler)"))

            let unexpected = try #require(throws: HandlerRegistrationError.self) {
                try environment.bus(commands: [OpenAccount.self, Deposit.self, Withdraw.self])
            }
            #expect(unexpected.unexpectedHandlers == ["Audit": ["AuditHandler"]])

            let ambiguous = try #require(throws: HandlerRegistrationError.self) {
                try environment.bus(commands: AccountHandlers.commands + [FakeDeposit.self])
            }
            #expect(ambiguous.ambiguousTypes["Deposit"]?.count == 2)
            #expect(throws: HandlerRegistrationError.self) {
                try environment.bus(handlers: [DepositHandler(), FakeDepositHandler()], commands: nil)
            }
            _ = try environment.bus()
        }
    }

    @Test func anUnknownCommandIsATypedErrorAndWritesNothing() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try environment.bus()
            let error = try await #require(throws: CommandBusError.self) { try await bus.send(Unregistered()) }
            #expect(error.code == .noHandler)
            #expect(error.message.contains("Unregistered") && error.message.contains("Deposit"))
            #expect(try await environment.store.headPosition() == 0)
        }
    }

    @Test(arguments: Backend.available)
    func aThrowingHandlerFailsOnceWithoutWritingOrRecording(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let account = try await open(bus)
            let head = try await environment.store.headPosition()
            // The hook throws after the handler staged its deposit.
            environment.probe.setHook(Deposit.commandType) { _ in throw Boom() }
            let commandID = UUIDv7.next()
            let error = try await #require(throws: CommandBusError.self) {
                try await bus.send(
                    Deposit(accountID: account, amount: 5), options: CommandOptions(commandID: commandID))
            }
            #expect(error.code == .handlerFailed && error.message.contains("boom"))
            #expect(error.attempts == 1 && environment.probe.runCount(Deposit.commandType) == 1, "not retried")
            #expect(try await environment.store.headPosition() == head, "nothing half-written")
            #expect(try await bus.recordedOutcome(of: commandID) == nil, "a failure is not an outcome")

            environment.probe.setHook(Deposit.commandType, nil)
            let retried = try await bus.send(
                Deposit(accountID: account, amount: 5), options: CommandOptions(commandID: commandID))
            #expect(!retried.replayed && retried.result == 5, "the same id runs again after a failure")
        }
    }

    // MARK: - Conflicts

    @Test(arguments: Backend.available)
    func racingHandlersBothSucceedAndOneIsRetried(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let account = try await open(bus)
            let gate = Gate()
            // Both first attempts load version 0 and stage a deposit, then wait for each other.
            environment.probe.setHook(Deposit.commandType) { context in
                if context.attempt == 1 { try await gate.pass() }
            }
            async let first = bus.send(Deposit(accountID: account, amount: 10))
            async let second = bus.send(Deposit(accountID: account, amount: 5))
            await gate.waitForArrivals(2)
            gate.open()
            let outcomes = try await [first, second]
            #expect(outcomes.map(\.attempts).sorted() == [1, 2], "one committed at once, the other was retried")
            #expect(outcomes.map(\.retries).reduce(0, +) == 1)
            let retried = try #require(outcomes.first { $0.retries == 1 })
            #expect(retried.result == 15, "the retry reloaded and saw the other deposit")
            #expect(bus.statistics.retries == 1)
            let stored = try await environment.events(of: environment.accountStream(account))
            #expect(stored.map(\.type) == ["AccountOpened", "Deposited", "Deposited"])
            #expect(try await bus.send(Audit(accountID: account)).result == "balance 15")
        }
    }

    @Test func aConflictOnEveryAttemptGivesUpWithTheCurrentVersion() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try environment.bus()
            let account = try await open(bus)
            let stream = try environment.accountStream(account)
            // Someone else deposits between each load and its save.
            environment.probe.setHook(Deposit.commandType) { context in
                let other = try Account.eventCodec.encode(.deposited(amount: 1))
                try await context.store.append(
                    to: stream, expected: .any, events: [NewEvent(type: other.type, data: other.data)])
            }
            let error = try await #require(throws: CommandBusError.self) {
                try await bus.send(Deposit(accountID: account, amount: 100))
            }
            #expect(error.code == .conflict && error.attempts == 3)
            #expect(error.stream == stream && error.currentVersion == 3)
            #expect(environment.probe.runCount(Deposit.commandType) == 3)
            #expect(try await environment.events(of: stream).count == 4, "only the interfering deposits")
        }
    }

    @Test func aRejectionIsNotRetried() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try environment.bus()
            let account = try await open(bus)
            let error = try await #require(throws: CommandBusError.self) {
                try await bus.send(Withdraw(accountID: account, amount: 1))
            }
            #expect(error.code == .rejected && error.rejection?.code == .failedPrecondition)
            #expect(error.message.contains("insufficient funds"))
            #expect(error.attempts == 1)
        }
    }

    // MARK: - Metadata

    @Test(arguments: Backend.available)
    func eventsCarryTheCommandsMetadata(_ backend: Backend) async throws {
        let clock = ManualClock()
        try await withEnvironment(backend, clock: clock) { environment in
            let bus = try environment.bus()
            let account = try await open(bus)
            let (commandID, correlationID, userID, sagaID) = (UUIDv7.next(), UUID(), UUID(), UUID())
            let outcome = try await bus.send(
                Deposit(accountID: account, amount: 3, sagaID: sagaID),
                options: CommandOptions(
                    commandID: commandID, correlationID: correlationID, userID: userID,
                    extraMetadata: ["request": "r-1"]))
            let event = try #require(try await environment.events(of: environment.accountStream(account)).last)
            #expect(event.position == outcome.position)
            #expect(
                event.metadata
                    == EventMetadata(
                        causationID: commandID, correlationID: correlationID, sagaID: sagaID, userID: userID,
                        commandType: "Deposit", time: clock.now(), extra: ["request": "r-1"]))
            let generated = try await bus.send(Deposit(accountID: account, amount: 1))
            let second = try #require(try await environment.events(of: environment.accountStream(account)).last)
            #expect(second.metadata.causationID == generated.commandID)
            #expect(
                second.metadata.correlationID == generated.commandID, "the correlation id defaults to the command id")
        }
    }

    // MARK: - Idempotency

    @Test(arguments: Backend.available)
    func tenConcurrentSendsOfOneIDRunTheHandlerOnceAlsoAfterARestart(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            var bus = try environment.bus()
            let account = try await open(bus, deposit: 100)
            let commandID = UUIDv7.next()
            let gate = Gate()
            environment.probe.setHook(Withdraw.commandType) { _ in try await gate.pass() }
            let outcomes = try await withThrowingTaskGroup(of: CommandOutcome<Int64>.self) { group in
                for _ in 0..<10 {
                    group.addTask { [bus] in
                        try await bus.send(
                            Withdraw(accountID: account, amount: 30), options: CommandOptions(commandID: commandID))
                    }
                }
                // The handler holds at the gate until the nine other sends are waiting for it:
                // they are concurrent with it, not answered later from the store.
                await gate.waitForArrivals(1)
                try await waitUntil("nine sends wait for the first") { bus.sendsWaiting(for: commandID) == 9 }
                gate.open()
                var outcomes: [CommandOutcome<Int64>] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(environment.probe.runCount(Withdraw.commandType) == 1, "the handler ran once")
            #expect(outcomes.allSatisfy { $0.result == 70 && $0.commandID == commandID })
            #expect(Set(outcomes.map(\.position)).count == 1, "every caller got the same outcome")
            #expect(outcomes.filter { !$0.replayed }.count == 1, "one ran; nine shared its outcome")
            let stream = try environment.accountStream(account)
            #expect(try await environment.events(of: stream).filter { $0.type == "Withdrawn" }.count == 1)

            try await environment.restart()
            bus = try environment.bus()
            let again = try await bus.send(
                Withdraw(accountID: account, amount: 30), options: CommandOptions(commandID: commandID))
            #expect(again.replayed && again.result == 70 && again.position == outcomes[0].position)
            #expect(environment.probe.runCount(Withdraw.commandType) == 1, "not run again after the restart")
            let typed = try #require(try await bus.outcome(of: commandID, as: Withdraw.self))
            #expect(typed.result == 70)
        }
    }

    @Test("a send of an id that waited for one whose caller gave up runs the command itself")
    func aWaitingSendLeadsWhenTheFirstIsCancelled() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try environment.bus()
            let account = try await open(bus, deposit: 100)
            let commandID = UUIDv7.next()
            let gate = Gate()
            environment.probe.setHook(Withdraw.commandType) { _ in try await gate.pass() }
            let first = Task {
                try await bus.send(
                    Withdraw(accountID: account, amount: 30), options: CommandOptions(commandID: commandID))
            }
            await gate.waitForArrivals(1)
            let waiting = (0..<2).map { _ in
                Task {
                    try await bus.send(
                        Withdraw(accountID: account, amount: 30), options: CommandOptions(commandID: commandID))
                }
            }
            try await waitUntil("two sends wait for the first") { bus.sendsWaiting(for: commandID) == 2 }
            first.cancel()
            let cancelled = try await #require(throws: CommandBusError.self) { try await first.value }
            #expect(cancelled.code == .cancelled)
            // The first waiting send now leads and holds at the gate; the other waits for it.
            try await waitUntil("a waiting send runs the command") { gate.arrivals == 2 }
            #expect(bus.sendsWaiting(for: commandID) == 1)
            gate.open()
            let outcomes = [try await waiting[0].value, try await waiting[1].value]
            #expect(outcomes.allSatisfy { $0.result == 70 && $0.commandID == commandID })
            #expect(outcomes.filter { !$0.replayed }.count == 1, "one ran; the other shared its outcome")
            #expect(environment.probe.runCount(Withdraw.commandType) == 2, "the cancelled run and one more")
            let stream = try environment.accountStream(account)
            #expect(try await environment.events(of: stream).filter { $0.type == "Withdrawn" }.count == 1)
        }
    }

    @Test("a send whose caller gave up before its handler starts runs nothing; one that gave up later commits")
    func aCancelledSendRunsNothingButARunningHandlerCommits() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try environment.bus()
            let account = try await open(bus, deposit: 100)
            let stream = try environment.accountStream(account)
            let early = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await bus.send(Withdraw(accountID: account, amount: 30))
            }
            let error = try await #require(throws: CommandBusError.self) { try await early.value }
            #expect(error.code == .cancelled)
            #expect(environment.probe.runCount(Withdraw.commandType) == 0, "the handler never ran")
            #expect(try await environment.events(of: stream).filter { $0.type == "Withdrawn" }.isEmpty)
            // A handler that has started may have acted outside the log (a broker took a one-time
            // code): its write is committed even though its caller has gone.
            let gate = Gate()
            environment.probe.setHook(Withdraw.commandType) { _ in await Task { try? await gate.pass() }.value }
            let late = Task { try await bus.send(Withdraw(accountID: account, amount: 30)) }
            await gate.waitForArrivals(1)
            late.cancel()
            gate.open()
            #expect(try await late.value.result == 70)
            #expect(try await environment.events(of: stream).filter { $0.type == "Withdrawn" }.count == 1)
        }
    }

    @Test("a cancellation from inside the handler, its caller still waiting, is shared like any failure")
    func aHandlersOwnCancellationIsShared() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try environment.bus()
            let account = try await open(bus, deposit: 100)
            let commandID = UUIDv7.next()
            let gate = Gate()
            environment.probe.setHook(Withdraw.commandType) { _ in
                try await gate.pass()
                throw CancellationError()
            }
            let send = {
                Task {
                    try await bus.send(
                        Withdraw(accountID: account, amount: 30), options: CommandOptions(commandID: commandID))
                }
            }
            let first = send()
            await gate.waitForArrivals(1)
            let second = send()
            try await waitUntil("the second send waits for the first") { bus.sendsWaiting(for: commandID) == 1 }
            gate.open()
            for task in [first, second] {
                let error = try await #require(throws: CommandBusError.self) { try await task.value }
                #expect(error.code == .cancelled)
            }
            #expect(environment.probe.runCount(Withdraw.commandType) == 1, "the waiting send did not run it again")
        }
    }

    @Test(arguments: Backend.available)
    func twoBusesRacingOneCreateLeaveOneAggregate(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            // Two buses stand for two processes: no shared memory, only the store.
            let buses = try [environment.bus(), environment.bus()]
            let commandID = UUIDv7.next()
            let command = OpenAccount(accountID: nil)
            let outcomes = try await withThrowingTaskGroup(of: CommandOutcome<UUID>.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await buses[index % 2].send(command, options: CommandOptions(commandID: commandID))
                    }
                }
                var outcomes: [CommandOutcome<UUID>] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            #expect(Set(outcomes.map(\.result)).count == 1, "every caller learns the one account created")
            let all = try await environment.store.readAll(from: 0, filter: .eventTypes(["AccountOpened"]), limit: 100)
            #expect(all.count == 1, "the store's unique command id kept the second create out")
            #expect(all.first?.stream.id == outcomes.first?.result)
        }
    }

    @Test(arguments: Backend.available)
    func aCommandWithoutEventsHasItsOutcomeRecorded(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            var bus = try environment.bus()
            let account = try await open(bus, deposit: 9)
            let commandID = UUIDv7.next()
            let head = try await environment.store.headPosition()
            let first = try await bus.send(Audit(accountID: account), options: CommandOptions(commandID: commandID))
            #expect(first.result == "balance 9" && first.position == nil)
            #expect(try await environment.store.headPosition() == head, "no event was written")
            try await environment.restart()
            bus = try environment.bus()
            _ = try await bus.send(Deposit(accountID: account, amount: 1))
            let again = try await bus.send(Audit(accountID: account), options: CommandOptions(commandID: commandID))
            #expect(again.replayed && again.result == "balance 9", "the first outcome, not a new one")
            let recorded = try #require(try await bus.recordedOutcome(of: commandID))
            #expect(recorded.commandType == "Audit" && recorded.position == nil)
            #expect(recorded.status == .completed(Data("balance 9".utf8)))
        }
    }

    @Test(arguments: Backend.available)
    func aRejectionIsRecordedAndRepeated(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let account = try await open(bus)
            let commandID = UUIDv7.next()
            let head = try await environment.store.headPosition()
            let first = try await #require(throws: CommandBusError.self) {
                try await bus.send(
                    Withdraw(accountID: account, amount: 5), options: CommandOptions(commandID: commandID))
            }
            #expect(first.code == .rejected)
            #expect(try await environment.store.headPosition() == head)
            _ = try await bus.send(Deposit(accountID: account, amount: 50))
            let second = try await #require(throws: CommandBusError.self) {
                try await bus.send(
                    Withdraw(accountID: account, amount: 5), options: CommandOptions(commandID: commandID))
            }
            #expect(second.rejection == first.rejection, "the first outcome, though the funds are there now")
            #expect(
                environment.probe.runCount(Withdraw.commandType) == 0, "the rejecting handler stopped before the probe")
            let recorded = try #require(try await bus.recordedOutcome(of: commandID))
            #expect(recorded.status == .rejected(try #require(first.rejection)))
        }
    }

    @Test func anIDUsedByAnotherCommandTypeIsRefused() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try environment.bus()
            let account = try await open(bus, deposit: 10)
            let commandID = UUIDv7.next()
            _ = try await bus.send(
                Deposit(accountID: account, amount: 1), options: CommandOptions(commandID: commandID))
            let error = try await #require(throws: CommandBusError.self) {
                try await bus.send(
                    Withdraw(accountID: account, amount: 1), options: CommandOptions(commandID: commandID))
            }
            #expect(error.code == .commandIDReused && error.message.contains("Deposit"))
        }
    }

    @Test(arguments: Backend.available)
    func anIDSentAgainWithAnotherFingerprintIsRefused(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let account = try await open(bus, deposit: 100)
            func options(_ id: UUID, _ fingerprint: [UInt8]?) -> CommandOptions {
                CommandOptions(commandID: id, fingerprint: fingerprint)
            }
            // A completed outcome: the same fingerprint replays it, another is refused and runs nothing.
            let completed = UUIDv7.next()
            let first = try await bus.send(Withdraw(accountID: account, amount: 30), options: options(completed, [1]))
            let replayed = try await bus.send(
                Withdraw(accountID: account, amount: 30), options: options(completed, [1]))
            #expect(replayed.replayed && replayed.result == first.result)
            let refused = try await #require(throws: CommandBusError.self) {
                try await bus.send(Withdraw(accountID: account, amount: 40), options: options(completed, [2]))
            }
            #expect(refused.code == .commandIDReused && refused.message.contains("other content"))
            #expect(environment.probe.runCount(Withdraw.commandType) == 1)
            // A send without a fingerprint is compared by type only, as before fingerprints.
            let untyped = try await bus.send(Withdraw(accountID: account, amount: 30), options: options(completed, nil))
            #expect(untyped.replayed)

            // A recorded rejection is bound to its content the same way.
            let rejected = UUIDv7.next()
            let rejection = try await #require(throws: CommandBusError.self) {
                try await bus.send(Withdraw(accountID: account, amount: 500), options: options(rejected, [3]))
            }
            #expect(rejection.code == .rejected)
            let reused = try await #require(throws: CommandBusError.self) {
                try await bus.send(Withdraw(accountID: account, amount: 5), options: options(rejected, [4]))
            }
            #expect(reused.code == .commandIDReused)

            // A send that waits for a concurrent one of the same id compares with the leader's.
            let concurrent = UUIDv7.next()
            let gate = Gate()
            environment.probe.setHook(Withdraw.commandType) { _ in try await gate.pass() }
            let leader = Task {
                try await bus.send(Withdraw(accountID: account, amount: 10), options: options(concurrent, [5]))
            }
            await gate.waitForArrivals(1)
            let follower = Task {
                try await bus.send(Withdraw(accountID: account, amount: 20), options: options(concurrent, [6]))
            }
            try await waitUntil("the second send waits for the first") { bus.sendsWaiting(for: concurrent) == 1 }
            gate.open()
            #expect(try await leader.value.result == 60)
            let followed = try await #require(throws: CommandBusError.self) { try await follower.value }
            #expect(followed.code == .commandIDReused)
            #expect(environment.probe.runCount(Withdraw.commandType) == 2, "the follower did not run")
        }
    }

    @Test func expiredOutcomesArePurged() async throws {
        let clock = ManualClock()
        try await withEnvironment(.memory, clock: clock) { environment in
            let bus = try environment.bus()
            let account = try await open(bus)
            let commandID = UUIDv7.next()
            _ = try await bus.send(
                Deposit(accountID: account, amount: 1), options: CommandOptions(commandID: commandID))
            #expect(try await bus.purgeExpiredOutcomes() == 0, "still within the retention")
            clock.advance(by: bus.configuration.outcomeRetention + .seconds(1))
            #expect(
                try await bus.purgeExpiredOutcomes() == 1,
                "the deposit: the open had a generated id, which is not recorded")
            let again = try await bus.send(
                Deposit(accountID: account, amount: 1), options: CommandOptions(commandID: commandID))
            #expect(!again.replayed && again.result == 2, "a purged id is new again")
        }
    }

    // MARK: - Interceptors

    @Test func interceptorsWrapCommandsInOrderAndCanRefuseThem() async throws {
        try await withEnvironment(.memory) { environment in
            let trace = Mutex<[String]>([])
            struct Tracing: CommandInterceptor {
                let name: String
                let trace: @Sendable (String) -> Void
                func intercept(
                    _ invocation: CommandInvocation,
                    next: @Sendable (CommandInvocation) async throws -> CommandReceipt
                ) async throws -> CommandReceipt {
                    trace("\(name) before \(invocation.commandType)")
                    let receipt = try await next(invocation)
                    trace("\(name) after \(receipt.attempts)")
                    return receipt
                }
            }
            let user = UUID()
            let authorize = AuthorizationInterceptor { invocation in
                guard invocation.commandType != Withdraw.commandType else {
                    throw CommandRejection(.permissionDenied, "withdrawals are not allowed here")
                }
                var invocation = invocation
                invocation.userID = user
                return invocation
            }
            let bus = try environment.bus(interceptors: [
                LoggingInterceptor(logger: environment.quietLogger), MetricsInterceptor(),
                Tracing(name: "outer") { line in trace.withLock { $0.append(line) } }, authorize,
                Tracing(name: "inner") { line in trace.withLock { $0.append(line) } },
            ])
            let account = try await open(bus, deposit: 10)
            trace.withLock { $0 = [] }
            _ = try await bus.send(Deposit(accountID: account, amount: 1))
            #expect(
                trace.withLock { $0 } == [
                    "outer before Deposit", "inner before Deposit", "inner after 1", "outer after 1",
                ])
            let event = try #require(try await environment.events(of: environment.accountStream(account)).last)
            #expect(event.metadata.userID == user, "an interceptor set the user")

            let commandID = UUIDv7.next()
            let refused = try await #require(throws: CommandBusError.self) {
                try await bus.send(
                    Withdraw(accountID: account, amount: 1), options: CommandOptions(commandID: commandID))
            }
            #expect(refused.code == .rejected && refused.rejection?.code == .permissionDenied)
            #expect(environment.probe.runCount(Withdraw.commandType) == 0)
            #expect(try await bus.recordedOutcome(of: commandID) == nil, "a refusal by an interceptor is not recorded")
        }
    }
}

/// Funds an account with two deposits, each its own command, and may fail after them.
struct FundTwice: Command {
    typealias Result = Int64
    static let commandType = "FundTwice"
    var accountID: UUID
    var amount: Int
    var failAfterFunding = false
}

struct FundTwiceHandler: CommandHandler {
    func handle(_ command: FundTwice, context: CommandContext) async throws -> Int64 {
        _ = try await context.send(Deposit(accountID: command.accountID, amount: command.amount))
        let second = try await context.send(Deposit(accountID: command.accountID, amount: command.amount))
        if command.failAfterFunding { throw Boom() }
        return second.result
    }
}

/// Moves money between two accounts in one command: what a command must not do.
struct TransferDirectly: Command {
    typealias Result = String
    static let commandType = "TransferDirectly"
    var from: UUID
    var to: UUID
    var amount: Int
}

struct TransferDirectlyHandler: CommandHandler {
    func handle(_ command: TransferDirectly, context: CommandContext) async throws -> String {
        var from = try await context.load(Account.self, id: command.from)
        var to = try await context.load(Account.self, id: command.to)
        try from.withdraw(command.amount)
        try to.deposit(command.amount)
        try context.save(from)
        try context.save(to)
        return "moved"
    }
}

@Suite(.timeLimit(.minutes(1)))
struct CommandContextTests {
    @Test(arguments: Backend.available)
    func commandsAHandlerSendsRunOnceAlsoWhenTheHandlerRunsAgain(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus(
                handlers: AccountHandlers.all + [FundTwiceHandler()],
                commands: AccountHandlers.commands + [FundTwice.self])
            let account = try await bus.send(OpenAccount()).result
            let commandID = UUIDv7.next()
            let correlationID = UUID()
            let failed = try await #require(throws: CommandBusError.self) {
                try await bus.send(
                    FundTwice(accountID: account, amount: 5, failAfterFunding: true),
                    options: CommandOptions(commandID: commandID, correlationID: correlationID))
            }
            #expect(failed.code == .handlerFailed)
            #expect(try await bus.recordedOutcome(of: commandID) == nil, "a failed command is not recorded")

            // The client repeats the command id: the deposits sent the first time are answered from
            // their records, not applied again.
            let outcome = try await bus.send(
                FundTwice(accountID: account, amount: 5),
                options: CommandOptions(commandID: commandID, correlationID: correlationID))
            #expect(outcome.result == 10, "two deposits of 5, not four")
            #expect(environment.probe.runCount(Deposit.commandType) == 2)
            let events = try await environment.events(of: environment.accountStream(account))
            #expect(events.map(\.type) == ["AccountOpened", "Deposited", "Deposited"])
            let deposits = Array(events.dropFirst())
            #expect(
                deposits.allSatisfy { $0.metadata.commandType == "Deposit" && $0.metadata.causationID != commandID })
            #expect(Set(deposits.map { $0.metadata.causationID }).count == 2, "each deposit is its own command")
            #expect(deposits.allSatisfy { $0.metadata.correlationID == correlationID }, "one request, one correlation")
            #expect(outcome.position == deposits.last?.position, "the outcome covers what the sent commands wrote")
        }
    }

    @Test(arguments: Backend.available)
    func aHandlerThatSavesTwoAggregatesFailsAndWritesNothing(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus(
                handlers: AccountHandlers.all + [TransferDirectlyHandler()],
                commands: AccountHandlers.commands + [TransferDirectly.self])
            let from = try await bus.send(OpenAccount()).result
            let to = try await bus.send(OpenAccount()).result
            _ = try await bus.send(Deposit(accountID: from, amount: 10))
            let head = try await environment.store.headPosition()
            let commandID = UUIDv7.next()
            let error = try await #require(throws: CommandBusError.self) {
                try await bus.send(
                    TransferDirectly(from: from, to: to, amount: 4), options: CommandOptions(commandID: commandID))
            }
            #expect(error.code == .handlerFailed && error.message.contains("writes one aggregate"))
            #expect(try await environment.store.headPosition() == head, "nothing was appended")
            #expect(try await bus.recordedOutcome(of: commandID) == nil)
        }
    }
}
