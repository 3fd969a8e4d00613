import EventStore
import EventStorePostgres
import Foundation

/// Appends per second on PostgreSQL beside SQLite, at the same concurrency in the same run. Each
/// measurement writes to a schema of its own, `bench_<id>`, left for the caller to drop.
enum PostgresBenchmark {
    static func compare(
        url: String, root: URL, workloads: [AppendBenchmark.Workload], appenders: [Int], seconds: Double
    ) async throws {
        print(
            "PostgreSQL (\(PostgresEventStore.Configuration(url: url).redactedURL)) beside SQLite, single-event appends,"
        )
        print("every one acknowledged only once durable (synchronous_commit on; SQLite synchronous=FULL):")
        for workload in workloads {
            print("workload \(workload.rawValue):")
            for count in appenders {
                let sqlite = try await AppendBenchmark.run(
                    directory: root.appendingPathComponent("pg-compare-\(workload.rawValue)-\(count)"),
                    workload: workload, appenders: count, seconds: seconds)
                let schema = "bench_\(UUID().lowercasedText.prefix(8))"
                let store = try await PostgresEventStore.open(
                    .init(url: url, schema: schema, maxConnections: min(max(count, 4), 32)))
                let postgres = try await AppendBenchmark.run(
                    store, workload: workload, appenders: count, seconds: seconds)
                print(
                    String(
                        format:
                            "  %4d appenders: PostgreSQL %8.0f appends/s (p50 %7.1f µs, p99 %8.1f µs, CPU %6.1f µs here)"
                            + " | SQLite %8.0f appends/s (p50 %7.1f µs) | ratio %.2f",
                        count, postgres.eventsPerSecond, postgres.p50Microseconds, postgres.p99Microseconds,
                        postgres.cpuMicrosecondsPerEvent, sqlite.eventsPerSecond, sqlite.p50Microseconds,
                        postgres.eventsPerSecond / max(sqlite.eventsPerSecond, 1)))
            }
        }
    }
}
