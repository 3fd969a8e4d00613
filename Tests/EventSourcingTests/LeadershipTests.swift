import EventSourcing
import EventSourcingPostgres
import EventSourcingTesting
import EventStore
import EventStorePostgres
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// Which server runs a role, among servers sharing a PostgreSQL store.
@Suite(.enabled(if: Backend.available.contains(.postgres)), .timeLimit(.minutes(1)))
struct PostgresLeadershipTests {
    /// Records which servers are running a role's body, and the most that ever ran at once.
    final class Runs: Sendable {
        private let state = Mutex((running: Set<String>(), most: 0, starts: [String]()))

        func enter(_ server: String) {
            state.withLock { state in
                state.running.insert(server)
                state.most = max(state.most, state.running.count)
                state.starts.append(server)
            }
        }

        func leave(_ server: String) { _ = state.withLock { $0.running.remove(server) } }

        var running: Set<String> { state.withLock { $0.running } }
        var most: Int { state.withLock { $0.most } }
        var starts: [String] { state.withLock { $0.starts } }
    }

    /// A role's body: runs until cancelled.
    private func body(_ server: String, _ runs: Runs) -> @Sendable () async throws -> Void {
        {
            runs.enter(server)
            defer { runs.leave(server) }
            // Until cancelled: the sleep ends with the cancellation, whenever it comes.
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    private var logger: Logger {
        var logger = Logger(label: "tradecore.tests.leadership")
        logger.logLevel = .critical
        return logger
    }

    @Test func oneServerLeadsARoleAndAnotherTakesOverWhenItStops() async throws {
        try await withEnvironment(.postgres) { environment in
            let storeA = try #require(environment.store as? PostgresEventStore)
            let second = try await environment.secondServer()
            let a = PostgresLeadership(store: storeA, interval: .milliseconds(50), logger: logger)
            // b takes a holder for frozen after the shortest timeout there is (2.05 s) ...
            let b = PostgresLeadership(
                store: second.store, interval: .milliseconds(50), staleLeaderTimeout: .zero, logger: logger)
            let runs = Runs()
            let onA = Task { try await a.whileLeading("projection:test", body("a", runs)) }
            try await waitUntil("a leads") { runs.running == ["a"] }
            let bStarted = ContinuousClock.now
            let onB = Task { try await b.whileLeading("projection:test", body("b", runs)) }
            // ... and a live leader's keeper queries every interval: b looks for a stale holder
            // again after twice that timeout, and a keeps the role.
            try await waitUntil("b checked a's session after twice the stale timeout", timeout: .seconds(30)) {
                (b.lastStaleCheck ?? bStarted) > bStarted + .milliseconds(4_100)
            }
            #expect(runs.starts == ["a"], "b waits while a leads")
            // a stops (its server shutting down): b takes the role.
            onA.cancel()
            try await onA.value
            await a.stop()
            try await waitUntil("b leads") { runs.running == ["b"] }
            #expect(runs.most == 1, "never two servers running the role at once")
            #expect(b.leading == ["projection:test"])
            onB.cancel()
            try await onB.value
            await b.stop()
            await second.close()
        }
    }

    /// The application names of the sessions holding this schema's role locks.
    private func lockHolders(_ store: PostgresEventStore) async throws -> [String] {
        try await store.withConnection("reading who holds the leads") { connection, logger in
            let rows = try await connection.query(
                """
                SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
                AND l.classid = (hashtext(\(store.configuration.schema))::bigint & 4294967295)::oid
                """, logger: logger)
            var names: [String] = []
            for try await name in rows.decode(String.self) { names.append(name) }
            return names
        }
    }

    /// The pids of the sessions holding this schema's role locks.
    private func lockHolderPIDs(_ store: PostgresEventStore) async throws -> [Int32] {
        try await store.withConnection("reading who holds the leads") { connection, logger in
            let rows = try await connection.query(
                """
                SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
                AND l.classid = (hashtext(\(store.configuration.schema))::bigint & 4294967295)::oid
                """, logger: logger)
            var pids: [Int32] = []
            for try await pid in rows.decode(Int32.self) { pids.append(pid) }
            return pids
        }
    }

    /// A lock request that a frozen database left unanswered is granted when it wakes: on a pooled
    /// connection, the lock would then be held by a session nobody watches, and the role stopped
    /// on every server. The leads are held by a session of their own, also after it was cut off.
    @Test func theLeadsAreHeldByASessionOfTheirOwnNeverAPooledOne() async throws {
        try await withEnvironment(.postgres) { environment in
            let store = try #require(environment.store as? PostgresEventStore)
            let leadership = PostgresLeadership(store: store, interval: .milliseconds(50), logger: logger)
            let runs = Runs()
            let leading = Task { try await leadership.whileLeading("projection:own", body("a", runs)) }
            try await waitUntil("it leads") { runs.running == ["a"] }
            #expect(try await lockHolders(store) == ["tradecore leadership"])
            _ = try await store.withConnection("ending the leader's session") { connection, logger in
                try await connection.query(
                    """
                    SELECT pg_terminate_backend(pid) FROM pg_locks \
                    WHERE locktype = 'advisory' AND granted AND objsubid = 2 \
                    AND classid = (hashtext(\(store.configuration.schema))::bigint & 4294967295)::oid
                    """, logger: logger)
            }
            try await eventually("it leads again") { (try? await lockHolders(store)) == ["tradecore leadership"] }
            leading.cancel()
            try await leading.value
            await leadership.stop()
            try await eventually("the lead is given up") { (try? await lockHolders(store))?.isEmpty == true }
        }
    }

    @Test func aServerWhoseConnectionBreaksStopsItsRolesAndTheOtherTakesThem() async throws {
        try await withEnvironment(.postgres) { environment in
            let storeA = try #require(environment.store as? PostgresEventStore)
            let second = try await environment.secondServer()
            let a = PostgresLeadership(store: storeA, interval: .milliseconds(50), logger: logger)
            let b = PostgresLeadership(store: second.store, interval: .milliseconds(50), logger: logger)
            let runs = Runs()
            let onA = Task { try await a.whileLeading("execution", body("a", runs)) }
            try await waitUntil("a leads") { runs.running == ["a"] }
            let onB = Task { try await b.whileLeading("execution", body("b", runs)) }
            // The session holding a's lead is cut off, as when a's server loses the network.
            _ = try await storeA.withConnection("ending the leader's session") { connection, logger in
                try await connection.query(
                    """
                    SELECT pg_terminate_backend(pid) FROM pg_locks \
                    WHERE locktype = 'advisory' AND granted AND objsubid = 2 \
                    AND classid = (hashtext(\(storeA.configuration.schema))::bigint & 4294967295)::oid
                    """, logger: logger)
            }
            try await waitUntil("b leads") { runs.running.contains("b") }
            try await waitUntil("a stopped") { !runs.running.contains("a") }
            #expect(runs.starts.first == "a" && runs.starts.contains("b"))
            onA.cancel()
            onB.cancel()
            try await onA.value
            try await onB.value
            await a.stop()
            await b.stop()
            await second.close()
        }
    }

    /// A leader whose process froze (SIGSTOP, a paused VM) keeps its session open, and with it the
    /// role's lock: a server that wants the role ends that session once it has started no query for
    /// the stale-leader timeout, then leads.
    @Test func aFrozenLeadersSessionIsEndedAndAnotherServerTakesTheRole() async throws {
        try await withEnvironment(.postgres) { environment in
            let store = try #require(environment.store as? PostgresEventStore)
            let second = try await environment.secondServer()
            let schema = store.configuration.schema
            // The frozen leader: a leadership session that took the role's lock and then ran
            // nothing more. Its pid, and the instant before its last query.
            let frozenSession = Mutex<(pid: Int32, lastQuery: ContinuousClock.Instant)?>(nil)
            let frozen = Task {
                try await store.withOwnConnection("leadership") { connection, logger in
                    var pid: Int32 = 0
                    for try await value in try await connection.query("SELECT pg_backend_pid()", logger: logger)
                        .decode(Int32.self)
                    { pid = value }
                    let lastQuery = ContinuousClock.now
                    _ = try await connection.query(
                        "SELECT pg_try_advisory_lock(hashtext(\(schema)), hashtext('execution'))", logger: logger)
                    frozenSession.withLock { $0 = (pid, lastQuery) }
                    try? await Task.sleep(for: .seconds(3600))
                }
            }
            try await waitUntil("the frozen session holds the lock") { frozenSession.withLock { $0 } != nil }
            let (frozenPID, lastQuery) = try #require(frozenSession.withLock { $0 })
            #expect(try await lockHolderPIDs(store) == [frozenPID])
            let logs = CapturedLogs()
            // The shortest timeout it takes: a round's limit (2 s) and an interval.
            let b = PostgresLeadership(
                store: second.store, interval: .milliseconds(50), staleLeaderTimeout: .zero, logger: logs.logger())
            let runs = Runs()
            let onB = Task { try await b.whileLeading("execution", body("b", runs)) }
            try await waitUntil("b leads", timeout: .seconds(20)) { runs.running == ["b"] }
            #expect(ContinuousClock.now - lastQuery >= .seconds(2), "not before the holder had been idle that long")
            let holders = try await lockHolderPIDs(store)
            #expect(holders.count == 1 && !holders.contains(frozenPID), "b's own session holds it now")
            #expect(logs.contains(level: .warning, "ended its session"))
            frozen.cancel()
            _ = await frozen.result
            onB.cancel()
            try await onB.value
            await b.stop()
            await second.close()
        }
    }
}
