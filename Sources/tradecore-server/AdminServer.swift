import HTTP2RPC
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import Synchronization

/// The admin endpoint: plain HTTP/1.1 for `curl`, Prometheus scrapers and orchestrators' probes.
/// `GET /metrics` answers the Prometheus text exposition of every metric; `GET /healthz` (liveness)
/// answers `ok` while the process runs; `GET /readyz` (readiness) answers 200 `ready` while health
/// says SERVING, and 503 otherwise: before the server listens, while the store cannot take appends,
/// and while it drains. HEAD answers as GET would, without the body; other methods get 405.
final class AdminServer: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let transport: TransportMetrics?
    private let health: HealthStatus?
    private let host: String
    private let port: Int
    private let logger: Logger
    private let channel = Mutex<(any Channel)?>(nil)

    /// `transport`: the HTTP/2 server's own figures, brought up to date at each scrape. `health`:
    /// what `/readyz` answers from (without it, never ready).
    init(
        registry: PrometheusCollectorRegistry, transport: TransportMetrics? = nil, health: HealthStatus? = nil,
        host: String, port: Int, logger: Logger
    ) {
        self.registry = registry
        self.transport = transport
        self.health = health
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// Binds the endpoint; returns the port it listens on.
    func start() async throws -> Int {
        let (registry, transport, health) = (self.registry, self.transport, self.health)
        let bound = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHandler(registry: registry, transport: transport, health: health))
                }
            }
            .bind(host: host, port: port).get()
        channel.withLock { $0 = bound }
        let port = bound.localAddress?.port ?? port
        logger.notice("admin endpoint listening", metadata: ["admin.address": "http://\(host):\(port)/metrics"])
        return port
    }

    func stop() async {
        let bound = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await bound?.close()
    }
}

/// Answers one HTTP/1.1 request at a time on a connection.
private final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let transport: TransportMetrics?
    private let health: HealthStatus?

    init(registry: PrometheusCollectorRegistry, transport: TransportMetrics?, health: HealthStatus?) {
        self.registry = registry
        self.transport = transport
        self.health = health
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        var status = HTTPResponseStatus.ok
        var body: [UInt8]
        var contentType = "text/plain; charset=utf-8"
        var allow: String?
        let path = request.uri.split(separator: "?").first ?? ""
        let known = path == "/metrics" || path == "/healthz" || path == "/readyz"
        if !known {
            status = .notFound
            body = Array("not found: GET /metrics (Prometheus text), /healthz (liveness) or /readyz (readiness)\n".utf8)
        } else if request.method != .GET && request.method != .HEAD {
            status = .methodNotAllowed
            allow = "GET, HEAD"
            body = Array("\(path) answers GET and HEAD only\n".utf8)
        } else if path == "/metrics" {
            transport?.update()
            body = registry.emitToBuffer()
            contentType = "text/plain; version=0.0.4; charset=utf-8"
        } else if path == "/readyz" {
            let serving = health?.status(of: "")
            if serving == .serving {
                body = Array("ready\n".utf8)
            } else {
                status = .serviceUnavailable
                // NOT_SERVING: the store cannot take appends, or the server drains; nothing: it
                // does not listen yet.
                let said = serving == .notServing ? "health says NOT_SERVING" : "the server does not listen yet"
                body = Array("not ready: \(said)\n".utf8)
            }
        } else {
            body = Array("ok\n".utf8)
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.count))
        if let allow { headers.add(name: "allow", value: allow) }
        // HEAD: the headers GET would have, without the body.
        if request.method == .HEAD { body = [] }
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in loopBound.value.close(promise: nil) }
        }
    }
}

/// What the HTTP/2 server counts itself, as metrics: every call it received, the API's and the
/// others (health, diagnostics, reflection) and those refused before any handler (an unknown
/// method, an oversized message, a draining server), which the API's per-method metrics cannot see.
final class TransportMetrics: Sendable {
    private let stats: RPCServerStats
    private let calls: Counter
    private let failedCalls: Counter
    private let activeCalls: Gauge
    private let openConnections: Gauge
    /// The totals the counters were last brought to.
    private let reported = Mutex((calls: 0, failedCalls: 0))

    init(stats: RPCServerStats, registry: PrometheusCollectorRegistry) {
        self.stats = stats
        calls = registry.makeCounter(
            descriptor: Self.metric(
                "tradecore_transport_calls_total",
                "Calls the HTTP/2 server received: the API's, the others, and those refused before a handler."))
        failedCalls = registry.makeCounter(
            descriptor: Self.metric(
                "tradecore_transport_failed_calls_total",
                "Calls the HTTP/2 server answered with a status other than OK (a call its client reset is not answered)."
            )
        )
        activeCalls = registry.makeGauge(
            descriptor: Self.metric("tradecore_transport_active_calls", "Calls in progress."))
        openConnections = registry.makeGauge(
            descriptor: Self.metric("tradecore_transport_open_connections", "Open HTTP/2 connections."))
    }

    /// A metric's full name (no unit appended: it is in the name) and its help text.
    private static func metric(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Brings the metrics to the server's figures now.
    func update() {
        let now = stats.snapshot
        let (newCalls, newFailures) = reported.withLock { reported in
            defer { reported = (now.totalCalls, now.failedCalls) }
            return (now.totalCalls - reported.calls, now.failedCalls - reported.failedCalls)
        }
        if newCalls > 0 { calls.increment(by: Int64(newCalls)) }
        if newFailures > 0 { failedCalls.increment(by: Int64(newFailures)) }
        activeCalls.set(Int64(now.activeCalls))
        openConnections.set(Int64(now.openConnections))
    }
}
