import NIOCore

/// The server's state of one HTTP/2 stream, i.e. one call. Owned by its connection handler
/// and only touched on the connection's event loop.
final class ServerStream {
    enum Phase {
        /// The request header block is still arriving.
        case headers
        /// Accepted; waiting for the request message (unary and server-streaming calls).
        case awaitingRequest
        /// The handler runs.
        case running
        /// The final status has been submitted; waiting for nghttp2 to close the stream.
        case finished
    }

    let id: Int32
    let openedAt: NIODeadline
    var phase: Phase = .headers

    // Request header block.
    var headerListBytes = 0
    var headerListTooLarge = false
    /// `:method` was POST (nil: no `:method` seen).
    var methodIsPost: Bool?
    var path: String?
    var contentTypeAccepted = false
    var timeout: String?
    var encoding: String?
    var metadata = RPCMetadata()

    // Request body.
    var deframer: GRPCMessageDeframer
    var requestMessage: [UInt8]?
    var requestEnded = false
    /// Bytes received but not yet returned to the peer's flow-control windows.
    var unconsumedBytes = 0
    /// Bytes received and counted against the connection's request budget, not yet released
    /// (released as messages are handed to the handler, and all at once when the stream closes).
    var heldRequestBytes = 0
    /// Set while the handler of a streaming request does not keep up with the messages.
    var readingPaused = false
    var requestSource: RPCMessageSequence.Producer.Source?
    var requestSequence: RPCMessageSequence?

    // Handler.
    var handler: RPCRouter.Handler?
    var deadline: NIODeadline?
    var deadlineTimer: Scheduled<Void>?
    var task: Task<Void, Never>?

    // Response.
    var responseStarted = false
    var outbound: ByteBuffer
    /// The final status, once the handler is done, waiting for the messages before it to go out.
    var pendingTrailers: (status: RPCStatus, trailers: RPCMetadata)?
    /// nghttp2 was told there is no data for now and waits for `resumeData`.
    var dataDeferred = false
    var writeWaiters: [CheckedContinuation<Void, any Error>] = []

    /// `emptyBuffer` is shared by the connection's streams; copy-on-write gives a stream its
    /// own storage when it first buffers response bytes, so a call that never does allocates none.
    init(id: Int32, openedAt: NIODeadline, maxMessageSize: Int, emptyBuffer: ByteBuffer) {
        self.id = id
        self.openedAt = openedAt
        self.deframer = GRPCMessageDeframer(maximumMessageSize: maxMessageSize)
        self.outbound = emptyBuffer
    }

    /// Whether request bytes are still wanted (false once a final status is on its way).
    var acceptsRequestData: Bool {
        phase == .headers || phase == .awaitingRequest || phase == .running
    }

    func resumeWriters(throwing error: (any Error)? = nil) {
        guard !writeWaiters.isEmpty else { return }
        let waiters = writeWaiters
        writeWaiters.removeAll()
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }
}
