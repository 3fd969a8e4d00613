import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import HTTP2RPC

/// The client's keepalive: a PING after silence, and a connection closed when its PING stays
/// unanswered, so a dead peer fails the calls waiting on it instead of leaving them hanging.
@Suite("Client keepalive")
struct KeepaliveTests {
    /// A peer that accepts TCP connections and never says a word.
    private final class Silent: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }

    @Test("a call to a silent peer fails with UNAVAILABLE once the keepalive PING goes unanswered")
    func silentPeer() async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Silent()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { listener.close(promise: nil) }
        var configuration = RPCClientConfiguration()
        configuration.keepaliveInterval = .milliseconds(100)
        configuration.keepaliveTimeout = .milliseconds(200)
        // A silent peer is also what the handshake timeout (5 s by default) catches: out of the way
        // here, so that only the keepalive can end the call before its deadline.
        configuration.handshakeTimeout = .seconds(30)
        let client = RPCClient(
            host: "127.0.0.1", port: try #require(listener.localAddress?.port), configuration: configuration)
        defer { Task { await client.close() } }
        let started = ContinuousClock.now
        do throws(RPCError) {
            _ = try await client.unary("/x.Y/Z", [], timeout: .seconds(30))
            Issue.record("a call to a silent peer succeeded")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("keepalive"), "\(error.message)")
        }
        #expect(ContinuousClock.now - started < .seconds(10), "the keepalive, not the deadline, ended the call")
    }

    @Test("a live server answers the keepalive PINGs: a quiet stream and its connection stay open")
    func liveServer() async throws {
        var router = RPCRouter()
        try router.register(DiagnosticsService(stats: RPCServerStats()))
        try router.register(HealthService(status: HealthStatus()))
        // An event loop of its own: on the shared ones, another suite's work (PostgreSQL rows
        // decoded by a debug build) held a loop for over a second, and a PING waited behind it.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await withServer(router: router, group: group) { server, port in
                var configuration = RPCClientConfiguration()
                // A second for each answer, as the suites share two cores.
                configuration.keepaliveInterval = .milliseconds(100)
                configuration.keepaliveTimeout = .seconds(1)
                let client = RPCClient(host: "127.0.0.1", port: port, configuration: configuration, group: group)
                do {
                    try await Self.quietStream(client, server: server)
                } catch {
                    await client.close()
                    throw error
                }
                await client.close()
            }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    /// A Watch sends the status once and then nothing: PINGs go out on the quiet connection while
    /// it is open, and the stream stays open until five of them were answered. A server that does
    /// not answer makes the client close the connection a second after its first PING, and the
    /// count never gets there.
    private static func quietStream(_ client: RPCClient, server: RPCServer) async throws {
        let answers = 5
        let seen = try await client.serverStreaming(HealthService.watchPath, []) { response in
            var count = 0
            for try await _ in response.messages {
                count += 1
                let deadline = ContinuousClock.now + .seconds(30)
                while client.keepalivePingsAnswered < answers && ContinuousClock.now < deadline {
                    try await pauseBeforeCheckingAgain()
                }
                break
            }
            return count
        }
        #expect(client.keepalivePingsAnswered >= answers)
        #expect(seen == 1)
        #expect(server.stats.snapshot.openConnections == 1)
        _ = try await client.unary(DiagnosticsService.pingPath, [])
    }
}
