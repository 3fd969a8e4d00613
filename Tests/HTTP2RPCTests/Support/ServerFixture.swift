import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

@testable import HTTP2RPC

/// Starts a real server on a free loopback port for the duration of `body`.
func withServer<Result>(
    router: RPCRouter,
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    configure: (inout RPCServerConfiguration) -> Void = { _ in },
    _ body: (RPCServer, Int) async throws -> Result
) async throws -> Result {
    var configuration = RPCServerConfiguration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    var logger = Logger(label: "test.server")
    logger.logLevel = .critical
    let server = RPCServer(configuration: configuration, router: router, group: group, logger: logger)
    try await server.start()
    guard let port = server.localAddress?.port else { throw TestFailure("the server did not report a port") }
    do {
        let result = try await body(server, port)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

/// Runs `body` against a TLS server on a throwaway certificate for localhost and 127.0.0.1.
func withTLSServer<Result>(
    router: RPCRouter,
    _ body: (_ port: Int, _ certificate: TestCertificate) async throws -> Result
) async throws -> Result {
    let certificate = try await TestCertificate.make()
    defer { certificate.remove() }
    return try await withServer(
        router: router,
        configure: {
            $0.tls = TLSConfiguration(certificateChainFile: certificate.certificate, privateKeyFile: certificate.key)
        }
    ) { _, port in try await body(port, certificate) }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A throwaway self-signed certificate for localhost and 127.0.0.1, made with the openssl tool.
struct TestCertificate {
    let directory: URL
    var certificate: String { directory.appendingPathComponent("cert.pem").path }
    var key: String { directory.appendingPathComponent("key.pem").path }

    static func make() async throws -> TestCertificate {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tradecore-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let made = TestCertificate(directory: directory)
        try await run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", made.key, "-out", made.certificate,
            ])
        return made
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// Runs a program to completion; returns its standard output and error, merged.
/// Output goes through a file: reading a pipe with FileHandle can trap on EINTR. The exit is
/// awaited through the process's termination handler, holding no thread of the cooperative pool.
@discardableResult
func run(_ program: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString).txt")
    _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: outputURL) }
    let output = try FileHandle(forWritingTo: outputURL)
    defer { try? output.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
    let started = await withCheckedContinuation { (exited: CheckedContinuation<Result<Void, any Error>, Never>) in
        process.terminationHandler = { _ in exited.resume(returning: .success(())) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            exited.resume(returning: .failure(error))
        }
    }
    try started.get()
    // Tools such as openssl s_client echo the peer's binary frames: decode leniently.
    let text = (try? Data(contentsOf: outputURL)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    return (process.terminationStatus, text)
}

/// A raw TCP connection for sending hand-written frames to a real server.
final class RawSocket: Sendable {
    private let channel: any Channel
    private let inbox = NIOLockedValueBox<[UInt8]>([])
    private let inputEnded = NIOLockedValueBox(false)

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let inbox: NIOLockedValueBox<[UInt8]>
        let inputEnded: NIOLockedValueBox<Bool>
        init(inbox: NIOLockedValueBox<[UInt8]>, inputEnded: NIOLockedValueBox<Bool>) {
            self.inbox = inbox
            self.inputEnded = inputEnded
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data).readableBytesView
            inbox.withLockedValue { $0 += bytes }
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { inputEnded.withLockedValue { $0 = true } }
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// `halfOpen`: the connection stays open for sending after the server has ended its side.
    init(port: Int, halfOpen: Bool = false) async throws {
        let inbox = self.inbox
        let inputEnded = self.inputEnded
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: halfOpen)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox, inputEnded: inputEnded))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    var received: [RawFrame] { RawFrame.parse(receivedBytes) }
    var receivedBytes: [UInt8] { inbox.withLockedValue { $0 } }
    var isActive: Bool { channel.isActive }
    /// Whether the server has ended its side (with `halfOpen`).
    var serverEndedItsSide: Bool { inputEnded.withLockedValue { $0 } }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func close() async { try? await channel.close() }
}

/// The pause between two checks of a condition that another thread brings about (a cancelled
/// task's wake-up passes through the global executor before an embedded loop can run it): the
/// check suspends for it instead of holding one of the cooperative pool's threads, which that
/// wake-up may need. Throws when the waiting task is cancelled (a suite's time limit).
func pauseBeforeCheckingAgain() async throws {
    try await Task.sleep(for: .milliseconds(1))
}
