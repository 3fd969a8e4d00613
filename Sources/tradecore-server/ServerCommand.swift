import ArgumentParser
import EventStoreSQLite
import Foundation
import HTTP2RPC
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `tradecore-server`: serves TradeCore over gRPC-compatible HTTP/2.
@main
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradecore-server",
        abstract: "Serve TradeCore commands over gRPC-compatible HTTP/2 (h2c, or TLS with --tls-cert/--tls-key).",
        discussion: "Every option can also be set in the environment as TRADECORE_<OPTION>, e.g. TRADECORE_PORT=50051.")

    @Option(help: "Address to listen on.")
    var host: String = environment("HOST") ?? "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = environment("PORT").flatMap(Int.init) ?? 50051

    @Option(help: "PEM certificate chain: serve TLS (ALPN h2) instead of plain h2c. [env: TRADECORE_TLS_CERT]")
    var tlsCert: String?

    @Option(help: "PEM private key for --tls-cert. [env: TRADECORE_TLS_KEY]")
    var tlsKey: String?

    private var certificateFile: String? { tlsCert ?? environment("TLS_CERT") }
    private var keyFile: String? { tlsKey ?? environment("TLS_KEY") }

    @Option(help: "SETTINGS_MAX_CONCURRENT_STREAMS per connection.")
    var maxConcurrentStreams: UInt32 = environment("MAX_CONCURRENT_STREAMS").flatMap(UInt32.init) ?? 256

    @Option(help: "Largest request message, in bytes.")
    var maxMessageSize: Int = environment("MAX_MESSAGE_SIZE").flatMap(Int.init) ?? 4 << 20

    @Option(help: "Seconds a graceful shutdown waits for calls in flight.")
    var shutdownGraceSeconds: Int64 = environment("SHUTDOWN_GRACE_SECONDS").flatMap(Int64.init) ?? 10

    @Option(help: "Directory of the embedded event store (one SQLite file); created if missing.")
    var dataDirectory: String = environment("DATA_DIRECTORY") ?? ".data/tradecore"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = environment("LOG_LEVEL") ?? "info"

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (certificateFile == nil) == (keyFile == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        guard (1...Int(UInt32.max)).contains(maxMessageSize) else {
            throw ValidationError(
                "--max-message-size must be between 1 and \(UInt32.max) (the framing's 4-byte length)")
        }
        guard maxConcurrentStreams > 0 else { throw ValidationError("--max-concurrent-streams must be positive") }
        guard (0...86_400).contains(shutdownGraceSeconds) else {
            throw ValidationError("--shutdown-grace-seconds must be between 0 and 86400")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "tradecore.server")

        var configuration = RPCServerConfiguration(host: host, port: port)
        if let certificateFile, let keyFile {
            configuration.tls = TLSConfiguration(certificateChainFile: certificateFile, privateKeyFile: keyFile)
        }
        configuration.maxConcurrentStreams = maxConcurrentStreams
        configuration.maxReceiveMessageSize = maxMessageSize
        configuration.shutdownGracePeriod = .seconds(shutdownGraceSeconds)

        // The embedded default store. A file that is not ours, is damaged or is held by another
        // server stops the start here with the store's own explanation.
        let store = try await SQLiteEventStore.open(
            .init(
                directory: URL(fileURLWithPath: dataDirectory, isDirectory: true),
                logger: Logger(label: "tradecore.eventstore")))

        let health = HealthStatus()
        let stats = RPCServerStats()
        var router = RPCRouter()
        try router.register(HealthService(status: health))
        try router.register(DiagnosticsService(stats: stats))

        let server = RPCServer(configuration: configuration, router: router, logger: logger, stats: stats)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: RPCServerService(server: server, health: health))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            await store.close()
            throw error
        }
        // After the calls in flight have finished: nothing appends any more.
        await store.close()
    }
}

/// `TRADECORE_<name>` from the environment.
func environment(_ name: String) -> String? {
    getenv("TRADECORE_" + name).map { String(cString: $0) }
}
