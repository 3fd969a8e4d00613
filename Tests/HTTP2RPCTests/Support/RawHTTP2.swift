import CNGHTTP2
import Logging
import NIOCore
import NIOEmbedded

@testable import HTTP2RPC

/// One HTTP/2 frame, built or parsed by hand, for tests that must send what a well-behaved
/// client never would.
struct RawFrame: Equatable {
    enum Kind: UInt8 {
        case data = 0, headers = 1, priority = 2, rstStream = 3, settings = 4, pushPromise = 5
        case ping = 6, goaway = 7, windowUpdate = 8, continuation = 9
    }

    var type: UInt8
    var flags: UInt8
    var streamID: UInt32
    var payload: [UInt8]

    static let endStream: UInt8 = 0x1
    static let ack: UInt8 = 0x1
    static let endHeaders: UInt8 = 0x4

    init(_ kind: Kind, flags: UInt8 = 0, stream: UInt32 = 0, payload: [UInt8] = []) {
        self.type = kind.rawValue
        self.flags = flags
        self.streamID = stream
        self.payload = payload
    }

    var kind: Kind? { Kind(rawValue: type) }

    var bytes: [UInt8] {
        let length = payload.count
        var out: [UInt8] = [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
        out += [
            UInt8(streamID >> 24 & 0x7F), UInt8(streamID >> 16 & 0xFF), UInt8(streamID >> 8 & 0xFF),
            UInt8(streamID & 0xFF),
        ]
        return out + payload
    }

    /// Splits bytes into whole frames; a trailing partial frame is left out.
    static func parse(_ bytes: [UInt8]) -> [RawFrame] {
        var frames: [RawFrame] = []
        var index = 0
        while index + 9 <= bytes.count {
            let length = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            guard index + 9 + length <= bytes.count else { break }
            var frame = RawFrame(.data)
            frame.type = bytes[index + 3]
            frame.flags = bytes[index + 4]
            frame.streamID =
                UInt32(bytes[index + 5] & 0x7F) << 24 | UInt32(bytes[index + 6]) << 16 | UInt32(bytes[index + 7]) << 8
                | UInt32(bytes[index + 8])
            frame.payload = Array(bytes[(index + 9)..<(index + 9 + length)])
            frames.append(frame)
            index += 9 + length
        }
        return frames
    }

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func settings(_ entries: [(UInt16, UInt32)] = []) -> RawFrame {
        var payload: [UInt8] = []
        for (id, value) in entries {
            payload += [UInt8(id >> 8), UInt8(id & 0xFF)]
            payload += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        return RawFrame(.settings, payload: payload)
    }

    static func headers(
        stream: UInt32, _ fields: [(String, String)], endStream: Bool = false, endHeaders: Bool = true
    ) -> RawFrame {
        RawFrame(
            .headers, flags: (endStream ? RawFrame.endStream : 0) | (endHeaders ? RawFrame.endHeaders : 0),
            stream: stream, payload: HPACK.encode(fields))
    }

    /// A gRPC request header block for `path`, with optional overrides and extras.
    static func grpcRequestFields(
        path: String, method: String = "POST", contentType: String = "application/grpc", extra: [(String, String)] = []
    ) -> [(String, String)] {
        [
            (":method", method), (":scheme", "http"), (":path", path), (":authority", "test"),
            ("content-type", contentType), ("te", "trailers"),
        ]
            + extra
    }

    static func data(stream: UInt32, _ payload: [UInt8], endStream: Bool = false) -> RawFrame {
        RawFrame(.data, flags: endStream ? RawFrame.endStream : 0, stream: stream, payload: payload)
    }

    /// One gRPC message with its 5-byte prefix.
    static func grpcMessage(_ message: [UInt8], flag: UInt8 = 0) -> [UInt8] {
        let length = UInt32(message.count)
        return [flag, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + message
    }

    static func rstStream(stream: UInt32, code: UInt32) -> RawFrame {
        RawFrame(
            .rstStream, stream: stream,
            payload: [UInt8(code >> 24), UInt8(code >> 16 & 0xFF), UInt8(code >> 8 & 0xFF), UInt8(code & 0xFF)])
    }

    static func windowUpdate(stream: UInt32, increment: UInt32) -> RawFrame {
        RawFrame(
            .windowUpdate, stream: stream,
            payload: [
                UInt8(increment >> 24), UInt8(increment >> 16 & 0xFF), UInt8(increment >> 8 & 0xFF),
                UInt8(increment & 0xFF),
            ])
    }

    static func ping(_ opaque: UInt8 = 0) -> RawFrame {
        RawFrame(.ping, payload: [UInt8](repeating: opaque, count: 8))
    }

    /// The last stream id of a GOAWAY.
    var lastStreamID: UInt32? {
        guard kind == .goaway, payload.count >= 8 else { return nil }
        return (UInt32(payload[0]) << 24 | UInt32(payload[1]) << 16 | UInt32(payload[2]) << 8 | UInt32(payload[3]))
            & 0x7FFF_FFFF
    }

    var errorCode: UInt32? {
        switch kind {
        case .rstStream where payload.count == 4:
            return UInt32(payload[0]) << 24 | UInt32(payload[1]) << 16 | UInt32(payload[2]) << 8 | UInt32(payload[3])
        case .goaway where payload.count >= 8:
            return UInt32(payload[4]) << 24 | UInt32(payload[5]) << 16 | UInt32(payload[6]) << 8 | UInt32(payload[7])
        default:
            return nil
        }
    }
}

/// HPACK literals without indexing or Huffman coding: the simplest valid encoding.
enum HPACK {
    static func encode(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            out.append(0x00)
            out += integer(name.utf8.count, prefixBits: 7)
            out += Array(name.utf8)
            out += integer(value.utf8.count, prefixBits: 7)
            out += Array(value.utf8)
        }
        return out
    }

    private static func integer(_ value: Int, prefixBits: Int) -> [UInt8] {
        let limit = (1 << prefixBits) - 1
        if value < limit { return [UInt8(value)] }
        var out: [UInt8] = [UInt8(limit)]
        var rest = value - limit
        while rest >= 128 {
            out.append(UInt8(rest & 0x7F | 0x80))
            rest >>= 7
        }
        out.append(UInt8(rest))
        return out
    }
}

/// Decodes header blocks with nghttp2's own HPACK inflater, keeping the dynamic table
/// across blocks as a real peer would.
final class HeaderDecoder {
    private var inflater: OpaquePointer?

    init() { nghttp2_hd_inflate_new(&inflater) }
    deinit { nghttp2_hd_inflate_del(inflater) }

    func decode(_ block: [UInt8]) -> [(String, String)]? {
        var fields: [(String, String)] = []
        var offset = 0
        while true {
            var pair = nghttp2_nv()
            var flags: Int32 = 0
            let consumed = block.withUnsafeBufferPointer { buffer in
                nghttp2_hd_inflate_hd2(inflater, &pair, &flags, buffer.baseAddress! + offset, buffer.count - offset, 1)
            }
            guard consumed >= 0 else { return nil }
            offset += consumed
            if flags & Int32(NGHTTP2_HD_INFLATE_EMIT.rawValue) != 0 {
                fields.append(
                    (
                        String(decoding: UnsafeBufferPointer(start: pair.name, count: pair.namelen), as: UTF8.self),
                        String(decoding: UnsafeBufferPointer(start: pair.value, count: pair.valuelen), as: UTF8.self)
                    ))
            }
            if flags & Int32(NGHTTP2_HD_INFLATE_FINAL.rawValue) != 0 {
                nghttp2_hd_inflate_end_headers(inflater)
                return fields
            }
            if consumed == 0 && flags & Int32(NGHTTP2_HD_INFLATE_EMIT.rawValue) == 0 { return nil }
        }
    }
}

/// A server connection driven by hand-written frames, in memory.
final class RawServerConnection {
    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let decoder = HeaderDecoder()
    /// Frames received from the server so far.
    private(set) var received: [RawFrame] = []
    /// Decoded header blocks, in the order they arrived (HPACK state depends on that order).
    private(set) var headerBlocks: [(stream: UInt32, fields: [(String, String)])] = []
    private var pending: [UInt8] = []
    /// Every byte the server wrote, in order (frames or not).
    private(set) var output: [UInt8] = []
    let handler: HTTP2ServerConnectionHandler
    private let stall: WriteStall?

    /// `stallWrites`: the server's writes after the handshake never complete, as with a peer that
    /// has stopped reading and whose socket buffer is full.
    init(
        router: RPCRouter, configuration: RPCServerConfiguration = RPCServerConfiguration(), handshake: Bool = true,
        stallWrites: Bool = false, refusingHTTP1: Bool = false, logger: Logger? = nil
    ) throws {
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let logger = logger ?? quiet
        handler = HTTP2ServerConnectionHandler(configuration: configuration, router: router, logger: logger)
        stall = stallWrites ? WriteStall() : nil
        var handlers: [any ChannelHandler] = [handler]
        if refusingHTTP1 { handlers.insert(HTTP1Refusal(linger: configuration.closeLinger, logger: logger), at: 0) }
        if let stall { handlers.insert(stall, at: 0) }
        channel = EmbeddedChannel(handlers: handlers, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        if handshake {
            try send(bytes: RawFrame.preface + RawFrame.settings().bytes)
            try send(RawFrame(.settings, flags: RawFrame.ack))
        }
        stall?.stalling = true
    }

    var isOpen: Bool { channel.isActive }

    func send(_ frames: RawFrame...) throws {
        try send(bytes: frames.flatMap(\.bytes))
    }

    func send(bytes: [UInt8]) throws {
        guard channel.isActive else { return }
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        collect()
    }

    func advanceTime(by amount: TimeAmount) {
        loop.advanceTime(by: amount)
        collect()
    }

    /// Reads what the server wrote since the last call.
    @discardableResult
    func collect() -> [RawFrame] {
        loop.run()
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            pending += buffer.readableBytesView
            output += buffer.readableBytesView
        }
        let frames = RawFrame.parse(pending)
        pending.removeFirst(frames.reduce(0) { $0 + 9 + $1.payload.count })
        received += frames
        for frame in frames where frame.kind == .headers {
            headerBlocks.append((frame.streamID, decoder.decode(frame.payload) ?? [("error", "undecodable")]))
        }
        return frames
    }

    /// Header blocks (decoded) the server sent on `stream`, in order.
    func headerBlocks(stream: UInt32) -> [[(String, String)]] {
        headerBlocks.filter { $0.stream == stream }.map(\.fields)
    }

    /// The value of `name` in the last header block of `stream`.
    func lastHeader(_ name: String, stream: UInt32) -> String? {
        headerBlocks(stream: stream).last?.last { $0.0 == name }?.1
    }

    /// The gRPC status a stream ended with (its last `grpc-status`), typed; nil before it ends.
    func statusCode(stream: UInt32) -> RPCStatus.Code? {
        lastHeader("grpc-status", stream: stream).map { RPCStatus.Code(wireValue: Substring($0)) }
    }

    func frames(_ kind: RawFrame.Kind, stream: UInt32? = nil) -> [RawFrame] {
        received.filter { $0.kind == kind && (stream == nil || $0.streamID == stream) }
    }
}

/// Passes writes on until `stalling`, then keeps them: their promises never complete.
final class WriteStall: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var stalling = false
    private var held: [EventLoopPromise<Void>?] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard stalling else { return context.write(data, promise: promise) }
        held.append(promise)
    }
}
