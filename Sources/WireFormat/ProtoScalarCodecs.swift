// Codecs for the protobuf scalar types. Each maps one declared type onto one Swift type; the
// narrow integer codecs reject values outside their width instead of truncating them.

/// `int64` as `Int64`.
public enum ProtoInt64: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .int64 }
    public static var wireType: WireType { .varint }
    public static var defaultValue: Int64 { 0 }
    @inlinable public static func isDefault(_ value: Int64) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: Int64, _ rhs: Int64) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: Int64, to writer: inout ProtoWriter) {
        writer.writeVarint(UInt64(bitPattern: value))
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Int64? {
        try reader.readInt64()
    }
}

/// `uint64` as `UInt64`.
public enum ProtoUInt64: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .uint64 }
    public static var wireType: WireType { .varint }
    public static var defaultValue: UInt64 { 0 }
    @inlinable public static func isDefault(_ value: UInt64) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: UInt64, _ rhs: UInt64) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: UInt64, to writer: inout ProtoWriter) { writer.writeVarint(value) }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> UInt64? {
        try reader.readVarint()
    }
}

/// `int32` as `Int32`.
public enum ProtoInt32: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .int32 }
    public static var wireType: WireType { .varint }
    public static var defaultValue: Int32 { 0 }
    @inlinable public static func isDefault(_ value: Int32) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: Int32, _ rhs: Int32) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: Int32, to writer: inout ProtoWriter) {
        writer.writeVarint(UInt64(bitPattern: Int64(value)))
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Int32? {
        try reader.readInt32()
    }
}

/// `uint32` as `UInt32`.
public enum ProtoUInt32: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .uint32 }
    public static var wireType: WireType { .varint }
    public static var defaultValue: UInt32 { 0 }
    @inlinable public static func isDefault(_ value: UInt32) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: UInt32, _ rhs: UInt32) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: UInt32, to writer: inout ProtoWriter) {
        writer.writeVarint(UInt64(value))
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> UInt32? {
        try reader.readUInt32()
    }
}

/// `sint64` (zigzag) as `Int64`.
public enum ProtoSInt64: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .sint64 }
    public static var wireType: WireType { .varint }
    public static var defaultValue: Int64 { 0 }
    @inlinable public static func isDefault(_ value: Int64) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: Int64, _ rhs: Int64) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: Int64, to writer: inout ProtoWriter) {
        writer.writeVarint(ZigZag.encode(value))
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Int64? {
        try reader.readSInt64()
    }
}

/// `sint32` (zigzag) as `Int32`.
public enum ProtoSInt32: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .sint32 }
    public static var wireType: WireType { .varint }
    public static var defaultValue: Int32 { 0 }
    @inlinable public static func isDefault(_ value: Int32) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: Int32, _ rhs: Int32) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: Int32, to writer: inout ProtoWriter) {
        writer.writeVarint(UInt64(ZigZag.encode(value)))
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Int32? {
        try reader.readSInt32()
    }
}

/// `fixed64` as `UInt64`.
public enum ProtoFixed64: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .fixed64 }
    public static var wireType: WireType { .fixed64 }
    public static var defaultValue: UInt64 { 0 }
    @inlinable public static func isDefault(_ value: UInt64) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: UInt64, _ rhs: UInt64) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: UInt64, to writer: inout ProtoWriter) { writer.writeFixed64(value) }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> UInt64? {
        try reader.readFixed64()
    }
}

/// `fixed32` as `UInt32`.
public enum ProtoFixed32: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .fixed32 }
    public static var wireType: WireType { .fixed32 }
    public static var defaultValue: UInt32 { 0 }
    @inlinable public static func isDefault(_ value: UInt32) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: UInt32, _ rhs: UInt32) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: UInt32, to writer: inout ProtoWriter) { writer.writeFixed32(value) }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> UInt32? {
        try reader.readFixed32()
    }
}

/// `sfixed64` as `Int64`.
public enum ProtoSFixed64: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .sfixed64 }
    public static var wireType: WireType { .fixed64 }
    public static var defaultValue: Int64 { 0 }
    @inlinable public static func isDefault(_ value: Int64) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: Int64, _ rhs: Int64) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: Int64, to writer: inout ProtoWriter) {
        writer.writeFixed64(UInt64(bitPattern: value))
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Int64? {
        Int64(bitPattern: try reader.readFixed64())
    }
}

/// `sfixed32` as `Int32`.
public enum ProtoSFixed32: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .sfixed32 }
    public static var wireType: WireType { .fixed32 }
    public static var defaultValue: Int32 { 0 }
    @inlinable public static func isDefault(_ value: Int32) -> Bool { value == 0 }
    @inlinable public static func precedes(_ lhs: Int32, _ rhs: Int32) -> Bool { lhs < rhs }
    @inlinable public static func write(_ value: Int32, to writer: inout ProtoWriter) {
        writer.writeFixed32(UInt32(bitPattern: value))
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Int32? {
        Int32(bitPattern: try reader.readFixed32())
    }
}

