import NIOCore

/// Writes gRPC length-prefixed messages: one flag byte (0: not compressed), then the payload
/// length as a 4-byte big-endian integer, then the payload.
enum GRPCFraming {
    static let prefixLength = GRPCMessageDeframer.prefixLength

    static func frame(_ message: [UInt8], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(truncatingIfNeeded: message.count))
        buffer.writeBytes(message)
    }
}
