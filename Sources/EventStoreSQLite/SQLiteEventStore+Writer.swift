import Dispatch
import EventStore
import Foundation
import GRDB
import Logging
import Synchronization

/// The single writer: group commit of concurrent appends.
///
/// Appends queue up; a dedicated writer thread takes everything queued (up to the configured
/// maximum), commits it as one transaction, publishes the events and acknowledges the appends,
/// then takes the next batch. While one transaction is being fsynced, the next batch gathers, so
/// under load many appends share each fsync; with one appender, each append is its own
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
            while true {
                wake.wait()
                guard let store = self, store.drain() else { return }
            }
        }
        thread.name = "tradecore.eventstore.writer"
        thread.start()
    }

    /// Commits batches until the queue is empty. Returns false once the store is closed and drained.
    private func drain() -> Bool {
        let maxBatch = configuration.maxAppendsPerTransaction
        while true {
            // Deciding "nothing left" and clearing isDraining under one lock: an append queued after
            // this sees isDraining false and wakes the thread again.
            let batch = writer.withLock { state -> [PendingAppend]? in
                guard !state.queue.isEmpty else {
                    state.isDraining = false
                    return nil
                }
                let count = min(state.queue.count, maxBatch)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return batch
            }
            guard let batch else {
                let (waiters, isClosed) = writer.withLock { state -> ([CheckedContinuation<Void, Never>], Bool) in
                    defer { state.drainedWaiters = [] }
                    return (state.drainedWaiters, state.isClosed)
                }
                for waiter in waiters { waiter.resume() }
                return !isClosed
            }
            let (results, committed) = commit(batch.map(\.request))
            // Published before anyone is acknowledged, and by this one thread, so subscribers see
            // commits in commit order.
            subscriptions.publish(committed)
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
        }
    }

    private static func write(
        _ requests: [AppendRequest],
        db: Database,
        limits: EventStoreLimits,
        streams: inout StreamCache,
        results: inout [Result<AppendResult, any Error>],
        committed: inout [RecordedEvent]
    ) throws {
        results = []
        committed = []
        var batch = try BatchWriter(db: db, limits: limits)
        for request in requests {
            do {
                switch try batch.append(request, streams: &streams) {
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

    /// Commits one batch; returns each append's outcome and the events written, in position order.
    private func commit(_ requests: [AppendRequest]) -> ([Result<AppendResult, any Error>], [RecordedEvent]) {
        if let failure = writer.withLock({ $0.failure }) {
            return (requests.map { _ in .failure(failure) }, [])
        }
        let limits = configuration.options.limits
        do {
            // Synchronous: this is the writer thread, and GRDB runs the block right here.
            var results: [Result<AppendResult, any Error>] = []
            var committed: [RecordedEvent] = []
            try pool.writeWithoutTransaction { db in
                try streamCache.withLock { streams in
                    do {
                        try db.inTransaction(.immediate) {
                            try Self.write(
                                requests, db: db, limits: limits, streams: &streams, results: &results,
                                committed: &committed)
                            try injectedFault.withLock { $0 }?()
                            return .commit
                        }
                    } catch {
                        // What the batch cached may have been rolled back.
                        streams.removeAll()
                        throw error
                    }
                }
            }
            writer.withLock { state in
                state.statistics.transactions += 1
                state.statistics.largestTransaction = max(state.statistics.largestTransaction, requests.count)
            }
            return (results, committed)
        } catch {
            let mapped = StorageErrors.map(
                error,
                doing: "committing \(requests.count) append(s)",
                path: configuration.path
            )
            if StorageErrors.isFatal(mapped) {
                writer.withLock { state in
                    state.failure = EventStoreError(
                        code: mapped.code,
                        message:
                            "the event store stopped accepting appends after a storage failure (\(mapped.message)); "
                            + "restart it once the disk is healthy",
                        underlying: mapped.underlying
                    )
                }
                logger.critical(
                    "event store storage failure; appends stopped",
                    metadata: ["eventstore.error": "\(mapped)", "eventstore.appends": "\(requests.count)"]
                )
            } else {
                logger.error(
                    "event store transaction failed; its appends were not acknowledged",
                    metadata: ["eventstore.error": "\(mapped)", "eventstore.appends": "\(requests.count)"]
                )
            }
            return (requests.map { _ in .failure(mapped) }, [])
        }
    }
}
