import Logging
import NIOCore
import Synchronization
import Testing

@testable import HTTP2RPC

/// Handlers run over abstract call halves, without a connection: what each shape of method
/// reports to its sink, with typed status codes.
@Suite("Server executor")
struct RPCServerExecutorTests {
    /// Records what a call reported, in order.
    final class RecordingSink: RPCCallSink {
        enum Event: Equatable {
            case wrote([[UInt8]])
            case responded([UInt8])
            case completed(RPCMetadata)
            case failed(RPCStatus.Code, String)
        }

        private let state = Mutex<[Event]>([])
        /// When set, writes throw this error (a message over the limit, a call that has ended).
        let refusal: RPCError?

        init(refusing refusal: RPCError? = nil) { self.refusal = refusal }

        var events: [Event] { state.withLock { $0 } }

        func write(contentsOf messages: some Collection<[UInt8]> & Sendable) async throws {
            if let refusal { throw refusal }
            state.withLock { $0.append(.wrote(Array(messages))) }
        }

        func respond(_ response: RPCServerResponse) {
            state.withLock { $0.append(.responded(response.message)) }
        }

        func complete(trailers: RPCMetadata) {
            state.withLock { $0.append(.completed(trailers)) }
        }

        func fail(_ error: any Error) {
            let status = RPCError.from(error).error
            state.withLock { $0.append(.failed(status.code, status.message)) }
        }
    }

    private struct Unexpected: Error {}

    private let context = RPCServerContext(
        method: "/test.Test/Method", metadata: [:], deadline: nil, peer: "test",
        connectionLogger: Logger(label: "test"), streamID: 1)

    private func requests(_ messages: [[UInt8]]) -> RPCRequestStream {
        let made = RPCMessageSequence.make(lowWatermark: 1, highWatermark: 16, demand: {}, terminated: {})
        _ = made.source.yield(messages)
        made.source.finish()
        return made.sequence
    }

    @Test("unary: the response, or the status of what the handler threw")
    func unary() async {
        let echo = RPCServerExecutor.unary { RPCServerResponse(message: $0.message.reversed()) }
        let answered = RecordingSink()
        await echo(.message([1, 2, 3]), context, answered)
        #expect(answered.events == [.responded([3, 2, 1])])

        let notFound = RPCServerExecutor.unary { _ in throw RPCError(.notFound, "no such order") }
        let refused = RecordingSink()
        await notFound(.message([]), context, refused)
        #expect(refused.events == [.failed(.notFound, "no such order")])

        let buggy = RPCServerExecutor.unary { _ in throw Unexpected() }
        let failed = RecordingSink()
        await buggy(.message([]), context, failed)
        #expect(failed.events == [.failed(.internal, "internal server error")], "no internal detail leaks")
    }

    @Test("server streaming: each write in order, then OK with the trailers")
    func serverStreaming() async {
        let count = RPCServerExecutor.serverStreaming { request, writer in
            for byte in request.message { try await writer.write([byte]) }
            try await writer.write(contentsOf: [[9], [9]])
            return ["x-count": .string("\(request.message.count)")]
        }
        let sink = RecordingSink()
        await count(.message([1, 2]), context, sink)
        #expect(
            sink.events == [.wrote([[1]]), .wrote([[2]]), .wrote([[9], [9]]), .completed(["x-count": .string("2")])])
    }

    @Test("a write the call refuses ends the call with the refusal's status")
    func refusedWrite() async {
        let stream = RPCServerExecutor.serverStreaming { _, writer in
            try await writer.write([1])
            return [:]
        }
        let sink = RecordingSink(refusing: RPCError(.resourceExhausted, "message too large"))
        await stream(.message([]), context, sink)
        #expect(sink.events == [.failed(.resourceExhausted, "message too large")])
    }

    @Test("bidirectional: the request stream in, the responses out, then the trailers")
    func bidirectional() async {
        let echo = RPCServerExecutor.bidirectional { requests, _, writer in
            var seen = 0
            for try await message in requests {
                seen += 1
                try await writer.write(message)
            }
            return ["x-seen": .string("\(seen)")]
        }
        let sink = RecordingSink()
        await echo(.stream(requests([[1], [2], [3]])), context, sink)
        #expect(sink.events == [.wrote([[1]]), .wrote([[2]]), .wrote([[3]]), .completed(["x-seen": .string("3")])])
    }

    @Test("a method given the wrong shape of request fails with INTERNAL, its handler not run")
    func wrongShape() async {
        let ran = Atomic(false)
        let unary = RPCServerExecutor.unary { _ in
            ran.store(true, ordering: .relaxed)
            return RPCServerResponse(message: [])
        }
        let streaming = RPCServerExecutor.bidirectional { _, _, _ in
            ran.store(true, ordering: .relaxed)
            return [:]
        }
        let first = RecordingSink()
        await unary(.stream(requests([])), context, first)
        let second = RecordingSink()
        await streaming(.message([]), context, second)
        #expect(first.events.first.map { if case .failed(.internal, _) = $0 { true } else { false } } == true)
        #expect(second.events.first.map { if case .failed(.internal, _) = $0 { true } else { false } } == true)
        let handlerRan = ran.load(ordering: .relaxed)
        #expect(!handlerRan)
    }
}
