import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import HTTP2RPC

/// The server against hand-written frames: requests that are not gRPC, malformed requests,
/// and the known HTTP/2 attacks.
@Suite("Server protocol handling and defences")
struct ServerProtocolTests {
    private func request(
        _ connection: RawServerConnection, stream: UInt32, path: String = TestMethod.echo, method: String = "POST",
        contentType: String = "application/grpc", extra: [(String, String)] = [],
        body: [UInt8]? = RawFrame.grpcMessage([1])
    ) throws {
        let fields = RawFrame.grpcRequestFields(path: path, method: method, contentType: contentType, extra: extra)
        try connection.send(RawFrame.headers(stream: stream, fields, endStream: body == nil))
        if let body { try connection.send(RawFrame.data(stream: stream, body, endStream: true)) }
    }

    @Test("a well-formed raw request is answered with headers, data and trailers")
    func wellFormed() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        try request(connection, stream: 1)
        #expect(connection.headerBlocks(stream: 1).first?.first { $0.0 == ":status" }?.1 == "200")
        #expect(connection.statusCode(stream: 1) == .ok)
        #expect(connection.frames(.data, stream: 1).flatMap(\.payload) == RawFrame.grpcMessage([1]))
    }

    @Test("a request without te: trailers is still served")
    func missingTE() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        let fields = [
            (":method", "POST"), (":scheme", "http"), (":path", TestMethod.echo), (":authority", "x"),
            ("content-type", "application/grpc"),
        ]
        try connection.send(
            RawFrame.headers(stream: 1, fields), RawFrame.data(stream: 1, RawFrame.grpcMessage([5]), endStream: true))
        #expect(connection.statusCode(stream: 1) == .ok)
    }

    @Test("a method other than POST gets HTTP 405, with a line of text that says what the port serves")
    func notPost() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        try request(connection, stream: 1, method: "GET", body: nil)
        #expect(connection.lastHeader(":status", stream: 1) == "405")
        #expect(connection.lastHeader("content-type", stream: 1) == "text/plain; charset=utf-8")
        let data = connection.frames(.data, stream: 1)
        #expect(String(decoding: data.flatMap(\.payload), as: UTF8.self).contains("This port serves gRPC"))
        #expect(data.last.map { $0.flags & RawFrame.endStream != 0 } == true, "the body ends the stream")
        #expect(connection.headerBlocks(stream: 1).count == 1, "no trailers after it")
    }

    @Test("a content type other than application/grpc gets HTTP 415, with a line of text naming it")
    func wrongContentType() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        try request(connection, stream: 1, contentType: "application/json")
        #expect(connection.lastHeader(":status", stream: 1) == "415")
        let body = String(decoding: connection.frames(.data, stream: 1).flatMap(\.payload), as: UTF8.self)
        #expect(body.contains("content-type application/grpc"))
        #expect(connection.isOpen)
        // The connection goes on serving gRPC after it.
        try request(connection, stream: 3)
        #expect(connection.statusCode(stream: 3) == .ok)
    }

    @Test("an unsupported grpc-encoding gets UNIMPLEMENTED, naming the encodings the server reads")
    func unsupportedEncoding() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        try request(connection, stream: 1, extra: [("grpc-encoding", "snappy")])
        #expect(connection.statusCode(stream: 1) == .unimplemented)
        #expect(connection.lastHeader("grpc-message", stream: 1)?.contains("identity,deflate,gzip") == true)
        #expect(connection.lastHeader("grpc-accept-encoding", stream: 1) == "identity,deflate,gzip")
    }

    @Test("gzip and deflate requests are inflated; the answer is plain", arguments: ["gzip", "deflate"])
    func compressedRequests(encoding: String) throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        let payload = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 % 7) }
        let compressed = Deflate.compress(payload, gzip: encoding == "gzip")
        #expect(compressed.count < payload.count / 4)
        try request(
            connection, stream: 1, extra: [("grpc-encoding", encoding)],
            body: RawFrame.grpcMessage(compressed, flag: 1))
        // A plain message in a compressed call stays plain.
        try request(connection, stream: 3, extra: [("grpc-encoding", encoding)], body: RawFrame.grpcMessage([9]))
        #expect(connection.statusCode(stream: 1) == .ok)
        #expect(connection.frames(.data, stream: 1).flatMap(\.payload) == RawFrame.grpcMessage(payload))
        #expect(
            connection.headerBlocks(stream: 1).first?.contains {
                $0 == ("grpc-accept-encoding", "identity,deflate,gzip")
            } == true)
        #expect(connection.frames(.data, stream: 3).flatMap(\.payload) == RawFrame.grpcMessage([9]))
        // A call that names no encoding is answered without the field.
        try request(connection, stream: 5)
        #expect(connection.statusCode(stream: 5) == .ok)
        #expect(connection.headerBlocks(stream: 5).flatMap { $0 }.contains { $0.0 == "grpc-accept-encoding" } == false)
    }

    @Test("compressed messages that are not what they claim are refused with a clear status")
    func badCompressedRequests() throws {
        var configuration = RPCServerConfiguration()
        configuration.maxReceiveMessageSize = 4_096
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        let gzip = [("grpc-encoding", "gzip")]
        let payload = [UInt8](repeating: 42, count: 3_000)
        let compressed = Deflate.compress(payload, gzip: true)
        // Flagged compressed with no grpc-encoding.
        try request(connection, stream: 1, body: RawFrame.grpcMessage(compressed, flag: 1))
        // Not gzip at all; cut short; bytes after the end; deflate bytes labelled gzip.
        try request(connection, stream: 3, extra: gzip, body: RawFrame.grpcMessage(Array("not gzip".utf8), flag: 1))
        try request(
            connection, stream: 5, extra: gzip, body: RawFrame.grpcMessage(Array(compressed.dropLast(6)), flag: 1))
        try request(connection, stream: 7, extra: gzip, body: RawFrame.grpcMessage(compressed + [0], flag: 1))
        try request(
            connection, stream: 9, extra: gzip,
            body: RawFrame.grpcMessage(Deflate.compress(payload, gzip: false), flag: 1))
        // A few hundred bytes that inflate past the 4 KiB limit, and one that inflates to it exactly.
        let bomb = Deflate.compress([UInt8](repeating: 0, count: 1 << 20), gzip: true)
        #expect(bomb.count < 4_096)
        try request(connection, stream: 11, extra: gzip, body: RawFrame.grpcMessage(bomb, flag: 1))
        let atLimit = [UInt8](repeating: 1, count: 4_096)
        try request(
            connection, stream: 13, extra: gzip,
            body: RawFrame.grpcMessage(Deflate.compress(atLimit, gzip: true), flag: 1))

        #expect(connection.statusCode(stream: 1) == .internal)
        #expect(connection.lastHeader("grpc-message", stream: 1)?.contains("no grpc-encoding") == true)
        for stream: UInt32 in [3, 5, 7, 9] {
            #expect(connection.statusCode(stream: stream) == .internal, "stream \(stream)")
            #expect(connection.lastHeader("grpc-message", stream: stream)?.contains("gzip") == true, "stream \(stream)")
        }
        #expect(connection.statusCode(stream: 11) == .resourceExhausted)
        #expect(connection.lastHeader("grpc-message", stream: 11)?.contains("4096 bytes") == true)
        #expect(connection.statusCode(stream: 13) == .ok)
        #expect(connection.frames(.data, stream: 13).flatMap(\.payload) == RawFrame.grpcMessage(atLimit))
        #expect(connection.isOpen)
    }

    @Test("a malformed grpc-timeout is refused with a clear message")
    func malformedTimeout() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        try request(connection, stream: 1, extra: [("grpc-timeout", "soon")])
        #expect(connection.statusCode(stream: 1) == .internal)
        #expect(connection.lastHeader("grpc-message", stream: 1)?.contains("grpc-timeout") == true)
    }

    @Test("the server's own deadline answers DEADLINE_EXCEEDED and cancels the handler")
    func serverDeadline() async throws {
        let probe = HandlerProbe()
        let connection = try RawServerConnection(router: makeTestRouter(probe: probe))
        try request(connection, stream: 1, path: TestMethod.hang, extra: [("grpc-timeout", "100m")])
        #expect(probe.started.load(ordering: .sequentiallyConsistent) == 1)
        connection.advanceTime(by: .milliseconds(90))
        #expect(connection.statusCode(stream: 1) == nil, "not before the deadline")
        #expect(probe.cancelled.load(ordering: .sequentiallyConsistent) == 0)
        connection.advanceTime(by: .milliseconds(60))
        #expect(connection.statusCode(stream: 1) == .deadlineExceeded)
        // The handler's task wakes through the global executor: give it a moment.
        for _ in 0..<10_000 where probe.cancelled.load(ordering: .sequentiallyConsistent) == 0 {
            connection.loop.run()
            try await pauseBeforeCheckingAgain()
        }
        #expect(probe.cancelled.load(ordering: .sequentiallyConsistent) == 1, "the handler was cancelled")
    }

    @Test("a status message of any length reaches the client, shortened to 1 KiB")
    func longStatusMessage() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        let message = String(repeating: "é", count: 5_000)  // 10,000 bytes: one DATA frame
        try request(connection, stream: 1, path: TestMethod.fail, body: RawFrame.grpcMessage(Array(message.utf8)))
        #expect(connection.statusCode(stream: 1) == .failedPrecondition)
        let sent = try #require(connection.lastHeader("grpc-message", stream: 1))
        let decoded = PercentEncoding.decode(sent)
        #expect(
            decoded.utf8.count <= PercentEncoding.maxMessageBytes && decoded.hasSuffix("…"), "\(decoded.utf8.count)")
        #expect(message.hasPrefix(decoded.dropLast()) && decoded.count > 300)
        #expect(connection.isOpen)
    }

    @Test("a request that ends inside a message, or without one, is an error")
    func truncatedRequests() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        try request(connection, stream: 1, body: Array(RawFrame.grpcMessage([1, 2, 3]).dropLast()))
        try request(connection, stream: 3, body: nil)
        try request(connection, stream: 5, body: RawFrame.grpcMessage([1]) + RawFrame.grpcMessage([2]))
        #expect(connection.statusCode(stream: 1) == .internal)
        #expect(connection.lastHeader("grpc-message", stream: 1)?.contains("middle of a message") == true)
        #expect(connection.statusCode(stream: 3) == .internal)
        #expect(connection.statusCode(stream: 5) == .internal)
        #expect(connection.isOpen)
    }

    @Test("white space around a metadata value is trimmed, not a stream reset")
    func metadataValuesAreTrimmed() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        try request(connection, stream: 1, path: TestMethod.metadata, extra: [("x-key", "  Bearer abc \t")])
        #expect(connection.statusCode(stream: 1) == .ok)
        let echoed = connection.headerBlocks(stream: 1).first?.first { $0.0 == "echo-x-key" }?.1
        #expect(echoed == "Bearer abc")
    }

    @Test("a header list over the limit is refused on that stream only")
    func oversizedHeaders() throws {
        var configuration = RPCServerConfiguration()
        configuration.maxHeaderListSize = 4096
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        let big = String(repeating: "v", count: 3000)
        try request(connection, stream: 1, extra: [("x-a", big), ("x-b", big)])
        try request(connection, stream: 3)
        #expect(connection.statusCode(stream: 1) == .resourceExhausted)
        #expect(connection.statusCode(stream: 3) == .ok)
    }

    @Test("a stream of requests with oversized headers closes the connection with ENHANCE_YOUR_CALM")
    func oversizedHeadersFlood() throws {
        var configuration = RPCServerConfiguration()
        configuration.maxHeaderListSize = 4096
        configuration.controlFrameBurst = 50
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        let big = String(repeating: "v", count: 5000)
        var stream: UInt32 = 1
        while connection.isOpen && stream < 40 {
            do {
                try request(connection, stream: stream, extra: [("x-a", big)])
            } catch {
                break  // The connection closed while this request was being written.
            }
            stream += 2
        }
        #expect(connection.statusCode(stream: 1) == .resourceExhausted, "the first ones get their error")
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.enhanceYourCalm.rawValue)
        #expect(!connection.isOpen)
        #expect(stream <= 13, "closed after about five refusals, not \((stream - 1) / 2)")
    }

    @Test("requests that never arrive, again and again, close the connection")
    func neverFinishedFlood() throws {
        var configuration = RPCServerConfiguration()
        configuration.requestReceiveTimeout = .seconds(1)
        configuration.controlFrameBurst = 50
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        for stream in stride(from: UInt32(1), through: 11, by: 2) {
            try connection.send(RawFrame.headers(stream: stream, RawFrame.grpcRequestFields(path: TestMethod.echo)))
        }
        connection.advanceTime(by: .milliseconds(1200))
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.enhanceYourCalm.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("while draining, calls in flight finish and streams opened after the notice get UNAVAILABLE")
    func drainingRefusesNewCalls() throws {
        let probe = HandlerProbe()
        let connection = try RawServerConnection(router: makeTestRouter(probe: probe))
        try request(connection, stream: 1, path: TestMethod.hang)
        connection.handler.beginDraining()
        try request(connection, stream: 3)
        #expect(connection.frames(.goaway).first?.lastStreamID == 0x7FFF_FFFF, "the shutdown notice comes first")
        #expect(connection.statusCode(stream: 3) == .unavailable)
        #expect(connection.lastHeader("grpc-message", stream: 3)?.contains("shutting down") == true)
        connection.advanceTime(by: .milliseconds(150))
        #expect(connection.frames(.goaway).last?.lastStreamID == 3, "the final GOAWAY names the last stream seen")
        #expect(connection.statusCode(stream: 1) == nil, "the call in flight is still running")
        #expect(connection.isOpen)
    }

    @Test("an early answer to a request still being sent is followed by RST_STREAM(NO_ERROR)")
    func earlyAnswerResets() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        try connection.send(RawFrame.headers(stream: 1, RawFrame.grpcRequestFields(path: "/no.Such/Method")))
        #expect(connection.statusCode(stream: 1) == .unimplemented)
        #expect(connection.frames(.rstStream, stream: 1).first?.errorCode == 0)
    }

    // MARK: Attacks

    @Test("rapid reset (CVE-2023-44487): opening and resetting streams in a loop closes the connection")
    func rapidReset() throws {
        var configuration = RPCServerConfiguration()
        configuration.streamResetBurst = 100
        configuration.streamResetsPerSecond = 10
        let probe = HandlerProbe()
        let logs = LogLines()
        let connection = try RawServerConnection(
            router: makeTestRouter(probe: probe), configuration: configuration, logger: logs.logger)
        var stream: UInt32 = 1
        try connection.send(bytes: openedAndCancelled(300, from: &stream))
        // nghttp2's limiter answers GOAWAY(INTERNAL_ERROR) once the reset budget is spent, and the
        // operator is told.
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.internalError.rawValue)
        #expect(!connection.isOpen)
        #expect(logs.contains(level: .warning, "rapid reset budget"))
        // Streams reset in the same read never start a handler.
        #expect(probe.started.load(ordering: .sequentiallyConsistent) == 0)
    }

    /// `count` calls opened and at once reset with CANCEL (8), as a client does with calls whose
    /// deadline passed, from stream `stream` on.
    private func openedAndCancelled(_ count: Int, from stream: inout UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<count {
            bytes += RawFrame.headers(stream: stream, RawFrame.grpcRequestFields(path: TestMethod.hang)).bytes
            bytes += RawFrame.rstStream(stream: stream, code: 8).bytes
            stream += 2
        }
        return bytes
    }

    @Test("DATA a client sends after its own RST_STREAM is ignored, not a connection error (grpc-java does this)")
    func dataAfterTheClientsReset() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        // The message each client had queued before it cancelled, in frames of 15,000 bytes: 300
        // of them are more than the connection's window of 16 MiB, so the call after them only
        // gets through if the ignored bytes were credited back.
        let message = RawFrame.grpcMessage(Array(repeating: 1, count: 60_000))
        var stream: UInt32 = 1
        for _ in 0..<300 {
            var bytes = RawFrame.headers(stream: stream, RawFrame.grpcRequestFields(path: TestMethod.echo)).bytes
            bytes += RawFrame.rstStream(stream: stream, code: 8).bytes
            for start in stride(from: 0, to: message.count, by: 15_000) {
                let end = min(start + 15_000, message.count)
                bytes +=
                    RawFrame.data(stream: stream, Array(message[start..<end]), endStream: end == message.count)
                    .bytes
            }
            try connection.send(bytes: bytes)
            stream += 2
        }
        #expect(connection.frames(.goaway).isEmpty)
        #expect(connection.isOpen)
        try request(connection, stream: stream, body: RawFrame.grpcMessage(Array(repeating: 2, count: 1_000)))
        #expect(connection.statusCode(stream: stream) == .ok)
    }

    @Test("a client whose calls time out by the thousand (each reset) keeps its connection")
    func cancelledCallsAreNotAnAttack() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        var stream: UInt32 = 1
        for _ in 0..<3 { try connection.send(bytes: openedAndCancelled(1_000, from: &stream)) }
        #expect(connection.frames(.goaway).isEmpty)
        try request(connection, stream: stream)
        #expect(connection.statusCode(stream: stream) == .ok)
    }

    @Test("a CONTINUATION flood closes the connection")
    func continuationFlood() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        var bytes = RawFrame.headers(stream: 1, RawFrame.grpcRequestFields(path: TestMethod.echo), endHeaders: false)
            .bytes
        for _ in 0..<50 {
            bytes += RawFrame(.continuation, stream: 1, payload: HPACK.encode([("x-pad", "p")])).bytes
        }
        try connection.send(bytes: bytes)
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.enhanceYourCalm.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("a PING flood closes the connection with ENHANCE_YOUR_CALM")
    func pingFlood() throws {
        var configuration = RPCServerConfiguration()
        configuration.controlFrameBurst = 200
        let logs = LogLines()
        let connection = try RawServerConnection(
            router: makeTestRouter(), configuration: configuration, logger: logs.logger)
        try connection.send(bytes: (0..<500).flatMap { _ in RawFrame.ping().bytes })
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.enhanceYourCalm.rawValue)
        #expect(!connection.isOpen)
        // Said once, with our own reason.
        #expect(logs.contains(level: .warning, "floods control frames"))
        #expect(!logs.contains(level: .warning, "nghttp2 closed the connection"))
    }

    @Test(
        "a PING after each answer is free (a client sizing its window, as grpc-go does); PINGs with nothing sent between them are not"
    )
    func pingAfterEachAnswer() throws {
        var configuration = RPCServerConfiguration()
        configuration.controlFrameBurst = 20
        configuration.controlFramesPerSecond = 1
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        for call in 0..<60 {
            let stream = UInt32(2 * call + 1)
            try request(connection, stream: stream)
            #expect(connection.statusCode(stream: stream) == .ok)
            try connection.send(RawFrame.ping(UInt8(call % 256)))
        }
        #expect(connection.isOpen && connection.frames(.goaway).isEmpty, "60 PINGs, each after an answer")
        try connection.send(bytes: (0..<30).flatMap { _ in RawFrame.ping().bytes })
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.enhanceYourCalm.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("PINGs bought by opening a window a byte at a time, each making the server send one byte, end the connection")
    func pingsBoughtByATrickleWindow() throws {
        var configuration = RPCServerConfiguration()
        configuration.controlFrameBurst = 5
        configuration.controlFramesPerSecond = 1
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        // A window of one byte, then a call whose answer is larger.
        try connection.send(RawFrame.settings([(4, 1)]))
        try request(connection, stream: 1, body: RawFrame.grpcMessage(Array(repeating: 7, count: 4_000)))
        let allowance = 5 * ServerConnectionStateMachine.pingsAfterSendingFactor
        for _ in 0..<(allowance + 10) {
            guard connection.isOpen else { break }
            try connection.send(RawFrame.windowUpdate(stream: 1, increment: 1), RawFrame.ping())
        }
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.enhanceYourCalm.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("a connection whose last frames cannot be written (the peer stopped reading) closes after a grace")
    func stalledFinalWrite() throws {
        var configuration = RPCServerConfiguration()
        configuration.controlFrameBurst = 10
        let connection = try RawServerConnection(
            router: makeTestRouter(), configuration: configuration, stallWrites: true)
        try connection.send(bytes: (0..<20).flatMap { _ in RawFrame.ping().bytes })
        #expect(connection.isOpen, "waiting for the GOAWAY to be written")
        connection.advanceTime(by: HTTP2ServerConnectionHandler.finalWriteGrace - .milliseconds(100))
        #expect(connection.isOpen)
        connection.advanceTime(by: .milliseconds(200))
        #expect(!connection.isOpen, "closed without the write")
    }

    @Test("a SETTINGS flood closes the connection")
    func settingsFlood() throws {
        var configuration = RPCServerConfiguration()
        configuration.controlFrameBurst = 200
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        try connection.send(bytes: (0..<500).flatMap { _ in RawFrame.settings([(3, 100)]).bytes })
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.enhanceYourCalm.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("a SETTINGS frame with too many entries closes the connection")
    func oversizedSettings() throws {
        let connection = try RawServerConnection(router: makeTestRouter())
        try connection.send(RawFrame.settings((0..<100).map { _ in (3, 100) }))
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.enhanceYourCalm.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("a client that never reads PING acknowledgements cannot grow our queue")
    func unreadAcks() throws {
        // Without delivering our output, the queued ACKs hit nghttp2's outbound limit.
        var configuration = RPCServerConfiguration()
        configuration.controlFrameBurst = 1_000_000
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        connection.channel.isWritable = false
        try connection.send(bytes: (0..<5000).flatMap { _ in RawFrame.ping().bytes })
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.enhanceYourCalm.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("streams opened and never finished get CANCELLED after the receive timeout, then a reset")
    func neverFinished() throws {
        var configuration = RPCServerConfiguration()
        configuration.requestReceiveTimeout = .seconds(1)
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        try connection.send(RawFrame.headers(stream: 1, RawFrame.grpcRequestFields(path: TestMethod.echo)))
        try connection.send(RawFrame.data(stream: 1, [0, 0, 0]))
        connection.advanceTime(by: .milliseconds(500))
        #expect(connection.frames(.rstStream, stream: 1).isEmpty)
        connection.advanceTime(by: .milliseconds(700))
        // The status reaches the client (a reset alone reads as a cancel on its side), and the
        // reset after it only tells the client to stop sending.
        #expect(connection.statusCode(stream: 1) == .cancelled)
        #expect(connection.lastHeader("grpc-message", stream: 1)?.contains("did not arrive in time") == true)
        #expect(connection.frames(.rstStream, stream: 1).first?.errorCode == HTTP2ErrorCode.noError.rawValue)
        #expect(connection.isOpen)
        try request(connection, stream: 3)
        #expect(connection.statusCode(stream: 3) == .ok)
    }

    @Test("a header block never finished closes the connection after the receive timeout")
    func unfinishedHeaderBlock() throws {
        var configuration = RPCServerConfiguration()
        configuration.requestReceiveTimeout = .seconds(1)
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        try connection.send(
            RawFrame.headers(stream: 1, RawFrame.grpcRequestFields(path: TestMethod.echo), endHeaders: false))
        connection.advanceTime(by: .milliseconds(500))
        #expect(connection.isOpen)
        connection.advanceTime(by: .milliseconds(700))
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.protocolError.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("opening more streams than SETTINGS_MAX_CONCURRENT_STREAMS is a connection error")
    func concurrencyLimit() throws {
        var configuration = RPCServerConfiguration()
        configuration.maxConcurrentStreams = 4
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        for stream in stride(from: UInt32(1), through: 7, by: 2) {
            try connection.send(RawFrame.headers(stream: stream, RawFrame.grpcRequestFields(path: TestMethod.hang)))
        }
        #expect(connection.isOpen, "four streams are within the limit")
        try connection.send(RawFrame.headers(stream: 9, RawFrame.grpcRequestFields(path: TestMethod.hang)))
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.protocolError.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("garbage instead of the connection preface closes the connection")
    func badPreface() throws {
        let connection = try RawServerConnection(router: makeTestRouter(), handshake: false)
        try connection.send(bytes: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.protocolError.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("an idle connection is closed with GOAWAY")
    func idleTimeout() throws {
        var configuration = RPCServerConfiguration()
        configuration.idleTimeout = .seconds(2)
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        connection.advanceTime(by: .seconds(1))
        #expect(connection.isOpen)
        connection.advanceTime(by: .milliseconds(1500))
        #expect(connection.frames(.goaway).last?.errorCode == 0)
        #expect(!connection.isOpen)
    }

    @Test("keepalive PINGs keep a live peer connected and drop a silent one")
    func keepalive() throws {
        var configuration = RPCServerConfiguration()
        configuration.keepaliveInterval = .seconds(1)
        configuration.keepaliveTimeout = .seconds(1)
        configuration.idleTimeout = nil
        let connection = try RawServerConnection(router: makeTestRouter(), configuration: configuration)
        connection.advanceTime(by: .milliseconds(1200))
        let ping = try #require(connection.frames(.ping).first { $0.flags & RawFrame.ack == 0 })
        try connection.send(RawFrame(.ping, flags: RawFrame.ack, payload: ping.payload))
        connection.advanceTime(by: .milliseconds(1200))
        #expect(connection.isOpen)
        // Now stay silent past the next PING's timeout.
        connection.advanceTime(by: .seconds(3))
        #expect(!connection.isOpen)
    }
}
