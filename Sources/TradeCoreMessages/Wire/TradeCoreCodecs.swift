import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A UUID as 16 `bytes`, RFC 9562 byte order. Empty bytes read as absent; any other length is
/// rejected.
public enum ProtoUUID: ProtoPresenceCodec {
    public static var fieldType: ProtoFieldType { .bytes }
    public static var wireType: WireType { .lengthDelimited }
    public static var format: String? { "uuid" }

    @inlinable
    public static func write(_ value: UUID, to writer: inout ProtoWriter) {
        withUnsafeBytes(of: value.uuid) { writer.writeLengthDelimited($0) }
    }

    @inlinable
    public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> UUID? {
        let bytes = try reader.readLengthDelimited()
        if bytes.isEmpty { return nil }
        guard bytes.count == 16 else {
            throw ProtoDecodingError(.invalidValue("a UUID must be 16 bytes, not \(bytes.count)"))
        }
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: bytes) }
        return UUID(uuid: value)
    }
}

/// An ``ExactDecimal`` as its canonical `string`. An empty string reads as absent; anything not
/// canonical is rejected.
public enum ProtoDecimal: ProtoPresenceCodec {
    public static var fieldType: ProtoFieldType { .string }
    public static var wireType: WireType { .lengthDelimited }
    public static var format: String? { "decimal" }

    @inlinable
    public static func write(_ value: ExactDecimal, to writer: inout ProtoWriter) {
        value.withCanonicalUTF8 { writer.writeLengthDelimited($0) }
    }

    @inlinable
    public static func read(from reader: inout ProtoReader) throws(ProtoDecodingError) -> ExactDecimal? {
        let bytes = try reader.readLengthDelimited()
        if bytes.isEmpty { return nil }
        guard let value = ExactDecimal(canonicalUTF8: bytes) else {
            throw ProtoDecodingError(.invalidValue("not a decimal in canonical form: \(ExactDecimal.canonicalForm)"))
        }
        return value
    }
}

extension UUID {
    /// The all-zero UUID, held by required fields only until decoding overwrites them.
    @usableFromInline static let protoPlaceholder = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
}
