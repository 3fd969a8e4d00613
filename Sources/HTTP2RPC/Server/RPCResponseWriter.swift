import NIOCore

/// Sends the response messages of a streaming call.
///
/// `write` returns once the message is queued on the connection; it suspends while the
/// stream already holds more than the configured high watermark of unsent bytes, which is
/// how a handler feels the peer's flow control. It throws once the call has ended (the peer
/// cancelled, the deadline passed, the connection closed).
public struct RPCResponseWriter: Sendable {
    let connection: NIOLoopBound<HTTP2ServerConnectionHandler>
    let eventLoop: any EventLoop
    let streamID: Int32

    enum Outcome {
        case accepted
        case mustWait
        case failed(RPCError)
    }

    public func write(_ message: [UInt8]) async throws {
        try await write(contentsOf: CollectionOfOne(message))
    }

    /// Sends several messages with one trip to the connection's event loop and one flush; the
    /// same as writing them one by one, in order, but cheaper for a burst.
    public func write(contentsOf messages: some Collection<[UInt8]> & Sendable) async throws {
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
}
