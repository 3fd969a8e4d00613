import Synchronization

/// State behind a lock, with tasks waiting for a condition on it.
///
/// ``update(_:)`` changes the state and then wakes every waiter whose condition now holds. A wait
/// ends when its condition holds, when its task is cancelled, or (for a timed wait) when time runs
/// out; it never busy-polls. The building block of the lock's queue, projection progress and
/// batching here.
package final class Monitor<State: Sendable>: Sendable {
    private struct Waiter: Sendable {
        let condition: @Sendable (State) -> Bool
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct Inner: Sendable {
        var state: State
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
    }

    private let inner: Mutex<Inner>

    package init(_ state: State) {
        inner = Mutex(Inner(state: state))
    }

    /// Reads the state.
    package func read<Result>(_ body: (State) throws -> Result) rethrows -> Result {
        try inner.withLock { try body($0.state) }
    }

    /// Changes the state, then wakes the waiters whose condition holds.
    @discardableResult
    package func update<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        let (result, woken) = try inner.withLock { inner -> (Result, [Waiter]) in
            let result = try body(&inner.state)
            guard !inner.waiters.isEmpty else { return (result, []) }
            var woken: [Waiter] = []
            for (id, waiter) in inner.waiters where waiter.condition(inner.state) {
                inner.waiters[id] = nil
                woken.append(waiter)
            }
            return (result, woken)
        }
        for waiter in woken { waiter.continuation.resume(returning: true) }
        return result
    }

    /// Waits until `condition` holds. Returns false if the task is (or gets) cancelled first.
    package func wait(until condition: @escaping @Sendable (State) -> Bool) async -> Bool {
        let id = inner.withLock { inner in
            defer { inner.nextID += 1 }
            return inner.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now: Bool? = inner.withLock { inner in
                    // Checked under the lock: a cancellation before this point finds no waiter to
                    // remove, so it must be seen here.
                    if Task.isCancelled { return false }
                    if condition(inner.state) { return true }
                    inner.waiters[id] = Waiter(condition: condition, continuation: continuation)
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = inner.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: false)
        }
    }

    /// Waits until `condition` holds or `sleep` returns, whichever comes first. Returns whether
    /// the condition held (false on timeout or cancellation).
    package func wait(
        until condition: @escaping @Sendable (State) -> Bool,
        orUntil sleep: @escaping @Sendable () async -> Void
    ) async -> Bool {
        if read(condition) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.wait(until: condition) }
            group.addTask {
                await sleep()
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
