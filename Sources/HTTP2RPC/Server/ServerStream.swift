import NIOCore

/// The server's state of one HTTP/2 stream, i.e. one call. Owned by its connection handler
/// and only touched on the connection's event loop.
final class ServerStream {
    /// Where the call is. Each case carries what only it needs.
    enum Phase {
        /// The request header block is still arriving.
        case receivingHeaders(RequestHead)
        /// Accepted; a unary or server-streaming call waits here for its one request message,
        /// which it holds once it has arrived.
        case awaitingRequest(RequestHead.Accepted, message: [UInt8]?)
        /// The handler runs in `task` (nil only while the task is being started).
        case running(RequestHead.Accepted, task: Task<Void, Never>?)
        /// The final status has been submitted; waiting for nghttp2 to close the stream.
        case finished
    }

    let id: HTTP2StreamID
    /// Since when the request is overdue-checked: its opening, or the moment its message got room
    /// after waiting for it (time the server held the window closed is not the client's).
    var receivingSince: NIODeadline
    var phase: Phase = .receivingHeaders(RequestHead())

    var isReceivingHeaders: Bool {
        if case .receivingHeaders = phase { return true }
        return false
    }

    var isAwaitingRequest: Bool {
        if case .awaitingRequest = phase { return true }
        return false
    }

    var isRunning: Bool {
        if case .running = phase { return true }
        return false
    }

    var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }

    /// The accepted call, while it waits for its request or runs.
    var call: RequestHead.Accepted? {
        switch phase {
        case .awaitingRequest(let call, _), .running(let call, _): call
        case .receivingHeaders, .finished: nil
        }
    }

    /// The call's final status is on its way: the handler, if it still runs, is cancelled.
    func markFinished() {
        if case .running(_, let task) = phase { task?.cancel() }
        phase = .finished
    }

    /// Updates the header block in place (the phase holds no second reference meanwhile, so the
    /// metadata array grows without being copied); nil once the block is complete.
    func updateHead<Result>(_ body: (inout RequestHead) -> Result) -> Result? {
        guard case .receivingHeaders(var head) = phase else { return nil }
        phase = .finished
        defer { phase = .receivingHeaders(head) }
        return body(&head)
    }

    // Request body.
    var deframer: GRPCMessageDeframer
    var requestEnded = false
    /// Bytes received but not yet returned to the peer's flow-control windows.
    var unconsumedBytes = 0
    /// Bytes received whose connection window was returned at once, but not yet their stream's:
    /// they arrived while the message waited for room in the connection's request budget.
    var unconsumedStreamBytes = 0
    /// The part of the connection's request budget set aside for the message being received.
    var requestRoom = 0
    /// Set while the message being received waits for room in the connection's request budget.
    var waitingForRoom = false
    /// Bytes received and counted against the connection's request budget, not yet released
    /// (released as messages are handed to the handler, and all at once when the stream closes).
    var heldRequestBytes = 0
    /// Set while the handler of a streaming request does not keep up with the messages.
    var readingPaused = false
    var requestSource: RPCMessageSequence.Producer.Source?
    var requestSequence: RPCMessageSequence?

    // Handler.
    var deadlineTimer: Scheduled<Void>?

    // Response.
    var responseStarted = false
    /// The request named a `grpc-encoding`: the response says which ones the server reads
    /// (`grpc-accept-encoding`), which a client that compresses looks for. Other calls go without
    /// the field, which costs every response a header otherwise.
    var advertisesEncodings = false
    var outbound: ByteBuffer
    /// The final status, once the handler is done, waiting for the messages before it to go out.
    var pendingTrailers: (status: RPCStatus, trailers: RPCMetadata)?
    /// The response is a plain HTTP one (not gRPC): its body, once sent, ends the stream, with no
    /// trailers.
    var bodyEndsStream = false
    /// nghttp2 was told there is no data for now and waits for `resumeData`.
    var dataDeferred = false
    var writeWaiters: [CheckedContinuation<Void, any Error>] = []

    /// `emptyBuffer` is shared by the connection's streams; copy-on-write gives a stream its
    /// own storage when it first buffers response bytes, so a call that never does allocates none.
    init(id: HTTP2StreamID, openedAt: NIODeadline, maxMessageSize: Int, emptyBuffer: ByteBuffer) {
        self.id = id
        self.receivingSince = openedAt
        self.deframer = GRPCMessageDeframer(maximumMessageSize: maxMessageSize)
        self.outbound = emptyBuffer
    }

    /// Whether request bytes are still wanted (false once a final status is on its way).
    var acceptsRequestData: Bool { !isFinished }

    func resumeWriters(throwing error: (any Error)? = nil) {
        guard !writeWaiters.isEmpty else { return }
        let waiters = writeWaiters
        writeWaiters.removeAll()
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }
}
