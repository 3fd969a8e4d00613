import Foundation
import TradeCoreMessages

/// Checks of single values that several aggregates share. Each throws a ``DomainError`` naming the
/// request field.
enum Rules {
    /// The longest free text (a reason, a name) a command may carry.
    static let maxTextLength = 500

    /// A ticker as exchanges and brokers write it: 1 to 16 characters, uppercase letters and digits,
    /// with `.`, `-` or `/` between them (`AAPL`, `BRK.B`, `BTC-USD`, `ETH/USD`).
    static func symbol(_ symbol: String, field: String = "symbol") throws(DomainError) {
        let bytes = symbol.utf8
        guard !bytes.isEmpty else { throw .invalid(field, "a symbol is required") }
        guard bytes.count <= 16 else { throw .invalid(field, "a symbol has at most 16 characters") }
        // Checked byte by byte without copying: this runs for every order command.
        var index = 0
        for byte in bytes {
            let isAlphanumeric =
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            let isSeparator = byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "/")
            let isInnerSeparator = isSeparator && index > 0 && index < bytes.count - 1
            guard isAlphanumeric || isInnerSeparator else {
                throw .invalid(
                    field, "\"\(symbol)\" is not a symbol: use uppercase letters and digits, with . - or / between them"
                )
            }
            index += 1
        }
    }

    /// A value above zero.
    static func positive(_ value: ExactDecimal, field: String) throws(DomainError) {
        guard value > .zero else { throw .invalid(field, "must be greater than zero, not \(value)") }
    }

    /// The most decimal places an order's quantity or price has: a hundred-millionth, as crypto
    /// quantities go (share prices use two to four).
    static let maxAmountScale = 8
    /// Order quantities stay below a trillion units.
    static let quantityBound = ExactDecimal(1_000_000_000_000)
    /// Prices stay below ten billion.
    static let priceBound = ExactDecimal(10_000_000_000)

    /// Why `value` is no order quantity (below ``quantityBound``) or price (below ``priceBound``);
    /// `nil` when it is one. Besides being above zero, it has at most ``maxAmountScale`` decimal
    /// places and stays below its bound. With these, a fill's value (quantity × price) and an
    /// order's filled notional always fit ExactDecimal's 38 digits and are kept exactly: an order
    /// accepted can always record its executions.
    static func amountProblem(
        _ value: ExactDecimal, below bound: ExactDecimal, maxScale: Int = maxAmountScale
    ) -> String? {
        guard value > .zero else { return "must be greater than zero, not \(value)" }
        guard value.scale <= maxScale else {
            return "has at most \(maxScale) decimal places, not \(value.scale) (\(value))"
        }
        guard value < bound else { return "must be below \(bound), not \(value)" }
        return nil
    }

    /// An order quantity (``amountProblem(_:below:maxScale:)``).
    static func quantity(
        _ value: ExactDecimal, field: String = "quantity", maxScale: Int = maxAmountScale
    ) throws(DomainError) {
        if let problem = amountProblem(value, below: quantityBound, maxScale: maxScale) {
            throw .invalid(field, problem)
        }
    }

    /// An order or fill price (``amountProblem(_:below:maxScale:)``).
    static func price(_ value: ExactDecimal, field: String, maxScale: Int = maxAmountScale) throws(DomainError) {
        if let problem = amountProblem(value, below: priceBound, maxScale: maxScale) { throw .invalid(field, problem) }
    }

    /// Options and futures trade in whole contracts: `quantity` of an `asset` has no fraction.
    static func wholeContracts(_ quantity: ExactDecimal, of asset: AssetType, field: String) throws(DomainError) {
        guard asset == .option || asset == .future, quantity.scale > 0 else { return }
        throw .invalid(
            field, "\(asset == .option ? "an option" : "a future") trades in whole contracts, not \(quantity)",
            reason: "FRACTIONAL_CONTRACTS")
    }

    /// Free text: at most `maxLength` characters, no control characters; `required` also refuses
    /// an empty one, or one of only white space (which reads as empty wherever it is shown).
    static func text(
        _ text: String, field: String, maxLength: Int = maxTextLength, required: Bool = false
    ) throws(DomainError) {
        if required && text.isEmpty { throw .invalid(field, "is required") }
        if required && text.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
            throw .invalid(field, "is required: it holds only white space")
        }
        guard text.count <= maxLength else { throw .invalid(field, "has at most \(maxLength) characters") }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(field, "must not contain control characters")
        }
    }

    /// The caller's user owns what it acts on.
    static func owner(_ owner: UUID, is user: UUID, _ kind: String, _ id: UUID, reason: String) throws(DomainError) {
        guard owner == user else { throw .notOwned(kind, id, reason: reason) }
    }
}

extension UUID {
    /// The all-zero UUID: the owner of an aggregate that does not exist yet.
    static let none = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
}
