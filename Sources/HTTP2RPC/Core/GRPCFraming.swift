import NIOCore

/// Writes gRPC length-prefixed messages: one flag byte (0: not compressed), then the payload
/// length as a 4-byte big-endian integer, then the payload.
enum GRPCFraming {
    static let prefixLength = 5

    static func frame(_ message: [UInt8], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(truncatingIfNeeded: message.count))
        buffer.writeBytes(message)
    }
}

/// Splits a byte stream into gRPC messages, whatever the chunking of the bytes.
///
/// The length prefix is checked against the maximum before any payload is buffered, so a
/// peer cannot make us hold more than `maximumMessageSize + 5` bytes for one stream.
struct GRPCMessageDeframer {
    let maximumMessageSize: Int
    private var buffer: ByteBuffer
    /// Length of the message whose prefix has been read, while waiting for its payload.
    private var pendingLength: Int?

    /// `emptyBuffer` is shared by many deframers: copy-on-write gives each its own storage
    /// only once it must hold a partial message.
    init(maximumMessageSize: Int, emptyBuffer: ByteBuffer = ByteBuffer()) {
        self.maximumMessageSize = maximumMessageSize
        self.buffer = emptyBuffer
    }

    /// Bytes received but not yet returned as messages.
    var bufferedBytes: Int { buffer.readableBytes }

    /// Whether no partial message is pending (the stream may end here cleanly).
    var isAtMessageBoundary: Bool { buffer.readableBytes == 0 && pendingLength == nil }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.writeBytes(bytes)
    }

    /// Feeds received bytes, calling `deliver` for each complete message until it returns
    /// false. Messages that arrive whole in `input` are taken from it directly; only a partial
    /// message is copied into the deframer's buffer.
    mutating func process(
        _ input: UnsafeRawBufferPointer, _ deliver: ([UInt8]) throws(RPCError) -> Bool
    ) throws(RPCError) {
        var remaining = input[...]
        if buffer.readableBytes == 0 && pendingLength == nil {
            while remaining.count >= GRPCFraming.prefixLength {
                let start = remaining.startIndex
                var length = 0
                for index in (start + 1)..<(start + 5) { length = length << 8 | Int(remaining[index]) }
                try check(flags: remaining[start], length: length)
                guard remaining.count - GRPCFraming.prefixLength >= length else { break }
                let body = (start + GRPCFraming.prefixLength)..<(start + GRPCFraming.prefixLength + length)
                let message = [UInt8](UnsafeRawBufferPointer(rebasing: remaining[body]))
                remaining = remaining[body.upperBound...]
                guard try deliver(message) else { return }
            }
        }
        if !remaining.isEmpty { buffer.writeBytes(UnsafeRawBufferPointer(rebasing: remaining)) }
        while let message = try next() {
            guard try deliver(message) else { return }
        }
    }

    /// The next complete message, nil if more bytes are needed, or an error that ends the call.
    mutating func next() throws(RPCError) -> [UInt8]? {
        if pendingLength == nil {
            guard buffer.readableBytes >= GRPCFraming.prefixLength,
                let flags: UInt8 = buffer.readInteger(),
                let length: UInt32 = buffer.readInteger()
            else { return nil }
            try check(flags: flags, length: Int(length))
            pendingLength = Int(length)
        }
        guard let length = pendingLength, let message = buffer.readBytes(length: length) else {
            return nil
        }
        pendingLength = nil
        if buffer.readableBytes == 0 { buffer.clear() } else if buffer.readerIndex > 65_536 {
            buffer.discardReadBytes()
        }
        return message
    }

    /// Rejects compression we did not negotiate, unknown flags and oversized messages, before
    /// any of the message's bytes are buffered.
    private func check(flags: UInt8, length: Int) throws(RPCError) {
        switch flags {
        case 0:
            break
        case 1:
            throw RPCError(.internal, "received a compressed message but no grpc-encoding was negotiated")
        default:
            throw RPCError(.internal, "invalid message flags 0x\(String(flags, radix: 16))")
        }
        guard length <= maximumMessageSize else {
            throw RPCError(
                .resourceExhausted, "message of \(length) bytes exceeds the limit of \(maximumMessageSize) bytes")
        }
    }
}
