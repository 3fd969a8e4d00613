import EventSourcing
import EventStore
import EventStorePostgres
import Foundation
import PostgresNIO

/// The ``DistributedLock`` for servers sharing a PostgreSQL store: a lease row per key, timed on
/// the database's clock, with the fencing tokens of the store's own registry.
///
/// Acquiring is one call of the schema's `acquire_lock` function: it locks the key's row, and when
/// the lease is free or ran out it issues the next fencing token and takes the lease in the same
/// transaction, so a token is never issued to a holder that did not get the lock. A holder that
/// stalls past its lease loses it to the next taker, whose newer token makes the store refuse the
/// stalled holder's appends. Waiting polls, backing off from 5 to 100 ms, until the timeout.
public final class PostgresLock: DistributedLock {
    private let store: PostgresEventStore

    /// Makes a lock in `store`'s schema.
    public init(store: PostgresEventStore) {
        self.store = store
    }

    public func acquire(_ key: String, ttl: Duration, timeout: Duration) async throws -> LockLease {
        try AppendRules.validateFencingKey(key)
        let holder = UUIDv7.next()
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(5)
        while true {
            try Task.checkCancellation()
            if let lease = try await tryAcquire(key, holder: holder, ttl: ttl) { return lease }
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                throw LockError(code: .timeout, key: key, message: "still held by another holder after \(timeout)")
            }
            try await Task.sleep(for: min(pause, left))
            pause = min(pause * 2, .milliseconds(100))
        }
    }

    private func tryAcquire(_ key: String, holder: UUID, ttl: Duration) async throws -> LockLease? {
        let nanoseconds = ttl.nanoseconds
        return try await store.withConnection("acquiring the lock '\(key)'") { connection, logger in
            var lease: LockLease?
            for try await (token, expiresAt) in try await connection.query(
                "SELECT * FROM acquire_lock(\(key), \(holder), \(nanoseconds))", logger: logger
            ).decode((Int64, Int64).self) {
                lease = LockLease(key: key, token: token, expiresAt: expiresAt, holder: holder)
            }
            return lease
        }
    }

    public func release(_ lease: LockLease) async throws {
        let released = try await store.withConnection("releasing the lock '\(lease.key)'") { connection, logger in
            try await connection.query(
                """
                WITH freed AS (UPDATE locks SET expires_at = 0 WHERE key = \(lease.key) \
                AND holder = \(lease.holder) AND token = \(lease.token) AND expires_at > 0 RETURNING 1) \
                SELECT count(*) FROM freed
                """,
                logger: logger
            ).decode(Int64.self).reduce(0, +)
        }
        guard released > 0 else {
            throw LockError(
                code: .notHeld, key: lease.key,
                message: "lease \(lease.token) ran out and the lock was acquired by someone else, or was released")
        }
    }
}
