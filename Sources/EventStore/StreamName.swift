import Foundation

/// The name of one stream: `<type>-<uuid>`, for example `order-0190f7a4-…`.
///
/// A stream holds the events of one aggregate. The type names the kind of aggregate: 1 to 64
/// lowercase ASCII letters, digits and underscores, starting with a letter. The UUID identifies the
/// aggregate; it is always written in lowercase, so that one aggregate has exactly one stream name
/// (`StreamName("order-0190F7A4-…")` is accepted and names the same stream as the lowercase form).
public struct StreamName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The aggregate type, such as `order`.
    public let type: String
    /// The aggregate identity.
    public let id: UUID
    /// The canonical text form, `<type>-<lowercase uuid>`.
    public let rawValue: String

    /// The longest aggregate type accepted.
    public static let maximumTypeLength = 64

    /// Builds a stream name from its parts, validating the type.
    public init(type: String, id: UUID) throws(EventStoreError) {
        try Self.validateType(type, raw: type)
        self.type = type
        self.id = id
        self.rawValue = Self.text(type: type, id: id)
    }

    /// `<type>-<lowercase uuid>`, written into one new string: concatenating the id's text made
    /// two (a measurable share of a command, which names streams several times).
    private static func text(type: String, id: UUID) -> String {
        var type = type
        return type.withUTF8 { typeBytes in
            String(unsafeUninitializedCapacity: typeBytes.count + 37) { buffer in
                _ = buffer.initialize(fromContentsOf: typeBytes)
                buffer[typeBytes.count] = UInt8(ascii: "-")
                id.writeLowercasedText(to: buffer, at: typeBytes.count + 1)
                return typeBytes.count + 37
            }
        }
    }

    /// Parses `<type>-<uuid>`.
    public init(_ rawValue: String) throws(EventStoreError) {
        // Types cannot contain "-", so the first "-" separates the type from the UUID.
        guard let dash = rawValue.firstIndex(of: "-") else {
            throw .invalidStreamName(rawValue, reason: "expected <type>-<uuid>, found no '-'")
        }
        let type = String(rawValue[..<dash])
        try Self.validateType(type, raw: rawValue)
        let idText = rawValue[rawValue.index(after: dash)...]
        guard let id = UUID(canonicalText: idText) else {
            throw .invalidStreamName(rawValue, reason: "'\(idText)' is not a UUID")
        }
        self.type = type
        self.id = id
        self.rawValue = Self.text(type: type, id: id)
    }

    public var description: String { rawValue }

    public static func < (lhs: StreamName, rhs: StreamName) -> Bool { lhs.rawValue < rhs.rawValue }

    // Equality and hashing use the parts, which the raw value spells one way (a type has no '-',
    // the id is in lowercase): comparing 16 bytes and a short type is cheaper than the text, and
    // every append looks its stream up by name.
    public static func == (lhs: StreamName, rhs: StreamName) -> Bool { lhs.id == rhs.id && lhs.type == rhs.type }

    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// Whether `type` is a valid aggregate type (see the type's documentation).
    public static func isValidType(_ type: String) -> Bool {
        let bytes = type.utf8
        guard let first = bytes.first, (1...maximumTypeLength).contains(bytes.count) else { return false }
        guard (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
    }

    private static func validateType(_ type: String, raw: String) throws(EventStoreError) {
        guard isValidType(type) else {
            throw .invalidStreamName(
                raw,
                reason: "the type '\(type)' must be 1 to \(maximumTypeLength) lowercase letters, digits or '_', "
                    + "starting with a letter"
            )
        }
    }
}
