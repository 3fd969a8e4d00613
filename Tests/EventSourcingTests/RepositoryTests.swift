import EventSourcing
import EventStore
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1)))
struct RepositoryTests {
    private func metadata(command: UUID = UUIDv7.next()) -> EventMetadata {
        EventMetadata(
            causationID: command, correlationID: UUID(), sagaID: UUID(), userID: UUID(), commandType: "Test",
            time: 1_700_000_000_123_456_789, extra: ["source": "tests"])
    }

    private func openAccount(
        _ repository: Repository<Account>, deposits: [Int] = []
    ) async throws -> AggregateRoot<Account> {
        var account = AggregateRoot<Account>(id: UUIDv7.next())
        try account.open(owner: UUID())
        for amount in deposits { try account.deposit(amount) }
        try await repository.save(&account, metadata: metadata())
        return account
    }

    @Test(arguments: Backend.available)
    func savedAggregatesLoadBackWithTheirVersion(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let repository = Repository<Account>(store: environment.store)
            let saved = try await openAccount(repository, deposits: [5, 7])
            #expect(saved.loadedVersion == 2 && saved.uncommittedEvents.isEmpty, "marked committed")
            let fresh = Repository<Account>(store: environment.store)
            let loaded = try await fresh.load(saved.id)
            #expect(loaded.state == saved.state && loaded.loadedVersion == 2)
            #expect(try await fresh.loadIfPresent(UUID()) == nil)
            await #expect(throws: AggregateNotFound.self) { try await fresh.load(UUID()) }
        }
    }

    @Test(arguments: Backend.available)
    func everyStoredEventCarriesTheMetadata(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let repository = Repository<Account>(store: environment.store)
            var account = AggregateRoot<Account>(id: UUIDv7.next())
            try account.open(owner: UUID())
            try account.deposit(1)
            try account.deposit(2)
            let metadata = metadata()
            let result = try #require(try await repository.save(&account, metadata: metadata))
            let stored = try await environment.events(of: try account.streamName())
            #expect(stored.count == 3)
            #expect(
                stored.allSatisfy { $0.metadata == metadata }, "causation, correlation, saga, user, type, time, extra")
            #expect(Set(stored.map(\.id)).count == 3, "each event has its own id")
            #expect(stored.allSatisfy { UUIDv7.milliseconds(of: $0.id) != nil }, "event ids are UUIDv7")
            #expect(stored.map(\.type) == ["AccountOpened", "Deposited", "Deposited"])
            #expect(stored.map(\.position) == result.positions)
        }
    }

    @Test(arguments: Backend.available)
    func aCachedAggregateSeesWritesOfAnotherRepository(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let first = Repository<Account>(store: environment.store)
            let second = Repository<Account>(store: environment.store)
            let account = try await openAccount(first, deposits: [10])
            _ = try await first.load(account.id)
            var elsewhere = try await second.load(account.id)
            try elsewhere.deposit(5)
            try elsewhere.withdraw(3)
            try await second.save(&elsewhere, metadata: metadata())

            let before = first.statistics
            let reloaded = try await first.load(account.id)
            let after = first.statistics
            #expect(reloaded.balance == 12 && reloaded.loadedVersion == 3)
            #expect(after.cacheHits == before.cacheHits + 1, "answered from the cache")
            #expect(after.eventsReplayed == before.eventsReplayed + 2, "only the two new events were read")
            #expect(after.cacheMisses == before.cacheMisses)
        }
    }

    @Test func aHotAggregateIsNotReplayedPerLoad() async throws {
        try await withEnvironment(.memory) { environment in
            let repository = Repository<Account>(store: environment.store)
            var account = try await openAccount(repository, deposits: Array(repeating: 1, count: 50))
            for _ in 0..<20 {
                account = try await repository.load(account.id)
                try account.deposit(1)
                try await repository.save(&account, metadata: metadata())
            }
            let statistics = repository.statistics
            #expect(statistics.cacheHits == 20 && statistics.cacheMisses == 0)
            #expect(statistics.eventsReplayed == 0, "every load found the cache current")
            #expect(try await repository.load(account.id).balance == 70)
        }
    }

    @Test(arguments: Backend.available)
    func snapshotsAreTakenEveryNEventsAndUsedByLoads(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let scheduler = SnapshotScheduler(store: environment.store, policy: .every(10))
            let repository = Repository<Account>(store: environment.store, snapshots: scheduler)
            var account = try await openAccount(repository)
            for _ in 0..<3 {
                for _ in 0..<8 { try account.deposit(1) }
                try await repository.save(&account, metadata: metadata())
            }
            await scheduler.waitUntilIdle()
            // Due after crossing 10 and after crossing 20 events; the scheduler may coalesce the two.
            #expect((1...2).contains(scheduler.statistics.saved) && scheduler.statistics.failed == 0)
            let stream = try account.streamName()
            let snapshot = try #require(
                try await environment.store.loadSnapshot(of: stream, shapeVersion: Account.snapshotShapeVersion))
            #expect(snapshot.version == 24)

            try account.deposit(1)
            try await repository.save(&account, metadata: metadata())
            let fresh = Repository<Account>(store: environment.store, snapshots: scheduler)
            let loaded = try await fresh.load(account.id)
            #expect(loaded.balance == 25 && loaded.loadedVersion == 25)
            #expect(fresh.statistics.snapshotsUsed == 1)
            #expect(fresh.statistics.eventsReplayed == 1, "only the event after the snapshot")
        }
    }

    @Test func anUnreadableSnapshotFallsBackToTheEvents() async throws {
        try await withEnvironment(.memory) { environment in
            let repository = Repository<Account>(store: environment.store, logger: environment.quietLogger)
            let account = try await openAccount(repository, deposits: [4])
            try await environment.store.saveSnapshot(
                Snapshot(
                    stream: try account.streamName(), version: 1, shapeVersion: Account.snapshotShapeVersion,
                    data: Data("not json".utf8)))
            let fresh = Repository<Account>(store: environment.store, logger: environment.quietLogger)
            let loaded = try await fresh.load(account.id)
            #expect(loaded.balance == 4)
            #expect(fresh.statistics.snapshotsUnreadable == 1 && fresh.statistics.eventsReplayed == 2)
        }
    }

    @Test(arguments: Backend.available)
    func aStaleSaveConflictsAndWritesNothing(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let repository = Repository<Account>(store: environment.store)
            let account = try await openAccount(repository)
            var first = try await repository.load(account.id)
            var second = try await repository.load(account.id)
            try first.deposit(1)
            try await repository.save(&first, metadata: metadata())
            try second.deposit(2)
            await #expect(throws: VersionConflict.self) { try await repository.save(&second, metadata: metadata()) }
            #expect(second.uncommittedEvents == [.deposited(amount: 2)], "the loser keeps its events")
            #expect(try await environment.events(of: try account.streamName()).count == 2)
        }
    }

    @Test func anUndecodableEventNamesItsStreamAndVersion() async throws {
        try await withEnvironment(.memory) { environment in
            let repository = Repository<Account>(store: environment.store)
            let account = try await openAccount(repository)
            try await environment.store.append(
                to: try account.streamName(), expected: .exact(0), events: [NewEvent(type: "Mystery", data: Data())])
            let fresh = Repository<Account>(store: environment.store)
            let error = try await #require(throws: UndecodableEvent.self) { try await fresh.load(account.id) }
            #expect(error.version == 1 && error.type == "Mystery")
        }
    }
}
