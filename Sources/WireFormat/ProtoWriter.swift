/// Appends protobuf-encoded fields to a byte array.
///
/// The writer never fails: every value it is given has an encoding. Field-level methods
/// (`writeField...`) emit the tag and the value; the value-level ones (`writeVarint`,
/// `writeFixed32`, ...) emit only the value, for codecs that write their own tags.
///
/// Nested messages are written in place: ``writeMessageField(_:_:)`` reserves one byte for the
/// length and widens it after the body is written, so no temporary buffer is allocated.
public struct ProtoWriter: Sendable {
    /// The bytes written so far.
    @inlinable
    public var bytes: [UInt8] { storage }

    @usableFromInline var storage: [UInt8]

    /// Creates an empty writer that can hold `capacity` bytes before it reallocates.
    @inlinable
    public init(reservingCapacity capacity: Int = 0) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    // MARK: Values

    /// Writes `value` as a base-128 varint: 1 to 10 bytes, least significant group first.
    @inlinable
    public mutating func writeVarint(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            storage.append(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        storage.append(UInt8(truncatingIfNeeded: remaining))
    }

    /// Writes a field key.
    @inlinable
    public mutating func writeTag(fieldNumber: Int, wireType: WireType) {
        writeVarint(UInt64(truncatingIfNeeded: fieldNumber) << 3 | UInt64(wireType.rawValue))
    }

    /// Writes four bytes, little-endian.
    @inlinable
    public mutating func writeFixed32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { storage.append(contentsOf: $0) }
    }

