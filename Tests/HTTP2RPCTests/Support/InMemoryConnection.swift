import Logging
import NIOCore
import NIOEmbedded

@testable import HTTP2RPC

/// A client and a server HTTP/2 connection wired to each other in memory, without sockets.
///
/// Everything runs on one `EmbeddedEventLoop` on the test's thread; `pump` moves bytes both
/// ways (optionally in chunks of a given size) and runs queued loop work until both sides
/// are quiet, so every test is deterministic.
final class InMemoryConnection {
    let loop = EmbeddedEventLoop()
    let server: EmbeddedChannel
    let client: EmbeddedChannel
    let clientHandler: HTTP2ClientConnectionHandler
    let serverHandler: HTTP2ServerConnectionHandler
    private var nextCallID: UInt64 = 0
    /// Every byte the client sent, in order (for replaying with other splits).
    private(set) var clientBytes: [UInt8] = []

    init(
        router: RPCRouter,
        server serverConfiguration: RPCServerConfiguration = RPCServerConfiguration(),
        client clientConfiguration: RPCClientConfiguration = RPCClientConfiguration(),
        serverTransport: [any ChannelHandler] = []
    ) throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        serverHandler = HTTP2ServerConnectionHandler(configuration: serverConfiguration, router: router, logger: logger)
        clientHandler = HTTP2ClientConnectionHandler(configuration: clientConfiguration, logger: logger)
        server = EmbeddedChannel(handlers: serverTransport + [serverHandler], loop: loop)
        client = EmbeddedChannel(handler: clientHandler, loop: loop)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
        try server.connect(to: address).wait()
        try client.connect(to: address).wait()
        try pump()
    }

    /// Starts a call; the observer records what comes back.
    @discardableResult
    func call(
        _ path: String,
        _ message: [UInt8] = [],
        metadata: RPCMetadata = [:],
        timeout: TimeAmount? = nil,
        unary: Bool = true,
        observer: RecordingObserver = RecordingObserver()
    ) -> RecordingObserver {
        nextCallID += 1
        observer.callID = nextCallID
        clientHandler.start(
            .init(
                callID: nextCallID, path: path, authority: "test", message: message, metadata: metadata,
                timeout: timeout),
            observer: observer, expectsSingleMessage: unary)
        return observer
    }

    /// Moves bytes both ways until neither side has anything more to send.
    func pump(chunkSize: Int? = nil) throws {
        var moved = true
        while moved {
            moved = false
            loop.run()
            while let buffer = try client.readOutbound(as: ByteBuffer.self) {
                clientBytes.append(contentsOf: buffer.readableBytesView)
                try deliver(buffer, to: server, chunkSize: chunkSize)
                moved = true
            }
            while let buffer = try server.readOutbound(as: ByteBuffer.self) {
                try deliver(buffer, to: client, chunkSize: chunkSize)
                moved = true
            }
        }
    }

    /// The frames the client has written, parsed and not delivered: a test alters them and sends
    /// them on with ``sendToServer(_:)``.
    func takeClientFrames() throws -> [RawFrame] {
        loop.run()
        var bytes: [UInt8] = []
        while let buffer = try client.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return RawFrame.parse(bytes)
    }

    /// Sends raw bytes to the server as if the client had written them.
    func sendToServer(_ bytes: [UInt8]) throws {
        try deliver(ByteBuffer(bytes: bytes), to: server, chunkSize: nil)
    }

    /// Everything the server has written, without delivering it to the client.
    func takeServerOutput() throws -> [UInt8] {
        loop.run()
        var bytes: [UInt8] = []
        while let buffer = try server.readOutbound(as: ByteBuffer.self) {
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        return bytes
    }

    private func deliver(_ buffer: ByteBuffer, to channel: EmbeddedChannel, chunkSize: Int?) throws {
        guard channel.isActive else { return }
        guard let chunkSize else {
            try channel.writeInbound(buffer)
            return
        }
        var remaining = buffer
        while let chunk = remaining.readSlice(length: min(chunkSize, remaining.readableBytes)), chunk.readableBytes > 0
        {
            try channel.writeInbound(chunk)
            guard channel.isActive else { return }
        }
    }

    func advanceTime(by amount: TimeAmount) throws {
        loop.advanceTime(by: amount)
        try pump()
    }
}

/// Records what a call received, on the event loop.
final class RecordingObserver: ClientCallObserver {
    var callID: UInt64 = 0
    var headers: RPCMetadata?
    var messages: [[UInt8]] = []
    var result: Result<RPCMetadata, RPCError>?
    /// While false, the observer refuses more messages (flow control stays closed).
    var wantsMore = true

    func callReceivedHeaders(_ metadata: RPCMetadata) { headers = metadata }

    func callReceivedMessages(_ messages: [[UInt8]]) -> Bool {
        self.messages += messages
        return wantsMore
    }

    func callFinished(_ result: Result<RPCMetadata, RPCError>) {
        precondition(self.result == nil, "a call finished twice")
        self.result = result
    }

    var error: RPCError? {
        if case .failure(let error) = result { return error }
        return nil
    }

    var trailers: RPCMetadata? {
        if case .success(let trailers) = result { return trailers }
        return nil
    }
}

/// Stands in for a socket's write buffer between the server handler and the wire: writes make
/// the channel unwritable past a watermark, and a flush empties the buffer and makes it
/// writable again before returning, as a socket does when it takes everything at once. The
/// handler is thus called back from inside its own flush.
final class WritabilityFlipper: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    private var pending = 0
    private(set) var flips = 0

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        pending += unwrapOutboundIn(data).readableBytes
        context.write(data, promise: promise)
        if pending > 64 << 10, let channel = context.channel as? EmbeddedChannel, channel.isWritable {
            channel.isWritable = false
            context.fireChannelWritabilityChanged()
        }
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
        pending = 0
        guard let channel = context.channel as? EmbeddedChannel, !channel.isWritable else { return }
        flips += 1
        channel.isWritable = true
        context.fireChannelWritabilityChanged()
    }
}
