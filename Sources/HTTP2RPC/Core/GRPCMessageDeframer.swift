/// Splits a byte stream into gRPC messages, whatever the chunking of the bytes: one flag byte
/// (0: not compressed, 1: compressed), a 4-byte big-endian length, then the payload.
///
/// The length prefix is checked against the maximum before any payload is buffered, so a
/// peer cannot make us hold more than `maximumMessageSize + 5` bytes for one stream. This file
/// imports nothing, so that the fuzz target (`Tools/fuzz/FramingFuzz.swift`) compiles it alone.
struct GRPCMessageDeframer {
    static let prefixLength = 5

    let maximumMessageSize: Int
    /// Received bytes not yet returned; those before `readIndex` are consumed.
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Length of the message whose prefix has been read, while waiting for its payload.
    private var pendingLength: Int?
    /// Whether that message is compressed.
    private var pendingCompressed = false
    /// Turns a compressed payload into its message; `nil` (no `grpc-encoding` that we inflate was
    /// named) refuses compressed messages.
    var inflate: ((UnsafeRawBufferPointer) throws(RPCError) -> [UInt8])?

    init(maximumMessageSize: Int) {
        self.maximumMessageSize = maximumMessageSize
    }

    /// Bytes received but not yet returned as messages (a read prefix excluded).
    var bufferedBytes: Int { buffer.count - readIndex }

    /// The bytes on the wire (prefix included) of the message being received, once its prefix
    /// has been read and until the message is complete.
    var messageInProgressWireLength: Int? { pendingLength.map { $0 + Self.prefixLength } }

    /// Whether no partial message is pending (the stream may end here cleanly).
    var isAtMessageBoundary: Bool { bufferedBytes == 0 && pendingLength == nil }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    /// Feeds received bytes, calling `deliver` for each complete message, with the bytes it took
    /// on the wire (prefix included; less than the message for a compressed one), until it
    /// returns false. Messages that arrive whole in `input` are taken from it directly; only a
    /// partial message is copied into the deframer's buffer.
    mutating func process(
        _ input: UnsafeRawBufferPointer, _ deliver: (_ message: [UInt8], _ wireLength: Int) throws(RPCError) -> Bool
    ) throws(RPCError) {
        var remaining = input[...]
        if isAtMessageBoundary {
            while remaining.count >= Self.prefixLength {
                let start = remaining.startIndex
                let (length, compressed) = try checkedLength(
                    flags: remaining[start], lengthBytes: remaining[(start + 1)..<(start + 5)])
                guard remaining.count - Self.prefixLength >= length else { break }
                let body = (start + Self.prefixLength)..<(start + Self.prefixLength + length)
                let payload = UnsafeRawBufferPointer(rebasing: remaining[body])
                let message = try compressed ? inflated(payload) : [UInt8](payload)
                remaining = remaining[body.upperBound...]
                guard try deliver(message, Self.prefixLength + length) else { return }
            }
        }
        if !remaining.isEmpty { buffer.append(contentsOf: remaining) }
        while let (message, wireLength) = try take() {
            guard try deliver(message, wireLength) else { return }
        }
    }

    /// The next complete message, nil if more bytes are needed, or an error that ends the call.
    mutating func next() throws(RPCError) -> [UInt8]? {
        try take()?.message
    }

    /// The next complete message and the bytes it took on the wire.
    private mutating func take() throws(RPCError) -> (message: [UInt8], wireLength: Int)? {
        if pendingLength == nil {
            guard bufferedBytes >= Self.prefixLength else { return nil }
            (pendingLength, pendingCompressed) = try checkedLength(
                flags: buffer[readIndex], lengthBytes: buffer[(readIndex + 1)..<(readIndex + 5)])
            readIndex += Self.prefixLength
        }
        guard let length = pendingLength, bufferedBytes >= length else { return nil }
        let range = readIndex..<(readIndex + length)
        let message: [UInt8]
        if pendingCompressed {
            let inflating = buffer.withUnsafeBytes { bytes in
                Result { () throws(RPCError) in try inflated(UnsafeRawBufferPointer(rebasing: bytes[range])) }
            }
            message = try inflating.get()
        } else {
            message = Array(buffer[range])
        }
        readIndex += length
        pendingLength = nil
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex > 65_536 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        return (message, Self.prefixLength + length)
    }

    private func inflated(_ payload: UnsafeRawBufferPointer) throws(RPCError) -> [UInt8] {
        guard let inflate else { throw Self.compressionNotNegotiated }
        return try inflate(payload)
    }

    private static var compressionNotNegotiated: RPCError {
        RPCError(.internal, "received a compressed message but no grpc-encoding was negotiated")
    }

    /// The payload length of a prefix and whether it is compressed, after rejecting compression
    /// we did not negotiate, unknown flags and oversized messages, before any of the message's
    /// bytes are buffered.
    private func checkedLength<Bytes: Collection<UInt8>>(
        flags: UInt8, lengthBytes: Bytes
    ) throws(RPCError) -> (length: Int, compressed: Bool) {
        switch flags {
        case 0:
            break
        case 1:
            guard inflate != nil else { throw Self.compressionNotNegotiated }
        default:
            throw RPCError(.internal, "invalid message flags 0x\(String(flags, radix: 16))")
        }
        // Four bytes: at most 2^32 - 1, which an Int holds on every platform we build for.
        let length = lengthBytes.reduce(0) { $0 << 8 | Int($1) }
        guard length <= maximumMessageSize else {
            throw RPCError(
                .resourceExhausted, "message of \(length) bytes exceeds the limit of \(maximumMessageSize) bytes")
        }
        return (length, flags == 1)
    }
}
