import Foundation
import Logging
import Synchronization

/// The locks one command holds: taken by its handler through ``CommandContext/lock(_:ttl:timeout:)``,
/// kept across the bus's retries of the handler, released by the bus once the command has ended.
final class CommandLeases: Sendable {
    private let held = Mutex<[String: LockLease]>([:])

    /// The lease on `key` this command holds, if it has not run out; otherwise a new one from
    /// `acquire`.
    func lease(_ key: String, now: Int64, acquire: () async throws -> LockLease) async throws -> LockLease {
        if let lease = held.withLock({ $0[key] }), lease.expiresAt > now {
            return lease
        }
        let lease = try await acquire()
        held.withLock { $0[key] = lease }
        return lease
    }

    /// Releases every lease; a lease that ran out and was taken by someone else is not ours to
    /// release any more, which is logged, not thrown: the command's outcome stands.
    func releaseAll(to lock: any DistributedLock, logger: Logger) async {
        let leases = held.withLock { held in
            defer { held.removeAll() }
            return Array(held.values)
        }
        for lease in leases {
            do {
                try await lock.release(lease)
            } catch {
                logger.warning(
                    "could not release a command's lock",
                    metadata: ["lock.key": "\(lease.key)", "lock.error": "\(error)"])
            }
        }
    }
}
