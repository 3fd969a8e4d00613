import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import HTTP2RPC

/// A client session and a server session pumped into each other in memory.
@Suite("Calls between in-memory sessions")
struct InMemoryCallTests {
    @Test("a unary call echoes its message and ends with OK")
    func unaryEcho() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let call = pair.call(TestMethod.echo, Array("hello".utf8))
        try pair.pump()
        #expect(call.messages == [Array("hello".utf8)])
        #expect(call.trailers != nil)
        #expect(call.headers != nil)
    }

    @Test("the request survives being split at every byte boundary")
    func everyRequestSplit() throws {
        // Learn the bytes of one call, then replay them split at each position.
        let probe = try InMemoryConnection(router: makeTestRouter())
        let message = Array(0..<40).map { UInt8($0) }
        probe.call(TestMethod.echo, message, metadata: ["x-a": .string("b")])
        probe.loop.run()
        var callBytes: [UInt8] = []
        while let buffer = try probe.client.readOutbound(as: ByteBuffer.self) { callBytes += buffer.readableBytesView }
        #expect(callBytes.count > 50)

        for cut in 1..<callBytes.count {
            let pair = try InMemoryConnection(router: makeTestRouter())
            let call = pair.call(TestMethod.echo, message, metadata: ["x-a": .string("b")])
            pair.loop.run()
            while try pair.client.readOutbound(as: ByteBuffer.self) != nil {}
            try pair.sendToServer(Array(callBytes[..<cut]))
            try pair.sendToServer(Array(callBytes[cut...]))
            try pair.pump()
            #expect(call.messages == [message], "split at \(cut)")
            #expect(call.trailers != nil, "split at \(cut)")
        }
    }

    @Test("both directions delivered one byte at a time")
    func byteByByte() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let message = [UInt8](repeating: 9, count: 300)
        let unary = pair.call(TestMethod.metadata, message, metadata: ["x-key": .string("value")])
        let streaming = pair.call(TestMethod.stream, streamRequest(count: 5, size: 33), unary: false)
        try pair.pump(chunkSize: 1)
        #expect(unary.messages == [message])
        #expect(unary.headers?.first("echo-x-key") == "value")
        #expect(unary.trailers?.first("trailer-x-key") == "value")
        #expect(streaming.messages.count == 5)
        #expect(streaming.trailers?.first("x-count") == "5")
    }

    @Test("custom metadata, text and binary, travels both ways")
    func metadataBothWays() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        var metadata = RPCMetadata()
        metadata.add("x-text", "hello world")
        metadata.add("x-raw-bin", binary: [0, 255, 10, 13])
        let call = pair.call(TestMethod.metadata, [], metadata: metadata)
        try pair.pump()
        #expect(call.headers?.first("echo-x-text") == "hello world")
        #expect(call.headers?.firstBinary("echo-x-raw-bin") == [0, 255, 10, 13])
        #expect(call.trailers?.firstBinary("trailer-x-raw-bin") == [0, 255, 10, 13])
    }

    @Test("responses a client does not read are bounded per connection; past the bound, RESOURCE_EXHAUSTED")
    func unreadResponsesAreBounded() throws {
        var configuration = RPCServerConfiguration()
        configuration.maxBufferedResponseBytesPerConnection = 320 << 10
        let pair = try InMemoryConnection(router: makeTestRouter(), server: configuration)
        let calls = (0..<3).map { _ in pair.call(TestMethod.echo, [UInt8](repeating: 3, count: 150 << 10)) }
        // The client's bytes reach the server, but nothing the server sends is read: its windows
        // stay as they were, so the responses wait in the server's buffers.
        for _ in 0..<4 {
            pair.loop.run()
            while let buffer = try pair.client.readOutbound(as: ByteBuffer.self) {
                try pair.sendToServer(Array(buffer.readableBytesView))
            }
        }
        pair.loop.run()
        let held = pair.serverHandler.bufferedResponseBytes
        #expect(held <= 320 << 10, "held: \(held)")
        try pair.pump()
        let refused = calls.filter { $0.error?.code == .resourceExhausted }
        #expect(refused.count == 1, "\(calls.map { $0.error.map { "\($0)" } ?? "ok" })")
        #expect(refused.first?.error?.message.contains("responses not yet sent") == true)
        #expect(calls.filter { $0.messages.first?.count == 150 << 10 }.count == 2)
        #expect(pair.serverHandler.bufferedResponseBytes == 0)
    }

    @Test("response headers over the client's header list limit end the call with RESOURCE_EXHAUSTED")
    func oversizedResponseHeaders() throws {
        var configuration = RPCClientConfiguration()
        configuration.maxHeaderListSize = 1024
        let pair = try InMemoryConnection(router: makeTestRouter(), client: configuration)
        var metadata = RPCMetadata()
        metadata.add("x-large", String(repeating: "a", count: 900))
        let call = pair.call(TestMethod.metadata, [], metadata: metadata)
        try pair.pump()
        #expect(call.error?.code == .resourceExhausted)
        #expect(call.error?.message.contains("exceed the limit of 1024 bytes") == true)
        // The connection still serves calls that fit.
        let small = pair.call(TestMethod.echo, [9])
        try pair.pump()
        #expect(small.messages == [[9]])
    }

    @Test("many calls multiplex on one connection and each gets its own answer")
    func multiplexing() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let calls = (0..<200).map { index in pair.call(TestMethod.echo, [UInt8(index % 256), UInt8(index / 256)]) }
        try pair.pump()
        for (index, call) in calls.enumerated() {
            #expect(call.messages == [[UInt8(index % 256), UInt8(index / 256)]])
        }
    }

    @Test("a server stream delivers every message in order, then its trailers")
    func serverStreaming() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let call = pair.call(TestMethod.stream, streamRequest(count: 300, size: 100), unary: false)
        try pair.pump()
        #expect(call.messages.count == 300)
        for (index, message) in call.messages.enumerated() {
            #expect(Int(message[2]) << 8 | Int(message[3]) == index)
        }
        #expect(call.trailers?.first("x-count") == "300")
    }

    @Test("a stream stalls while the client withholds its window, and resumes")
    func flowControlStallAndResume() throws {
        let probe = HandlerProbe()
        var clientConfiguration = RPCClientConfiguration()
        clientConfiguration.initialStreamWindowSize = 65_535
        clientConfiguration.connectionWindowSize = 65_535
        var serverConfiguration = RPCServerConfiguration()
        serverConfiguration.responseBufferHighWatermark = 32 << 10
        let pair = try InMemoryConnection(
            router: makeTestRouter(probe: probe), server: serverConfiguration, client: clientConfiguration)

        let observer = RecordingObserver()
        observer.wantsMore = false
        let messageSize = 16 << 10
        let total = 64
        pair.call(TestMethod.stream, streamRequest(count: total, size: messageSize), unary: false, observer: observer)
        try pair.pump()

        // One window of data can arrive; the handler's writes then stop at the watermark.
        let receivedWhileStalled = observer.messages.count
        let writtenWhileStalled = probe.written.load(ordering: .sequentiallyConsistent)
        #expect(receivedWhileStalled >= 1 && receivedWhileStalled <= 5, "received \(receivedWhileStalled)")
        #expect(writtenWhileStalled < total, "the handler was not suspended")
        #expect(observer.result == nil)
        try pair.pump()
        #expect(observer.messages.count == receivedWhileStalled, "data arrived beyond the window")

        // The reader catches up: credit flows back and the rest arrives.
        observer.wantsMore = true
        pair.clientHandler.resumeReading(callID: observer.callID)
        try pair.pump()
        #expect(observer.messages.count == total)
        #expect(observer.trailers?.first("x-count") == "\(total)")
        #expect(probe.written.load(ordering: .sequentiallyConsistent) == total)
    }

    @Test("a large response completes when writability flips inside each flush")
    func writabilityFlipsDuringFlush() throws {
        // The client's window holds the whole response, so no WINDOW_UPDATE (which would
        // wake the server up) arrives: only the writability callbacks can keep it writing.
        var clientConfiguration = RPCClientConfiguration()
        clientConfiguration.initialStreamWindowSize = 8 << 20
        let flipper = WritabilityFlipper()
        let pair = try InMemoryConnection(
            router: makeTestRouter(), client: clientConfiguration, serverTransport: [flipper])
        let message = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0) }
        let call = pair.call(TestMethod.echo, message)
        try pair.pump()
        let received = call.messages.first ?? []
        let whole = received == message  // compared outside #expect, which would print 3 MiB
        #expect(whole, "received \(received.count) of \(message.count) bytes")
        #expect(call.trailers != nil)
        #expect(flipper.flips >= 2, "the channel never went unwritable")
    }

    @Test("a stream whose peer keeps up still lets the loop poll for input")
    func streamingYieldsToInput() throws {
        // Windows big enough that flow control never stops the stream: only fairness can.
        var clientConfiguration = RPCClientConfiguration()
        clientConfiguration.initialStreamWindowSize = 64 << 20
        clientConfiguration.connectionWindowSize = 64 << 20
        let probe = HandlerProbe()
        let pair = try InMemoryConnection(router: makeTestRouter(probe: probe), client: clientConfiguration)
        let call = pair.call(TestMethod.stream, streamRequest(count: 1_000_000, size: 100), unary: false)
        try pair.pump()  // delivers the request; the handler starts
        pair.loop.run()
        let written = try pair.takeServerOutput().count
        // Without a pause the handler would refill and drain its buffer in one loop tick until
        // the 64 MiB window ran out, and a RST_STREAM could not be read meanwhile.
        #expect(written < 1 << 20, "the server wrote \(written) bytes without polling for input")
        #expect(probe.written.load(ordering: .sequentiallyConsistent) < 20_000)
        // The pause is short: once the loop has polled (here: time passes), the stream goes on.
        let before = probe.written.load(ordering: .sequentiallyConsistent)
        pair.loop.advanceTime(by: .milliseconds(2))
        #expect(probe.written.load(ordering: .sequentiallyConsistent) > before)
        pair.clientHandler.cancel(callID: call.callID)
        try pair.pump()
        #expect(call.error?.code == .cancelled)
    }

    @Test("a bidirectional call echoes each message of a request stream")
    func bidirectional() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let call = pair.call(TestMethod.bidiEcho, [42], unary: false)
        try pair.pump()
        #expect(call.messages == [[42]])
        #expect(call.trailers?.first("x-received") == "1")
    }

    // MARK: Errors

    @Test("an unknown method ends with UNIMPLEMENTED in a trailers-only response")
    func unknownMethod() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let call = pair.call("/no.Such/Method", [1])
        try pair.pump()
        #expect(call.error?.code == .unimplemented)
        #expect(call.error?.message.contains("/no.Such/Method") == true)
        #expect(call.headers == nil, "trailers-only responses have no separate headers")
    }

    @Test("a handler's RPCError reaches the client with its message and metadata")
    func handlerError() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let text = "order 7 is already filled — 100% (see\nlog)"
        let call = pair.call(TestMethod.fail, Array(text.utf8))
        try pair.pump()
        #expect(call.error?.code == .failedPrecondition)
        #expect(call.error?.message == text)
        #expect(call.error?.metadata.firstBinary("detail-bin") == [1, 2, 3])
    }

    @Test("an unexpected error becomes INTERNAL without leaking its text")
    func unexpectedError() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let call = pair.call(TestMethod.crash)
        try pair.pump()
        #expect(call.error?.code == .internal)
        #expect(call.error?.message.contains("hunter2") == false)
    }

    @Test("a domain error chooses its own status")
    func convertibleError() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let call = pair.call(TestMethod.convertible)
        try pair.pump()
        #expect(call.error?.code == .notFound)
        #expect(call.error?.message == "order 42 does not exist")
    }

    @Test("a stream that fails after two messages delivers both, then the error")
    func streamThenFail() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let call = pair.call(TestMethod.streamThenFail, [], unary: false)
        try pair.pump()
        #expect(call.messages == [[1], [2]])
        #expect(call.error?.code == .aborted)
    }

    @Test("a request over the server's limit ends with RESOURCE_EXHAUSTED")
    func oversizedRequest() throws {
        var configuration = RPCServerConfiguration()
        configuration.maxReceiveMessageSize = 1024
        let pair = try InMemoryConnection(router: makeTestRouter(), server: configuration)
        let call = pair.call(TestMethod.echo, [UInt8](repeating: 1, count: 1025))
        let fits = pair.call(TestMethod.echo, [UInt8](repeating: 1, count: 1024))
        try pair.pump()
        #expect(call.error?.code == .resourceExhausted)
        #expect(fits.messages.first?.count == 1024)
    }

    @Test("refused requests give back every byte they counted against the connection's request budget")
    func refusedRequestsReleaseTheirBudget() throws {
        var configuration = RPCServerConfiguration()
        configuration.maxReceiveMessageSize = 1024
        let pair = try InMemoryConnection(router: makeTestRouter(), server: configuration)
        // Oversized messages are refused after their prefix; the rest of their bytes is dropped.
        let oversized = (0..<8).map { _ in pair.call(TestMethod.echo, [UInt8](repeating: 1, count: 4000)) }
        try pair.pump()
        #expect(oversized.allSatisfy { $0.error?.code == .resourceExhausted })
        #expect(pair.serverHandler.bufferedRequestBytes == 0, "nothing is held once the refused calls ended")

        // A unary call with a second message is refused after the first; the second is dropped.
        let twice = pair.call(TestMethod.echo, [1, 2, 3])
        var frames = try pair.takeClientFrames()
        let dataIndex = try #require(frames.firstIndex { $0.kind == .data })
        frames[dataIndex].payload += [0, 0, 0, 0, 4, 4, 5, 6, 7]
        try pair.sendToServer(frames.flatMap(\.bytes))
        try pair.pump()
        #expect(twice.error?.code == .internal)
        #expect(pair.serverHandler.bufferedRequestBytes == 0, "nothing is held once the refused call ended")
        let after = pair.call(TestMethod.echo, [UInt8](repeating: 2, count: 1000))
        try pair.pump()
        #expect(after.messages.first?.count == 1000)
        #expect(pair.serverHandler.bufferedRequestBytes == 0)
    }

    @Test(
        "large requests interleaved on one connection all finish, however many partial messages the budget could hold")
    func largeInterleavedRequestsAllFinish() throws {
        var configuration = RPCServerConfiguration()
        // Each message is larger than a stream window, and six partial ones fill the budget:
        // counting bytes alone, every call stalled until its receive timeout.
        configuration.initialStreamWindowSize = 8_192
        configuration.maxReceiveMessageSize = 32_768
        configuration.maxBufferedRequestBytesPerConnection = 65_536
        let pair = try InMemoryConnection(router: makeTestRouter(), server: configuration)
        let calls = (0..<8).map { index in
            pair.call(TestMethod.echo, [UInt8](repeating: UInt8(index), count: 30_000))
        }
        try pair.pump()
        for (index, call) in calls.enumerated() {
            #expect(call.error == nil, "call \(index): \(String(describing: call.error))")
            #expect(call.messages == [[UInt8](repeating: UInt8(index), count: 30_000)], "call \(index)")
        }
        #expect(pair.serverHandler.bufferedRequestBytes == 0)
        #expect(pair.serverHandler.reservedRequestBytes == 0)
    }

    @Test("a unary call whose complete message is followed by the start of another is refused at once")
    func aSecondUnaryMessageIsRefusedWhenItStarts() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let call = pair.call(TestMethod.echo, [1, 2, 3])
        var frames = try pair.takeClientFrames()
        let dataIndex = try #require(frames.firstIndex { $0.kind == .data })
        // No END_STREAM, and after the message the prefix of a 1 MiB one and a little of it: the
        // call would otherwise hold the start of a message nothing has set room aside for.
        frames[dataIndex].flags &= ~RawFrame.endStream
        frames[dataIndex].payload += [0, 0, 0x10, 0, 0] + [UInt8](repeating: 9, count: 1_000)
        try pair.sendToServer(frames.flatMap(\.bytes))
        try pair.pump()
        #expect(call.error?.code == .internal)
        #expect(call.error?.message.contains("more than one message") == true, "\(String(describing: call.error))")
        #expect(pair.serverHandler.reservedRequestBytes == 0)
    }

    @Test("past the large requests that may wait for room, a call is refused at once with RESOURCE_EXHAUSTED")
    func tooManyWaitingRequestsAreRefused() throws {
        var configuration = RPCServerConfiguration()
        // One 40 KB message at a time fits; two stream windows' worth of callers may wait.
        configuration.initialStreamWindowSize = 16_384
        configuration.connectionWindowSize = 32_768
        configuration.maxReceiveMessageSize = 65_536
        configuration.maxBufferedRequestBytesPerConnection = 65_536
        let pair = try InMemoryConnection(router: makeTestRouter(), server: configuration)
        let calls = (0..<8).map { _ in pair.call(TestMethod.echo, [UInt8](repeating: 7, count: 40_000)) }
        try pair.pump()
        let answered = calls.filter { $0.messages == [[UInt8](repeating: 7, count: 40_000)] }
        let refused = calls.filter { $0.error?.code == .resourceExhausted }
        #expect(answered.count + refused.count == calls.count, "every call ends, none stalls")
        #expect(answered.count >= 3, "the one with room and the two waiting finish")
        #expect(!refused.isEmpty)
        #expect(refused.allSatisfy { $0.error?.message.contains("fewer at once") == true })
        #expect(pair.serverHandler.bufferedRequestBytes == 0)
        #expect(pair.serverHandler.reservedRequestBytes == 0)
    }

    @Test("a response over the client's limit ends with RESOURCE_EXHAUSTED")
    func oversizedResponse() throws {
        var configuration = RPCClientConfiguration()
        configuration.maxReceiveMessageSize = 100
        let pair = try InMemoryConnection(router: makeTestRouter(), client: configuration)
        let call = pair.call(TestMethod.echo, [UInt8](repeating: 1, count: 101))
        try pair.pump()
        #expect(call.error?.code == .resourceExhausted)
    }

    @Test("a response over the server's send limit ends with RESOURCE_EXHAUSTED")
    func oversizedSend() throws {
        var configuration = RPCServerConfiguration()
        configuration.maxSendMessageSize = 100
        let pair = try InMemoryConnection(router: makeTestRouter(), server: configuration)
        let call = pair.call(TestMethod.echo, [UInt8](repeating: 1, count: 101))
        try pair.pump()
        #expect(call.error?.code == .resourceExhausted)
    }

    @Test("messages written together arrive each whole and in order")
    func burstWrite() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let sizes: [UInt8] = [3, 0, 200, 1, 77]
        let call = pair.call(TestMethod.burst, sizes, unary: false)
        try pair.pump()
        #expect(call.messages == sizes.enumerated().map { [UInt8](repeating: UInt8($0), count: Int($1)) })
        #expect(call.error == nil)
    }

    @Test("a burst with a message over the send limit delivers those before it, then RESOURCE_EXHAUSTED")
    func burstWithOversizedMessage() throws {
        var configuration = RPCServerConfiguration()
        configuration.maxSendMessageSize = 100
        let pair = try InMemoryConnection(router: makeTestRouter(), server: configuration)
        let call = pair.call(TestMethod.burst, [10, 20, 101, 5], unary: false)
        try pair.pump()
        #expect(call.messages == [[UInt8](repeating: 0, count: 10), [UInt8](repeating: 1, count: 20)])
        #expect(call.error?.code == .resourceExhausted)
    }

    @Test("a message with the compressed flag but no grpc-encoding ends with INTERNAL")
    func compressedFlag() throws {
        let pair = try InMemoryConnection(router: makeTestRouter())
        let call = pair.call(TestMethod.echo, [1, 2, 3])
        var frames = try pair.takeClientFrames()
        let dataIndex = try #require(frames.firstIndex { $0.kind == .data })
        frames[dataIndex].payload[0] = 1
        try pair.sendToServer(frames.flatMap(\.bytes))
        try pair.pump()
        #expect(call.error?.code == .internal)
        #expect(call.error?.message.contains("compressed") == true)
    }

    // MARK: Deadlines and cancellation

    @Test("the client's deadline cancels the call on both sides")
    func clientDeadline() async throws {
        let probe = HandlerProbe()
        let pair = try InMemoryConnection(router: makeTestRouter(probe: probe))
        let call = pair.call(TestMethod.hang, [], timeout: .milliseconds(200))
        try pair.pump()
        #expect(probe.started.load(ordering: .sequentiallyConsistent) == 1)
        #expect(call.result == nil)
        try pair.advanceTime(by: .milliseconds(250))
        #expect(call.error?.code == .deadlineExceeded)
        try await waitUntil(pumping: pair) { probe.cancelled.load(ordering: .sequentiallyConsistent) == 1 }
    }

    @Test("a client cancellation (RST_STREAM) cancels the server's handler task")
    func clientCancels() async throws {
        let probe = HandlerProbe()
        let pair = try InMemoryConnection(router: makeTestRouter(probe: probe))
        let call = pair.call(TestMethod.hang)
        try pair.pump()
        pair.clientHandler.cancel(callID: call.callID)
        try pair.pump()
        #expect(call.error?.code == .cancelled)
        try await waitUntil(pumping: pair) { probe.cancelled.load(ordering: .sequentiallyConsistent) == 1 }
    }

    @Test("cancelling a stream in the middle stops the writer")
    func cancelMidStream() async throws {
        let probe = HandlerProbe()
        var clientConfiguration = RPCClientConfiguration()
        clientConfiguration.initialStreamWindowSize = 65_535
        let pair = try InMemoryConnection(router: makeTestRouter(probe: probe), client: clientConfiguration)
        let observer = RecordingObserver()
        observer.wantsMore = false
        pair.call(TestMethod.stream, streamRequest(count: 10_000, size: 1000), unary: false, observer: observer)
        try pair.pump()
        #expect(!observer.messages.isEmpty)
        pair.clientHandler.cancel(callID: observer.callID)
        try pair.pump()
        #expect(observer.error?.code == .cancelled)
        try await waitUntil(pumping: pair) { probe.cancelled.load(ordering: .sequentiallyConsistent) == 1 }
        #expect(probe.written.load(ordering: .sequentiallyConsistent) < 10_000)
    }

    @Test("the server resetting a call surfaces on the client as CANCELLED")
    func serverCancels() throws {
        var configuration = RPCServerConfiguration()
        configuration.requestReceiveTimeout = .milliseconds(100)
        let pair = try InMemoryConnection(router: makeTestRouter(), server: configuration)
        // A unary call whose request never ends: the server gives up on it.
        let call = pair.call(TestMethod.echo, [1])
        var frames = try pair.takeClientFrames()
        for index in frames.indices where frames[index].kind == .data { frames[index].flags &= ~RawFrame.endStream }
        try pair.sendToServer(frames.flatMap(\.bytes))
        try pair.pump()
        #expect(call.result == nil)
        try pair.advanceTime(by: .milliseconds(150))
        #expect(call.error?.code == .cancelled)
    }

    /// Runs the loop until `condition` holds: handler tasks finish on the loop's executor.
    private func waitUntil(pumping pair: InMemoryConnection, _ condition: () -> Bool) async throws {
        for _ in 0..<10_000 where !condition() {
            try pair.pump()
            if !condition() { try await pauseBeforeCheckingAgain() }
        }
        #expect(condition())
    }
}

#if canImport(Glibc)
    import Glibc
#endif
