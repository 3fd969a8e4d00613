import EventSourcing
import EventSourcingPostgres
import EventStore
import Foundation
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1)))
struct ProjectionTests {
    /// Opens `accounts` accounts with `deposits` deposits each; returns their ids.
    private func fill(_ bus: CommandBus, accounts: Int, deposits: Int) async throws -> [UUID] {
        var ids: [UUID] = []
        for _ in 0..<accounts {
            let id = try await bus.send(OpenAccount()).result
            for amount in 1...max(deposits, 1) where deposits > 0 {
                _ = try await bus.send(Deposit(accountID: id, amount: amount))
            }
            ids.append(id)
        }
        return ids
    }

    /// Checks that every account event was applied exactly once and that balances are right.
    private func expectEveryEventAppliedOnce(_ environment: TestEnvironment, accounts: [UUID]) async throws {
        let accountEvents = try await environment.store.readAll(
            from: 1, filter: .streamTypes([Account.streamType]), limit: 100_000)
        let rows = try await BalanceProjection.rows(environment.readModels)
        let applied = try #require(rows[BalanceProjection.applied])
        #expect(applied.count == accountEvents.count, "every event applied")
        let counts = try applied.map { try JSONDecoder().decode(Int.self, from: $0.value) }
        #expect(counts.allSatisfy { $0 == 1 }, "no event applied twice")
        let repository = Repository<Account>(store: environment.store)
        for id in accounts {
            let balance = try await environment.readModels.read { reader in
                try reader.decode(Int.self, in: BalanceProjection.balances, key: id.uuidString.lowercased())
            }
            #expect(try await balance == repository.load(id).balance)
        }
    }

