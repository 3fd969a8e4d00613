/// The type of a field as declared in a `.proto` file.
public enum ProtoFieldType: Sendable, Hashable, CustomStringConvertible {
    case double, float, int32, int64, uint32, uint64, sint32, sint64
    case fixed32, fixed64, sfixed32, sfixed64, bool, string, bytes
    /// An enum, by fully qualified name (`tradecore.common.v1.OrderSide`).
    case enumeration(String)
    /// A message, by fully qualified name.
    case message(String)
    /// `map<key, value>`; on the wire a repeated entry message with the key as field 1 and the
    /// value as field 2.
    indirect case map(key: ProtoFieldType, value: ProtoFieldType)

    public var description: String {
        switch self {
        case .double: "double"
        case .float: "float"
        case .int32: "int32"
        case .int64: "int64"
        case .uint32: "uint32"
        case .uint64: "uint64"
        case .sint32: "sint32"
        case .sint64: "sint64"
        case .fixed32: "fixed32"
        case .fixed64: "fixed64"
        case .sfixed32: "sfixed32"
        case .sfixed64: "sfixed64"
        case .bool: "bool"
        case .string: "string"
        case .bytes: "bytes"
        case .enumeration(let name), .message(let name): name
        case .map(let key, let value): "map<\(key), \(value)>"
        }
    }
}

/// How a field is declared in a proto3 file.
public enum ProtoFieldLabel: String, Sendable, Hashable {
    /// No label: implicit presence, the default value is not written.
    case singular
    /// `optional`: explicit presence, a set default value is written.
    case optional
    /// `repeated` (maps are repeated entries too).
    case repeated
}

/// How values of one Swift type are written as the payload of one protobuf field type.
///
/// A codec handles the value only; ``ProtoField`` writes tags, decides presence and reports the
/// field's name in errors. Two refinements say what the Swift type can hold:
/// ``ProtoDefaultingCodec`` for values that include the proto3 default (`0`, `""`, `false`), and
/// ``ProtoPresenceCodec`` for values that exclude it (a UUID, an enum without its UNSPECIFIED
/// case, a message), where the default on the wire means "absent".
public protocol ProtoFieldCodec: SendableMetatype {
    /// The Swift type of the field's value.
    associatedtype Value: Sendable

    /// The type written in the `.proto` file.
    static var fieldType: ProtoFieldType { get }
    /// The wire type of one value.
    static var wireType: WireType { get }
    /// What the value must look like beyond its protobuf type, for tools and checks: `"uuid"`,
    /// `"decimal"`. Nil when any value of the type is accepted.
    static var format: String? { get }

    /// Writes the value's payload (no tag).
    static func write(_ value: Value, to writer: inout ProtoWriter)

    /// Reads one payload. Returns nil when the payload is the proto3 default and `Value` cannot
    /// represent it (an empty UUID, enum number 0).
    static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Value?
}

extension ProtoFieldCodec {
    public static var format: String? { nil }

    /// Whether repeated values of this type are written packed, as proto3 does for scalars.
    @inlinable
    public static var isPackable: Bool { wireType != .lengthDelimited }

    /// Writes `value` as field `number`: its tag, then its payload.
    @inlinable
    public static func writeField(_ number: Int, _ value: Value, to writer: inout ProtoWriter) {
        writer.writeTag(fieldNumber: number, wireType: wireType)
        write(value, to: &writer)
    }
}

/// A codec whose Swift type includes the proto3 default value.
public protocol ProtoDefaultingCodec: ProtoFieldCodec {
    /// The proto3 default: zero, false, the empty string or empty bytes.
    static var defaultValue: Value { get }
    /// Whether `value` is the default, which an implicit-presence field does not write.
    static func isDefault(_ value: Value) -> Bool
}

/// A codec whose Swift type excludes the proto3 default, so absence is expressed as `nil`
/// (or, for a non-optional property, as a missing required field).
public protocol ProtoPresenceCodec: ProtoFieldCodec {}

/// A codec usable for map keys: its values sort the way protobuf's deterministic serialization
/// orders map entries, so that equal maps encode to equal bytes.
public protocol ProtoMapKeyCodec: ProtoDefaultingCodec where Value: Hashable {
    /// Whether `lhs` sorts before `rhs`.
    static func precedes(_ lhs: Value, _ rhs: Value) -> Bool

    /// Whether two keys that are equal as Swift values are the same key on the wire. Differs
    /// from `==` for strings, which Swift compares by canonical equivalence ("é" and "e\u{301}")
    /// where protobuf compares bytes.
    static func isSameWireKey(_ lhs: Value, _ rhs: Value) -> Bool
}

extension ProtoMapKeyCodec {
    public static func isSameWireKey(_ lhs: Value, _ rhs: Value) -> Bool { lhs == rhs }
}
