internal import CZlib

/// A compression a request's messages may use (`grpc-encoding`), besides `identity`.
///
/// The server inflates compressed requests and answers uncompressed, which gRPC allows: a
/// response is compressed only with an encoding the server chose. Both formats are those gRPC's
/// implementations write: `gzip` (RFC 1952) and `deflate` as a zlib stream (RFC 1950).
enum MessageEncoding: String, Sendable {
    case gzip
    case deflate

    /// What `grpc-accept-encoding` says the server reads.
    static let accepted: StaticString = "identity,deflate,gzip"

    /// zlib's window bits for the format: 15 for a zlib stream, plus 16 for a gzip wrapper.
    private var windowBits: Int32 { self == .gzip ? 15 + 16 : 15 }

    /// The message inside `compressed`, refused once it passes `limit` bytes, so that a small
    /// request cannot make the server hold more than a plain one could.
    ///
    /// - Throws: `RESOURCE_EXHAUSTED` past the limit; `INTERNAL` for bytes that are not one whole
    ///   stream of this format.
    func inflate(_ compressed: UnsafeRawBufferPointer, limit: Int) throws(RPCError) -> [UInt8] {
        // An empty payload is the empty message, whatever its flag says.
        guard let input = compressed.baseAddress, !compressed.isEmpty else { return [] }
        guard compressed.count <= Int(UInt32.max) else {
            throw RPCError(.resourceExhausted, "a compressed message of \(compressed.count) bytes is too large")
        }
        var stream = z_stream()
        guard czlib_inflate_init(&stream, windowBits) == Z_OK else {
            throw RPCError(.internal, "could not start inflating a \(rawValue) message")
        }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: input.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = UInt32(compressed.count)
        // One byte of room past the limit tells "exactly the limit" from "more than it".
        let capacity = limit + 1
        var output = [UInt8](repeating: 0, count: min(max(compressed.count * 4, 1_024), capacity))
        var produced = 0
        while true {
            if produced == output.count {
                guard output.count < capacity else {
                    throw RPCError(
                        .resourceExhausted, "the decompressed message exceeds the limit of \(limit) bytes")
                }
                output.append(contentsOf: repeatElement(0, count: min(output.count, capacity - output.count)))
            }
            let status = output.withUnsafeMutableBufferPointer { buffer -> Int32 in
                let room = buffer.count - produced
                stream.next_out = buffer.baseAddress.map { $0 + produced }
                stream.avail_out = UInt32(room)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                produced += room - Int(stream.avail_out)
                return status
            }
            switch status {
            case Z_STREAM_END:
                guard stream.avail_in == 0 else {
                    throw RPCError(.internal, "bytes follow the end of a \(rawValue) message")
                }
                guard produced <= limit else {
                    throw RPCError(.resourceExhausted, "the decompressed message exceeds the limit of \(limit) bytes")
                }
                output.removeLast(output.count - produced)
                return output
            case Z_OK, Z_BUF_ERROR:
                // No progress with input left means the output is full (grown above); with no
                // input left, the stream ended early.
                if stream.avail_in == 0 && produced < output.count {
                    throw RPCError(.internal, "a \(rawValue) message ends before its compressed stream does")
                }
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw RPCError(.internal, "a message does not inflate as \(rawValue): \(reason)")
            }
        }
    }
}
