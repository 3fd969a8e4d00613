/// The `grpc-timeout` header: at most eight ASCII digits followed by a unit
/// (`H` hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds, `n` nanoseconds).
enum GRPCTimeout {
    /// Parses a header value into nanoseconds, or nil if it is not well-formed.
    static func parse(_ value: Substring) -> Int64? {
        guard let unit = value.last, value.count >= 2, value.count <= 9 else { return nil }
        let digits = value.dropLast()
        var amount: Int64 = 0
        for byte in digits.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        let nanosPerUnit: Int64
        switch unit {
        case "H": nanosPerUnit = 3_600_000_000_000
        case "M": nanosPerUnit = 60_000_000_000
        case "S": nanosPerUnit = 1_000_000_000
        case "m": nanosPerUnit = 1_000_000
        case "u": nanosPerUnit = 1_000
        case "n": nanosPerUnit = 1
        default: return nil
        }
        // Eight digits of hours (3.6e20 ns) do not fit in Int64: saturate, it means "never".
        let (product, overflow) = amount.multipliedReportingOverflow(by: nanosPerUnit)
        return overflow ? Int64.max : product
    }

    /// Formats a non-negative timeout with the finest unit whose amount fits eight digits,
    /// rounding up so the peer never sees a shorter deadline than ours.
    static func format(nanoseconds: Int64) -> String {
        let value = max(nanoseconds, 0)
        let units: [(Int64, Character)] = [
            (1, "n"), (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S"),
            (60_000_000_000, "M"), (3_600_000_000_000, "H"),
        ]
        for (size, symbol) in units {
            let amount = value / size + (value % size == 0 ? 0 : 1)
            if amount <= 99_999_999 { return "\(amount)\(symbol)" }
        }
        return "99999999H"
    }
}
