import EventSourcing
import EventSourcingTesting
import EventStore
import Foundation
import Synchronization
import Testing

/// A saga manager running in its own task, as a process runs it.
struct RunningSagas<S: Saga>: Sendable {
    let manager: SagaManager<S>
    private let task: Task<Void, any Error>

    init(_ manager: SagaManager<S>) {
        self.manager = manager
        task = Task { try await manager.run() }
    }

    /// Stops the manager as a process stopping would: whatever it was doing is cancelled.
    func stop() async throws {
        task.cancel()
        try await task.value
    }
}

@Suite(.timeLimit(.minutes(1)))
struct SagaTests {
    /// Starts a manager of `saga` over the environment's current store.
    private func run<S: Saga>(_ saga: S, _ environment: TestEnvironment, bus: CommandBus) -> RunningSagas<S> {
        RunningSagas(
            SagaManager(
                saga, store: environment.store, commands: bus, checkpoints: environment.readModels,
                clock: environment.clock,
                configuration: .init(commandRetryDelay: .milliseconds(1)), logger: environment.quietLogger))
    }

    private func accounts(_ bus: CommandBus, balances: [Int]) async throws -> [UUID] {
        var ids: [UUID] = []
        for balance in balances {
            let id = try await bus.send(OpenAccount()).result
            if balance > 0 { _ = try await bus.send(Deposit(accountID: id, amount: balance)) }
            ids.append(id)
        }
        return ids
    }

