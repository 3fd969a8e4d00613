import EventStore
import Foundation
import Synchronization

/// An exclusive lock on the store's directory, held while the store is open.
///
/// The store's single writer keeps the log's order and feeds the subscription hub; a second process
/// appending to the same file would bypass both. The lock is `flock` on a file beside the database,
/// so the kernel releases it when the process dies, even by SIGKILL.
final class StoreLock: Sendable {
    /// The locked file, or -1 once released (so a second release cannot close a reused descriptor).
    private let descriptor: Mutex<Int32>

    /// Takes the lock, or throws `.storeLocked` if another process (or another open store) holds it.
    init(path: String) throws {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw EventStoreError(
                code: .storageFailure,
                message: "cannot create the lock file \(path): \(String(cString: strerror(errno)))"
            )
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            close(descriptor)
            if reason == EWOULDBLOCK {
                throw EventStoreError(
                    code: .storeLocked,
                    message: "the event store at \(path) is open in another process (or another store instance)"
                )
            }
            throw EventStoreError(
                code: .storageFailure,
                message: "cannot lock \(path): \(String(cString: strerror(reason)))"
            )
        }
        self.descriptor = Mutex(descriptor)
    }

    /// Releases the lock.
    func release() {
        descriptor.withLock { descriptor in
            guard descriptor >= 0 else { return }
            flock(descriptor, LOCK_UN)
            close(descriptor)
            descriptor = -1
        }
    }
}
