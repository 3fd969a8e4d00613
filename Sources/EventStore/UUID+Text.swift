import Foundation

extension UUID {
    /// The canonical 8-4-4-4-12 form in lowercase, as stream names, keys and logs spell ids.
    ///
    /// Written by hand: Foundation's `uuidString` formats through printf (and `lowercased()` copies
    /// it again), a measurable cost on paths that run once per command or per event.
    public var lowercasedText: String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            writeLowercasedText(to: buffer, at: 0)
            return 36
        }
    }

    /// Writes ``lowercasedText``'s 36 bytes into `buffer` from `start`, which leaves room for them.
    func writeLowercasedText(to buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
        let digits: StaticString = "0123456789abcdef"
        withUnsafeBytes(of: uuid) { bytes in
            var index = start
            for (offset, byte) in bytes.enumerated() {
                if offset == 4 || offset == 6 || offset == 8 || offset == 10 {
                    buffer[index] = UInt8(ascii: "-")
                    index += 1
                }
                buffer[index] = digits.utf8Start[Int(byte >> 4)]
                buffer[index + 1] = digits.utf8Start[Int(byte & 0x0F)]
                index += 2
            }
        }
    }

    /// Parses the 8-4-4-4-12 form, in either case; `nil` for anything else.
    ///
    /// The same form `UUID(uuidString:)` accepts, without its scanf.
    public init?(canonicalText text: some StringProtocol) {
        // The 32 hex digits, as two 64-bit halves.
        var high: UInt64 = 0
        var low: UInt64 = 0
        var digits = 0
        var offset = 0
        for character in text.utf8 {
            defer { offset += 1 }
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                guard character == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard offset < 36, let nibble = Self.nibble(character) else { return nil }
            if digits < 16 {
                high = high << 4 | UInt64(nibble)
            } else {
                low = low << 4 | UInt64(nibble)
            }
            digits += 1
        }
        guard offset == 36, digits == 32 else { return nil }
        func byte(_ value: UInt64, _ index: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: value >> (56 - 8 * index)) }
        self.init(
            uuid: (
                byte(high, 0), byte(high, 1), byte(high, 2), byte(high, 3),
                byte(high, 4), byte(high, 5), byte(high, 6), byte(high, 7),
                byte(low, 0), byte(low, 1), byte(low, 2), byte(low, 3),
                byte(low, 4), byte(low, 5), byte(low, 6), byte(low, 7)
            ))
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
