import CThreadScheduling
import Dispatch
import EventStore
import Foundation
import GRDB
import Logging
import Synchronization

/// The single writer: group commit of concurrent appends.
///
/// Appends queue up; a dedicated writer thread takes everything queued (up to the configured
/// maximum) into one transaction, keeps taking what arrives while it writes (for a bounded time),
/// commits, publishes the events and acknowledges the appends, then starts the next transaction.
/// Under load many appends share each fsync; with one appender, each append is its own
/// transaction and waits for exactly one commit.
///
/// The thread is the store's own: GRDB's blocking calls never run on Swift's cooperative pool or on
/// an event loop, and an append costs one thread wake-up and one task resumption, not a chain of
/// task hops.
extension SQLiteEventStore {
    public func append(_ request: AppendRequest) async throws -> AppendResult {
        do {
            try AppendRules.validate(request, limits: configuration.options.limits)
        } catch {
            logger.warning(
                "append refused",
                metadata: ["eventstore.stream": "\(request.stream)", "eventstore.error": "\(error)"]
            )
            throw error
        }
        return try await withCheckedThrowingContinuation { continuation in
            let queued = writer.withLock { state -> Result<Bool, EventStoreError> in
                if state.isClosed { return .failure(.closed) }
                if let failure = state.failure { return .failure(failure) }
                state.queue.append(PendingAppend(request: request, continuation: continuation))
                defer { state.isDraining = true }
                return .success(!state.isDraining)
            }
            switch queued {
            case .failure(let error):
                continuation.resume(throwing: error)
            case .success(let wakeWriter):
                if wakeWriter { writerWake.signal() }
            }
        }
    }

    /// Starts the writer thread. It holds the store weakly and ends when the store closes (or is freed).
    func startWriterThread() {
        let wake = writerWake
        let thread = Thread { [weak self] in
            Self.nameWriterThread()
            while true {
                wake.wait()
                guard let store = self, store.drain() else { return }
            }
        }
        thread.name = Self.writerThreadName
        thread.start()
    }

    /// The writer thread's name, as `top -H`, `ps -L` and `perf` show it: Linux keeps at most 15
    /// bytes of one.
    static let writerThreadName = "tc-store-writer"

    /// Names the calling thread for the kernel. On Linux, Foundation's `Thread.name` did not reach
    /// it: the writer showed under the name of the Dispatch worker that made it ("…r-initiated-qos").
    private static func nameWriterThread() {
        _ = tradecore_set_thread_name(writerThreadName)
    }

    /// Commits batches until the queue is empty. Returns false once the store is closed and drained.
    private func drain() -> Bool {
        while true {
            // Deciding "nothing left" and clearing isDraining under one lock: an append queued after
            // this sees isDraining false and wakes the thread again.
            let first = writer.withLock { state -> [PendingAppend]? in
                guard let taken = Self.take(from: &state, max: configuration.maxAppendsPerTransaction) else {
                    state.isDraining = false
                    return nil
                }
                return taken
            }
            guard var batch = first else {
                let (waiters, isClosed) = writer.withLock { state -> ([CheckedContinuation<Void, Never>], Bool) in
                    defer { state.drainedWaiters = [] }
                    return (state.drainedWaiters, state.isClosed)
                }
                for waiter in waiters { waiter.resume() }
                return !isClosed
            }
            let started = ContinuousClock.now
            let (results, committed) = commit(&batch)
            let took = ContinuousClock.now - started
            configuration.afterCommit?(committed)
            let retiredVersions = committedVersions.withLock { $0.note(committed) }
            // Published before anyone is acknowledged, and by this one thread, so subscribers see
            // commits in commit order.
            subscriptions.publish(committed)
            let succeeded = results.reduce(0) { count, result in if case .success = result { count + 1 } else { count }
            }
            metrics.committed(succeeded, in: took)
            writer.withLock { state in
                for result in results {
                    switch result {
                    case .success: state.statistics.appends += 1
                    case .failure(let error) where error is VersionConflict: state.statistics.conflicts += 1
                    case .failure: state.statistics.failures += 1
                    }
                }
            }
            for (pending, result) in zip(batch, results) {
                pending.continuation.resume(with: result)
            }
            // Freed on another thread: the next commit need not wait for it.
            if let retiredVersions { CommittedVersions.free(retiredVersions) }
        }
    }

    /// Takes up to `max` queued appends, oldest first, or nil if none are queued.
    private static func take(from state: inout WriterState, max: Int) -> [PendingAppend]? {
        guard !state.queue.isEmpty, max > 0 else { return nil }
        guard state.queue.count > max else {
            // The whole queue, handed over without copying its elements.
            defer { state.queue = [] }
            return state.queue
        }
        let taken = Array(state.queue.prefix(max))
        state.queue.removeFirst(max)
        return taken
    }

    /// Takes up to `max` queued appends; if none are queued and `waiting`, gives appenders still on
    /// their way a moment (50 µs) to arrive. Nil when nothing came.
    private func takeArriving(max: Int, waiting: Bool) -> [PendingAppend]? {
        if let taken = writer.withLock({ Self.take(from: &$0, max: max) }) { return taken }
        guard waiting else { return nil }
        usleep(50)
        return writer.withLock { Self.take(from: &$0, max: max) }
    }

