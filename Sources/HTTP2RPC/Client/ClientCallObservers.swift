import NIOCore

/// Collects the one response message of a unary call and resumes the caller at the end.
final class UnaryCallObserver: ClientCallObserver {
    private var continuation: CheckedContinuation<RPCClientResponse, any Error>?
    private var metadata = RPCMetadata()
    private var message: [UInt8] = []

    init(_ continuation: CheckedContinuation<RPCClientResponse, any Error>) {
        self.continuation = continuation
    }

    func callReceivedHeaders(_ metadata: RPCMetadata) {
        self.metadata = metadata
    }

    func callReceivedMessages(_ messages: [[UInt8]]) -> Bool {
        if let last = messages.last { message = last }
        return true
    }

    func callFinished(_ result: Result<RPCMetadata, RPCError>) {
        guard let continuation else { return }
        self.continuation = nil
        switch result {
        case .success(let trailers):
            continuation.resume(returning: RPCClientResponse(message: message, metadata: metadata, trailers: trailers))
        case .failure(let error):
            continuation.resume(throwing: error)
        }
    }
}

/// Feeds the messages of a server-streaming call into an ``RPCMessageSequence``.
final class StreamingCallObserver: ClientCallObserver {
    private var headers: CheckedContinuation<RPCMetadata, any Error>?
    private let source: RPCMessageSequence.Producer.Source
    private let trailers: EventLoopPromise<RPCMetadata>

    init(
        headers: CheckedContinuation<RPCMetadata, any Error>,
        source: RPCMessageSequence.Producer.Source,
        trailers: EventLoopPromise<RPCMetadata>
    ) {
        self.headers = headers
        self.source = source
        self.trailers = trailers
    }

    func callReceivedHeaders(_ metadata: RPCMetadata) {
        headers?.resume(returning: metadata)
        headers = nil
    }

    func callReceivedMessages(_ messages: [[UInt8]]) -> Bool {
        switch source.yield(messages) {
        case .produceMore: true
        case .stopProducing: false
        case .dropped: true
        }
    }

    func callFinished(_ result: Result<RPCMetadata, RPCError>) {
        switch result {
        case .success(let metadata):
            // A successful trailers-only response has no headers: the stream is just empty.
            callReceivedHeaders(RPCMetadata())
            source.finish()
            trailers.succeed(metadata)
        case .failure(let error):
            headers?.resume(throwing: error)
            headers = nil
            source.finish(error)
            trailers.fail(error)
        }
    }
}
