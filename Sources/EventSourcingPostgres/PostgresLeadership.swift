import EventSourcing
import EventStore
import EventStorePostgres
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// ``Leadership`` among the servers sharing a PostgreSQL store: a role is led by the server whose
/// connection holds the role's session advisory lock.
///
/// One keeper task per server holds one connection of its own (never one of the pool: a lock
/// request left unanswered by a frozen database could be granted later to a pooled connection
/// that nobody watches) and, every `interval`, tries the locks of the roles this server wants and
/// does not lead (`pg_try_advisory_lock`, keyed by schema and role), and checks that the
/// connection is alive. A round that fails or does not answer in time closes the connection. The
/// session shows as `tradecore leadership` in `pg_stat_activity`. PostgreSQL releases a session's advisory locks when
/// the session ends, so when a server dies (or its connection breaks) its roles become free and
/// another server takes them at its next try; a server whose connection broke knows it lost every
/// lead and stops those parts at once, before it could have been replaced. A role this server no
/// longer wants is unlocked, and on shutdown all are.
///
/// A leader that stopped without its session ending (its process frozen by SIGSTOP, a paused VM
/// or container, a keeper that no longer runs) would keep its roles for good: its connection stays
/// open and PostgreSQL sees nothing wrong. A live keeper runs a query every `interval` (and closes
/// its connection when a round does not answer within a few seconds), so a server that wants a role
/// held by a session whose last query started more than `staleLeaderTimeout` ago ends that session
/// (`pg_terminate_backend`, only a `tradecore leadership` session of the same database) and takes
/// the role at its next try. The frozen server, if it wakes, finds its connection gone and stops
/// its parts. Seeing another session's last query and ending it needs the servers to connect as
/// one database role (or a role with `pg_read_all_stats` and `pg_signal_backend`); without, a
/// warning says so now and then, and the role stays with the frozen server until it resumes.
///
/// Two leaders of one role can still overlap for a moment around a lost connection (the old one
/// learns of the loss at its next check); the parts guard against that themselves: a projection's
/// and a saga's commits check their checkpoint, and commands are idempotent by id.
public final class PostgresLeadership: Leadership {
    private struct Role {
        var wanted = 0
        var leading = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private struct State {
        var roles: [String: Role] = [:]
        var keeper: Task<Void, Never>?
        /// When a stale holder was last found that this server may not end (logged once a minute).
        var staleCheckRefusedAt: ContinuousClock.Instant?
        /// When a check for a stale holder of a role this server wants last finished.
        var lastStaleCheck: ContinuousClock.Instant?
    }

    private let store: PostgresEventStore
    private let interval: Duration
    private let staleLeaderTimeout: Duration
    private let logger: Logger
    private let state = Mutex(State())

    /// Makes the leadership of this server among those sharing `store`'s schema.
    ///
    /// - Parameters:
    ///   - interval: how often free roles are tried and the connection checked.
    ///   - staleLeaderTimeout: how long the session holding a role this server wants may go without
    ///     starting a query before it is ended as a frozen leader's. At least a round's own time
    ///     limit plus an interval (a live keeper queries at least that often), whatever is given.
    public init(
        store: PostgresEventStore, interval: Duration = .milliseconds(250),
        staleLeaderTimeout: Duration = .seconds(10), logger: Logger
    ) {
        let interval = max(interval, .milliseconds(1))
        self.store = store
        self.interval = interval
        self.staleLeaderTimeout = max(staleLeaderTimeout, Self.roundLimit(interval) + interval)
        self.logger = logger
    }

    /// How long a round may take before its connection counts as broken.
    private static func roundLimit(_ interval: Duration) -> Duration { max(interval * 4, .seconds(2)) }

    /// The roles this server leads now.
    /// When this server last finished looking for a frozen holder of a role it wants (ending it if
    /// it was one): what a test waits for to know the check was made, rather than for a time.
    package var lastStaleCheck: ContinuousClock.Instant? { state.withLock { $0.lastStaleCheck } }

    public var leading: Set<String> {
        state.withLock { Set($0.roles.filter(\.value.leading).keys) }
    }

