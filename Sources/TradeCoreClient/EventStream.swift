import AsyncAlgorithms
import HTTP2RPC
import TradeCoreMessages
import WireFormat

/// A subscription to the event stream, as an async sequence; see ``TradeCoreClient/subscribe(_:)``.
public struct EventStream: AsyncSequence, Sendable {
    public typealias Element = SubscribeResponse.Message

    let rpc: RPCClient
    let request: SubscribeRequest
    let metadata: RPCMetadata

    public func makeAsyncIterator() -> Iterator {
        // A channel without a buffer: each message waits until the reader takes it.
        let channel = AsyncThrowingChannel<Element, any Error>()
        let (rpc, request, metadata) = (self.rpc, self.request, self.metadata)
        let task = Task {
            do {
                try await rpc.serverStreaming(
                    "/tradecore.api.v1.EventStreamService/Subscribe", request.protoBytes, metadata: metadata
                ) { response in
                    for try await bytes in response.messages {
                        guard let message = try SubscribeResponse(protoBytes: bytes).message else { continue }
                        await channel.send(message)
                        if Task.isCancelled { return }
                    }
                }
                channel.finish()
            } catch {
                channel.fail(TradeCoreError(error))
            }
        }
        return Iterator(base: channel.makeAsyncIterator(), call: Call(task: task))
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingChannel<Element, any Error>.Iterator
        let call: Call

        /// `@concurrent`: the channel's iterator is not Sendable, and its `next()` runs apart from
        /// the caller's executor (see `strictSettings` in Package.swift).
        @concurrent public mutating func next() async throws -> Element? {
            try await base.next()
        }
    }

    /// The running call: cancelled when the last iterator holding it goes away.
    final class Call: Sendable {
        let task: Task<Void, Never>

        init(task: Task<Void, Never>) {
            self.task = task
        }

        deinit { task.cancel() }
    }
}