    /// The deadlines a manager keeps beside its checkpoint.
    private func deadlines(_ environment: TestEnvironment, _ sagaType: String) async throws -> [UUID: Int64?] {
        let entries = try await environment.readModels.read { reader in
            try reader.entries(in: "saga:\(sagaType):deadlines")
        }
        var deadlines: [UUID: Int64?] = [:]
        for entry in entries {
            deadlines[try #require(UUID(uuidString: entry.key))] = try Int64(decodingCommandResult: entry.value)
        }
        return deadlines
    }

    private func balance(_ environment: TestEnvironment, _ id: UUID) async throws -> Int {
        try await Repository<Account>(store: environment.store).load(id).balance
    }

    private func count(_ type: String, in environment: TestEnvironment, account: UUID) async throws -> Int {
        try await environment.events(of: environment.accountStream(account)).filter { $0.type == type }.count
    }

    @Test(arguments: Backend.available)
    func aTransferWithdrawsThenDepositsAndCompletes(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let ids = try await accounts(bus, balances: [100, 0])
            let running = run(TransferSaga(), environment, bus: bus)
            let sagas = running.manager
            let sagaID = try await TransferSaga.request(environment.store, from: ids[0], to: ids[1], amount: 30)
            let finished = try await sagas.waitUntilFinished(sagaID, timeout: .seconds(30))
            #expect(finished.status == .completed && finished.state.stage == .done)
            #expect(try await balance(environment, ids[0]) == 70)
            #expect(try await balance(environment, ids[1]) == 30)
            let withdrawn = try #require(
                try await environment.events(of: environment.accountStream(ids[0])).last { $0.type == "Withdrawn" })
            #expect(withdrawn.metadata.sagaID == sagaID, "the saga's commands carry its id")
            let steps = try await environment.events(of: try StreamName(type: "saga", id: sagaID))
            #expect(steps.map(\.type) == ["SagaStarted", "SagaAdvanced", "SagaCompleted"])
            try await running.stop()
        }
    }

    @Test(arguments: Backend.available)
    func aTransferSurvivesARestartBetweenItsTwoCommands(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            var bus = try environment.bus()
            let ids = try await accounts(bus, balances: [100, 0])
            // The saga's deposit stalls until the "process" stops: a crash after the withdrawal.
            let stall = Gate()
            environment.probe.setHook(Deposit.commandType) { context in
                if context.sagaID != nil { try await stall.pass() }
            }
            let first = run(TransferSaga(), environment, bus: bus)
            let sagaID = try await TransferSaga.request(environment.store, from: ids[0], to: ids[1], amount: 40)
            await stall.waitForArrivals(1)
            try await first.stop()
            #expect(try await count("Withdrawn", in: environment, account: ids[0]) == 1)
            #expect(try await count("Deposited", in: environment, account: ids[1]) == 0, "stopped between the two")

            try await environment.restart()
            environment.probe.setHook(Deposit.commandType, nil)
            bus = try environment.bus()
            let second = run(TransferSaga(), environment, bus: bus)
            let sagas = second.manager
            let finished = try await sagas.waitUntilFinished(sagaID, timeout: .seconds(30))
            #expect(finished.status == .completed)
            #expect(
                try await count("Withdrawn", in: environment, account: ids[0]) == 1, "the withdrawal was not repeated")
            #expect(try await count("Deposited", in: environment, account: ids[1]) == 1, "the deposit happened once")
            #expect(try await balance(environment, ids[0]) == 60)
            #expect(try await balance(environment, ids[1]) == 40)
            try await second.stop()
        }
    }

    @Test(arguments: Backend.available)
    func aHoldThatIsNotReleasedInTimeIsCompensatedAlsoAcrossARestart(_ backend: Backend) async throws {
        let clock = ManualClock()
        try await withEnvironment(backend, clock: clock) { environment in
            var bus = try environment.bus()
            let account = try await accounts(bus, balances: [100])[0]
            let first = run(HoldSaga(), environment, bus: bus)
            let sagaID = try await HoldSaga.request(environment.store, account: account, amount: 30, time: clock.now())
            // The deadline is armed once the manager sleeps on the clock.
            await clock.waitForSleepers(1)
            #expect(try await balance(environment, account) == 70)
            let held = try #require(try await first.manager.instance(sagaID))
            #expect(held.status == .active && held.deadline == clock.now() + HoldSaga.timeout.nanoseconds)
            #expect(try await deadlines(environment, "hold") == [sagaID: held.deadline], "kept beside the checkpoint")
            try await first.stop()

            // A new process: the deadline comes back from the manager's own records.
            try await environment.restart()
            bus = try environment.bus()
            let second = run(HoldSaga(), environment, bus: bus)
            let sagas = second.manager
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(599))
            #expect(try await sagas.instance(sagaID)?.status == .active, "not before its deadline")
            clock.advance(by: .seconds(2))
            let error = try await #require(throws: SagaError.self) {
                try await sagas.waitUntilFinished(sagaID, timeout: .seconds(30))
            }
            #expect(error.code == .compensated)
            #expect(error.reason == .timedOut(deadline: held.deadline ?? 0))
            #expect(error.description.contains("timed out"))
            #expect(try await balance(environment, account) == 100, "the compensation gave the money back")
            #expect(
                try await count("Deposited", in: environment, account: account) == 2, "the first deposit and one refund"
            )
            try await second.stop()
        }
    }

    @Test(arguments: Backend.available)
    func aReleasedHoldCompletesAndItsDeadlineIsDropped(_ backend: Backend) async throws {
        let clock = ManualClock()
        try await withEnvironment(backend, clock: clock) { environment in
            let bus = try environment.bus()
            let account = try await accounts(bus, balances: [50])[0]
            let running = run(HoldSaga(), environment, bus: bus)
            let sagas = running.manager
            let sagaID = try await HoldSaga.request(environment.store, account: account, amount: 20, time: clock.now())
            await clock.waitForSleepers(1)
            try await environment.store.append(
                to: try StreamName(type: "hold_release", id: UUID()), expected: .noStream,
                events: [NewEvent(type: HoldSaga.released, data: Data(), metadata: EventMetadata(sagaID: sagaID))])
            let finished = try await sagas.waitUntilFinished(sagaID, timeout: .seconds(30))
            #expect(finished.status == .completed)
            let head = try await environment.store.headPosition()
            try await sagas.waitUntil(position: head, timeout: .seconds(30))
            #expect(try await deadlines(environment, "hold").isEmpty, "the deadline is dropped")
            clock.advance(by: .seconds(3_600))
            #expect(try await sagas.instance(sagaID)?.status == .completed)
            #expect(try await balance(environment, account) == 30)
            try await running.stop()
        }
    }

    @Test(arguments: Backend.available)
    func aRefusedCommandCompensatesAndTheCallerGetsATypedError(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let ids = try await accounts(bus, balances: [10, 0])
            let running = run(TransferSaga(), environment, bus: bus)
            let sagas = running.manager
            let sagaID = try await TransferSaga.request(environment.store, from: ids[0], to: ids[1], amount: 500)
            let error = try await #require(throws: SagaError.self) {
                try await sagas.waitUntilFinished(sagaID, timeout: .seconds(30))
            }
            #expect(error.code == .compensated)
            guard case .commandRejected(let type, let message) = error.reason else {
                Issue.record("expected a rejected command, got \(String(describing: error.reason))")
                return
            }
            #expect(type == "Withdraw" && message.contains("insufficient funds"))
            #expect(error.description.contains("Withdraw was rejected"))
            #expect(try await balance(environment, ids[0]) == 10, "nothing moved")
            #expect(try await balance(environment, ids[1]) == 0)
            try await running.stop()
        }
    }

    @Test(arguments: Backend.available)
    func aRefusedDepositIsRefunded(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let from = try await accounts(bus, balances: [80])[0]
            let running = run(TransferSaga(), environment, bus: bus)
            let sagas = running.manager
            // The destination does not exist: the deposit is refused after the withdrawal.
            let sagaID = try await TransferSaga.request(environment.store, from: from, to: UUID(), amount: 30)
            let error = try await #require(throws: SagaError.self) {
                try await sagas.waitUntilFinished(sagaID, timeout: .seconds(30))
            }
            #expect(error.code == .compensated)
            #expect(error.reason.map { "\($0)" }?.contains("Deposit was rejected") == true)
            #expect(try await balance(environment, from) == 80, "refunded")
            let steps = try await environment.events(of: try StreamName(type: "saga", id: sagaID))
            #expect(steps.map(\.type) == ["SagaStarted", "SagaAdvanced", "SagaCompensating", "SagaCompensated"])
            try await running.stop()
        }
    }

    @Test(arguments: Backend.available)
    func aCommandThatFailsOnceIsSentAgainAndTheTransferCompletes(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let ids = try await accounts(bus, balances: [50, 0])
            // The first deposit after this fails as a broken dependency would (not a refusal).
            let failures = Mutex(1)
            environment.probe.setHook(Deposit.commandType) { _ in
                let fails = failures.withLock { failures in
                    defer { failures -= 1 }
                    return failures > 0
                }
                if fails { throw Boom() }
            }
            let running = run(TransferSaga(), environment, bus: bus)
            let sagaID = try await TransferSaga.request(environment.store, from: ids[0], to: ids[1], amount: 20)
            let finished = try await running.manager.waitUntilFinished(sagaID, timeout: .seconds(30))
            #expect(finished.status == .completed)
            #expect(try await balance(environment, ids[1]) == 20, "deposited once")
            #expect(try await count("Deposited", in: environment, account: ids[1]) == 1)
            try await running.stop()
        }
    }

    @Test(arguments: Backend.available)
    func aRefundThatIsRefusedTooFailsTheInstance(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let from = try await accounts(bus, balances: [80])[0]
            // Only the refund reaches a deposit handler (the destination does not exist); refuse it.
            environment.probe.setHook(Deposit.commandType) { _ in
                throw CommandRejection(.failedPrecondition, "the source account is frozen")
            }
            let running = run(TransferSaga(), environment, bus: bus)
            let sagaID = try await TransferSaga.request(environment.store, from: from, to: UUID(), amount: 30)
            let error = try await #require(throws: SagaError.self) {
                try await running.manager.waitUntilFinished(sagaID, timeout: .seconds(30))
            }
            #expect(error.code == .failed, "\(error)")
            #expect(error.description.contains("frozen"), "\(error)")
            #expect(try await balance(environment, from) == 50, "the money is not back: that is why it failed")
            let steps = try await environment.events(of: try StreamName(type: "saga", id: sagaID))
            #expect(steps.map(\.type) == ["SagaStarted", "SagaAdvanced", "SagaCompensating", "SagaFailed"])
            try await running.stop()
        }
    }

    @Test func aStepThatThrowsCompensatesTheInstance() async throws {
        try await withEnvironment(.memory) { environment in
            let bus = try environment.bus()
            let ids = try await accounts(bus, balances: [5, 0])
            let running = run(BrokenSaga(), environment, bus: bus)
            let sagas = running.manager
            _ = try await TransferSaga.request(environment.store, from: ids[0], to: ids[1], amount: 1)
            let request = try #require(
                try await environment.store.readAll(from: 1, filter: .eventTypes([TransferSaga.requested]), limit: 10)
                    .first)
            let sagaID = SagaManager<BrokenSaga>.sagaID(startedBy: request.id)
            let error = try await #require(throws: SagaError.self) {
                try await sagas.waitUntilFinished(sagaID, timeout: .seconds(30))
            }
            #expect(error.reason == .stepFailed(message: "the step cannot read the withdrawal"))
            try await running.stop()
        }
    }

    /// Another server ran the saga for a moment (a lead that changed hands) and moved the
    /// checkpoint: this manager's next commit finds it moved, and the manager starts again from the
    /// stored checkpoint instead of failing (which stopped the whole server).
    @Test(arguments: Backend.available)
    func aManagerWhoseCheckpointMovedStartsAgainFromIt(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let ids = try await accounts(bus, balances: [100, 0])
            let running = run(TransferSaga(), environment, bus: bus)
            let sagas = running.manager
            let first = try await TransferSaga.request(environment.store, from: ids[0], to: ids[1], amount: 10)
            _ = try await sagas.waitUntilFinished(first, timeout: .seconds(30))
            // The other server: it handled everything up to the head, past an event this manager
            // only noted in memory, and wrote its checkpoint there.
            try await environment.store.append(
                to: try StreamName(type: "noise", id: UUIDv7.next()), expected: .noStream,
                events: [NewEvent(type: "Noise", data: Data(), metadata: EventMetadata())])
            let head = try await environment.store.headPosition()
            let name = sagas.projectionName
            var moved = false
            for _ in 0..<10 where !moved {
                let stored = try await environment.readModels.checkpoint(of: name)
                do {
                    try await environment.readModels.commit(name, from: stored, to: head) { _ in }
                    moved = true
                } catch is CheckpointMismatch {
                    // The manager wrote its own meanwhile: read it again.
                }
            }
            #expect(moved)
            let second = try await TransferSaga.request(environment.store, from: ids[0], to: ids[1], amount: 20)
            let finished = try await sagas.waitUntilFinished(second, timeout: .seconds(30))
            #expect(finished.status == .completed)
            #expect(try await balance(environment, ids[1]) == 30)
            try await running.stop()
        }
    }

    /// Two servers leading the saga for a while (a frozen leader that woke up before it learned
    /// it had lost the lead): each records steps the other may record first. Neither manager
    /// fails for it, and every transfer still happens once.
    @Test(arguments: Backend.available)
    func twoManagersOfOneSagaAtOnceNeitherFailsAndEachTransferHappensOnce(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            let ids = try await accounts(bus, balances: [1_000, 0])
            let first = run(TransferSaga(), environment, bus: bus)
            let second = run(TransferSaga(), environment, bus: bus)
            var transfers: [UUID] = []
            for _ in 0..<10 {
                transfers.append(
                    try await TransferSaga.request(environment.store, from: ids[0], to: ids[1], amount: 10))
            }
            for transfer in transfers {
                let finished = try await first.manager.waitUntilFinished(transfer, timeout: .seconds(30))
                #expect(finished.status == .completed)
            }
            #expect(try await balance(environment, ids[1]) == 100)
            #expect(try await balance(environment, ids[0]) == 900)
            // Both still running: a manager whose run had ended with an error would throw it here.
            try await first.stop()
            try await second.stop()
        }
    }
}
