import EventSourcing
import EventSourcingTesting
import EventStore
import Foundation
import Synchronization
import Testing

/// Opens an account only while holding the lock on its owner: the seed's lock around broker
/// connection initiation, with the append fenced by the lease.
struct OpenLockedAccount: Command {
    typealias Result = UUID
    static let commandType = "OpenLockedAccount"
    var owner: UUID
    var lease: LockLease?
}

struct OpenLockedAccountHandler: CommandHandler {
    func handle(_ command: OpenLockedAccount, context: CommandContext) async throws -> UUID {
        var account = AggregateRoot<Account>(id: UUIDv7.next())
        try account.open(owner: command.owner)
        let lease: LockLease
        if let given = command.lease {
            lease = given
        } else {
            lease = try await context.lock.acquire("owner:\(command.owner)", ttl: .seconds(30), timeout: .seconds(5))
        }
        try context.save(account, fencedBy: lease)
        return account.id
    }
}

/// Who is inside the critical section, and the most there ever were at once.
final class Occupancy: Sendable {
    private let state = Mutex((now: 0, most: 0, tokens: [Int64]()))

    func enter(_ token: Int64) {
        state.withLock { state in
            state.now += 1
            state.most = max(state.most, state.now)
            state.tokens.append(token)
        }
    }

    func leave() { state.withLock { $0.now -= 1 } }

    var most: Int { state.withLock { $0.most } }
    var tokens: [Int64] { state.withLock { $0.tokens } }
}

@Suite(.timeLimit(.minutes(1)))
struct LockTests {
    @Test(arguments: Backend.available)
    func holdersExcludeEachOtherAndTokensGrowWithEachAcquisition(_ backend: Backend) async throws {
        try await withEnvironment(backend) { environment in
            let lock = InProcessLock(store: environment.store)
            let inside = Occupancy()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        // Twenty holders one after another; a generous wait for the loaded two-core
                        // machine the suites share (20 s ran out there once).
                        try await lock.withLock("contended", ttl: .seconds(30), timeout: .seconds(45)) { lease in
                            inside.enter(lease.token)
                            await Task.yield()
                            inside.leave()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(inside.most == 1, "never two holders at once")
            #expect(inside.tokens == Array(1...20), "each acquisition a larger token, in acquisition order")
            let other = try await lock.acquire("another key", ttl: .seconds(1), timeout: .seconds(1))
            #expect(other.token == 1, "tokens count per key")
        }
    }

    @Test func aLeaseThatRunsOutLetsTheNextHolderInAndCannotBeReleased() async throws {
        let clock = ManualClock()
        try await withEnvironment(.memory, clock: clock) { environment in
            let lock = InProcessLock(store: environment.store, clock: clock)
            let first = try await lock.acquire("key", ttl: .seconds(10), timeout: .zero)
            let waiting = Task { try await lock.acquire("key", ttl: .seconds(10), timeout: .seconds(60)) }
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(9))
            #expect(clock.sleeperCount == 1, "still waiting before the lease runs out")
            clock.advance(by: .seconds(2))
            let second = try await waiting.value
            #expect(second.token > first.token)
            let error = try await #require(throws: LockError.self) { try await lock.release(first) }
            #expect(error.code == .notHeld)
            try await lock.release(second)
            let third = try await lock.acquire("key", ttl: .seconds(10), timeout: .zero)
            #expect(third.token > second.token, "a released lock is free at once")
        }
    }

