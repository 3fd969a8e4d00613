import Metrics

/// A store writer's metrics, through swift-metrics (the server exposes them as Prometheus text),
/// the same for every backend: `tradecore_store_commit_seconds` (how long each commit took to write
/// and make durable), `tradecore_store_appends_total` (appends committed) and
/// `tradecore_store_appends_per_commit` (how many appends shared a commit).
package struct StoreWriterMetrics: Sendable {
    package let commit = Timer(label: "tradecore_store_commit_seconds")
    package let appends = Counter(label: "tradecore_store_appends_total")
    package let appendsPerCommit = Recorder(label: "tradecore_store_appends_per_commit")

    package init() {}

    /// Records one commit of `appends` appends that took `duration`.
    package func committed(_ appends: Int, in duration: Duration) {
        commit.recordNanoseconds(duration.nanoseconds)
        self.appends.increment(by: appends)
        appendsPerCommit.record(appends)
    }
}
