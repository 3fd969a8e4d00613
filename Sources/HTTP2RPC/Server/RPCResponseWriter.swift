import NIOCore

/// Writes the response messages of a streaming call.
///
/// A write returns once the messages are queued on the connection; it suspends while the
/// stream's queue is over its high watermark (the client is not reading), which is how a
/// handler feels back-pressure. Writing after the call ended throws.
public struct RPCResponseWriter: Sendable {
    let sink: any RPCCallSink

    /// Queues one message.
    public func write(_ message: [UInt8]) async throws {
        try await sink.write(contentsOf: CollectionOfOne(message))
    }

    /// Queues messages in order, together: one trip to the connection's loop and one flush for
    /// all of them. A message over the size limit fails the write; those before it are sent.
    public func write(contentsOf messages: some Collection<[UInt8]> & Sendable) async throws {
        try await sink.write(contentsOf: messages)
    }
}

/// A call's sink on its connection: every step runs on the connection's event loop, directly
/// when the call's task is already there (its executor preference), or as a task on the loop.
struct ConnectionCallSink: RPCCallSink {
    let connection: NIOLoopBound<HTTP2ServerConnectionHandler>
    let eventLoop: any EventLoop
    let streamID: HTTP2StreamID

    enum Outcome {
        case accepted
        /// Queued, but the stream's queue is over its high watermark: wait before writing more.
        case mustWait
        case failed(RPCError)
    }

    func write(contentsOf messages: some Collection<[UInt8]> & Sendable) async throws {
        if eventLoop.inEventLoop {
            switch connection.value.enqueueResponses(streamID: streamID, messages: messages) {
            case .accepted:
                return
            case .failed(let error):
                throw error
            case .mustWait:
                // The body of withCheckedThrowingContinuation runs synchronously, still on the
                // loop, so the data source cannot drain between the check and the registration.
                try await withCheckedThrowingContinuation { continuation in
                    connection.value.addWriteWaiter(streamID: streamID, continuation)
                }
            }
        } else {
            try await withCheckedThrowingContinuation { continuation in
                let connection = self.connection
                let streamID = self.streamID
                eventLoop.execute {
                    switch connection.value.enqueueResponses(streamID: streamID, messages: messages) {
                    case .accepted: continuation.resume()
                    case .failed(let error): continuation.resume(throwing: error)
                    case .mustWait: connection.value.addWriteWaiter(streamID: streamID, continuation)
                    }
                }
            }
        }
    }

    func respond(_ response: RPCServerResponse) {
        onLoop(response) { $0.completeUnary(streamID: $1, response: $2) }
    }

    func complete(trailers: RPCMetadata) {
        onLoop(trailers) { $0.complete(streamID: $1, trailers: $2) }
    }

    func fail(_ error: any Error) {
        onLoop(error) { $0.fail(streamID: $1, error: $2) }
    }

    /// Runs `body` with `value` on the connection's loop. The closures above capture nothing, so a
    /// call made on the loop (the usual case) allocates no context for them.
    private func onLoop<Value: Sendable>(
        _ value: Value, _ body: @escaping @Sendable (HTTP2ServerConnectionHandler, HTTP2StreamID, Value) -> Void
    ) {
        let streamID = self.streamID
        if eventLoop.inEventLoop {
            body(connection.value, streamID, value)
        } else {
            let connection = self.connection
            eventLoop.execute { body(connection.value, streamID, value) }
        }
    }
}
