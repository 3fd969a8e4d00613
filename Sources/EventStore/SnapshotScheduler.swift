import Logging
import Synchronization

/// Takes snapshots in the background when the ``SnapshotPolicy`` says one is due.
///
/// The append path tells the scheduler about each committed append and hands it a closure that
/// encodes the aggregate's state; the scheduler returns at once and saves the snapshot later, on its
/// own task. An appender therefore never waits for a snapshot. Jobs for the same stream coalesce (only
/// the newest state is saved) and the queue is bounded: snapshots are an optimisation, so when the
/// queue is full a job is dropped and counted, never allowed to grow memory.
public final class SnapshotScheduler: Sendable {
    /// Encodes the state to snapshot. It runs later, on another task: capture a copy of the state,
    /// never a reference to something the caller keeps mutating. Returning `nil` skips the snapshot.
    public typealias MakeSnapshot = @Sendable () throws -> Snapshot?

    /// Counters, for tests and metrics.
    public struct Statistics: Sendable, Hashable {
        /// Snapshots saved.
        public var saved = 0
        /// Snapshots whose encoding or saving failed (logged).
        public var failed = 0
        /// Jobs dropped because the queue was full.
        public var dropped = 0
        /// Jobs waiting.
        public var pending = 0
    }

    private struct State {
        var jobs: [StreamName: MakeSnapshot] = [:]
        var order: [StreamName] = []
        var isRunning = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
        var statistics = Statistics()
    }

    /// When snapshots are due.
    public let policy: SnapshotPolicy
    private let store: any EventStore
    private let maxPendingJobs: Int
    private let logger: Logger
    private let state = Mutex(State())

    /// Makes a scheduler that saves snapshots into `store` according to `policy`.
    public init(
        store: any EventStore,
        policy: SnapshotPolicy,
        maxPendingJobs: Int = 1_024,
        logger: Logger = Logger(label: "tradecore.eventstore.snapshots")
    ) {
        self.store = store
        self.policy = policy
        self.maxPendingJobs = max(maxPendingJobs, 1)
        self.logger = logger
    }

    /// Reports a committed append; when a snapshot is due, schedules `makeSnapshot` and returns at once.
    ///
    /// - Returns: whether a snapshot was scheduled.
    @discardableResult
    public func appended(_ result: AppendResult, makeSnapshot: @escaping MakeSnapshot) -> Bool {
        guard policy.isDue(after: result) else { return false }
        let (scheduled, startWorker) = state.withLock { state -> (Bool, Bool) in
            if state.jobs[result.stream] == nil {
                guard state.jobs.count < maxPendingJobs else {
                    state.statistics.dropped += 1
                    return (false, false)
                }
                state.order.append(result.stream)
            }
            state.jobs[result.stream] = makeSnapshot
            state.statistics.pending = state.jobs.count
            let start = !state.isRunning
            state.isRunning = true
            return (true, start)
        }
        if !scheduled {
            logger.debug(
                "snapshot queue full; skipped a snapshot",
                metadata: ["eventstore.stream": "\(result.stream)", "eventstore.version": "\(result.version)"]
            )
        }
        if startWorker {
            Task(priority: .background) { await self.drain() }
        }
        return scheduled
    }

    /// Waits until every scheduled snapshot has been saved (or has failed).
    public func waitUntilIdle() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state in
                if state.isRunning {
                    state.idleWaiters.append(continuation)
                    return false
                }
                return true
            }
            if idle { continuation.resume() }
        }
    }

    /// The scheduler's counters.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    private func drain() async {
        while true {
            let next = state.withLock { state -> (StreamName, MakeSnapshot)? in
                while !state.order.isEmpty {
                    let stream = state.order.removeFirst()
                    if let job = state.jobs.removeValue(forKey: stream) {
                        state.statistics.pending = state.jobs.count
                        return (stream, job)
                    }
                }
                state.isRunning = false
                return nil
            }
            guard let (stream, job) = next else { break }
            do {
                if let snapshot = try job() {
                    try await store.saveSnapshot(snapshot)
                    state.withLock { $0.statistics.saved += 1 }
                }
            } catch {
                state.withLock { $0.statistics.failed += 1 }
                logger.warning(
                    "could not save a snapshot",
                    metadata: ["eventstore.stream": "\(stream)", "eventstore.error": "\(error)"]
                )
            }
        }
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            // A job scheduled after the queue ran dry has started a new worker; its waiters stay.
            guard !state.isRunning else { return [] }
            defer { state.idleWaiters.removeAll() }
            return state.idleWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
