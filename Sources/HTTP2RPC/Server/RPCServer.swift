import CThreadScheduling
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A gRPC-compatible server on HTTP/2 (nghttp2), plain or over TLS (OpenSSL).
///
/// `start()` binds and returns; `run()` additionally waits until the server has shut down.
/// `shutdown()` drains gracefully: the listener closes, every connection announces GOAWAY,
/// calls in flight finish (up to the grace period), new calls are refused with UNAVAILABLE.
public final class RPCServer: Sendable {
    public let configuration: RPCServerConfiguration
    /// Live counters: connections, calls in flight, calls served and failed.
    public let stats: RPCServerStats
    private let router: RPCRouter
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state: NIOLockedValueBox<State>
    private let closedPromise: EventLoopPromise<Void>

    private struct State {
        var listener: (any Channel)?
        var connections:
            [ObjectIdentifier: (handler: NIOLoopBound<HTTP2ServerConnectionHandler>, channel: any Channel)] = [:]
        var shuttingDown = false
        /// Done once the listener is closed and every connection has begun to drain.
        var shutdownBegun: EventLoopFuture<Void>?
        var closed = false
        var tlsContext: OpenSSLContext?

        /// True exactly once: when shutdown has begun and the last connection is gone.
        mutating func markClosedIfDone() -> Bool {
            guard shuttingDown, !closed, listener == nil, connections.isEmpty else { return false }
            closed = true
            return true
        }
    }

    public init(
        configuration: RPCServerConfiguration,
        router: RPCRouter,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "tradecore.rpc"),
        stats: RPCServerStats = RPCServerStats()
    ) {
        self.configuration = configuration
        self.stats = stats
        self.router = router
        self.group = group
        self.logger = logger
        self.state = NIOLockedValueBox(State())
        self.closedPromise = group.next().makePromise()
    }

    deinit {
        // A server that never started, or failed to, still owes its waiters an answer.
        if state.withLockedValue({ state in
            defer { state.closed = true }
            return !state.closed
        }) {
            closedPromise.succeed()
        }
    }

    /// The address the server listens on (useful with port 0).
    public var localAddress: SocketAddress? {
        state.withLockedValue { $0.listener?.localAddress }
    }

    /// Binds the listening socket. Throws if the address is taken or TLS files are unusable.
    public func start() async throws {
        let tlsContext = try configuration.tls.map { try OpenSSLContext.server($0) }
        if let slice = configuration.eventLoopTimeSlice {
            let logger = self.logger
            for loop in group.makeIterator() {
                loop.execute {
                    let failure = tradecore_set_time_slice(UInt64(max(slice.nanoseconds, 0)))
                    if failure != 0 {
                        logger.debug(
                            "the event loop keeps the kernel's time slice",
                            metadata: ["errno": "\(failure)"])
                    }
                }
            }
        }
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.initializeConnection(channel, tlsContext: tlsContext)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        state.withLockedValue {
            $0.listener = listener
            $0.tlsContext = tlsContext
        }
        logger.info(
            "listening",
            metadata: [
                "address": "\(listener.localAddress.map { "\($0)" } ?? "?")",
                "tls": "\(configuration.tls != nil)",
            ])
    }

    /// Starts the server and waits until it has shut down.
    public func run() async throws {
        try await start()
        try await closedPromise.futureResult.get()
    }

    /// Waits until the server has shut down.
    public func waitUntilClosed() async throws {
        try await closedPromise.futureResult.get()
    }

    /// Returns once a shutdown that has begun no longer accepts connections and every connection
    /// it found has begun to drain (at once when no shutdown has begun).
    func waitUntilShutdownBegun() async {
        try? await state.withLockedValue { $0.shutdownBegun }?.get()
    }

    private func initializeConnection(_ channel: any Channel, tlsContext: OpenSSLContext?) throws {
        let id = ObjectIdentifier(channel)
        let accepted = state.withLockedValue { !$0.shuttingDown }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        let handler = HTTP2ServerConnectionHandler(
            configuration: configuration, router: router, logger: logger, stats: stats,
            onClose: { [weak self] in self?.connectionClosed(id) })
        let sync = channel.pipeline.syncOperations
        if let tlsContext {
            try sync.addHandler(try OpenSSLHandler(context: tlsContext, role: .server))
        } else {
            // Over TLS, ALPN has already settled on HTTP/2; in cleartext an HTTP/1 client gets
            // an answer it can read.
            try sync.addHandler(HTTP1Refusal(linger: configuration.closeLinger, logger: logger))
        }
        try sync.addHandler(handler)
        let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        state.withLockedValue { $0.connections[id] = (bound, channel) }
    }

    private func connectionClosed(_ id: ObjectIdentifier) {
        let finished = state.withLockedValue { state -> Bool in
            state.connections[id] = nil
            return state.markClosedIfDone()
        }
        if finished { didClose() }
    }

    /// Drains and stops the server. Returns when every connection has closed.
    public func shutdown() async {
        beginShutdown()
        try? await closedPromise.futureResult.get()
    }

    /// Starts draining without waiting: the listener closes, every connection announces
    /// GOAWAY, and after the grace period whatever still runs is cancelled.
    public func beginShutdown() {
        let (listener, connections) = state.withLockedValue { state in
            let first = !state.shuttingDown
            state.shuttingDown = true
            let listener = state.listener
            state.listener = nil
            return (listener, first ? Array(state.connections.values) : [])
        }
        guard let loop = listener?.eventLoop ?? connections.first?.channel.eventLoop else {
            if state.withLockedValue({ $0.markClosedIfDone() }) { didClose() }
            return
        }
        logger.info("shutting down", metadata: ["connections": "\(connections.count)"])
        var steps: [EventLoopFuture<Void>] = []
        if let listener { steps.append(listener.close()) }
        for connection in connections {
            steps.append(connection.channel.eventLoop.submit { connection.handler.value.beginDraining() })
        }
        let begun = EventLoopFuture.andAllComplete(steps, on: loop)
        state.withLockedValue { $0.shutdownBegun = begun }
        let timer = loop.scheduleTask(in: configuration.shutdownGracePeriod) { [self] in
            let remaining = state.withLockedValue { Array($0.connections.values) }
            if !remaining.isEmpty {
                logger.warning(
                    "the shutdown grace period ended with connections open: closing them, cancelling their calls",
                    metadata: [
                        "connections": "\(remaining.count)",
                        "grace": "\(configuration.shutdownGracePeriod.nanoseconds / 1_000_000_000) s",
                    ])
            }
            for connection in remaining {
                connection.channel.eventLoop.execute { connection.handler.value.forceClose() }
            }
        }
        closedPromise.futureResult.whenComplete { _ in timer.cancel() }
        if state.withLockedValue({ $0.markClosedIfDone() }) { didClose() }
    }

    private func didClose() {
        logger.info("stopped")
        closedPromise.succeed()
    }
}
