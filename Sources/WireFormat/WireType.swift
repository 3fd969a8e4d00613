/// The six wire types of the protobuf encoding, as carried in the low three bits of a tag.
public enum WireType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// int32, int64, uint32, uint64, sint32, sint64, bool, enum.
    case varint = 0
    /// fixed64, sfixed64, double.
    case fixed64 = 1
    /// string, bytes, embedded messages, packed repeated fields, map entries.
    case lengthDelimited = 2
    /// The start of a proto2 group. Proto3 has no groups; the reader skips them as unknown fields.
    case startGroup = 3
    /// The end of a proto2 group.
    case endGroup = 4
    /// fixed32, sfixed32, float.
    case fixed32 = 5

    public var description: String {
        switch self {
        case .varint: "varint"
        case .fixed64: "fixed64"
        case .lengthDelimited: "length-delimited"
        case .startGroup: "start-group"
        case .endGroup: "end-group"
        case .fixed32: "fixed32"
        }
    }
}

/// A field key: the field number and the wire type of the value that follows.
public struct ProtoTag: Sendable, Hashable, CustomStringConvertible {
    /// The smallest and largest field numbers protobuf allows.
    public static let fieldNumbers: ClosedRange<Int> = 1...536_870_911

    /// The field number, always within ``fieldNumbers`` for a tag the reader returned.
    public let fieldNumber: Int
    /// The wire type of the value that follows the tag.
    public let wireType: WireType

    /// Creates a tag. The writer does not check `fieldNumber`; codecs use numbers fixed in code.
    @inlinable
    public init(fieldNumber: Int, wireType: WireType) {
        self.fieldNumber = fieldNumber
        self.wireType = wireType
    }

    public var description: String { "field \(fieldNumber) (\(wireType))" }
}