    public func whileLeading(_ role: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        state.withLock { state in
            state.roles[role, default: Role()].wanted += 1
            if state.keeper == nil {
                state.keeper = Task { [weak self] in await self?.keep() }
            }
        }
        defer { state.withLock { $0.roles[role]?.wanted -= 1 } }
        while !Task.isCancelled {
            await waitToLead(role)
            guard !Task.isCancelled else { return }
            logger.info("leading a role", metadata: ["leadership.role": "\(role)"])
            let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await body()
                    return true
                }
                group.addTask {
                    await self.waitToLose(role)
                    return false
                }
                defer { group.cancelAll() }
                do {
                    return try await group.next() ?? true
                } catch is CancellationError {
                    return Task.isCancelled
                }
            }
            // Stopping (the server shuts down) ends the wait for a lost lead too: not a loss.
            if finished || Task.isCancelled { return }
            logger.warning("lost the lead of a role; stopped it", metadata: ["leadership.role": "\(role)"])
        }
    }

    /// Stops the keeper and gives up every lead (its locks are released with its session).
    public func stop() async {
        let keeper = state.withLock { state -> Task<Void, Never>? in
            defer { state.keeper = nil }
            return state.keeper
        }
        keeper?.cancel()
        await keeper?.value
    }

    private func waitToLead(_ role: String) async {
        await wait(role) { $0.leading }
    }

    private func waitToLose(_ role: String) async {
        await wait(role) { !$0.leading }
    }

    /// Returns when `condition` holds for `role`, or on cancellation.
    private func wait(_ role: String, until condition: @escaping @Sendable (Role) -> Bool) async {
        while !Task.isCancelled {
            let holds = state.withLock { state in state.roles[role].map(condition) ?? false }
            if holds { return }
            // Woken on any change of any role, or after an interval; then checked again.
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let now = state.withLock { state -> Bool in
                        if Task.isCancelled || state.roles[role].map(condition) == true { return true }
                        state.roles[role, default: Role()].waiters.append(continuation)
                        return false
                    }
                    if now { continuation.resume() }
                }
            } onCancel: {
                self.wakeAll()
            }
        }
    }

    private func wakeAll() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            var all: [CheckedContinuation<Void, Never>] = []
            for role in state.roles.keys {
                all += state.roles[role]?.waiters ?? []
                state.roles[role]?.waiters = []
            }
            return all
        }
        for waiter in waiters { waiter.resume() }
    }

    private func setLeading(_ roles: Set<String>) {
        state.withLock { state in
            for role in state.roles.keys { state.roles[role]?.leading = roles.contains(role) }
        }
        wakeAll()
    }

    /// The keeper: holds a connection and the locks of the roles led, until cancelled.
    private func keep() async {
        var failures = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                try await store.withOwnConnection("leadership") { connection, logger in
                    try await self.keepLeads(on: connection, logger)
                }
            } catch {
                setLeading([])
                if Task.isCancelled { return }
                // A connection that served a while before it broke starts the back-off afresh.
                if ContinuousClock.now - started > .seconds(10) { failures = 0 }
                failures += 1
                if failures == 1 {
                    logger.warning(
                        "lost the connection that holds this server's leads; trying again",
                        metadata: ["leadership.error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(failures, 6)), 5_000)))
            }
        }
    }

    private func keepLeads(on connection: PostgresConnection, _ logger: Logger) async throws {
        let schema = store.configuration.schema
        var held: Set<String> = []
        defer { setLeading([]) }
        // Holders of wanted roles are checked for staleness about once a second, not every round.
        let roundsPerStaleCheck = max(Int(Duration.seconds(1) / interval), 1)
        var round = 0
        while !Task.isCancelled {
            let wanted = state.withLock { state in Set(state.roles.filter { $0.value.wanted > 0 }.keys) }
            round += 1
            let checkStale = round % roundsPerStaleCheck == 0
            // One round: give up what is no longer wanted, try what is wanted and not held (ending a
            // frozen holder's session now and then), and check the connection (a broken one throws,
            // and its leads are gone). A round that does not answer in time counts as a broken
            // connection.
            let before = held
            held = try await Deadline.run(Self.roundLimit(interval)) {
                var held = before
                for role in held.subtracting(wanted) {
                    try await connection.execute(
                        "SELECT pg_advisory_unlock(hashtext(\(schema)), hashtext(\(role)))", logger: logger)
                    held.remove(role)
                }
                for role in wanted.subtracting(held) {
                    let rows = try await connection.query(
                        "SELECT pg_try_advisory_lock(hashtext(\(schema)), hashtext(\(role)))", logger: logger)
                    for try await taken in rows.decode(Bool.self) where taken { held.insert(role) }
                    if checkStale, !held.contains(role) {
                        try await self.endStaleHolder(of: role, schema: schema, on: connection, logger)
                        self.state.withLock { $0.lastStaleCheck = .now }
                    }
                }
                try await connection.execute("SELECT 1", logger: logger)
                return held
            } timedOut: {
                EventStoreError(code: .storageFailure, message: "the connection holding the leads stopped answering")
            }
            setLeading(held)
            try? await Task.sleep(for: interval)
        }
        // Shutting down: give up every lead now rather than when the pool closes the connection.
        _ = try? await Deadline.run(.seconds(2)) {
            try await connection.execute("SELECT pg_advisory_unlock_all()", logger: logger)
        } timedOut: {
            EventStoreError(code: .storageFailure, message: "the connection holding the leads stopped answering")
        }
    }

    /// Ends the session holding `role` if it started no query for ``staleLeaderTimeout``: a frozen
    /// leader's. Its lock is then free for the next try. A holder this server may not see or end
    /// (another database role, without `pg_read_all_stats` or `pg_signal_backend`) is logged once a
    /// minute; any other failure fails the round, as a broken connection does.
    private func endStaleHolder(
        of role: String, schema: String, on connection: PostgresConnection, _ logger: Logger
    ) async throws {
        let stale = Double(staleLeaderTimeout.nanoseconds) / 1e9
        let rows = try await connection.query(
            """
            SELECT l.pid, EXTRACT(EPOCH FROM now() - a.query_start)::float8 FROM pg_locks l \
            JOIN pg_stat_activity a ON a.pid = l.pid \
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
            AND l.classid = (hashtext(\(schema))::bigint & 4294967295)::oid \
            AND l.objid = (hashtext(\(role))::bigint & 4294967295)::oid \
            AND l.pid <> pg_backend_pid() AND a.application_name = 'tradecore leadership' \
            AND (a.query_start IS NULL OR a.query_start < now() - \(stale) * interval '1 second')
            """, logger: logger)
        var holders: [(pid: Int32, idle: Double?)] = []
        for try await (pid, idle) in rows.decode((Int32, Double?).self) { holders.append((pid, idle)) }
        for holder in holders {
            guard let idle = holder.idle else {
                refused(role, holder.pid, reason: "its last query cannot be seen (another database role)")
                continue
            }
            do {
                let rows = try await connection.query("SELECT pg_terminate_backend(\(holder.pid))", logger: logger)
                for try await _ in rows.decode(Bool.self) {}
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
                refused(role, holder.pid, reason: "it may not be ended (another database role)")
                continue
            }
            self.logger.warning(
                "the leader of a role started no query for too long (frozen?): ended its session",
                metadata: [
                    "leadership.role": "\(role)", "leadership.holder_pid": "\(holder.pid)",
                    "leadership.idle_seconds": "\(Int(idle))",
                ])
        }
    }

    /// Logs, once a minute at most, a stale holder this server cannot end.
    private func refused(_ role: String, _ pid: Int32, reason: String) {
        let now = ContinuousClock.now
        let due = state.withLock { state in
            guard state.staleCheckRefusedAt.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
            state.staleCheckRefusedAt = now
            return true
        }
        guard due else { return }
        let message =
            "the session holding a role may be a frozen leader's, but this server cannot end it: \(reason); "
            + "connect every server as one database role, or grant pg_read_all_stats and pg_signal_backend"
        logger.warning(
            "\(message)", metadata: ["leadership.role": "\(role)", "leadership.holder_pid": "\(pid)"])
    }
}
