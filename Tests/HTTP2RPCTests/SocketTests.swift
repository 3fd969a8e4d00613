import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
import WireFormat

@testable import HTTP2RPC

/// A real server and our client over loopback TCP, plain and TLS.
@Suite("Server and client over real sockets")
struct SocketTests {
    private func router(probe: HandlerProbe = HandlerProbe(), health: HealthStatus = HealthStatus()) throws -> RPCRouter
    {
        var router = makeTestRouter(probe: probe)
        try router.register(HealthService(status: health))
        try router.register(DiagnosticsService(stats: RPCServerStats()))
        return router
    }

    @Test("health Check answers 08 01 (SERVING) to an empty request, NOT_FOUND for unknown services")
    func healthCheck() async throws {
        let health = HealthStatus()
        health.set(.serving)
        try await withServer(router: router(health: health)) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            let response = try await client.unary(HealthService.checkPath, [])
            #expect(response.message == [0x08, 0x01])
            do throws(RPCError) {
                _ = try await client.unary(HealthService.checkPath, HealthCheckRequest(service: "nope").protoBytes)
                Issue.record("an unknown service was reported healthy")
            } catch {
                #expect(error.code == .notFound)
            }
        }
    }

    @Test("health Watch sends the current status, then each change")
    func healthWatch() async throws {
        let health = HealthStatus()
        health.set(.serving)
        try await withServer(router: router(health: health)) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            let seen = try await client.serverStreaming(HealthService.watchPath, []) { response in
                var statuses: [HealthCheckResponse.ServingStatus?] = []
                for try await message in response.messages {
                    statuses.append(try HealthCheckResponse(protoBytes: message).status)
                    if statuses.count == 1 { health.set(.notServing) }
                    if statuses.count == 2 { break }
                }
                return statuses
            }
            #expect(seen == [.serving, .notServing])
        }
    }

    @Test("health names each served service: SERVING by name, NOT_FOUND for others")
    func healthByServiceName() async throws {
        let health = HealthStatus()
        let router = try router(health: health)
        health.setServing(paths: router.methods)
        try await withServer(router: router) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            for service in ["", "grpc.health.v1.Health", "tradecore.diagnostics.v1.Diagnostics"] {
                let response = try await client.unary(
                    HealthService.checkPath, HealthCheckRequest(service: service).protoBytes)
                #expect(try HealthCheckResponse(protoBytes: response.message).status == .serving, "\(service)")
            }
            do throws(RPCError) {
                _ = try await client.unary(
                    HealthService.checkPath, HealthCheckRequest(service: "grpc.health.v1").protoBytes)
                Issue.record("a package was reported as a service")
            } catch {
                #expect(error.code == .notFound)
            }
        }
    }

    @Test("a health Watch ends with UNAVAILABLE after NOT_SERVING when the server shuts down, not at its grace period")
    func healthWatchEndsOnShutdown() async throws {
        let health = HealthStatus()
        health.set(.serving)
        try await withServer(router: router(health: health)) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            let statuses = Mutex<[HealthCheckResponse.ServingStatus?]>([])
            let began = ContinuousClock.now
            do {
                try await client.serverStreaming(HealthService.watchPath, [], timeout: .seconds(20)) { response in
                    for try await message in response.messages {
                        let status = try HealthCheckResponse(protoBytes: message).status
                        let count = statuses.withLock {
                            $0.append(status); return $0.count
                        }
                        if count == 1 { health.shutDown() }
                    }
                }
                Issue.record("the watch ended without a status")
            } catch let error as RPCError {
                #expect(error.code == .unavailable, "\(error)")
            }
            #expect(statuses.withLock { $0 } == [.serving, .notServing])
            #expect(ContinuousClock.now - began < .seconds(10))
            // A watch that starts after the shutdown hears the status and ends.
            let late = Mutex<[HealthCheckResponse.ServingStatus?]>([])
            do {
                try await client.serverStreaming(HealthService.watchPath, [], timeout: .seconds(20)) { response in
                    for try await message in response.messages {
                        let status = try HealthCheckResponse(protoBytes: message).status
                        late.withLock { $0.append(status) }
                    }
                }
                Issue.record("a watch after the shutdown ended without UNAVAILABLE")
            } catch let error as RPCError {
                #expect(error.code == .unavailable, "\(error)")
            }
            #expect(late.withLock { $0 } == [.notServing])
        }
    }

    @Test("Ping echoes its payload with the server's time; malformed input is INVALID_ARGUMENT")
    func ping() async throws {
        try await withServer(router: router()) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            let payload = Array("ping".utf8)
            let response = try await client.unary(DiagnosticsService.pingPath, PingRequest(payload: payload).protoBytes)
            let pong = try PingResponse(protoBytes: response.message)
            #expect(pong.payload == payload)
            #expect(pong.serverTimeUnixNanos > 1_700_000_000_000_000_000)
            do throws(RPCError) {
                _ = try await client.unary(DiagnosticsService.pingPath, [0x0A, 0x05, 1])
                Issue.record("a truncated PingRequest was accepted")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("PingRequest"))
            }
        }
    }

    @Test("a thousand concurrent calls from fifty tasks share one connection")
    func concurrentCalls() async throws {
        try await withServer(router: router()) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<50 {
                    group.addTask {
                        for call in 0..<20 {
                            let message = Array("\(task)-\(call)".utf8)
                            let response = try await client.unary(TestMethod.echo, message)
                            #expect(response.message == message)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test("echo of 0 B, 1 KiB and 3 MiB")
    func messageSizes() async throws {
        try await withServer(router: router()) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            for size in [0, 1024, 3 << 20] {
                let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7) }
                let response = try await client.unary(TestMethod.echo, message)
                let same = response.message == message  // outside #expect, which would print it all
                #expect(same, "size \(size): got \(response.message.count) bytes")
            }
        }
    }

    @Test("a 10,000-message stream read slowly arrives whole and in order")
    func slowStream() async throws {
        let probe = HandlerProbe()
        try await withServer(router: router(probe: probe)) { _, port in
            // 10,000 messages of 69 framed bytes overflow a 64 KiB window many times.
            var configuration = RPCClientConfiguration()
            configuration.initialStreamWindowSize = 65_535
            let client = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
            defer { Task { await client.close() } }
            let count = try await client.serverStreaming(TestMethod.stream, streamRequest(count: 10_000, size: 64)) {
                response in
                var expected = 0
                for try await message in response.messages {
                    let index = Int(message[0]) << 24 | Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3])
                    #expect(index == expected)
                    expected += 1
                    if expected % 1000 == 0 {
                        // Flow control keeps the server from running far ahead of a slow reader:
                        // one window, the server's 64 KiB send buffer and our buffer of four
                        // DATA frames' messages.
                        let ahead = probe.written.load(ordering: .sequentiallyConsistent) - expected
                        #expect(ahead < 3000, "the server ran \(ahead) messages ahead")
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                #expect(try await response.trailers.first("x-count") == "10000")
                return expected
            }
            #expect(count == 10_000)
        }
    }

    @Test("a deadline ends the call with DEADLINE_EXCEEDED and cancels the handler")
    func deadline() async throws {
        let probe = HandlerProbe()
        try await withServer(router: router(probe: probe)) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            // Connect first, and leave a loaded machine time to start the handler before the deadline.
            try await client.connect()
            do throws(RPCError) {
                _ = try await client.unary(TestMethod.hang, [], timeout: .seconds(1))
                Issue.record("the call outlived its deadline")
            } catch {
                #expect(error.code == .deadlineExceeded)
            }
            #expect(probe.started.load(ordering: .sequentiallyConsistent) == 1)
            try await eventually { probe.cancelled.load(ordering: .sequentiallyConsistent) == 1 }
        }
    }

    @Test("a call whose deadline is over when its request has arrived is refused and its handler never runs")
    func deadlineOverOnArrival() async throws {
        let probe = HandlerProbe()
        try await withServer(router: router(probe: probe)) { _, port in
            let socket = try await RawSocket(port: port)
            defer { Task { await socket.close() } }
            // Headers and message in one write: the request is whole in the read that brings its
            // grpc-timeout, which is over at once.
            try await socket.send(
                RawFrame.preface + RawFrame.settings().bytes
                    + RawFrame.headers(
                        stream: 1, RawFrame.grpcRequestFields(path: TestMethod.hang, extra: [("grpc-timeout", "0n")])
                    ).bytes + RawFrame.data(stream: 1, RawFrame.grpcMessage([1]), endStream: true).bytes)
            let blocks = { socket.received.filter { $0.kind == .headers && $0.streamID == 1 } }
            try await eventually { blocks().contains { $0.flags & RawFrame.endStream != 0 } }
            let decoder = HeaderDecoder()
            let fields = blocks().flatMap { decoder.decode($0.payload) ?? [] }
            #expect(fields.first { $0.0 == "grpc-status" }?.1 == "4", "DEADLINE_EXCEEDED: \(fields)")
            // "before the call started"; or, should the request come in two reads, the deadline's
            // timer may answer first: either way the handler never runs.
            #expect(fields.contains { $0.0 == "grpc-message" && $0.1.contains("the deadline expired") }, "\(fields)")
            #expect(probe.started.load(ordering: .sequentiallyConsistent) == 0, "the handler never ran")
        }
    }

    @Test("cancelling the calling task cancels the call on both sides")
    func taskCancellation() async throws {
        let probe = HandlerProbe()
        try await withServer(router: router(probe: probe)) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            let call = Task { try await client.unary(TestMethod.hang, []) }
            try await eventually { probe.started.load(ordering: .sequentiallyConsistent) == 1 }
            call.cancel()
            let result = await call.result
            #expect(throws: RPCError.self) { try result.get() }
            try await eventually { probe.cancelled.load(ordering: .sequentiallyConsistent) == 1 }
        }
    }

    @Test("leaving a stream early cancels it on the server")
    func leaveStreamEarly() async throws {
        let probe = HandlerProbe()
        try await withServer(router: router(probe: probe)) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            let read = try await client.serverStreaming(TestMethod.stream, streamRequest(count: 1_000_000, size: 100)) {
                response in
                var count = 0
                for try await _ in response.messages {
                    count += 1
                    if count == 10 { break }
                }
                return count
            }
            #expect(read == 10)
            try await eventually { probe.cancelled.load(ordering: .sequentiallyConsistent) == 1 }
            #expect(probe.written.load(ordering: .sequentiallyConsistent) < 1_000_000)
            // The connection is still good for other calls.
            #expect(try await client.unary(TestMethod.echo, [1]).message == [1])
        }
    }

    @Test("graceful shutdown lets calls in flight finish and refuses new ones")
    func gracefulShutdown() async throws {
        let release = Atomic<Bool>(false)
        let started = Atomic<Bool>(false)
        var router = RPCRouter()
        try router.unary("/test.Test/Slow") { request in
            started.store(true, ordering: .sequentiallyConsistent)
            while !release.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(5)) }
            return RPCServerResponse(message: request.message)
        }
        try router.unary(TestMethod.echo) { RPCServerResponse(message: $0.message) }
        var configuration = RPCServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownGracePeriod = .seconds(30)
        let server = RPCServer(configuration: configuration, router: router)
        try await server.start()
        let port = try #require(server.localAddress?.port)
        let client = RPCClient(host: "127.0.0.1", port: port)
        #expect(try await client.unary(TestMethod.echo, [0]).message == [0])
        let inFlight = Task { try await client.unary("/test.Test/Slow", [7]) }
        try await eventually { started.load(ordering: .sequentiallyConsistent) }

        server.beginShutdown()
        await server.waitUntilShutdownBegun()
        // New calls: refused, on this connection (GOAWAY) and on new ones (listener closed).
        do throws(RPCError) {
            _ = try await client.unary(TestMethod.echo, [1])
            Issue.record("a call started after shutdown was served")
        } catch {
            #expect(error.code == .unavailable)
        }
        let late = RPCClient(host: "127.0.0.1", port: port)
        await #expect(throws: RPCError.self) { _ = try await late.unary(TestMethod.echo, [2]) }

        release.store(true, ordering: .sequentiallyConsistent)
        #expect(try await inFlight.value.message == [7])
        try await server.waitUntilClosed()
        await client.close()
    }

    /// Attacks one connection can make, each as the bytes the attacker sends after its preface.
    enum Attack: String, CaseIterable, CustomStringConvertible {
        case pingFlood = "a PING flood"
        case rapidReset = "rapid reset"
        case continuationFlood = "a CONTINUATION flood"
        case oversizedHeaders = "a stream of oversized header lists"

        var description: String { rawValue }

        var bytes: [UInt8] {
            switch self {
            case .pingFlood:
                return (0..<2000).flatMap { _ in RawFrame.ping().bytes }
            case .rapidReset:
                return stride(from: UInt32(1), to: 4000, by: 2).flatMap { stream in
                    RawFrame.headers(stream: stream, RawFrame.grpcRequestFields(path: TestMethod.hang)).bytes
                        + RawFrame.rstStream(stream: stream, code: 8).bytes
                }
            case .continuationFlood:
                let fields = RawFrame.grpcRequestFields(path: TestMethod.echo)
                return RawFrame.headers(stream: 1, fields, endHeaders: false).bytes
                    + (0..<5000).flatMap { _ in
                        RawFrame(.continuation, stream: 1, payload: HPACK.encode([("x-pad", "p")])).bytes
                    }
            case .oversizedHeaders:
                let big = String(repeating: "v", count: 5000)  // over the 4 KiB limit set below
                return stride(from: UInt32(1), to: 400, by: 2).flatMap { stream in
                    RawFrame.headers(
                        stream: stream, RawFrame.grpcRequestFields(path: TestMethod.echo, extra: [("x-big", big)]),
                        endStream: true
                    ).bytes
                }
            }
        }
    }

    @Test(
        "an HTTP/1.1 request over TCP reads a 505 that says the port speaks HTTP/2, and HTTP/2 clients are served beside it"
    )
    func http1RequestOverTCP() async throws {
        try await withServer(router: router()) { _, port in
            let socket = try await RawSocket(port: port)
            // A body the server never reads: it still answers, and the client can read the answer.
            try await socket.send(
                Array("POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\ncontent-length: 5000\r\n\r\n".utf8)
                    + [UInt8](repeating: 0x61, count: 5000))
            try await eventually { !socket.isActive }
            #expect(String(decoding: socket.receivedBytes, as: UTF8.self) == HTTP1Refusal.answer)
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            #expect(try await client.unary(TestMethod.echo, [5]).message == [5])
        }
    }

    @Test("an attacking connection is closed while another client keeps being served", arguments: Attack.allCases)
    func attackIsolation(_ attack: Attack) async throws {
        try await withServer(
            router: router(),
            configure: {
                $0.controlFrameBurst = 500
                $0.streamResetBurst = 100
                $0.maxHeaderListSize = 4096
            }
        ) { _, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            let attacker = try await RawSocket(port: port)
            try await attacker.send(RawFrame.preface + RawFrame.settings().bytes)
            async let sent: Void = attacker.send(attack.bytes)
            for index in 0..<50 {
                #expect(try await client.unary(TestMethod.echo, [UInt8(index)]).message == [UInt8(index)])
            }
            try? await sent
            try await eventually { !attacker.isActive }
            // The GOAWAY reaches the attacker although it was still sending: the server ends its
            // side and drops what comes after, instead of closing on unread bytes (which makes the
            // kernel answer with a reset that throws the GOAWAY away unread).
            let goaway = attacker.received.last(where: { $0.kind == .goaway })
            #expect(goaway != nil, "the attacker was told why")
            #expect(goaway.map { $0.errorCode != 0 } ?? false, "closed with an error code")
            #expect(try await client.unary(TestMethod.echo, [9]).message == [9])
        }
    }

    @Test(
        "a connection closed for abuse ends the server's side after the GOAWAY and drops what the client still sends, instead of resetting it"
    )
    func closeLingersAfterTheGoaway() async throws {
        // A linger longer than any test machine's pause: the writes below come within it.
        try await withServer(
            router: router(),
            configure: {
                $0.controlFrameBurst = 500
                $0.closeLinger = .seconds(60)
            }
        ) { _, port in
            let attacker = try await RawSocket(port: port, halfOpen: true)
            try await attacker.send(
                RawFrame.preface + RawFrame.settings().bytes + (0..<600).flatMap { _ in RawFrame.ping().bytes })
            try await eventually { attacker.serverEndedItsSide }
            #expect(
                attacker.received.last(where: { $0.kind == .goaway })?.errorCode
                    == HTTP2ErrorCode.enhanceYourCalm.rawValue)
            // A client that has not read the GOAWAY yet keeps sending. A closed socket would answer
            // with a reset, and the client's next write would fail (and, with it, often its read of
            // the GOAWAY); a lingering one takes the bytes.
            for _ in 0..<10 { try await attacker.send(Array(repeating: 0, count: 64 << 10)) }
            await attacker.close()
        }
    }

    // MARK: TLS

    @Test("calls over TLS with ALPN h2, verified against the certificate's CA")
    func tls() async throws {
        try await withTLSServer(router: router()) { port, certificate in
            for host in ["localhost", "127.0.0.1"] {
                let client = RPCClient(
                    host: host, port: port, tls: TLSClientConfiguration(trustRootsFile: certificate.certificate))
                #expect(try await client.unary(TestMethod.echo, [1, 2, 3]).message == [1, 2, 3], "\(host)")
                let big = [UInt8](repeating: 5, count: 1 << 20)
                let echoed = try await client.unary(TestMethod.echo, big).message
                let same = echoed == big
                #expect(same, "got \(echoed.count) bytes")
                let streamed = try await client.serverStreaming(
                    TestMethod.stream, streamRequest(count: 500, size: 1000)
                ) { response in
                    var count = 0
                    for try await _ in response.messages { count += 1 }
                    return count
                }
                #expect(streamed == 500)
                await client.close()
            }
        }
    }

    @Test(
        "a client refuses an untrusted certificate, or a trusted one for another host name or address, with a clear error",
        arguments: [
            (trusted: false, name: "localhost", reason: "certificate was refused"),
            (trusted: true, name: "wrong.example", reason: "hostname mismatch"),
            (trusted: true, name: "127.0.0.2", reason: "IP address mismatch"),
        ])
    func tlsRefusedCertificate(trusted: Bool, name: String, reason: String) async throws {
        try await withTLSServer(router: router()) { port, certificate in
            // An address, not a name to resolve: the failure must be the certificate's.
            let client = RPCClient(
                host: "127.0.0.1", port: port,
                tls: TLSClientConfiguration(trustRootsFile: trusted ? certificate.certificate : nil, serverName: name))
            do throws(RPCError) {
                _ = try await client.unary(TestMethod.echo, [1])
                Issue.record("the certificate (for localhost and 127.0.0.1) was accepted for \(name)")
            } catch {
                #expect(error.code == .unavailable)
                #expect((error.cause as? TLSError)?.code == .verification, "\(error)")
                #expect(error.message.contains(reason), "\(error.message)")
            }
            await client.close()
        }
    }

    @Test("IP literals are told from host names by parsing them")
    func ipLiterals() {
        for address in ["127.0.0.1", "::1", "fe80::1", "2001:db8::8a2e:370:7334", "::ffff:10.0.0.1"] {
            #expect(OpenSSLConnection.isIPAddress(address), "\(address)")
        }
        for name in ["localhost", "1.2.3.4.example", "1.2.3", "12345", "dead:beef.example", "", "1.2.3.256"] {
            #expect(!OpenSSLConnection.isIPAddress(name), "\(name)")
        }
    }

    @Test("a TLS client that does not offer h2 is refused during the handshake")
    func tlsWithoutH2() async throws {
        try await withTLSServer(router: router()) { port, certificate in
            let refused = try await run(
                "/usr/bin/openssl",
                ["s_client", "-connect", "127.0.0.1:\(port)", "-alpn", "http/1.1", "-CAfile", certificate.certificate])
            #expect(refused.output.contains("no application protocol"), "\(refused.output)")
            let accepted = try await run(
                "/usr/bin/openssl",
                ["s_client", "-connect", "127.0.0.1:\(port)", "-alpn", "h2", "-CAfile", certificate.certificate])
            #expect(accepted.output.contains("ALPN protocol: h2"), "\(accepted.output)")
        }
    }

    @Test("a server with unusable certificate files fails to start with a clear error")
    func tlsBadFiles() async throws {
        var configuration = RPCServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.tls = TLSConfiguration(
            certificateChainFile: "/nonexistent/cert.pem", privateKeyFile: "/nonexistent/key.pem")
        let server = RPCServer(configuration: configuration, router: RPCRouter())
        do {
            try await server.start()
            Issue.record("the server started without its certificate")
            await server.shutdown()
        } catch {
            #expect("\(error)".contains("/nonexistent/cert.pem"))
        }
    }

    @Test("a private key encrypted with a passphrase is refused at start, saying so, without asking for one")
    func tlsEncryptedKey() async throws {
        let certificate = try await TestCertificate.make()
        defer { certificate.remove() }
        let encrypted = certificate.directory.appendingPathComponent("encrypted.pem").path
        try await run(
            "/usr/bin/openssl",
            ["pkey", "-in", certificate.key, "-out", encrypted, "-aes256", "-passout", "pass:secret"])
        var configuration = RPCServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.tls = TLSConfiguration(certificateChainFile: certificate.certificate, privateKeyFile: encrypted)
        let server = RPCServer(configuration: configuration, router: RPCRouter())
        do {
            try await server.start()
            Issue.record("the server started with a key it cannot read")
            await server.shutdown()
        } catch {
            #expect("\(error)".contains("\(encrypted) is encrypted with a passphrase"), "\(error)")
        }
    }

    @Test("a client reconnects after the server closed its connection")
    func reconnect() async throws {
        // The server is shut down and another started on its port, rather than the connection
        // being closed by an idle timeout: a loaded machine can hold this task longer than any
        // such timeout between connecting and sending, and the new connection would close too.
        let client = try await withServer(router: router()) { (_, port) async throws -> RPCClient in
            let client = RPCClient(host: "127.0.0.1", port: port)
            #expect(try await client.unary(TestMethod.echo, [1]).message == [1])
            return client
        }
        defer { Task { await client.close() } }
        // Another test's connection may hold the freed port for a moment as its own local port.
        for attempt in 1...50 {
            do {
                try await withServer(router: router(), configure: { $0.port = client.port }) {
                    (server, _) async throws in
                    #expect(try await client.unary(TestMethod.echo, [2]).message == [2])
                    #expect(server.stats.snapshot.openConnections == 1)
                }
                return
            } catch let error as IOError where error.errnoCode == EADDRINUSE && attempt < 50 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

extension SocketTests {
    @Test("a server that does not speak HTTP/2 fails the call at once, saying what it answered")
    func notHTTP2() async throws {
        // An HTTP/1.1 server that answers 400 and keeps the connection open, as a metrics port
        // does: once it has read the request, or at once (the answer then often arrives before
        // the call starts on the connection).
        for answersAtOnce in [false, true] {
            let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1Refuser(answersAtOnce: answersAtOnce))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            defer { listener.close(promise: nil) }
            let port = try #require(listener.localAddress?.port)
            let client = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await client.close() } }
            let began = ContinuousClock.now
            for _ in 0..<2 {
                do {
                    _ = try await client.unary(TestMethod.echo, [1], timeout: .seconds(20))
                    Issue.record("an HTTP/1.1 server answered the call")
                } catch {
                    #expect(error.code == .unavailable)
                    #expect(error.message.contains("does not speak HTTP/2"), "\(error.message)")
                    #expect(error.message.contains("\"HTTP/1.1 400 Bad Request\""), "\(error.message)")
                }
            }
            #expect(ContinuousClock.now - began < .seconds(10), "it failed without waiting for the deadline")
        }

        // A TLS server, called in plain text.
        try await withTLSServer(router: router()) { port, _ in
            let plain = RPCClient(host: "127.0.0.1", port: port)
            defer { Task { await plain.close() } }
            do throws(RPCError) {
                _ = try await plain.unary(TestMethod.echo, [1], timeout: .seconds(20))
                Issue.record("a TLS server answered a plain-text call")
            } catch {
                #expect(error.code == .unavailable)
                #expect(error.message.contains("before speaking HTTP/2"), "\(error.message)")
                #expect(error.message.contains("TLS"), "\(error.message)")
            }
        }
    }
}