    @Test(arguments: Backend.available)
    func aQueryWithTheCommandsPositionReadsItsWrites(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let runner = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels)
            let queries = try QueryBus(
                handlers: [GetBalanceHandler()], queries: [GetBalance.self], readModels: environment.readModels,
                progress: [runner])
            let bus = try environment.bus(queries: queries)
            let running = Task { try await runner.run() }
            let account = try await bus.send(OpenAccount()).result
            for amount in 1...10 {
                let outcome = try await bus.send(Deposit(accountID: account, amount: amount))
                let position = try #require(outcome.position)
                let balance = try await queries.ask(
                    GetBalance(accountID: account), consistency: .atLeast(position: position, timeout: .seconds(30)))
                #expect(balance == Int(outcome.result), "the read model already holds the deposit")
            }
            running.cancel()
            try await running.value
        }
    }

    @Test func aQueryForAPositionNotReachedFailsAfterItsTimeoutAndOnePastTheLogAtOnce() async throws {
        try await withEnvironment(.memory) { environment in
            let runner = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels)
            let queries = try QueryBus(
                handlers: [GetBalanceHandler()], readModels: environment.readModels, progress: [runner])
            // Five events committed; the projection, not running, never reaches them.
            try await environment.store.append(
                to: try StreamName(type: "other", id: UUID()), expected: .noStream,
                events: (0..<5).map { _ in NewEvent(type: "Other", data: Data()) })
            let error = try await #require(throws: QueryBusError.self) {
                try await queries.ask(
                    GetBalance(accountID: UUID()), consistency: .atLeast(position: 5, timeout: .milliseconds(20)))
            }
            #expect(error.code == .readModelBehind && error.message.contains("balances"))
            #expect(error.facts == ["projection": "balances", "min_position": "5", "read_model_position": "0"])
            let past = try await #require(throws: QueryBusError.self) {
                try await queries.ask(
                    GetBalance(accountID: UUID()), consistency: .atLeast(position: 6, timeout: .seconds(30)))
            }
            #expect(past.code == .positionNotCommitted, "\(past)")
            #expect(try await queries.ask(GetBalance(accountID: UUID())) == nil, "an eventual read answers at once")
            let unknown = try #require(throws: HandlerRegistrationError.self) {
                try QueryBus(handlers: [GetBalanceHandler()], readModels: environment.readModels)
            }
            #expect(unknown.description.contains("unknown projection(s) balances"))
        }
    }

    @Test(arguments: Backend.available)
    func aCrashInTheMiddleOfABatchAppliesEveryEventOnceAfterTheRestart(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let accounts = try await fill(try environment.bus(), accounts: 4, deposits: 14)
            let head = try await environment.store.headPosition()
            let projection = BalanceProjection()
            projection.fault.arm(at: 37)
            let configuration = ProjectionRunner.Configuration(batchSize: 16)
            let crashing = ProjectionRunner(
                projection, events: environment.store, readModels: environment.readModels, configuration: configuration)
            let failure = try await #require(throws: ProjectionFailure.self) { try await crashing.run() }
            #expect(failure.position == 37 && failure.projection == "balances")
            let checkpoint = try await environment.readModels.checkpoint(of: "balances")
            // Every event here is an account event, so the rows must be exactly those up to the checkpoint.
            #expect(checkpoint < 37, "the batch holding event 37 was not committed")
            let appliedBeforeRestart = try await BalanceProjection.rows(environment.readModels)[
                BalanceProjection.applied]
            #expect(appliedBeforeRestart?.count == Int(checkpoint), "and none of its events was applied")

            try await environment.restart()
            let restarted = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels,
                configuration: configuration)
            #expect(try await restarted.catchUp() == head)
            try await expectEveryEventAppliedOnce(environment, accounts: accounts)
        }
    }

    @Test(arguments: Backend.available)
    func stoppingWithEventsInFlightResumesWithoutSkippingOrRepeating(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            var accounts = try await fill(bus, accounts: 3, deposits: 20)
            let configuration = ProjectionRunner.Configuration(batchSize: 4, bufferCapacity: 8)
            let runner = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels,
                configuration: configuration)
            let running = Task { try await runner.run() }
            // Keep writing while the runner works, and stop it part way, events still queued.
            try await runner.waitUntil(position: 30, timeout: .seconds(30))
            let more = Task { try await fill(bus, accounts: 2, deposits: 5) }
            running.cancel()
            try await running.value
            accounts += try await more.value
            #expect(try await environment.readModels.checkpoint(of: "balances") < environment.store.headPosition())

            try await environment.restart()
            let restarted = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels,
                configuration: configuration)
            try await restarted.catchUp()
            try await expectEveryEventAppliedOnce(environment, accounts: accounts)
        }
    }

    @Test(arguments: Backend.available)
    func aWaitForAPositionReachedAnswersWithNoTimeLeft(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let runner = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels)
            let bus = try environment.bus()
            let running = Task { try await runner.run() }
            let accounts = try await fill(bus, accounts: 1, deposits: 3)
            let head = try await environment.store.headPosition()
            try await runner.waitUntil(position: head, timeout: .seconds(30))
            // Once there, a wait answers however little time it is given (it said "behind").
            try await runner.waitUntil(position: head, timeout: .zero)
            // A position the runner has not reached, with no time to wait: behind, at once.
            running.cancel()
            try? await running.value
            _ = try await bus.send(Deposit(accountID: accounts[0], amount: 1))
            let error = await #expect(throws: QueryBusError.self) {
                try await runner.waitUntil(position: head + 1, timeout: .zero)
            }
            #expect(error?.code == .readModelBehind)
        }
    }

    @Test(arguments: Backend.available)
    func aRebuildEqualsTheIncrementalReadModel(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let runner = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels)
            let queries = try QueryBus(
                handlers: [GetBalanceHandler()], readModels: environment.readModels, progress: [runner])
            let bus = try environment.bus(queries: queries)
            let running = Task { try await runner.run() }
            let accounts = try await fill(bus, accounts: 3, deposits: 6)
            _ = try await bus.send(Withdraw(accountID: accounts[0], amount: 4))
            let head = try await environment.store.headPosition()
            try await runner.waitUntil(position: head, timeout: .seconds(30))
            let incremental = try await BalanceProjection.rows(environment.readModels)

            #expect(try await runner.rebuild() == head)
            let rebuilt = try await BalanceProjection.rows(environment.readModels)
            #expect(rebuilt == incremental, "the same rows, and each event applied once")
            #expect(try await environment.readModels.checkpoint(of: "balances") == head)

            // The running runner carries on from the rebuilt state.
            let outcome = try await bus.send(Deposit(accountID: accounts[1], amount: 100))
            let balance = try await queries.ask(
                GetBalance(accountID: accounts[1]), consistency: .atLeast(try #require(outcome.position)))
            #expect(balance == Int(outcome.result))
            running.cancel()
            try await running.value
            try await expectEveryEventAppliedOnce(environment, accounts: accounts)
        }
    }

    @Test(arguments: Backend.available)
    func aRebuildWhileEventsArriveStillAppliesEachEventOnce(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let bus = try environment.bus()
            var accounts = try await fill(bus, accounts: 2, deposits: 10)
            let runner = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels,
                configuration: .init(batchSize: 3))
            let running = Task { try await runner.run() }
            try await runner.waitUntil(position: try await environment.store.headPosition(), timeout: .seconds(30))
            let writing = Task { try await fill(bus, accounts: 3, deposits: 8) }
            try await runner.rebuild()
            accounts += try await writing.value
            try await runner.waitUntil(position: try await environment.store.headPosition(), timeout: .seconds(30))
            running.cancel()
            try await running.value
            try await expectEveryEventAppliedOnce(environment, accounts: accounts)
        }
    }

    @Test(arguments: Backend.available)
    func aRaisedProjectionVersionRebuildsTheReadModelAndAnOlderOneRefusesIt(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let accounts = try await fill(try environment.bus(), accounts: 3, deposits: 4)
            let head = try await environment.store.headPosition()
            func runner(version: Int) -> ProjectionRunner {
                var projection = BalanceProjection()
                projection.version = version
                return ProjectionRunner(projection, events: environment.store, readModels: environment.readModels)
            }
            func recordedVersion() async throws -> String? {
                try await environment.readModels.read { reader in
                    try reader.value(in: ProjectionRunner.versionsCollection, key: "balances")
                }.map { String(decoding: $0, as: UTF8.self) }
            }
            // A row that version 1 wrote and version 2 no longer would.
            func addStaleRow() async throws {
                try await environment.readModels.write { writer in
                    try writer.put(encoding: 7, in: BalanceProjection.balances, key: "stale")
                }
            }
            #expect(try await runner(version: 1).catchUp() == head)
            #expect(try await recordedVersion() == "1")
            try await addStaleRow()
            let built = try await BalanceProjection.rows(environment.readModels)

            // The same version carries on over its rows.
            #expect(try await runner(version: 1).catchUp() == head)
            #expect(try await BalanceProjection.rows(environment.readModels) == built)

            // A raised version empties the read model and replays the whole log into it.
            #expect(try await runner(version: 2).catchUp() == head)
            #expect(try await recordedVersion() == "2")
            let rebuilt = try await BalanceProjection.rows(environment.readModels)
            #expect(rebuilt[BalanceProjection.balances]?.contains { $0.key == "stale" } == false)
            #expect(rebuilt[BalanceProjection.balances]?.count == accounts.count)
            try await expectEveryEventAppliedOnce(environment, accounts: accounts)

            // An older version refuses the newer read model and leaves it as it is.
            let refused = try await #require(throws: ProjectionVersionTooNew.self) {
                try await runner(version: 1).run()
            }
            #expect(refused.projection == "balances" && refused.built == 2 && refused.running == 1)
            #expect(refused.description.contains("built by version 2"))
            #expect(try await BalanceProjection.rows(environment.readModels) == rebuilt)
            #expect(try await recordedVersion() == "2")

            // A read model from before versions were recorded counts as version 1's: kept by
            // version 1, rebuilt by version 2.
            try await environment.readModels.write { writer in
                try writer.remove(from: ProjectionRunner.versionsCollection, key: "balances")
            }
            try await addStaleRow()
            #expect(try await runner(version: 1).catchUp() == head)
            #expect(try await recordedVersion() == "1")
            #expect(
                try await BalanceProjection.rows(environment.readModels)[BalanceProjection.balances]?.count
                    == accounts.count + 1, "version 1 keeps its rows")
            try await environment.readModels.write { writer in
                try writer.remove(from: ProjectionRunner.versionsCollection, key: "balances")
            }
            #expect(try await runner(version: 2).catchUp() == head)
            #expect(try await BalanceProjection.rows(environment.readModels) == rebuilt)
        }
    }

    /// Writes outside projections read and then write (a ledger's balance, a value recorded once):
    /// concurrent ones, also from several servers, must not both decide on what they read. Of many
    /// bodies that each record their own value where none is, exactly one records it, and every
    /// other one reads that value.
    @Test(arguments: Backend.available)
    func concurrentReadThenWriteBodiesDecideOneAtATime(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            var stores: [any ProjectionStore] = [environment.readModels]
            var closeSecond: (@Sendable () async -> Void)?
            if backend == .postgres {
                let second = try await environment.secondServer()
                stores.append(PostgresProjectionStore(store: second.store))
                closeSecond = second.close
            }
            let contenders = 12
            let seen = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<contenders {
                    let store = stores[index % stores.count]
                    group.addTask {
                        let found = Mutex<String?>(nil)
                        try await store.write { writer in
                            if let value = try writer.value(in: "settings", key: "once") {
                                found.withLock { $0 = String(decoding: value, as: UTF8.self) }
                            } else {
                                try writer.put(Data("contender \(index)".utf8), in: "settings", key: "once")
                            }
                        }
                        return found.withLock { $0 } ?? "recorded contender \(index)"
                    }
                }
                var seen: [String] = []
                for try await answer in group { seen.append(answer) }
                return seen
            }
            let stored = try await environment.readModels.read { reader in
                try reader.value(in: "settings", key: "once").map { String(decoding: $0, as: UTF8.self) }
            }
            let recorded = seen.filter { $0.hasPrefix("recorded ") }
            #expect(recorded.count == 1, "\(recorded)")
            #expect(recorded.first == "recorded \(stored ?? "nothing")")
            #expect(seen.filter { $0 == stored }.count == contenders - 1, "\(seen)")
            await closeSecond?()
        }
    }

    @Test(arguments: Backend.available)
    func eventsTheProjectionIgnoresMoveItsPositionWithoutWrites(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let other = try StreamName(type: "other", id: UUID())
            for _ in 0..<5 {
                try await environment.store.append(
                    to: other, expected: .any, events: [NewEvent(type: "Noise", data: Data())])
            }
            let runner = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels,
                configuration: .init(skippedCheckpointDelay: .seconds(3600)))
            let running = Task { try await runner.run() }
            try await runner.waitUntil(position: 5, timeout: .seconds(30))
            #expect(try await environment.readModels.checkpoint(of: "balances") == 0, "nothing was written")
            #expect(try await BalanceProjection.rows(environment.readModels)[BalanceProjection.applied] == [])
            running.cancel()
            try await running.value
            #expect(try await runner.catchUp() == 5)
            #expect(try await environment.readModels.checkpoint(of: "balances") == 5, "a catch-up records where it got")
        }
    }

    /// Another server sharing the read models, which does not run the projection, sees its
    /// progress only in the stored checkpoint: positions the projection skips get there soon,
    /// without waiting for a later event (its read-your-writes queries waited out their deadline).
    @Test(arguments: Backend.available)
    func skippedPositionsReachTheStoredCheckpointSoonForOtherServers(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let leader = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels)
            let follower = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels)
            let bus = try environment.bus()
            let running = Task { try await leader.run() }
            _ = try await fill(bus, accounts: 1, deposits: 1)
            let other = try StreamName(type: "other", id: UUID())
            try await environment.store.append(
                to: other, expected: .noStream, events: [NewEvent(type: "Noise", data: Data())])
            let head = try await environment.store.headPosition()
            // The last event is one the projection skips, and nothing follows it.
            try await follower.waitUntil(position: head, timeout: .seconds(30))
            #expect(try await environment.readModels.checkpoint(of: "balances") == head)
            running.cancel()
            try await running.value
        }
    }

    /// A batch whose events each read another row (fills of a hundred orders, replayed after a
    /// failover or a rebuild) commits whole: PostgreSQL's read models fetch what a body reads
    /// between runs of it, and gave up after 64 runs when each run found one row more.
    @Test(arguments: Backend.available)
    func aBatchThatReadsHundredsOfRowsCommits(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let keys = (0..<300).map { "row/\($0)" }
            try await environment.readModels.write { writer in
                for key in keys { try writer.put(Data("1".utf8), in: "wide", key: key) }
            }
            try await environment.readModels.commit("wide", from: 0, to: 1) { writer in
                for key in keys {
                    let value = try writer.value(in: "wide", key: key).map { String(decoding: $0, as: UTF8.self) }
                    try writer.put(Data("\((value.flatMap { Int($0) } ?? 0) + 1)".utf8), in: "wide", key: key)
                }
            }
            let values = try await environment.readModels.read { reader in
                try keys.map { try reader.value(in: "wide", key: $0).map { String(decoding: $0, as: UTF8.self) } }
            }
            #expect(values == keys.map { _ in "2" })
            #expect(try await environment.readModels.checkpoint(of: "wide") == 1)
        }
    }

    /// Runs `runner` over a few account events until it reaches the head, then stops it (as a
    /// server that loses the lead); returns the head.
    private func runToTheHeadAndStop(_ runner: ProjectionRunner, _ environment: TestEnvironment) async throws -> Int64 {
        let running = Task { try await runner.run() }
        _ = try await fill(try environment.bus(), accounts: 1, deposits: 2)
        let head = try await environment.store.headPosition()
        try await runner.waitUntil(position: head, timeout: .seconds(30))
        running.cancel()
        try await running.value
        return head
    }

    /// A runner that no longer follows the log (another server leads the projection now) does not
    /// answer from what it had reached: the read model may have been reset since, elsewhere.
    @Test(arguments: Backend.available)
    func aRunnerThatStoppedAnswersFromTheStoredCheckpoint(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let runner = ProjectionRunner(
                BalanceProjection(), events: environment.store, readModels: environment.readModels)
            let head = try await runToTheHeadAndStop(runner, environment)
            // Another server resets the read model (a rebuild there).
            try await environment.readModels.reset("balances", collections: BalanceProjection().collections)
            let error = await #expect(throws: QueryBusError.self) {
                try await runner.waitUntil(position: head, timeout: .milliseconds(50))
            }
            #expect(error?.code == .readModelBehind)
        }
    }

    /// A runner that leads again after a reset elsewhere starts from the stored checkpoint, not
    /// from what it had reached before.
    @Test(arguments: Backend.available)
    func aRunnerThatRunsAgainStartsFromTheStoredCheckpoint(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let projection = BalanceProjection()
            let runner = ProjectionRunner(projection, events: environment.store, readModels: environment.readModels)
            let head = try await runToTheHeadAndStop(runner, environment)
            try await environment.readModels.reset("balances", collections: projection.collections)
            // Run again; the first event now fails, so it never gets past the reset.
            projection.fault.arm(at: 1)
            await #expect(throws: ProjectionFailure.self) { try await runner.run() }
            #expect(runner.position == 0, "not \(head), which the read model no longer reflects")
        }
    }
}
