import ArgumentParser
import BenchmarkSupport
import CJemalloc
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

    @Flag(
        help:
            "With --domain: the commands on the in-memory store instead, alone: the domain's CPU per command without a disk's."
    )
    var inMemory = false

    @Option(
        help:
            "With --domain: seconds of each slice; the store's appends and the commands take turns, a slice each, for --seconds each."
    )
    var slice: Double = 0.5

    @Option(
        help:
            "With --domain: microseconds of CPU work (a busy wait) the store's appenders do between appends, as a command's own work would (default: none, back to back)."
    )
    var think: Int = 0

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
        print("malloc: \(tradecore_jemalloc_version().map { "jemalloc " + String(cString: $0) } ?? "not jemalloc")")
        if domain, inMemory {
            try await measureDomainInMemory()
            return
        }
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
                let steal = HostStealMeter()
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
                            + "%d events, %d transactions, CPU %.1f µs/event | %@",
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
                        result.cpuMicrosecondsPerEvent,
                        steal.summary as NSString
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

    /// Each command at each concurrency on the in-memory store, for `seconds`: the rate and the CPU
    /// per command of the bus, the handler, the aggregate and the codecs, with no disk to wait for.
    private func measureDomainInMemory() async throws {
        print("commands through the bus (no client command id) on the in-memory store, \(seconds) s each")
        for command in try chosenCommands() {
            for count in appenders {
                var callers = try await DomainBenchmark.Callers.open(directory: nil, command: command, callers: count)
                // A first slice warms up and is not counted.
                _ = try await callers.run(until: .now + .milliseconds(300))
                let steal = HostStealMeter()
                let sent = try await Tally.measure {
                    try await callers.run(until: .now + .milliseconds(Int64(seconds * 1_000)))
                }
                print(
                    String(
                        format: "%-11@ %4d callers: %8.0f commands/s (p50 %6.1f µs, CPU %5.1f µs) | %@",
                        command.rawValue as NSString, count, sent.perSecond, sent.percentileMicroseconds(0.5),
                        sent.cpuMicrosecondsEach, steal.summary as NSString))
            }
        }
    }

    private func chosenCommands() throws -> [DomainBenchmark.Command] {
        try commands.map { name in
            guard let command = DomainBenchmark.Command(rawValue: name) else {
                throw ValidationError("unknown command \(name); choose from CreateOrder, AddFill")
            }
            return command
        }
    }

    /// Each command at each concurrency beside the store's appends of the same shape, the two
    /// taking turns in slices of `slice` seconds until each has run `seconds`. The disk's fsync
    /// times drift by a third or more over seconds (the host's other I/O, the WAL's checkpoints), so
    /// a measurement made after another compares two disks; in turns, both see the same one. A
    /// first pair of slices warms both up and is not counted. The ratio is of the totals; the
    /// spread of the pairs' ratios is printed beside it.
    private func compareDomain(_ root: URL) async throws {
        guard slice > 0, seconds >= slice else {
            throw ValidationError("--slice must be above 0 and at most --seconds")
        }
        guard (0...1_000_000).contains(think) else { throw ValidationError("--think must be 0 to 1000000 µs") }
        print(
            "commands through the bus (no client command id) beside the store's appends at the same concurrency, "
                + "in turns of \(slice) s for \(seconds) s each"
                + (think > 0 ? "; the appenders work \(think) µs between appends" : ""))
        let chosen = try chosenCommands()
        let slices = max(Int((seconds / slice).rounded()), 1)
        let sliceDuration = Duration.milliseconds(Int64(slice * 1_000))
        for command in chosen {
            for count in appenders {
                let storeDirectory = root.appendingPathComponent("store-\(command.rawValue)-\(count)")
                let domainDirectory = root.appendingPathComponent("domain-\(command.rawValue)-\(count)")
                let store = try await SQLiteEventStore.open(.init(directory: storeDirectory))
                var callers = try await DomainBenchmark.Callers.open(
                    directory: domainDirectory, command: command, callers: count)
                var appending = try AppendBenchmark.Appenders(
                    store, workload: command.baseline, count: count, think: .microseconds(think),
                    event: try await callers.sampleEvent(), streamLength: Int64(DomainBenchmark.Callers.fillsPerOrder))
                // Opened with a directory, so on SQLite.
                guard let domainStore = callers.store as? SQLiteEventStore else {
                    preconditionFailure("the domain's callers were opened on another store")
                }
                var appends = Tally()
                var commands = Tally()
                var ratios: [Double] = []
                var steal = HostStealMeter()
                for turn in 0...slices {
                    let appended = try await Tally.measure(transactions: { store.writerStatistics.transactions }) {
                        try await appending.run(until: .now + sliceDuration)
                    }
                    let sent = try await Tally.measure(transactions: { domainStore.writerStatistics.transactions }) {
                        try await callers.run(until: .now + sliceDuration)
                    }
                    guard turn > 0 else {
                        steal = HostStealMeter()
                        continue
                    }
                    appends.add(appended)
                    commands.add(sent)
                    ratios.append(sent.perSecond / max(appended.perSecond, 1))
                }
                await store.close()
                await domainStore.close()
                try? FileManager.default.removeItem(at: storeDirectory)
                try? FileManager.default.removeItem(at: domainDirectory)
                ratios.sort()
                print(
                    String(
                        format:
                            "%-11@ %4d callers: %7.0f commands/s (mean %7.1f µs, p50 %7.1f, p99 %8.1f, CPU %5.1f µs, %5.1f/commit, "
                            + "%5.0f B written, %4.1f waits) | store %@ %7.0f appends/s (mean %7.1f µs, p50 %7.1f, "
                            + "p99 %8.1f, CPU %5.1f µs, %5.1f/commit, %5.0f B written, %4.1f waits) "
                            + "| ratio %.2f "
                            + "(%d turns: lowest %.2f, median %.2f, highest %.2f) | %@",
                        command.rawValue as NSString, count, commands.perSecond, commands.meanMicroseconds,
                        commands.percentileMicroseconds(0.5), commands.percentileMicroseconds(0.99),
                        commands.cpuMicrosecondsEach, commands.operationsPerCommit, commands.writtenBytesEach,
                        commands.contextSwitchesEach, command.baseline.rawValue as NSString, appends.perSecond,
                        appends.meanMicroseconds,
                        appends.percentileMicroseconds(0.5), appends.percentileMicroseconds(0.99),
                        appends.cpuMicrosecondsEach, appends.operationsPerCommit, appends.writtenBytesEach,
                        appends.contextSwitchesEach,
                        commands.perSecond / max(appends.perSecond, 1), ratios.count, ratios.first ?? 0,
                        ratios.isEmpty ? 0 : ratios[ratios.count / 2], ratios.last ?? 0, steal.summary as NSString))
            }
        }
    }
}
