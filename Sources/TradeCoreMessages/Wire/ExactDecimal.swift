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
    /// The canonical form in words, for the messages that refuse another.
    public static let canonicalForm =
        "decimal digits with an optional leading '-' and '.', no exponent, no leading zero or trailing "
        + "fraction zero, at most \(maxDigits) significant digits and \(maxScale) after the point (such as 150.25)"

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
        // Zero is zero at any scale (and must not cost a loop of `scale` steps).
        guard coefficient != 0 else {
            self = .zero
            return
        }
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
        withCanonicalUTF8 { String(decoding: $0, as: UTF8.self) }
    }

    /// The longest canonical string: a sign, "0." and 38 fraction digits.
    static let maxCanonicalLength = 41

    /// Calls `body` with the canonical string's UTF-8 bytes, written to a stack buffer: encoding a
    /// decimal does not build a `String`.
    public func withCanonicalUTF8<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        // The first 41 bytes receive the string; the digits are produced into the last 38, least
        // significant first from the end.
        let capacity = Self.maxCanonicalLength + Self.maxDigits
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var position = capacity
            func emitDigit(_ value: inout UInt64) {
                position -= 1
                buffer[position] = UInt8(truncatingIfNeeded: value % 10) + UInt8(ascii: "0")
                value /= 10
            }
            // The magnitude is below 10^38: two 64-bit halves of 19 digits, one 128-bit division.
            let tenToThe19: UInt128 = 10_000_000_000_000_000_000
            let magnitude = coefficient.magnitude
            var low = UInt64(truncatingIfNeeded: magnitude % tenToThe19)
            var high = UInt64(truncatingIfNeeded: magnitude / tenToThe19)
            if high > 0 {
                for _ in 0..<19 { emitDigit(&low) }
                while high > 0 { emitDigit(&high) }
            } else {
                repeat { emitDigit(&low) } while low > 0
            }
            let digitCount = capacity - position

            var length = 0
            func append(_ byte: UInt8) {
                buffer[length] = byte
                length += 1
            }
            if coefficient < 0 { append(UInt8(ascii: "-")) }
            if digitCount <= scale {
                append(UInt8(ascii: "0"))
                append(UInt8(ascii: "."))
                for _ in 0..<(scale - digitCount) { append(UInt8(ascii: "0")) }
                for index in position..<capacity { append(buffer[index]) }
            } else {
                let pointIndex = capacity - scale
                for index in position..<capacity {
                    if index == pointIndex { append(UInt8(ascii: ".")) }
                    append(buffer[index])
                }
            }
            return body(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[0..<length])))
        }
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

    /// The quotient rounded half to even at `scale` fraction digits (0...``maxScale``); nil for a
    /// zero divisor, a scale out of range, or a quotient with more than ``maxDigits`` digits.
    public func divided(by divisor: ExactDecimal, scale: Int) -> ExactDecimal? {
        guard divisor.coefficient != 0, (0...Self.maxScale).contains(scale) else { return nil }
        // coefficient × 10^-self.scale ÷ (divisor.coefficient × 10^-divisor.scale), in units of
        // 10^-scale: the numerator or the denominator takes the powers of ten left over.
        let shift = scale + divisor.scale - self.scale
        var numerator = coefficient
        var denominator = divisor.coefficient
        if shift >= 0 {
            guard shift < Self.powersOfTen.count, let scaled = Self.rescale(numerator, from: 0, to: shift) else {
                return nil
            }
            numerator = scaled
        } else {
            guard -shift < Self.powersOfTen.count, let scaled = Self.rescale(denominator, from: 0, to: -shift) else {
                // The divisor exceeds anything the numerator holds: the quotient rounds to zero.
                return .zero
            }
            denominator = scaled
        }
        var quotient = numerator / denominator
        let remainder = (numerator % denominator).magnitude
        let half = denominator.magnitude - remainder  // compare 2r with d without overflowing
        if remainder > half || (remainder == half && quotient % 2 != 0) {
            quotient += (numerator < 0) != (denominator < 0) ? -1 : 1
        }
        return ExactDecimal(coefficient: quotient, scale: scale)
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

/// Coded as its canonical string, as on the wire (`"150.25"`), never as a binary float.
extension ExactDecimal: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = ExactDecimal(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\"\(text)\" is not a decimal in canonical form: \(Self.canonicalForm)"
            )
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