extension SocketTests {
    @Test("a server that accepts the connection and says nothing fails the call after the handshake timeout")
    func silentServer() async throws {
        // Accepts, then neither reads nor writes.
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.autoRead, value: false)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { listener.close(promise: nil) }
        let port = try #require(listener.localAddress?.port)
        var configuration = RPCClientConfiguration()
        configuration.handshakeTimeout = .milliseconds(300)
        let client = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
        defer { Task { await client.close() } }
        let began = ContinuousClock.now
        do throws(RPCError) {
            _ = try await client.unary(TestMethod.echo, [1], timeout: .seconds(30))
            Issue.record("a silent server answered the call")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("sent no HTTP/2 SETTINGS in 300 ms"), "\(error.message)")
        }
        #expect(ContinuousClock.now - began < .seconds(20), "it failed without waiting for the deadline")
    }
}

extension SocketTests {
    @Test("the server's event loop threads ask Linux for the configured time slice")
    func eventLoopTimeSlice() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = RPCServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.eventLoopTimeSlice = .microseconds(250)
        let server = RPCServer(configuration: configuration, router: try router(), group: group)
        try await server.start()
        // Runs after the server's request on the same loop: a loop runs its tasks in order.
        let scheduling = try await group.next().submit {
            (try? String(contentsOfFile: "/proc/thread-self/sched", encoding: .utf8)) ?? ""
        }.get()
        await server.shutdown()
        try await group.shutdownGracefully()
        let slice = try #require(scheduling.split(separator: "\n").first { $0.hasPrefix("se.slice") })
        #expect(slice.split(separator: " ").last == "250000", "\(slice)")
    }
}

/// Answers an HTTP/1.1 400, on connect or to the first bytes read, and keeps the connection open.
private final class HTTP1Refuser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let answersAtOnce: Bool
    private var answered = false

    init(answersAtOnce: Bool) { self.answersAtOnce = answersAtOnce }

    func channelActive(context: ChannelHandlerContext) {
        if answersAtOnce { answer(context) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        answer(context)
    }

    private func answer(_ context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        let answer = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer)), promise: nil)
    }
}

/// Polls `condition` for up to five seconds.
func eventually(_ condition: () -> Bool) async throws {
    for _ in 0..<500 {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    #expect(condition(), "the condition never became true")
}
