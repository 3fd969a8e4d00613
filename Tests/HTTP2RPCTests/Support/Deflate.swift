import CZlib

/// Compresses test payloads with zlib, as a gRPC client that compresses its requests would.
enum Deflate {
    /// `bytes` as one gzip stream (`gzip: true`) or one zlib stream (gRPC's `deflate`).
    static func compress(_ bytes: [UInt8], gzip: Bool) -> [UInt8] {
        var stream = z_stream()
        precondition(czlib_deflate_init(&stream, Z_DEFAULT_COMPRESSION, gzip ? 31 : 15) == Z_OK)
        defer { deflateEnd(&stream) }
        var input = bytes
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
        input.withUnsafeMutableBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                stream.next_in = input.baseAddress
                stream.avail_in = UInt32(input.count)
                stream.next_out = output.baseAddress
                stream.avail_out = UInt32(output.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
            }
        }
        output.removeLast(Int(stream.avail_out))
        return output
    }
}
