import BenchmarkSupport
import Testing

@Suite struct HostCPUTests {
    @Test func readsTheTotalAndTheStealOfTheAggregateLine() throws {
        let text = """
            cpu  100 2 30 400 5 0 6 57 9 0
            cpu0 50 1 15 200 2 0 3 28 0 0
            intr 12345
            """
        let times = try #require(HostCPUTimes(procStat: text))
        // user nice system idle iowait irq softirq steal; the guest counters are not added.
        #expect(times == HostCPUTimes(total: 600, steal: 57))
    }

    @Test func refusesTextWithoutAUsableAggregateLine() {
        #expect(HostCPUTimes(procStat: "") == nil)
        #expect(HostCPUTimes(procStat: "cpu0 1 2 3 4 5 6 7 8\n") == nil)
        #expect(HostCPUTimes(procStat: "cpu  1 2 3 4 5 6 7\n") == nil)
        #expect(HostCPUTimes(procStat: "cpu  1 2 3 x 5 6 7 8\n") == nil)
        #expect(HostCPUTimes(procStat: "cpu  18446744073709551615 1 0 0 0 0 0 0\n") == nil)
    }

    @Test func stealIsTheStolenShareOfTheTimeBetweenTwoReadings() throws {
        let before = HostCPUTimes(total: 1_000, steal: 10)
        let after = HostCPUTimes(total: 1_400, steal: 90)
        #expect(after.stealPercent(since: before) == 20)
        #expect(before.stealPercent(since: before) == nil)
        #expect(before.stealPercent(since: after) == nil)
    }

    @Test func thisMachineReadsOrSaysItCannot() async throws {
        #if os(Linux)
            #expect(HostCPUTimes.now() != nil)
            let meter = HostStealMeter()
            // The counters move in clock ticks (10 ms on every CPU): wait until they have, within 30 s.
            let deadline = ContinuousClock.now + .seconds(30)
            var summary = meter.summary
            while summary == "host steal unknown", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
                summary = meter.summary
            }
            #expect(summary.wholeMatch(of: /host steal \d+\.\d%/) != nil, "\(summary)")
        #else
            #expect(HostStealMeter().summary == "host steal unknown")
        #endif
    }
}
