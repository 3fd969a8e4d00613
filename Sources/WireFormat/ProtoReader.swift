/// Reads protobuf-encoded fields from a contiguous buffer, without copying it.
///
/// A reader is a cursor over memory it does not own: create it inside `withUnsafeBytes` (or use
/// ``ProtoMessage/init(protoBytes:)``) and do not let it, or a buffer it returned, outlive that
/// scope. Every read checks the bytes it needs against what remains of the current message before
/// touching them, so hostile input produces a ``ProtoDecodingError`` and never a trap or an
/// allocation sized by a length the input has not backed with bytes.
///
/// A typical loop:
/// ```swift
/// while let tag = try reader.nextTag() {
///     switch tag.fieldNumber {
///     case 1: service = try reader.readString(tag)
///     default: try reader.skip(tag)
///     }
/// }
/// ```
public struct ProtoReader {
    /// The default limit on nesting of messages and groups, the same as the reference
    /// implementations use.
    public static let defaultMaxDepth = 100
    /// The deepest message whose repeated message fields are merged (see
    /// ``ProtoSchema/decode(into:from:)``); deeper, a repeated message field is an error. Each
    /// level that merges decodes its first occurrence once more and holds a copy of its bytes:
    /// the bound keeps hostile nesting from multiplying either.
    public static let mergeDepthLimit = 4

    @usableFromInline let buffer: UnsafeRawBufferPointer
    @usableFromInline var position: Int
    @usableFromInline let end: Int
    /// How many messages enclose the one being read; 0 for the outermost.
    public let depth: Int
    /// The deepest nesting this reader and its sub-readers accept.
    public let maxDepth: Int

    /// Creates a reader over all of `buffer`.
    public init(_ buffer: UnsafeRawBufferPointer, maxDepth: Int = ProtoReader.defaultMaxDepth) {
        self.buffer = buffer
        self.position = 0
        self.end = buffer.count
        self.depth = 0
        self.maxDepth = maxDepth
    }

