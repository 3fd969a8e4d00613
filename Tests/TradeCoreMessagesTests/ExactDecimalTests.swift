import Testing
import TradeCoreMessages

@Suite struct ExactDecimalTests {
    @Test(arguments: [
        "0", "1", "-1", "100", "150.25", "0.5", "-3.1", "0.001", "10.01",
        "99999999999999999999999999999999999999", "-99999999999999999999999999999999999999",
        "0.00000000000000000000000000000000000001", "9999999999999999999.9999999999999999999",
        "-0.5", "10000000000000000000", "1000000000000000000", "9999999999999999999", "12345678901234567890",
        "1.0000000000000000001", "-1000000000000000000.0000000000000000001", "100000000000000000000000000000000000",
    ])
    func canonicalStringsRoundTrip(_ text: String) throws {
        let value = try #require(ExactDecimal(text))
        #expect(value.description == text)
    }

    @Test(arguments: [
        "", "-", "+1", "01", "00", "-0", "-0.0", "1.0", "1.50", "1.", ".5", "1e2", "1E2", " 1", "1 ", "1,5",
        "0x10", "١", "1.2.3", "--1", "Infinity", "NaN",
        "100000000000000000000000000000000000000",  // 39 digits
        "0.000000000000000000000000000000000000001",  // 39 fraction digits
        "1.00000000000000000000000000000000000001",  // 38 fraction digits but 39 significant
    ])
    func nonCanonicalStringsAreRejected(_ text: String) {
        #expect(ExactDecimal(text) == nil)
    }

    @Test func coefficientAndScaleAreNormalized() throws {
        let value = try #require(ExactDecimal(coefficient: 15000, scale: 2))
        #expect(value.description == "150")
        #expect(value == ExactDecimal(150))
        #expect(value.hashValue == ExactDecimal(150).hashValue)
        #expect(ExactDecimal(coefficient: 1, scale: 39) == nil)
        #expect(ExactDecimal(coefficient: 0, scale: .max) == .zero, "zero at any scale, at once")
        #expect(ExactDecimal(coefficient: 7, scale: .max) == nil)
        #expect(ExactDecimal(coefficient: 10, scale: 39)?.description == "0.00000000000000000000000000000000000001")
        #expect(ExactDecimal(coefficient: 1, scale: -1) == nil)
        #expect(ExactDecimal(coefficient: .max, scale: 0) == nil)
        #expect(ExactDecimal(coefficient: .min, scale: 0) == nil)
    }

    @Test func comparisonIsExactAcrossScalesAndNeverOverflows() throws {
        let values = try [
            "-99999999999999999999999999999999999999", "-1", "-0.00000000000000000000000000000000000001", "0",
            "0.00000000000000000000000000000000000001", "0.5", "1", "1.0000000000000000000000000000000000001",
            "150.25", "99999999999999999999999999999999999999",
        ].map { try #require(ExactDecimal($0)) }
        for (i, lhs) in values.enumerated() {
            for (j, rhs) in values.enumerated() {
                #expect((lhs < rhs) == (i < j), "\(lhs) < \(rhs)")
                #expect((lhs == rhs) == (i == j))
            }
        }
    }

    @Test func additionIsExactOrReportsOverflow() throws {
        let a = try #require(ExactDecimal("150.25"))
        let b = try #require(ExactDecimal("0.75"))
        #expect(a.adding(b)?.description == "151")
        #expect(a.subtracting(a) == .zero)
        #expect(b.subtracting(a)?.description == "-149.5")
        let max = try #require(ExactDecimal("99999999999999999999999999999999999999"))
        #expect(max.adding(ExactDecimal(1)) == nil)
        #expect(max.adding(ExactDecimal(-1))?.description == "99999999999999999999999999999999999998")
        // Aligning scales would need more digits than exist.
        #expect(max.adding(try #require(ExactDecimal("0.1"))) == nil)
    }

    @Test func multiplicationIsExactOrReportsOverflow() throws {
        let price = try #require(ExactDecimal("150.25"))
        let quantity = try #require(ExactDecimal("0.4"))
        #expect(price.multiplied(by: quantity)?.description == "60.1")
        let big = try #require(ExactDecimal("10000000000000000000000"))
        #expect(big.multiplied(by: big) == nil)
        let tiny = try #require(ExactDecimal("0.00000000000000000001"))
        #expect(tiny.multiplied(by: tiny) == nil)
    }

    @Test func randomValuesRoundTripThroughTheirString() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let coefficient =
                Int128(Int64.random(in: .min ... .max, using: &generator))
                * Int128(Int64.random(in: -9_999_999...9_999_999, using: &generator))
            guard let value = ExactDecimal(coefficient: coefficient, scale: Int.random(in: 0...38, using: &generator))
            else {
                continue
            }
            #expect(ExactDecimal(value.description) == value)
        }
    }

    @Test func divisionRoundsHalfToEven() throws {
        func quotient(_ a: String, _ b: String, scale: Int) -> String? {
            guard let a = ExactDecimal(a), let b = ExactDecimal(b) else { return "bad operand" }
            return a.divided(by: b, scale: scale)?.description
        }
        #expect(quotient("10", "4", scale: 1) == "2.5")
        #expect(quotient("10", "4", scale: 0) == "2")  // 2.5 -> 2, the even neighbour
        #expect(quotient("14", "4", scale: 0) == "4")  // 3.5 -> 4
        #expect(quotient("-10", "4", scale: 0) == "-2")
        #expect(quotient("-14", "4", scale: 0) == "-4")
        #expect(quotient("1", "3", scale: 8) == "0.33333333")
        #expect(quotient("2", "3", scale: 8) == "0.66666667")
        #expect(quotient("15025.5", "100", scale: 8) == "150.255")
        #expect(quotient("0.000001", "1000000000000000000000000000000", scale: 8) == "0")
        #expect(quotient("1", "0", scale: 2) == nil)
        #expect(quotient("1", "1", scale: 39) == nil)
        #expect(quotient("99999999999999999999999999999999999999", "0.1", scale: 0) == nil)
        // Exact quotients are exact at any scale that holds them.
        #expect(quotient("7.5", "2.5", scale: 8) == "3")
    }
}
