import Foundation

/// The machine's CPU time as Linux counts it on the first line of `/proc/stat`, in clock ticks:
/// all of it, and the part stolen (time a virtual CPU was ready to run while the hypervisor ran
/// something else).
///
/// A benchmark on a virtual machine reads a different machine when its host is busy: on this
/// project's build machine the same binary ran at half its rate under 20% steal. The benchmarks
/// print the steal over each measurement beside its figures, so a figure can be judged by the
/// conditions it was taken in.
public struct HostCPUTimes: Sendable, Equatable {
    /// Ticks of every kind (user, nice, system, idle, iowait, irq, softirq, steal).
    public let total: UInt64
    /// Ticks stolen by the hypervisor.
    public let steal: UInt64

    public init(total: UInt64, steal: UInt64) {
        self.total = total
        self.steal = steal
    }

    /// Reads the aggregate `cpu` line of `/proc/stat` text; nil when there is none, or it has fewer
    /// than the eight counters up to steal, or one is not a number. The guest counters after steal
    /// are already counted in user and nice time, so they are left out of the total.
    public init?(procStat text: String) {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ").dropFirst().prefix(8)
        var counters: [UInt64] = []
        for field in fields {
            guard let value = UInt64(field) else { return nil }
            counters.append(value)
        }
        guard counters.count == 8 else { return nil }
        var total: UInt64 = 0
        for value in counters {
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow else { return nil }
            total = sum
        }
        self.init(total: total, steal: counters[7])
    }

    /// The machine's counters now; nil where `/proc/stat` cannot be read (not Linux).
    public static func now() -> HostCPUTimes? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return HostCPUTimes(procStat: text)
    }

    /// The share of the CPU time since `earlier` that was stolen, in percent; nil when no time
    /// passed or a counter went backwards (a different machine's reading).
    public func stealPercent(since earlier: HostCPUTimes) -> Double? {
        guard total > earlier.total, steal >= earlier.steal else { return nil }
        return Double(steal - earlier.steal) * 100 / Double(total - earlier.total)
    }
}

/// The steal over a stretch of time, taken from its start: `"host steal 3.2%"`, or
/// `"host steal unknown"` where it cannot be read.
public struct HostStealMeter: Sendable {
    private let start = HostCPUTimes.now()

    public init() {}

    /// The steal since this meter was made, as a benchmark prints it.
    public var summary: String {
        guard let start, let now = HostCPUTimes.now(), let percent = now.stealPercent(since: start) else {
            return "host steal unknown"
        }
        return String(format: "host steal %.1f%%", percent)
    }
}