    /// Runs `body` with a reader over `bytes`, read in place; for hand-written decoders that do
    /// not go through ``ProtoMessage``. The reader must not escape `body`.
    @inlinable
    public static func withReader<T>(
        over bytes: [UInt8], maxDepth: Int = ProtoReader.defaultMaxDepth,
        _ body: (inout ProtoReader) throws(ProtoDecodingError) -> T
    ) throws(ProtoDecodingError) -> T {
        // `withUnsafeBytes` rethrows untyped errors; a Result keeps the error's type.
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(ProtoDecodingError) -> T in
                var reader = ProtoReader(buffer, maxDepth: maxDepth)
                return try body(&reader)
            }
        }
        return try result.get()
    }

    @usableFromInline
    init(buffer: UnsafeRawBufferPointer, position: Int, end: Int, depth: Int, maxDepth: Int) {
        self.buffer = buffer
        self.position = position
        self.end = end
        self.depth = depth
        self.maxDepth = maxDepth
    }

    /// Whether the current message has no bytes left.
    @inlinable
    public var isAtEnd: Bool { position >= end }

    /// How many bytes of the current message are left.
    @inlinable
    public var remainingCount: Int { end - position }

    // MARK: Tags

    /// Reads the next field key, or returns `nil` at the end of the current message.
    ///
    /// Rejects field number 0, numbers above 2^29 - 1 and wire types 6 and 7. An end-group tag is
    /// returned like any other; ``skip(_:)`` rejects it, since a well-formed group is consumed
    /// whole when its start tag is skipped.
    @inlinable
    public mutating func nextTag() throws(ProtoDecodingError) -> ProtoTag? {
        guard position < end else { return nil }
        let key = try readVarint()
        guard key <= UInt64(UInt32.max) else { throw ProtoDecodingError(.invalidFieldNumber) }
        let fieldNumber = Int(key >> 3)
        guard fieldNumber >= ProtoTag.fieldNumbers.lowerBound else { throw ProtoDecodingError(.invalidFieldNumber) }
        let bits = UInt8(truncatingIfNeeded: key & 7)
        guard let wireType = WireType(rawValue: bits) else { throw ProtoDecodingError(.invalidWireType(bits)) }
        return ProtoTag(fieldNumber: fieldNumber, wireType: wireType)
    }

    /// Throws unless `tag` carries `wireType`.
    @inlinable
    public func expect(_ tag: ProtoTag, _ wireType: WireType) throws(ProtoDecodingError) {
        guard tag.wireType == wireType else {
            throw ProtoDecodingError(.wrongWireType(expected: wireType, found: tag.wireType))
        }
    }

    // MARK: Varints and fixed-width values

    /// Reads a varint of at most ten bytes whose value fits in 64 bits.
    @inlinable
    public mutating func readVarint() throws(ProtoDecodingError) -> UInt64 {
        guard position < end else { throw ProtoDecodingError(.truncated) }
        let first = buffer[position]
        if first < 0x80 {
            position += 1
            return UInt64(first)
        }
        return try readVarintSlowPath()
    }

    @usableFromInline
    mutating func readVarintSlowPath() throws(ProtoDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var index = position
        while true {
            guard index < end else { throw ProtoDecodingError(.truncated) }
            let byte = buffer[index]
            index += 1
            if shift == 63 {
                // The tenth byte carries bit 63 only: anything more overflows 64 bits, and a
                // continuation bit would make an eleventh byte.
                guard byte & 0x80 == 0 else { throw ProtoDecodingError(.varintTooLong) }
                guard byte <= 1 else { throw ProtoDecodingError(.valueOutOfRange("uint64")) }
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        position = index
        return result
    }

    /// Reads an `int64` varint.
    @inlinable
    public mutating func readInt64() throws(ProtoDecodingError) -> Int64 {
        Int64(bitPattern: try readVarint())
    }

    /// Reads a `uint64` varint.
    @inlinable
    public mutating func readUInt64() throws(ProtoDecodingError) -> UInt64 {
        try readVarint()
    }

    /// Reads an `int32` (or enum) varint. Writers sign-extend negative values to 64 bits; a value
    /// outside the `Int32` range is rejected rather than truncated.
    @inlinable
    public mutating func readInt32() throws(ProtoDecodingError) -> Int32 {
        let wide = Int64(bitPattern: try readVarint())
        guard let value = Int32(exactly: wide) else { throw ProtoDecodingError(.valueOutOfRange("int32")) }
        return value
    }

    /// Reads a `uint32` varint, rejecting values above `UInt32.max`.
    @inlinable
    public mutating func readUInt32() throws(ProtoDecodingError) -> UInt32 {
        let wide = try readVarint()
        guard let value = UInt32(exactly: wide) else { throw ProtoDecodingError(.valueOutOfRange("uint32")) }
        return value
    }

    /// Reads a `sint64` (zigzag) varint.
    @inlinable
    public mutating func readSInt64() throws(ProtoDecodingError) -> Int64 {
        ZigZag.decode(try readVarint())
    }

    /// Reads a `sint32` (zigzag) varint, rejecting values above 32 bits.
    @inlinable
    public mutating func readSInt32() throws(ProtoDecodingError) -> Int32 {
        let wide = try readVarint()
        guard let narrow = UInt32(exactly: wide) else { throw ProtoDecodingError(.valueOutOfRange("sint32")) }
        return ZigZag.decode(narrow)
    }

    /// Reads a `bool` varint; only 0 and 1 are accepted.
    @inlinable
    public mutating func readBool() throws(ProtoDecodingError) -> Bool {
        switch try readVarint() {
        case 0: return false
        case 1: return true
        default: throw ProtoDecodingError(.valueOutOfRange("bool"))
        }
    }

    /// Reads four bytes, little-endian.
    @inlinable
    public mutating func readFixed32() throws(ProtoDecodingError) -> UInt32 {
        guard end - position >= 4 else { throw ProtoDecodingError(.truncated) }
        let value = buffer.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(littleEndian: value)
    }

    /// Reads eight bytes, little-endian.
    @inlinable
    public mutating func readFixed64() throws(ProtoDecodingError) -> UInt64 {
        guard end - position >= 8 else { throw ProtoDecodingError(.truncated) }
        let value = buffer.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(littleEndian: value)
    }

    // MARK: Length-delimited values

    /// Reads a length prefix and returns a view of that many bytes, without copying them.
    ///
    /// The view is valid only as long as the buffer the reader was created over.
    @inlinable
    public mutating func readLengthDelimited() throws(ProtoDecodingError) -> UnsafeRawBufferPointer {
        let length = try readVarint()
        // Compare before converting: a length beyond what remains is hostile or truncated input.
        guard length <= UInt64(end - position) else { throw ProtoDecodingError(.truncated) }
        let count = Int(length)
        let start = position
        position += count
        return UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)])
    }

    /// Reads a `string`, validating it as UTF-8. Strings of up to 15 bytes are stored inline and
    /// do not allocate.
    @inlinable
    public mutating func readString() throws(ProtoDecodingError) -> String {
        let bytes = try readLengthDelimited()
        if bytes.isEmpty { return "" }
        // Decoding replaces invalid sequences with U+FFFD, so the result holds the input's bytes
        // exactly when the input was valid UTF-8. This is several times faster than the
        // generic `String(validating:as:)`.
        let string = String(decoding: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
        guard string.utf8.elementsEqual(bytes) else { throw ProtoDecodingError(.invalidUTF8) }
        return string
    }

    /// Reads a `bytes` value into a new array.
    @inlinable
    public mutating func readBytes() throws(ProtoDecodingError) -> [UInt8] {
        let bytes = try readLengthDelimited()
        return bytes.isEmpty ? [] : [UInt8](bytes)
    }

    /// Reads an embedded message: a length prefix, then `body` reading the message's fields with
    /// a reader bounded to them, one level deeper.
    @inlinable
    public mutating func readMessage<T>(
        _ body: (inout ProtoReader) throws(ProtoDecodingError) -> T
    ) throws(ProtoDecodingError) -> T {
        guard depth < maxDepth else { throw ProtoDecodingError(.depthLimitExceeded(maxDepth)) }
        let length = try readVarint()
        guard length <= UInt64(end - position) else { throw ProtoDecodingError(.truncated) }
        let messageEnd = position + Int(length)
        var nested = ProtoReader(
            buffer: buffer, position: position, end: messageEnd, depth: depth + 1, maxDepth: maxDepth)
        position = messageEnd
        return try body(&nested)
    }

    // MARK: Typed field reads

    /// Reads a `string` field after checking its wire type.
    @inlinable
    public mutating func readString(_ tag: ProtoTag) throws(ProtoDecodingError) -> String {
        try expect(tag, .lengthDelimited)
        return try readString()
    }

    /// Reads a `bytes` field after checking its wire type.
    @inlinable
    public mutating func readBytes(_ tag: ProtoTag) throws(ProtoDecodingError) -> [UInt8] {
        try expect(tag, .lengthDelimited)
        return try readBytes()
    }

    /// Reads an `int32`/enum field after checking its wire type.
    @inlinable
    public mutating func readInt32(_ tag: ProtoTag) throws(ProtoDecodingError) -> Int32 {
        try expect(tag, .varint)
        return try readInt32()
    }

    /// Reads an `int64` field after checking its wire type.
    @inlinable
    public mutating func readInt64(_ tag: ProtoTag) throws(ProtoDecodingError) -> Int64 {
        try expect(tag, .varint)
        return try readInt64()
    }

    /// Reads a `uint64` field after checking its wire type.
    @inlinable
    public mutating func readUInt64(_ tag: ProtoTag) throws(ProtoDecodingError) -> UInt64 {
        try expect(tag, .varint)
        return try readVarint()
    }

    /// Reads a `bool` field after checking its wire type.
    @inlinable
    public mutating func readBool(_ tag: ProtoTag) throws(ProtoDecodingError) -> Bool {
        try expect(tag, .varint)
        return try readBool()
    }

    /// Reads an embedded message field after checking its wire type.
    @inlinable
    public mutating func readMessage<M: ProtoMessage>(_ tag: ProtoTag, as type: M.Type) throws(ProtoDecodingError) -> M
    {
        try expect(tag, .lengthDelimited)
        return try readMessage { (nested: inout ProtoReader) throws(ProtoDecodingError) in try M(from: &nested) }
    }

    /// Reads one occurrence of a repeated scalar field, packed or not.
    ///
    /// Parsers must accept both encodings of a packable field: a packed run arrives as one
    /// length-delimited value holding elements back to back; an unpacked element arrives with its
    /// own wire type, `elementWireType`. `readElement` is called once per element.
    @inlinable
    public mutating func readRepeatedScalar(
        _ tag: ProtoTag, elementWireType: WireType,
        _ readElement: (inout ProtoReader) throws(ProtoDecodingError) -> Void
    ) throws(ProtoDecodingError) {
        if tag.wireType == .lengthDelimited {
            let run = try readLengthDelimited()
            var packed = ProtoReader(buffer: run, position: 0, end: run.count, depth: depth, maxDepth: maxDepth)
            while !packed.isAtEnd { try readElement(&packed) }
        } else {
            try expect(tag, elementWireType)
            try readElement(&self)
        }
    }

    // MARK: Skipping

    /// Skips the value of a field the codec does not know.
    ///
    /// Groups (a proto2 feature) are skipped whole, checking that each nested group ends with the
    /// end tag of the same field number, within the depth limit. A stray end-group tag is an error.
    @inlinable
    public mutating func skip(_ tag: ProtoTag) throws(ProtoDecodingError) {
        switch tag.wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup: try skipGroup(fieldNumber: tag.fieldNumber, depth: depth + 1)
        case .endGroup: throw ProtoDecodingError(.unmatchedEndGroup)
        }
    }

    @usableFromInline
    mutating func skipGroup(fieldNumber: Int, depth groupDepth: Int) throws(ProtoDecodingError) {
        guard groupDepth <= maxDepth else { throw ProtoDecodingError(.depthLimitExceeded(maxDepth)) }
        while true {
            guard let tag = try nextTag() else { throw ProtoDecodingError(.truncated) }
            switch tag.wireType {
            case .endGroup:
                guard tag.fieldNumber == fieldNumber else { throw ProtoDecodingError(.unmatchedEndGroup) }
                return
            case .startGroup:
                try skipGroup(fieldNumber: tag.fieldNumber, depth: groupDepth + 1)
            default:
                try skip(tag)
            }
        }
    }
}
