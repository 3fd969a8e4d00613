import EventSourcing

/// Tells long calls that the server is draining, and lets the server wait until they have said
/// their last word: a subscription sends a final checkpoint before the connections get GOAWAY.
public final class ShutdownSignal: Sendable {
    private struct State: Sendable {
        var triggered = false
        var active = 0
    }

    private let state = Monitor(State())

    public init() {}

    /// Whether the server is draining.
    public var isTriggered: Bool { state.read(\.triggered) }

    /// Starts the drain: waiting calls wake up.
    public func trigger() {
        state.update { $0.triggered = true }
    }

    /// Returns once the drain starts (or the task is cancelled).
    func wait() async {
        _ = await state.wait(until: \.triggered)
    }

    /// Runs `body` as a call that must finish before the drain completes.
    func track<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        state.update { $0.active += 1 }
        defer { state.update { $0.active -= 1 } }
        return try await body()
    }

    /// Waits until every tracked call has finished, at most `timeout`.
    public func waitUntilDrained(timeout: Duration) async {
        _ = await state.wait(until: { $0.active == 0 }) { try? await Task.sleep(for: timeout) }
    }
}
