import NIOCore

/// Everything a server needs to know to listen and to protect itself.
///
/// Defaults suit production; tests shrink the timeouts.
public struct RPCServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// TLS with ALPN `h2`; nil serves plain HTTP/2 with prior knowledge (h2c).
    public var tls: TLSConfiguration?

    /// SETTINGS_MAX_CONCURRENT_STREAMS advertised to each client.
    public var maxConcurrentStreams: UInt32 = 256
    /// SETTINGS_INITIAL_WINDOW_SIZE: bytes a client may send on one stream before we read them.
    public var initialStreamWindowSize: UInt32 = 1 << 20
    /// Bytes a client may send on the whole connection before we read them.
    public var connectionWindowSize: Int32 = 16 << 20
    /// SETTINGS_MAX_HEADER_LIST_SIZE; a larger request header block is refused.
    public var maxHeaderListSize: UInt32 = 16_384
    /// Largest request message accepted; larger ones end the call with RESOURCE_EXHAUSTED.
    public var maxReceiveMessageSize: Int = 4 << 20
    /// Largest response message a handler may send.
    public var maxSendMessageSize: Int = 4 << 20
    /// Request bytes a connection may be receiving at once: a message larger than its stream window
    /// is read on only while its whole length fits (one always may); the others wait, their stream
    /// windows closed, and past `connectionWindowSize / initialStreamWindowSize` waiting a call is
    /// refused with RESOURCE_EXHAUSTED.
    public var maxBufferedRequestBytesPerConnection: Int = 32 << 20
    /// Response bytes a connection may hold unsent (the peer not reading, or its windows closed);
    /// a response that would go past it fails with RESOURCE_EXHAUSTED instead of being queued.
    public var maxBufferedResponseBytesPerConnection: Int = 64 << 20
    /// Response bytes queued on one stream above which a streaming handler's `write` waits.
    public var responseBufferHighWatermark: Int = 64 << 10

    /// Send a PING after this long without receiving anything; nil disables keepalive.
    public var keepaliveInterval: TimeAmount? = .seconds(7200)
    /// Close the connection if a keepalive PING is not answered within this time.
    public var keepaliveTimeout: TimeAmount = .seconds(20)
    /// Close a connection that has had no open stream for this long.
    public var idleTimeout: TimeAmount? = .minutes(5)
    /// The time slice the event loop threads ask Linux for when the server starts, `nil` to leave
    /// them as they are. Short, so that a loop woken by a packet or a committed event preempts a
    /// thread busy with other work (command handlers, a projection) instead of waiting up to that
    /// thread's whole slice (1.4 ms by default on two cores): a loop's turns are short anyway.
    public var eventLoopTimeSlice: TimeAmount? = .microseconds(100)
    /// Reset a unary or server-streaming call whose request has not fully arrived by then.
    public var requestReceiveTimeout: TimeAmount = .seconds(30)
    /// How long a connection closed with a GOAWAY keeps reading, and dropping, what the peer still
    /// sends after our side has ended, before the socket is closed (sooner when the peer closes):
    /// closing on unread bytes would make the kernel reset the connection, and the peer could
    /// lose the GOAWAY unread.
    public var closeLinger: TimeAmount = .seconds(1)
    /// How long a graceful shutdown waits for calls in flight before cancelling them.
    public var shutdownGracePeriod: TimeAmount = .seconds(10)

    /// Control frames (PING, SETTINGS, PRIORITY, empty DATA) a client may send in a burst,
    /// and how many per second refill that budget. Beyond it the connection is closed with
    /// ENHANCE_YOUR_CALM: these frames cost us work while carrying no request. A stream refused
    /// for abuse (headers over the limit, a request that never arrived) costs ten of them.
    public var controlFrameBurst: Int = 1000
    public var controlFramesPerSecond: Int = 100
    /// RST_STREAM frames a client may send in a burst and per second (rapid reset defence); past
    /// them nghttp2 closes the connection (GOAWAY). A gRPC client resets every call whose deadline
    /// passes, so under load an honest client can reset hundreds a second: nghttp2's own budget
    /// (1000, then 33 a second) cut such clients off, every call on the connection failing with
    /// it. An attack resets tens of thousands a second; a reset call costs this server less than a
    /// call it answers, so allowing a thousand a second gives an attacker nothing a client that
    /// sends calls does not already have.
    public var streamResetBurst: UInt64 = 10_000
    public var streamResetsPerSecond: UInt64 = 1_000

    public init(host: String = "127.0.0.1", port: Int = 50051, tls: TLSConfiguration? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
    }

    var sessionOptions: NGHTTP2SessionOptions {
        var options = NGHTTP2SessionOptions()
        options.maxConcurrentStreams = maxConcurrentStreams
        options.initialWindowSize = initialStreamWindowSize
        options.connectionWindowSize = connectionWindowSize
        options.maxHeaderListSize = maxHeaderListSize
        options.streamResetBurst = streamResetBurst
        options.streamResetRate = streamResetsPerSecond
        return options
    }
}