    /// Writes eight bytes, little-endian.
    @inlinable
    public mutating func writeFixed64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { storage.append(contentsOf: $0) }
    }

    /// Writes a length prefix and then `value`'s bytes.
    @inlinable
    public mutating func writeLengthDelimited(_ value: some Collection<UInt8>) {
        writeVarint(UInt64(value.count))
        storage.append(contentsOf: value)
    }

    /// Writes a length prefix and then the bytes of `value`.
    @inlinable
    public mutating func writeLengthDelimited(_ value: UnsafeRawBufferPointer) {
        writeVarint(UInt64(value.count))
        storage.append(contentsOf: value)
    }

    /// Writes a length prefix and then `value` as UTF-8.
    @inlinable
    public mutating func writeString(_ value: String) {
        var value = value
        // A native string hands out its UTF-8 storage directly; others are copied once.
        value.withUTF8 { writeLengthDelimited(UnsafeRawBufferPointer($0)) }
    }

    /// Writes a length prefix, then whatever `body` writes.
    ///
    /// One byte is reserved for the length; a body of 128 bytes or more moves itself right by the
    /// extra length bytes, which is cheaper than encoding into a second buffer.
    @inlinable
    public mutating func writeLengthDelimited<E: Error>(_ body: (inout ProtoWriter) throws(E) -> Void) throws(E) {
        let lengthIndex = storage.count
        storage.append(0)
        try body(&self)
        let length = storage.count - lengthIndex - 1
        let lengthSize = ProtoWriter.varintSize(UInt64(length))
        if lengthSize > 1 {
            storage.insert(contentsOf: repeatElement(0, count: lengthSize - 1), at: lengthIndex + 1)
        }
        var remaining = UInt64(length)
        for offset in 0..<lengthSize {
            let more: UInt8 = offset < lengthSize - 1 ? 0x80 : 0
            storage[lengthIndex + offset] = UInt8(truncatingIfNeeded: remaining & 0x7F) | more
            remaining >>= 7
        }
    }

    /// The number of bytes `writeVarint(value)` writes.
    @inlinable
    public static func varintSize(_ value: UInt64) -> Int {
        // 64 bits need ten groups of seven; zero still takes one byte.
        let significantBits = 64 - value.leadingZeroBitCount
        return significantBits == 0 ? 1 : (significantBits + 6) / 7
    }

    // MARK: Fields

    /// Writes a `uint64`/`uint32` field, or any varint already mapped to its unsigned form.
    @inlinable
    public mutating func writeVarintField(_ fieldNumber: Int, _ value: UInt64) {
        writeTag(fieldNumber: fieldNumber, wireType: .varint)
        writeVarint(value)
    }

    /// Writes an `int64` field.
    @inlinable
    public mutating func writeInt64Field(_ fieldNumber: Int, _ value: Int64) {
        writeVarintField(fieldNumber, UInt64(bitPattern: value))
    }

    /// Writes an `int32` (or enum) field; negative values are sign-extended to ten bytes as the
    /// protobuf specification requires.
    @inlinable
    public mutating func writeInt32Field(_ fieldNumber: Int, _ value: Int32) {
        writeVarintField(fieldNumber, UInt64(bitPattern: Int64(value)))
    }

    /// Writes a `sint64` field (zigzag).
    @inlinable
    public mutating func writeSInt64Field(_ fieldNumber: Int, _ value: Int64) {
        writeVarintField(fieldNumber, ZigZag.encode(value))
    }

    /// Writes a `sint32` field (zigzag).
    @inlinable
    public mutating func writeSInt32Field(_ fieldNumber: Int, _ value: Int32) {
        writeVarintField(fieldNumber, UInt64(ZigZag.encode(value)))
    }

    /// Writes a `bool` field.
    @inlinable
    public mutating func writeBoolField(_ fieldNumber: Int, _ value: Bool) {
        writeVarintField(fieldNumber, value ? 1 : 0)
    }

    /// Writes a `fixed32`, `sfixed32` (bit pattern) or `float` (bit pattern) field.
    @inlinable
    public mutating func writeFixed32Field(_ fieldNumber: Int, _ value: UInt32) {
        writeTag(fieldNumber: fieldNumber, wireType: .fixed32)
        writeFixed32(value)
    }

    /// Writes a `fixed64`, `sfixed64` (bit pattern) or `double` (bit pattern) field.
    @inlinable
    public mutating func writeFixed64Field(_ fieldNumber: Int, _ value: UInt64) {
        writeTag(fieldNumber: fieldNumber, wireType: .fixed64)
        writeFixed64(value)
    }

    /// Writes a `string` field.
    @inlinable
    public mutating func writeStringField(_ fieldNumber: Int, _ value: String) {
        writeTag(fieldNumber: fieldNumber, wireType: .lengthDelimited)
        writeString(value)
    }

    /// Writes a `bytes` field.
    @inlinable
    public mutating func writeBytesField(_ fieldNumber: Int, _ value: some Collection<UInt8>) {
        writeTag(fieldNumber: fieldNumber, wireType: .lengthDelimited)
        writeLengthDelimited(value)
    }

    /// Writes an embedded message field whose body `body` writes.
    @inlinable
    public mutating func writeMessageField<E: Error>(
        _ fieldNumber: Int, _ body: (inout ProtoWriter) throws(E) -> Void
    ) throws(E) {
        writeTag(fieldNumber: fieldNumber, wireType: .lengthDelimited)
        try writeLengthDelimited(body)
    }

    /// Writes an embedded message field.
    @inlinable
    public mutating func writeMessageField(_ fieldNumber: Int, _ message: some ProtoMessage) {
        writeMessageField(fieldNumber) { (writer: inout ProtoWriter) in message.encode(to: &writer) }
    }

    /// Writes a packed repeated field: one tag, one length, then each element as `writeElement`
    /// writes it. Nothing is written for an empty collection, as proto3 requires.
    @inlinable
    public mutating func writePackedField<C: Collection>(
        _ fieldNumber: Int, _ elements: C, _ writeElement: (inout ProtoWriter, C.Element) -> Void
    ) {
        guard !elements.isEmpty else { return }
        writeMessageField(fieldNumber) { (writer: inout ProtoWriter) in
            for element in elements { writeElement(&writer, element) }
        }
    }

    /// Writes a map entry: a length-delimited field holding the key as field 1 and the value as
    /// field 2.
    @inlinable
    public mutating func writeMapEntry(
        _ fieldNumber: Int, key: (inout ProtoWriter) -> Void, value: (inout ProtoWriter) -> Void
    ) {
        writeMessageField(fieldNumber) { (writer: inout ProtoWriter) in
            key(&writer)
            value(&writer)
        }
    }
}

/// The zigzag mapping of `sint32`/`sint64`: small magnitudes of either sign get short varints.
public enum ZigZag {
    /// Maps 0, -1, 1, -2 ... to 0, 1, 2, 3 ...
    @inlinable
    public static func encode(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    /// Maps 0, -1, 1, -2 ... to 0, 1, 2, 3 ...
    @inlinable
    public static func encode(_ value: Int32) -> UInt32 {
        UInt32(bitPattern: (value << 1) ^ (value >> 31))
    }

    /// The inverse of ``encode(_:)-(Int64)``; every `UInt64` has a preimage.
    @inlinable
    public static func decode(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }

    /// The inverse of ``encode(_:)-(Int32)``; every `UInt32` has a preimage.
    @inlinable
    public static func decode(_ value: UInt32) -> Int32 {
        Int32(bitPattern: value >> 1) ^ -Int32(bitPattern: value & 1)
    }
}