/// `double` as `Double`. The default is +0.0 only: -0.0 has a different bit pattern and is
/// written, as the reference implementations do.
public enum ProtoDouble: ProtoDefaultingCodec {
    public static var fieldType: ProtoFieldType { .double }
    public static var wireType: WireType { .fixed64 }
    public static var defaultValue: Double { 0 }
    @inlinable public static func isDefault(_ value: Double) -> Bool { value.bitPattern == 0 }
    @inlinable public static func write(_ value: Double, to writer: inout ProtoWriter) {
        writer.writeFixed64(value.bitPattern)
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Double? {
        Double(bitPattern: try reader.readFixed64())
    }
}

/// `float` as `Float`. The default is +0.0 only, as for ``ProtoDouble``.
public enum ProtoFloat: ProtoDefaultingCodec {
    public static var fieldType: ProtoFieldType { .float }
    public static var wireType: WireType { .fixed32 }
    public static var defaultValue: Float { 0 }
    @inlinable public static func isDefault(_ value: Float) -> Bool { value.bitPattern == 0 }
    @inlinable public static func write(_ value: Float, to writer: inout ProtoWriter) {
        writer.writeFixed32(value.bitPattern)
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Float? {
        Float(bitPattern: try reader.readFixed32())
    }
}

/// `bool` as `Bool`.
public enum ProtoBool: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .bool }
    public static var wireType: WireType { .varint }
    public static var defaultValue: Bool { false }
    @inlinable public static func isDefault(_ value: Bool) -> Bool { !value }
    @inlinable public static func precedes(_ lhs: Bool, _ rhs: Bool) -> Bool { !lhs && rhs }
    @inlinable public static func write(_ value: Bool, to writer: inout ProtoWriter) {
        writer.writeVarint(value ? 1 : 0)
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> Bool? {
        try reader.readBool()
    }
}

/// `string` as `String`, validated as UTF-8 on reading.
public enum ProtoString: ProtoMapKeyCodec {
    public static var fieldType: ProtoFieldType { .string }
    public static var wireType: WireType { .lengthDelimited }
    public static var defaultValue: String { "" }
    @inlinable public static func isDefault(_ value: String) -> Bool { value.isEmpty }
    /// Orders by UTF-8 bytes, which is code point order: the order protobuf's deterministic
    /// serialization uses, unlike `String.<`, which compares normalized forms.
    @inlinable public static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
    @inlinable public static func isSameWireKey(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.elementsEqual(rhs.utf8)
    }
    @inlinable public static func write(_ value: String, to writer: inout ProtoWriter) { writer.writeString(value) }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> String? {
        try reader.readString()
    }
}

/// `bytes` as `[UInt8]`.
public enum ProtoBytes: ProtoDefaultingCodec {
    public static var fieldType: ProtoFieldType { .bytes }
    public static var wireType: WireType { .lengthDelimited }
    public static var defaultValue: [UInt8] { [] }
    @inlinable public static func isDefault(_ value: [UInt8]) -> Bool { value.isEmpty }
    @inlinable public static func write(_ value: [UInt8], to writer: inout ProtoWriter) {
        writer.writeLengthDelimited(value)
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> [UInt8]? {
        try reader.readBytes()
    }
}

/// An embedded message of type `M`. An empty payload is an empty message, not an absent one.
public enum ProtoMessageCodec<M: ProtoMessage>: ProtoPresenceCodec {
    public static var fieldType: ProtoFieldType { .message(M.protoMessageName) }
    public static var wireType: WireType { .lengthDelimited }
    @inlinable public static func write(_ value: M, to writer: inout ProtoWriter) {
        writer.writeLengthDelimited { (nested: inout ProtoWriter) in value.encode(to: &nested) }
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> M? {
        try reader.readMessage { (nested: inout ProtoReader) throws(ProtoDecodingError) in try M(from: &nested) }
    }
}

/// A proto3 enum mapped onto a Swift enum that leaves out the UNSPECIFIED (0) value.
///
/// Number 0 reads as absent; numbers the Swift enum does not know are rejected, so a handler
/// never sees a value it cannot switch over.
public protocol ProtoEnum: RawRepresentable, Sendable, Hashable, CaseIterable where RawValue == Int32 {
    /// The fully qualified protobuf name, e.g. `tradecore.common.v1.OrderSide`.
    static var protoEnumName: String { get }
}

/// The codec of a ``ProtoEnum``.
public enum ProtoEnumCodec<E: ProtoEnum>: ProtoPresenceCodec {
    public static var fieldType: ProtoFieldType { .enumeration(E.protoEnumName) }
    public static var wireType: WireType { .varint }
    @inlinable public static func write(_ value: E, to writer: inout ProtoWriter) {
        writer.writeVarint(UInt64(bitPattern: Int64(value.rawValue)))
    }
    @inlinable public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> E? {
        let number = try reader.readInt32()
        if number == 0 { return nil }
        guard let value = E(rawValue: number) else {
            throw ProtoDecodingError(.invalidValue("unknown \(E.protoEnumName) value \(number)"))
        }
        return value
    }
}
