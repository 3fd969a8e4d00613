import EventStore
import Foundation

/// A lock on a key shared by everyone who writes to one event store: the seed's distributed lock
/// (broker connection initiation per user, broker and environment).
///
/// A holder gets a lease for a time-to-live: if it stalls past it, the lock is free to be taken
/// again. Each acquisition comes with a fencing token, larger than every earlier one for the key,
/// issued by the event store itself (``EventStore/issueFencingToken(for:)``); an append that carries
/// it (``CommandContext/save(_:fencedBy:extraMetadata:)``) is refused once anyone acquired the lock after it. So a
/// stalled holder that wakes up after its lease ran out cannot write over its successor.
public protocol DistributedLock: Sendable {
    /// Acquires the lock on `key` for `ttl`, waiting at most `timeout` for it to become free.
    ///
    /// - Throws: ``LockError`` `.timeout` when the lock stayed held for `timeout`; the store's errors
    ///   when it cannot issue a token; `CancellationError`.
    func acquire(_ key: String, ttl: Duration, timeout: Duration) async throws -> LockLease

    /// Releases a lease.
    ///
    /// - Throws: ``LockError`` `.notHeld` when the lease ran out and someone else acquired the lock.
    func release(_ lease: LockLease) async throws
}

extension DistributedLock {
    /// Runs `body` holding the lock on `key`, and releases it however `body` ends.
    ///
    /// Once `body` has returned, its result is returned even if the release fails (a lease that ran
    /// out meanwhile is no longer ours to release, and an unreleased one expires with its TTL): the
    /// work is done, and a caller told otherwise would do it again.
    public func withLock<Result: Sendable>(
        _ key: String,
        ttl: Duration,
        timeout: Duration,
        _ body: (LockLease) async throws -> Result
    ) async throws -> Result {
        let lease = try await acquire(key, ttl: ttl, timeout: timeout)
        let result: Result
        do {
            result = try await body(lease)
        } catch {
            try? await release(lease)
            throw error
        }
        try? await release(lease)
        return result
    }
}

/// One acquisition of a lock.
public struct LockLease: Sendable, Hashable {
    /// The key locked.
    public let key: String
    /// The fencing token of this acquisition.
    public let token: Int64
    /// When the lease runs out, on the lock's clock (Unix nanoseconds).
    public let expiresAt: Int64
    /// Identifies the holder.
    public let holder: UUID

    /// Makes a lease; locks build these.
    public init(key: String, token: Int64, expiresAt: Int64, holder: UUID) {
        self.key = key
        self.token = token
        self.expiresAt = expiresAt
        self.holder = holder
    }

    /// The check an append makes with this lease's token.
    public var fencing: FencingCheck { FencingCheck(key: key, token: token) }
}

/// A lock that could not be acquired or released.
public struct LockError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Hashable {
        /// The lock stayed held for the whole wait.
        case timeout
        /// The lease ran out and the lock was acquired by someone else (or released before).
        case notHeld
    }

    /// The kind of failure.
    public let code: Code
    /// The key.
    public let key: String
    /// What happened.
    public let message: String

    /// Makes the error; locks build these.
    public init(code: Code, key: String, message: String) {
        self.code = code
        self.key = key
        self.message = message
    }

    public var description: String { "lock '\(key)': \(code.rawValue): \(message)" }
}

/// The in-process ``DistributedLock``: mutual exclusion among the tasks of this process, fencing
/// tokens from the event store.
///
/// For the embedded (SQLite) deployment, where one process owns the store, that is the whole
/// system. The token registry lives in the store (for SQLite, a table of its database, written
/// durably), which is where appends are checked, so lock and store agree on the newest token per
/// key without sharing memory, and tokens keep growing across restarts. Waiters wake when the lock
/// is released or when the holder's lease runs out (on the injected clock); the lock is not fair.
public final class InProcessLock: DistributedLock {
    private struct Slot: Sendable {
        let holder: UUID
        /// `nil` while the holder's token is being issued: the slot cannot expire then, so a token
        /// is never issued to a holder that already lost the lock.
        var token: Int64?
        var expiresAt: Int64
    }

    private let store: any EventStore
    private let clock: any EventSourcingClock
    private let slots = Monitor([String: Slot]())

    /// Makes a lock whose tokens come from `store`, timing leases on `clock`.
    public init(store: any EventStore, clock: any EventSourcingClock = SystemClock()) {
        self.store = store
        self.clock = clock
    }

    public func acquire(_ key: String, ttl: Duration, timeout: Duration) async throws -> LockLease {
        let holder = UUIDv7.next()
        let clock = self.clock
        let deadline = clock.now().addingReportingOverflow(timeout.nanoseconds).partialValue
        while true {
            try Task.checkCancellation()
            let now = clock.now()
            let current: Slot? = slots.update { slots in
                if let slot = slots[key], slot.token == nil || slot.expiresAt > now { return slot }
                slots[key] = Slot(holder: holder, token: nil, expiresAt: .max)
                return nil
            }
            guard let current else {
                return try await issue(key, holder: holder, ttl: ttl)
            }
            guard now < deadline else {
                throw LockError(
                    code: .timeout, key: key, message: "still held by another holder after \(timeout)")
            }
            let wakeAt = min(current.expiresAt, deadline)
            let previous = current.holder
            _ = await slots.wait(until: { $0[key]?.holder != previous }) {
                try? await clock.sleep(until: wakeAt)
            }
        }
    }

    private func issue(_ key: String, holder: UUID, ttl: Duration) async throws -> LockLease {
        let token: Int64
        do {
            token = try await store.issueFencingToken(for: key)
        } catch {
            slots.update { slots in
                if slots[key]?.holder == holder { slots[key] = nil }
            }
            throw error
        }
        let expiresAt = clock.now().addingReportingOverflow(ttl.nanoseconds).partialValue
        slots.update { slots in
            slots[key] = Slot(holder: holder, token: token, expiresAt: expiresAt)
        }
        return LockLease(key: key, token: token, expiresAt: expiresAt, holder: holder)
    }

    public func release(_ lease: LockLease) async throws {
        let released = slots.update { slots -> Bool in
            guard let slot = slots[lease.key], slot.holder == lease.holder, slot.token == lease.token else {
                return false
            }
            slots[lease.key] = nil
            return true
        }
        guard released else {
            throw LockError(
                code: .notHeld, key: lease.key,
                message: "lease \(lease.token) ran out and the lock was acquired by someone else, or was released")
        }
    }
}