    /// Commits `batch` as one transaction, first taking into it the appends that arrive while it is
    /// being written (see ``Configuration/maxGatherDelay``); returns each append's outcome, in the
    /// order of `batch` as it then stands, and the events written, in position order.
    ///
    /// Under concurrency, the appenders acknowledged by one commit resume one by one and queue
    /// again while the next transaction is already being written; taking them in as they come lets
    /// them share its fsync instead of splitting into alternating halves that each pay for one.
    /// The transaction commits once no append arrived for 50 µs, or when the delay is up; a lone
    /// appender's transaction (one append so far) commits at once.
    private func commit(_ batch: inout [PendingAppend]) -> ([Result<AppendResult, any Error>], [RecordedEvent]) {
        if let failure = writer.withLock({ $0.failure }) {
            return (batch.map { _ in .failure(failure) }, [])
        }
        let limits = configuration.options.limits
        let maxBatch = configuration.maxAppendsPerTransaction
        let gatherUntil = ContinuousClock.now + configuration.maxGatherDelay
        var results: [Result<AppendResult, any Error>] = []
        var committed: [RecordedEvent] = []
        results.reserveCapacity(batch.count)
        committed.reserveCapacity(batch.count)
        do {
            // Synchronous: this is the writer thread, and GRDB runs the block right here.
            try pool.writeWithoutTransaction { db in
                // Looked at again where nothing else can use the connection: a write queued before
                // this batch may have stopped appends (see `writeUnsynced`).
                if let failure = writer.withLock({ $0.failure }) { throw AppendsStopped(failure: failure) }
                try streamCache.withLock { streams in
                    do {
                        var head: Int64 = 0
                        try Self.inImmediateTransaction(db) {
                            var batchWriter = try BatchWriter(db: db, limits: limits, knownHead: streams.logHead)
                            var written = 0
                            while true {
                                for pending in batch[written...] {
                                    try Self.write(
                                        pending.request, with: &batchWriter, streams: &streams, results: &results,
                                        committed: &committed)
                                }
                                written = batch.count
                                guard ContinuousClock.now < gatherUntil,
                                    let more = takeArriving(max: maxBatch - batch.count, waiting: batch.count > 1)
                                else { break }
                                batch += more
                            }
                            try injectedFault.withLock { $0 }?()
                            head = batchWriter.head
                        }
                        streams.logHead = head
                    } catch {
                        // What the batch cached may have been rolled back.
                        streams.removeAll()
                        throw error
                    }
                }
            }
            writer.withLock { state in
                state.statistics.transactions += 1
                state.statistics.largestTransaction = max(state.statistics.largestTransaction, batch.count)
            }
            return (results, committed)
        } catch let stopped as AppendsStopped {
            return (batch.map { _ in .failure(stopped.failure) }, [])
        } catch {
            let mapped = StorageErrors.map(
                error,
                doing: "committing \(batch.count) append(s)",
                path: configuration.path
            )
            if StorageErrors.isFatal(mapped) {
                stopAppends(after: mapped, metadata: ["eventstore.appends": "\(batch.count)"])
            } else {
                logger.error(
                    "event store transaction failed; its appends were not acknowledged",
                    metadata: ["eventstore.error": "\(mapped)", "eventstore.appends": "\(batch.count)"]
                )
            }
            return (batch.map { _ in .failure(mapped) }, [])
        }
    }

    /// Stops appends for good after `failure`, a storage failure that leaves the file's state
    /// unknown (a failed sync, a connection that may no longer sync); logged once, critical.
    func stopAppends(after failure: EventStoreError, metadata: Logger.Metadata = [:]) {
        writer.withLock { state in
            state.failure = EventStoreError(
                code: failure.code,
                message:
                    "the event store stopped accepting appends after a storage failure (\(failure.message)); "
                    + "restart it once the disk is healthy",
                underlying: failure.underlying
            )
        }
        logger.critical(
            "event store storage failure; appends stopped",
            metadata: metadata.merging(["eventstore.error": "\(failure)"]) { given, _ in given })
    }

    /// Runs `body` inside BEGIN IMMEDIATE … COMMIT, rolling back on any error (unless SQLite did
    /// already). The three statements are prepared once per connection: GRDB's `inTransaction`
    /// parses BEGIN and COMMIT anew each time, a measurable share of a one-append transaction.
    static func inImmediateTransaction<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        try db.cachedStatement(sql: "BEGIN IMMEDIATE").execute()
        do {
            let result = try body()
            try db.cachedStatement(sql: "COMMIT").execute()
            return result
        } catch {
            if db.isInsideTransaction { try? db.cachedStatement(sql: "ROLLBACK").execute() }
            throw error
        }
    }

    /// Decides and writes one append into the open transaction, recording its outcome; rethrows
    /// only the errors that abort the whole transaction.
    private static func write(
        _ request: AppendRequest,
        with writer: inout BatchWriter,
        streams: inout StreamCache,
        results: inout [Result<AppendResult, any Error>],
        committed: inout [RecordedEvent]
    ) throws {
        do {
            switch try writer.append(request, streams: &streams) {
            case .written(let result, let events):
                results.append(.success(result))
                committed += events
            case .replayed(let result):
                results.append(.success(result))
            }
        } catch let error where StorageErrors.abortsTransaction(error) {
            throw error
        } catch {
            results.append(.failure(error))
        }
    }
}

/// Thrown inside the writer's transaction when appends stopped while the batch waited for the
/// connection: the batch fails with that failure, written nowhere.
struct AppendsStopped: Error {
    let failure: EventStoreError
}
