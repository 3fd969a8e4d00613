import Testing

/// Waits until `condition` holds, looking every few milliseconds, for at most `timeout`; records
/// an issue naming `what` if it never does. For states a test can only observe, not await.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(15), _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting until \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(2))
    }
}

/// ``waitUntil(_:timeout:_:)`` for a condition that must ask something (a database) to know.
func eventually(
    _ what: String, timeout: Duration = .seconds(15), _ condition: () async -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !(await condition()) {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting until \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}
