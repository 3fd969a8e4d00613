import NIOCore

/// Limits and timeouts of a client connection.
public struct RPCClientConfiguration: Sendable {
    /// Largest response message accepted; larger ones fail the call with RESOURCE_EXHAUSTED.
    public var maxReceiveMessageSize: Int = 4 << 20
    /// SETTINGS_INITIAL_WINDOW_SIZE: bytes the server may send on one call before we read them.
    public var initialStreamWindowSize: UInt32 = 1 << 20
    public var connectionWindowSize: Int32 = 16 << 20
    public var maxHeaderListSize: UInt32 = 16_384
    public var connectTimeout: TimeAmount = .seconds(10)
    /// How long a connected server may take to send its HTTP/2 SETTINGS (after the TLS handshake,
    /// with TLS). A server that accepts the connection and says nothing fails the calls on it
    /// with UNAVAILABLE once this has passed, rather than leaving each to its deadline.
    public var handshakeTimeout: TimeAmount = .seconds(5)
    /// Batches of messages of a streaming response (the messages of one received DATA frame
    /// each, at most 16 KiB) buffered ahead of the reader before the client stops reading from
    /// the server.
    public var streamingBufferHighWatermark: Int = 4
    /// Keepalive: after this long without a frame from the server while calls are open, send a
    /// PING; `nil` never does. A connection whose PING goes unanswered for ``keepaliveTimeout`` is
    /// closed, failing its calls with UNAVAILABLE, so a dead peer (or a silent network) is noticed
    /// even on a quiet subscription. A connection without calls is not pinged.
    public var keepaliveInterval: TimeAmount? = nil
    /// How long a keepalive PING may go unanswered.
    public var keepaliveTimeout: TimeAmount = .seconds(20)

    public init() {}

    var sessionOptions: NGHTTP2SessionOptions {
        var options = NGHTTP2SessionOptions()
        options.maxConcurrentStreams = 100
        options.initialWindowSize = initialStreamWindowSize
        options.connectionWindowSize = connectionWindowSize
        options.maxHeaderListSize = maxHeaderListSize
        return options
    }
}

/// The answer to a unary call.
public struct RPCClientResponse: Sendable {
    public var message: [UInt8]
    /// Initial metadata (response headers).
    public var metadata: RPCMetadata
    /// Trailing metadata, next to the status.
    public var trailers: RPCMetadata
}

/// A server-streaming response while it is being read.
public struct RPCClientStreamingResponse: Sendable {
    /// Initial metadata (response headers).
    public let metadata: RPCMetadata
    /// The response messages. The sequence ends after the last message when the call succeeds
    /// and throws the call's ``RPCError`` otherwise.
    public let messages: RPCMessageSequence
    let trailerFuture: EventLoopFuture<RPCMetadata>

    /// Trailing metadata; available once `messages` has ended.
    public var trailers: RPCMetadata {
        get async throws { try await trailerFuture.get() }
    }
}
