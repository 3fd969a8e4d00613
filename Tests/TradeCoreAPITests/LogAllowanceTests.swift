import Testing

@testable import TradeCoreAPI

@Suite struct LogAllowanceTests {
    @Test func aFewLinesASecondAndTheNextOneCountsThoseLeftOut() {
        let allowance = LogAllowance(perSecond: 3)
        let now = ContinuousClock.now
        #expect((0..<5).map { _ in allowance.admit(at: now) } == [0, 0, 0, nil, nil])
        let later = now + .seconds(1)
        #expect(allowance.admit(at: later) == 2, "the two left out are said")
        #expect(allowance.admit(at: later) == 0)
    }
}
