import Synchronization

/// Tasks wait at the gate until it opens; waiting is cancellable. Also counts arrivals, so a test
/// can await "n tasks have arrived" instead of sleeping.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var arrived = 0
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var arrivalWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Waits until the gate opens.
    func pass() async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (result, arrivals) = state.withLock {
                    state -> (Result<Void, any Error>?, [CheckedContinuation<Void, Never>]) in
                    state.arrived += 1
                    let count = state.arrived
                    let ready = state.arrivalWaiters.filter { $0.count <= count }.map(\.continuation)
                    state.arrivalWaiters.removeAll { $0.count <= count }
                    if Task.isCancelled { return (.failure(CancellationError()), ready) }
                    if state.isOpen { return (.success(()), ready) }
                    state.waiters[id] = continuation
                    return (nil, ready)
                }
                for arrival in arrivals { arrival.resume() }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Opens the gate for everyone waiting and everyone after.
    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// How many tasks have arrived at the gate.
    var arrivals: Int { state.withLock { $0.arrived } }

    /// Returns once `count` tasks have arrived at the gate.
    func waitForArrivals(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.arrived >= count { return true }
                state.arrivalWaiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
