import EventStore

/// The time source of the event-sourcing machinery: the wall clock that stamps events and saga
/// deadlines, and sleeping until a point on it.
///
/// Injected everywhere time matters (``HandlerDependencies``, ``SagaManager``, ``InProcessLock``), so
/// tests drive time by hand instead of sleeping (see `EventSourcingTesting.ManualClock`).
public protocol EventSourcingClock: Sendable {
    /// Now, in Unix nanoseconds (UTC).
    func now() -> Int64

    /// Returns once the clock reads `deadline` (Unix nanoseconds) or later.
    ///
    /// - Throws: `CancellationError` when the calling task is cancelled first.
    func sleep(until deadline: Int64) async throws
}

extension EventSourcingClock {
    /// Sleeps for `duration` from now.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now().addingReportingOverflow(duration.nanoseconds).partialValue)
    }
}

/// The system's wall clock.
public struct SystemClock: EventSourcingClock {
    /// Makes the clock.
    public init() {}

    public func now() -> Int64 { UnixTime.nowNanoseconds() }

    public func sleep(until deadline: Int64) async throws {
        let remaining = deadline - now()
        guard remaining > 0 else {
            try Task.checkCancellation()
            return
        }
        try await Task.sleep(for: .nanoseconds(remaining))
    }
}
