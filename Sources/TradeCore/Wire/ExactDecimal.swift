/// An exact decimal number: a coefficient and a count of fraction digits, for money, prices and
/// quantities. Never a binary float.
///
/// Values are kept normalized (no trailing zero fraction digits), so equal numbers have equal
/// representations: `==`, hashing and the canonical string all agree. At most
/// ``maxDigits`` significant digits and ``maxScale`` fraction digits are representable; arithmetic
/// that would leave that range returns `nil` instead of trapping or rounding.
///
/// The canonical string, the only form the wire accepts: an optional `-`, the integer digits
/// without leading zeros (`0` alone for zero), then optionally `.` and fraction digits that do not
/// end in `0`. So `100`, `150.25`, `0.5`, `-3.1`; never `1e2`, `+1`, `01`, `1.0`, `1.`, `.5` or `-0`.
public struct ExactDecimal: Sendable, Hashable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    /// The largest number of significant digits.
    public static let maxDigits = 38
    /// The largest number of fraction digits.
    public static let maxScale = 38

    /// The value times 10^scale. Never ends in a zero digit when `scale > 0`.
    public let coefficient: Int128
    /// The number of fraction digits, 0...38.
    public let scale: Int

    /// Zero.
    public static let zero = ExactDecimal(normalized: 0, scale: 0)

    private init(normalized coefficient: Int128, scale: Int) {
        self.coefficient = coefficient
        self.scale = scale
    }

    /// Creates `coefficient × 10^-scale`, dropping trailing zero fraction digits; nil when the
    /// scale or the number of digits is out of range.
    public init?(coefficient: Int128, scale: Int) {
        guard scale >= 0 else { return nil }
        var coefficient = coefficient
        var scale = scale
        while scale > 0 && coefficient % 10 == 0 {
            coefficient /= 10
            scale -= 1
        }
        guard scale <= Self.maxScale, coefficient.magnitude < Self.digitLimit else { return nil }
        self.init(normalized: coefficient, scale: scale)
    }

    /// An integer value.
    public init(_ value: Int64) {
        self.init(normalized: Int128(value), scale: 0)
    }

    /// Parses the canonical form; nil for anything else.
    public init?(_ description: String) {
        var description = description
        guard let value = description.withUTF8({ ExactDecimal(canonicalUTF8: UnsafeRawBufferPointer($0)) }) else {
            return nil
        }
        self = value
    }

    /// Parses the canonical form from UTF-8 bytes; nil for anything else. Does not allocate.
    public init?(canonicalUTF8 bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        var negative = false
        if index < count && bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        // Integer part: "0" alone, or a non-zero digit followed by digits.
        guard index < count, Self.isDigit(bytes[index]) else { return nil }
        var coefficient: Int128 = 0
        var digits = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < count && Self.isDigit(bytes[index]) { return nil }
        } else {
            while index < count && Self.isDigit(bytes[index]) {
                digits += 1
                guard digits <= Self.maxDigits else { return nil }
                coefficient = coefficient * 10 + Int128(bytes[index] - UInt8(ascii: "0"))
                index += 1
            }
        }
        var scale = 0
        if index < count {
            guard bytes[index] == UInt8(ascii: ".") else { return nil }
            index += 1
            guard index < count else { return nil }
            while index < count {
                let byte = bytes[index]
                guard Self.isDigit(byte) else { return nil }
                scale += 1
                guard scale <= Self.maxScale else { return nil }
                // Leading zeros of "0.00…" are not significant digits.
                if digits > 0 || byte != UInt8(ascii: "0") { digits += 1 }
                guard digits <= Self.maxDigits else { return nil }
                coefficient = coefficient * 10 + Int128(byte - UInt8(ascii: "0"))
                index += 1
            }
            // "1.0" and "1.50" are not canonical: the last fraction digit must not be zero.
            guard bytes[count - 1] != UInt8(ascii: "0") else { return nil }
        }
        if negative {
            guard coefficient != 0 else { return nil }
            coefficient = -coefficient
        }
        self.init(normalized: coefficient, scale: scale)
    }

    /// The canonical string.
    public var description: String {
        let magnitude = coefficient.magnitude
        let digits = String(magnitude)
        let sign = coefficient < 0 ? "-" : ""
        guard scale > 0 else { return sign + digits }
        if digits.count > scale {
            let split = digits.index(digits.endIndex, offsetBy: -scale)
            return sign + digits[..<split] + "." + digits[split...]
        }
        return sign + "0." + String(repeating: "0", count: scale - digits.count) + digits
    }

    /// Whether the value is below zero.
    public var isNegative: Bool { coefficient < 0 }
    /// Whether the value is zero.
    public var isZero: Bool { coefficient == 0 }

    /// The sum, or nil when it has more than ``maxDigits`` digits.
    public func adding(_ other: ExactDecimal) -> ExactDecimal? {
        let scale = max(self.scale, other.scale)
        guard let lhs = Self.rescale(coefficient, from: self.scale, to: scale),
            let rhs = Self.rescale(other.coefficient, from: other.scale, to: scale)
        else { return nil }
        let (sum, overflow) = lhs.addingReportingOverflow(rhs)
        guard !overflow else { return nil }
        return ExactDecimal(coefficient: sum, scale: scale)
    }

    /// The difference, or nil when it has more than ``maxDigits`` digits.
    public func subtracting(_ other: ExactDecimal) -> ExactDecimal? {
        adding(ExactDecimal(normalized: -other.coefficient, scale: other.scale))
    }

    /// The exact product, or nil when it needs more than ``maxDigits`` digits or ``maxScale``
    /// fraction digits.
    public func multiplied(by other: ExactDecimal) -> ExactDecimal? {
        let (product, overflow) = coefficient.multipliedReportingOverflow(by: other.coefficient)
        guard !overflow else { return nil }
        return ExactDecimal(coefficient: product, scale: scale + other.scale)
    }

    public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool {
        if lhs.scale == rhs.scale { return lhs.coefficient < rhs.coefficient }
        let scale = max(lhs.scale, rhs.scale)
        // Scaling up can overflow only for the operand with more integer digits, whose sign
        // then decides: its magnitude exceeds anything the other can hold.
        guard let left = rescale(lhs.coefficient, from: lhs.scale, to: scale) else { return lhs.coefficient < 0 }
        guard let right = rescale(rhs.coefficient, from: rhs.scale, to: scale) else { return rhs.coefficient > 0 }
        return left < right
    }

    // 10^38: one more than the largest coefficient magnitude allowed.
    private static let digitLimit: UInt128 = powersOfTen[maxDigits].magnitude

    private static let powersOfTen: [Int128] = {
        var powers: [Int128] = [1]
        for _ in 0..<maxScale { powers.append(powers[powers.count - 1] * 10) }
        return powers
    }()

    private static func rescale(_ coefficient: Int128, from scale: Int, to target: Int) -> Int128? {
        let (value, overflow) = coefficient.multipliedReportingOverflow(by: powersOfTen[target - scale])
        return overflow ? nil : value
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
