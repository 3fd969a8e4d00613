import Foundation
import GRDB
internal import GRDBSQLite
import Logging
import Synchronization

/// Folds the WAL back into the database file on a connection of its own, off the writer's commits.
///
/// SQLite's automatic checkpoint runs inside the commit that finds the WAL long enough: the writer
/// copies tens of MiB and syncs the database file while every append waiting behind that commit
/// waits too (a commit's p99 grew threefold under load here). Instead, a hook on the writer's
/// connection (`sqlite3_wal_hook`, which also turns the automatic checkpoint off) asks this
/// checkpointer for a passive checkpoint once the WAL holds `pages` frames, and again each time
/// it has grown by a quarter of that; the checkpoint runs on GRDB's queue for this connection
/// while the writer goes on committing.
///
/// A passive checkpoint never lets SQLite start the WAL over while the writer keeps it busy: the
/// WAL restarts only when a transaction begins with every frame already copied. So at twice
/// `pages` the writer checkpoints itself inside its commit, as SQLite would have, but by then the
/// background has copied nearly everything and what is left is short; the next transaction then
/// restarts the WAL, which stays bounded.
final class WALCheckpointer: Sendable {
    /// The WAL length, in frames, from which a background checkpoint is asked for.
    let pages: Int
    private let connection: DatabaseQueue
    private let logger: Logger
    /// A checkpoint is queued and has not started yet.
    private let isQueued = Atomic<Bool>(false)
    /// The WAL's length when the last checkpoint was asked for.
    private let askedAt = Atomic<Int>(0)
    private let isClosed = Atomic<Bool>(false)
    private let completedCount = Atomic<Int>(0)

    /// Background checkpoints run to the end so far.
    var completed: Int { completedCount.load(ordering: .relaxed) }

    init(path: String, pages: Int, logger: Logger) throws {
        self.pages = max(pages, 4)
        var configuration = GRDB.Configuration()
        configuration.label = "tradecore.eventstore.checkpointer"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.logger = logger
    }

    /// Takes over the checkpoints of `db`, the store's writer connection.
    func install(on db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, walCommitHook, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Called by the hook after each commit of the writer, with the WAL's length in frames.
    fileprivate func committed(walFrames: Int, writer: OpaquePointer?) {
        guard walFrames >= pages, !isClosed.load(ordering: .relaxed) else {
            askedAt.store(0, ordering: .relaxed)
            return
        }
        if walFrames >= 2 * pages {
            // The background copied nearly all of it; finishing here lets the next transaction
            // start the WAL over. Busy (the background is checkpointing) means: next commit.
            sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            return
        }
        guard walFrames - askedAt.load(ordering: .relaxed) >= pages / 4 else { return }
        askedAt.store(walFrames, ordering: .relaxed)
        guard !isQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        connection.asyncWriteWithoutTransaction { [self] db in
            isQueued.store(false, ordering: .releasing)
            guard !isClosed.load(ordering: .relaxed) else { return }
            do {
                let (frames, copied) = try db.checkpoint(.passive)
                completedCount.add(1, ordering: .relaxed)
                logger.trace("WAL checkpoint", metadata: ["eventstore.wal_frames": "\(frames)", "copied": "\(copied)"])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                // The writer is checkpointing itself: nothing to do here.
                logger.trace("WAL checkpoint skipped: another one is running")
            } catch {
                logger.warning("a background WAL checkpoint failed", metadata: ["eventstore.error": "\(error)"])
            }
        }
    }

    /// Runs no more checkpoints; waits for one under way and closes the connection.
    func close() throws {
        isClosed.store(true, ordering: .relaxed)
        try connection.close()
    }
}

/// `sqlite3_wal_hook`'s callback: `context` is the store's checkpointer, which outlives the
/// writer's connection (the store closes the connection before releasing it).
private func walCommitHook(
    context: UnsafeMutableRawPointer?, db: OpaquePointer?, name: UnsafePointer<CChar>?, frames: Int32
) -> Int32 {
    guard let context else { return SQLITE_OK }
    Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue().committed(
        walFrames: Int(frames), writer: db)
    return SQLITE_OK
}
