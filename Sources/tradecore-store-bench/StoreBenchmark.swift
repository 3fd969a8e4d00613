import ArgumentParser
import EventStore
import EventStoreSQLite
import Foundation
import Logging

/// Measures the SQLite event store with fsync on, beside the raw fsync rate of the same disk.
///
/// Run it in release mode: `swift run -c release tradecore-store-bench`. Absolute figures drift
/// on shared machines; the ratios printed (appends vs fsync, load times) are what to compare.
@main
struct StoreBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradecore-store-bench",
        abstract: "Appends/s at 1/16/256 concurrent appenders with fsync on, raw fsync rate, aggregate load times."
    )

    @Option(help: "Directory for the benchmark's files (the disk under test). Emptied of earlier runs' files.")
    var directory: String = ".data/store-bench"

    @Option(help: "Seconds per measurement.")
    var seconds: Double = 5

    @Option(parsing: .upToNextOption, help: "Concurrent appenders to measure.")
    var appenders: [Int] = [1, 16, 256]

    @Option(
        parsing: .upToNextOption,
        help: "Append workloads: new-streams (each append creates a stream), hot-streams (one stream per appender).")
    var workloads: [String] = AppendBenchmark.Workload.allCases.map(\.rawValue)

    @Option(help: "Events in the long stream of the load measurement.")
    var loadEvents: Int = 100_000

    @Option(help: "Snapshot interval (events) in the load measurement.")
    var snapshotEvery: Int64 = 100

    @Option(help: "Loads timed per stream.")
    var loads: Int = 500

    @Flag(
        help:
            "Instead: CreateOrder and AddFill through the command bus, each beside the store's append rate for the same write."
    )
    var domain = false

    @Option(help: "With --domain: the commands to measure (CreateOrder, AddFill).")
    var commands: [String] = DomainBenchmark.Command.allCases.map(\.rawValue)

    @Option(
        help:
            "With --domain: rounds of each measurement, each the store's appends then the commands; the round with the median ratio is reported."
    )
    var rounds: Int = 3

    @Option(help: "Instead: appends on the PostgreSQL database at this URL beside SQLite, at the same concurrency.")
    var postgresURL: String?

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let root = URL(fileURLWithPath: directory, isDirectory: true)
        try? FileManager.default.removeItem(at: root)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        print("directory: \(root.path)")
        if domain {
            try await compareDomain(root)
            return
        }
        if let postgresURL {
            let chosen = try workloads.map { name in
                guard let workload = AppendBenchmark.Workload(rawValue: name) else {
                    throw ValidationError("unknown workload \(name)")
                }
                return workload
            }
            try await PostgresBenchmark.compare(
                url: postgresURL, root: root, workloads: chosen, appenders: appenders, seconds: seconds)
            return
        }

        print("each row: the fsync probes (256-byte write + fsync, appending and overwriting) run just before")
        print("and after it; the ratios compare the mean append latency with their average")
        for workloadName in workloads {
            guard let workload = AppendBenchmark.Workload(rawValue: workloadName) else {
                throw ValidationError("unknown workload \(workloadName)")
            }
            print("workload \(workload.rawValue):")
            for count in appenders {
                let before = try await FsyncProbe.measureBoth(in: root, seconds: 1)
                let result = try await AppendBenchmark.run(
                    directory: root.appendingPathComponent("\(workload.rawValue)-\(count)"),
                    workload: workload,
                    appenders: count,
                    seconds: seconds
                )
                let after = try await FsyncProbe.measureBoth(in: root, seconds: 1)
                let appendFsync = (before.append.microseconds + after.append.microseconds) / 2
                let overwriteFsync = (before.overwrite.microseconds + after.overwrite.microseconds) / 2
                print(
                    String(
                        format: "%4d appenders: %7.0f events/s | latency mean %7.1f µs p50 %7.1f p99 %8.1f | "
                            + "fsync append %6.1f µs (%.2f×) overwrite %6.1f µs (%.2f×) | "
                            + "%d events, %d transactions, CPU %.1f µs/event",
                        count,
                        result.eventsPerSecond,
                        result.meanMicroseconds,
                        result.p50Microseconds,
                        result.p99Microseconds,
                        appendFsync,
                        result.meanMicroseconds / appendFsync,
                        overwriteFsync,
                        result.meanMicroseconds / overwriteFsync,
                        result.events,
                        result.transactions,
                        result.cpuMicrosecondsPerEvent
                    )
                )
            }
        }

        let load = try await LoadBenchmark.run(
            directory: root.appendingPathComponent("load"),
            longStreamEvents: loadEvents,
            snapshotEvery: snapshotEvery,
            loads: loads
        )
        for line in load { print(line) }
    }

    /// Each command at each concurrency right after the store's appends of the same shape, in
    /// `rounds` pairs: one pair's ratio moves by a tenth or more from run to run (the disk's fsync
    /// times, when the WAL is checkpointed), so the pair with the median ratio is reported beside
    /// every pair's ratio.
    private func compareDomain(_ root: URL) async throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        print("commands through the bus (no client command id) beside the store's appends at the same concurrency")
        let chosen = try commands.map { name in
            guard let command = DomainBenchmark.Command(rawValue: name) else {
                throw ValidationError("unknown command \(name); choose from CreateOrder, AddFill")
            }
            return command
        }
        for command in chosen {
            for count in appenders {
                var pairs: [(store: AppendBenchmark.Result, domain: DomainBenchmark.Result, ratio: Double)] = []
                for round in 1...rounds {
                    let storeDirectory = root.appendingPathComponent("store-\(command.rawValue)-\(count)-\(round)")
                    let domainDirectory = root.appendingPathComponent("domain-\(command.rawValue)-\(count)-\(round)")
                    let store = try await AppendBenchmark.run(
                        directory: storeDirectory, workload: command.baseline, appenders: count, seconds: seconds)
                    let domain = try await DomainBenchmark.run(
                        directory: domainDirectory, command: command, callers: count, seconds: seconds)
                    try? FileManager.default.removeItem(at: storeDirectory)
                    try? FileManager.default.removeItem(at: domainDirectory)
                    pairs.append((store, domain, domain.commandsPerSecond / store.eventsPerSecond))
                }
                let (store, domain, ratio) = pairs.sorted { $0.ratio < $1.ratio }[(pairs.count - 1) / 2]
                let all = pairs.map { String(format: "%.2f", $0.ratio) }.joined(separator: " ")
                print(
                    String(
                        format:
                            "%-11@ %4d callers: %7.0f commands/s (p50 %7.1f µs, p99 %8.1f, CPU %5.1f µs, %5.1f/commit) | store %@ "
                            + "%7.0f appends/s (p50 %7.1f µs, CPU %5.1f µs, %5.1f/commit) | ratio %.2f (rounds: %@)",
                        command.rawValue as NSString, count, domain.commandsPerSecond, domain.p50Microseconds,
                        domain.p99Microseconds, domain.cpuMicrosecondsPerCommand, domain.commandsPerCommit,
                        command.baseline.rawValue as NSString, store.eventsPerSecond, store.p50Microseconds,
                        store.cpuMicrosecondsPerEvent, Double(store.events) / Double(max(store.transactions, 1)), ratio,
                        all as NSString))
            }
        }
    }
}