    @Test func waitingPastTheTimeoutFails() async throws {
        let clock = ManualClock()
        try await withEnvironment(.memory, clock: clock) { environment in
            let lock = InProcessLock(store: environment.store, clock: clock)
            _ = try await lock.acquire("key", ttl: .seconds(60), timeout: .zero)
            let waiting = Task { try await lock.acquire("key", ttl: .seconds(10), timeout: .seconds(5)) }
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(6))
            let error = try await #require(throws: LockError.self) { try await waiting.value }
            #expect(error.code == .timeout && error.description.contains("key"))
        }
    }

    @Test(arguments: Backend.available)
    func theStoreRefusesAnAppendFencedByAStaleLease(_ backend: Backend) async throws {
        let clock = ManualClock()
        try await withEnvironment(backend, clock: clock) { environment in
            let lock = InProcessLock(store: environment.store, clock: clock)
            let bus = try environment.bus(
                lock: lock, handlers: [OpenLockedAccountHandler()], commands: [OpenLockedAccount.self])
            let owner = UUID()
            let key = "owner:\(owner)"
            // A holder stalls past its lease; someone else takes the lock.
            let stalled = try await lock.acquire(key, ttl: .seconds(10), timeout: .zero)
            clock.advance(by: .seconds(11))
            let successor = try await lock.acquire(key, ttl: .seconds(10), timeout: .zero)
            let head = try await environment.store.headPosition()
            let error = try await #require(throws: CommandBusError.self) {
                try await bus.send(OpenLockedAccount(owner: owner, lease: stalled))
            }
            #expect(error.code == .lockLost && error.message.contains(key))
            #expect(try await environment.store.headPosition() == head, "nothing was written")
            let opened = try await bus.send(OpenLockedAccount(owner: owner, lease: successor))
            #expect(try await Repository<Account>(store: environment.store).load(opened.result).owner == owner)
            try await lock.release(successor)
            // The handler's own acquisition fences its write too: its append carries a newer token.
            let own = try await bus.send(OpenLockedAccount(owner: owner))
            let ownEvents = try await environment.events(of: environment.accountStream(own.result))
            #expect(ownEvents.map(\.type) == ["AccountOpened"])
            let superseded = try await #require(throws: CommandBusError.self) {
                try await bus.send(OpenLockedAccount(owner: owner, lease: successor))
            }
            #expect(superseded.code == .lockLost, "the handler's own acquisition superseded the earlier lease")
        }
    }
}

/// The PostgreSQL lock, between two servers (two stores on one schema), on the database's clock.
@Suite(.enabled(if: Backend.available.contains(.postgres)), .timeLimit(.minutes(1)))
struct PostgresLockTests {
    @Test func holdersOnTwoServersExcludeEachOtherAndTokensGrow() async throws {
        try await withEnvironment(.postgres) { environment in
            let other = try await environment.secondServer()
            let locks: [any DistributedLock] = [environment.makeLock(), other.lock]
            let inside = Occupancy()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    let lock = locks[index % 2]
                    group.addTask {
                        try await lock.withLock("contended", ttl: .seconds(30), timeout: .seconds(30)) { lease in
                            inside.enter(lease.token)
                            try await Task.sleep(for: .milliseconds(2))
                            inside.leave()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(inside.most == 1, "never two holders at once, whichever server")
            #expect(inside.tokens == Array(1...20), "each acquisition a larger token, in acquisition order")
            await other.close()
        }
    }

    @Test func aLeaseThatRunsOutLetsTheNextHolderInAndCannotBeReleased() async throws {
        try await withEnvironment(.postgres) { environment in
            let lock = environment.makeLock()
            let first = try await lock.acquire("key", ttl: .seconds(2), timeout: .zero)
            let held = try await #require(throws: LockError.self) {
                try await lock.acquire("key", ttl: .seconds(10), timeout: .milliseconds(50))
            }
            #expect(held.code == .timeout)
            let second = try await lock.acquire("key", ttl: .seconds(10), timeout: .seconds(5))
            #expect(second.token > first.token)
            #expect(second.expiresAt > first.expiresAt)
            let error = try await #require(throws: LockError.self) { try await lock.release(first) }
            #expect(error.code == .notHeld)
            try await lock.release(second)
            let third = try await lock.acquire("key", ttl: .seconds(10), timeout: .zero)
            #expect(third.token > second.token, "a released lock is free at once")
        }
    }

    @Test func theStoreRefusesAnAppendFencedByALeaseThatRanOut() async throws {
        try await withEnvironment(.postgres) { environment in
            let lock = environment.makeLock()
            let bus = try environment.bus(
                lock: lock, handlers: [OpenLockedAccountHandler()], commands: [OpenLockedAccount.self])
            let owner = UUID()
            let stalled = try await lock.acquire("owner:\(owner)", ttl: .milliseconds(100), timeout: .zero)
            let successor = try await lock.acquire("owner:\(owner)", ttl: .seconds(10), timeout: .seconds(5))
            let error = try await #require(throws: CommandBusError.self) {
                try await bus.send(OpenLockedAccount(owner: owner, lease: stalled))
            }
            #expect(error.code == .lockLost)
            _ = try await bus.send(OpenLockedAccount(owner: owner, lease: successor))
        }
    }
}
