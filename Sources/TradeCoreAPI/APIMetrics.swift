import CoreMetrics
import EventStore
import HTTP2RPC
import Synchronization

/// The API's metrics, through swift-metrics (exposed as Prometheus text by the server):
///
/// - `tradecore_rpc_calls_total{method,code}`: calls answered, by method and status;
/// - `tradecore_rpc_duration_seconds{method}`: how long calls took (a histogram);
/// - `tradecore_commands_committed_total`: commands whose events were appended;
/// - `tradecore_subscribers`: event-stream subscriptions open;
/// - `tradecore_subscriber_lag_events`: how far behind the log's head a subscriber was when it was
///   sent a batch (a histogram).
public final class APIMetrics: Sendable {
    private struct CallKey: Hashable {
        let method: String
        let code: RPCStatus.Code
    }

    private let factory: any MetricsFactory
    private let calls = Mutex<[CallKey: Counter]>([:])
    private let durations = Mutex<[String: Timer]>([:])
    private let committed: Counter
    private let subscribers: Meter
    private let lag: Recorder

    /// Metrics made by `factory` (by default, the one swift-metrics was bootstrapped with).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        committed = Counter(label: "tradecore_commands_committed_total", dimensions: [], factory: factory)
        subscribers = Meter(label: "tradecore_subscribers", dimensions: [], factory: factory)
        lag = Recorder(label: "tradecore_subscriber_lag_events", dimensions: [], aggregate: true, factory: factory)
    }

    /// Counts an answered call and records how long it took.
    func call(_ method: String, code: RPCStatus.Code, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let factory = self.factory
        let counter = calls.withLock { calls in
            let key = CallKey(method: method, code: code)
            if let counter = calls[key] { return counter }
            let counter = Counter(
                label: "tradecore_rpc_calls_total", dimensions: [("method", method), ("code", code.description)],
                factory: factory)
            calls[key] = counter
            return counter
        }
        counter.increment()
        let timer = durations.withLock { durations in
            if let timer = durations[method] { return timer }
            let timer = Timer(
                label: "tradecore_rpc_duration_seconds", dimensions: [("method", method)], factory: factory)
            durations[method] = timer
            return timer
        }
        timer.recordNanoseconds(elapsed.nanoseconds)
    }

    func commandCommitted() { committed.increment() }

    func subscriberOpened() { subscribers.increment() }

    func subscriberClosed() { subscribers.decrement() }

    func subscriberLag(_ events: Int64) { lag.record(events) }
}
