import NIOCore

/// The client's state of one call. Owned by its connection handler, used on its event loop.
final class ClientStream {
    let callID: UInt64
    /// The stream carrying the call, once its request has been submitted (the connection's id until then).
    var streamID = HTTP2StreamID.connection
    let observer: any ClientCallObserver
    /// Unary calls: a second response message is a protocol violation.
    let expectsSingleMessage: Bool
    var messagesReceived = 0
    var finished = false

    // Request.
    var outbound: ByteBuffer
    var requestSent = false

    // Response.
    var responseHeadersReceived = false
    /// Bytes of the header block being received (RFC 9113 counting), against the configured limit.
    var headerBlockBytes = 0
    var httpStatus: String?
    var contentType: String?
    var grpcStatus: String?
    var grpcMessage: String?
    var metadata = RPCMetadata()
    var trailers = RPCMetadata()
    var deframer: GRPCMessageDeframer
    var unconsumedBytes = 0
    var readingPaused = false
    var deadlineTimer: Scheduled<Void>?

    init(
        callID: UInt64, observer: any ClientCallObserver, expectsSingleMessage: Bool, outbound: ByteBuffer,
        maxMessageSize: Int
    ) {
        self.callID = callID
        self.observer = observer
        self.expectsSingleMessage = expectsSingleMessage
        self.outbound = outbound
        self.deframer = GRPCMessageDeframer(maximumMessageSize: maxMessageSize)
    }
}

/// Receives the response of one call, on the connection's event loop.
protocol ClientCallObserver: AnyObject {
    /// The response headers arrived (not called for a trailers-only response).
    func callReceivedHeaders(_ metadata: RPCMetadata)
    /// Response messages arrived, in order (those of one received chunk). Returns false while the
    /// reader wants no more for now; the connection then withholds flow-control credit until
    /// `resumeReading`.
    func callReceivedMessages(_ messages: [[UInt8]]) -> Bool
    /// The call ended: with the trailers on success, with the error otherwise. Called once.
    func callFinished(_ result: Result<RPCMetadata, RPCError>)
}
