import NIOCore

/// The messages arriving on one call, in order, as an async sequence.
///
/// Reading drives flow control: while the reader lags, the received bytes are not returned
/// to the peer's HTTP/2 window, so a slow reader slows the sender instead of growing memory.
/// The sequence ends normally when the peer ends its side of the call, and throws an
/// ``RPCError`` when the call fails (the peer resets it, a deadline passes, a message is bad).
public struct RPCMessageSequence: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    /// The producer's elements are batches: the messages that arrived together (one DATA frame's
    /// worth, say) go in and come out as one, so the reader pays for one handover per batch (a
    /// lock, a cancellation handler, maybe a task switch) rather than per message.
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        [[UInt8]], any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, FlowDelegate
    >

    let producer: Producer

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Producer.AsyncIterator
        /// The batch being read, and the index of its next message.
        var batch: [[UInt8]] = []
        var index = 0

        /// `@concurrent`, as every nonisolated async function was before the package took
        /// nonisolated(nonsending) as its default: NIO's iterator is not Sendable, and its `next()`
        /// runs apart from the caller's executor.
        @concurrent public mutating func next() async throws -> [UInt8]? {
            while index == batch.count {
                guard let fetched = try await base.next() else { return nil }
                batch = fetched
                index = 0
            }
            defer { index += 1 }
            return batch[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: producer.makeAsyncIterator())
    }

    /// Creates a sequence whose buffer asks for more between `lowWatermark` and
    /// `highWatermark` batches. `demand` is called (on any thread) when the reader wants more,
    /// `terminated` when it has stopped reading for good.
    static func make(
        lowWatermark: Int,
        highWatermark: Int,
        demand: @escaping @Sendable () -> Void,
        terminated: @escaping @Sendable () -> Void
    ) -> (sequence: RPCMessageSequence, source: Producer.Source) {
        let made = Producer.makeSequence(
            backPressureStrategy: .init(lowWatermark: lowWatermark, highWatermark: highWatermark),
            finishOnDeinit: false,
            delegate: FlowDelegate(demand: demand, terminated: terminated))
        return (RPCMessageSequence(producer: made.sequence), made.source)
    }

    final class FlowDelegate: NIOAsyncSequenceProducerDelegate {
        let demand: @Sendable () -> Void
        let terminated: @Sendable () -> Void

        init(demand: @escaping @Sendable () -> Void, terminated: @escaping @Sendable () -> Void) {
            self.demand = demand
            self.terminated = terminated
        }

        func produceMore() { demand() }
        func didTerminate() { terminated() }
    }
}

/// The request messages of a bidirectional or client-streaming call.
public typealias RPCRequestStream = RPCMessageSequence
