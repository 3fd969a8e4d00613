/// A value with a protobuf encoding.
///
/// Conformers read and write their fields with ``ProtoReader`` and ``ProtoWriter``; the
/// extension below supplies the byte-array entry points.
public protocol ProtoMessage: Sendable {
    /// The fully qualified protobuf name, e.g. `tradecore.order.v1.CreateOrder`, used in errors.
    static var protoMessageName: String { get }

    /// Decodes the message from `reader`, which is bounded to this message's bytes: read fields
    /// until ``ProtoReader/nextTag()`` returns `nil`, skipping those you do not know.
    init(from reader: inout ProtoReader) throws(ProtoDecodingError)

    /// Appends the message's fields to `writer` (no length prefix; the caller adds one when the
    /// message is nested).
    func encode(to writer: inout ProtoWriter)
}

extension ProtoMessage {
    /// Decodes a message from `protoBytes`, reading them in place.
    @inlinable
    public init(protoBytes: [UInt8], maxDepth: Int = ProtoReader.defaultMaxDepth) throws(ProtoDecodingError) {
        self = try ProtoReader.withReader(over: protoBytes, maxDepth: maxDepth) {
            (reader: inout ProtoReader) throws(ProtoDecodingError) in try Self(from: &reader)
        }
    }

    /// Decodes a message from a contiguous buffer, reading it in place.
    @inlinable
    public init(
        protoBuffer: UnsafeRawBufferPointer, maxDepth: Int = ProtoReader.defaultMaxDepth
    )
        throws(ProtoDecodingError)
    {
        var reader = ProtoReader(protoBuffer, maxDepth: maxDepth)
        try self.init(from: &reader)
    }

    /// The message's encoding.
    @inlinable
    public var protoBytes: [UInt8] {
        // Most messages fit: one allocation instead of a few doublings from empty.
        var writer = ProtoWriter(reservingCapacity: 128)
        encode(to: &writer)
        return writer.bytes
    }
}
