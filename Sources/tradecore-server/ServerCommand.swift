import ArgumentParser
import CJemalloc
import EventSourcing
import EventSourcingPostgres
import EventSourcingSQLite
import EventStore
import EventStorePostgres
import EventStoreSQLite
import Foundation
import HTTP2RPC
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import TradeCoreAPI
import TradeCoreDomain
import TradeCoreMessages
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// `tradecore-server`: serves TradeCore over gRPC-compatible HTTP/2.
@main
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradecore-server",
        abstract: "Serve TradeCore commands, queries and events over gRPC-compatible HTTP/2.",
        discussion: """
            Settings come from, in this order of precedence: these flags; TRADECORE_<NAME> environment \
            variables (TRADECORE_PORT, TRADECORE_DATA_DIRECTORY, TRADECORE_API_TOKENS, ...); the JSON file \
            of --config (keys in camel case: {"port": 50051, "apiTokens": ["service:ops=..."]}); the defaults \
            shown here.

            API tokens: service:<name>=<token> acts for every user; user:<uuid>=<token> acts only for \
            that user. Give sha256:<64 hex digits> instead of the token to keep it out of the configuration. \
            With no token the server is open, which it allows only on a loopback address.
            """,
        version: TradeCoreVersion.current)

    @Option(help: "Address to listen on. (default: 127.0.0.1)")
    var host: String?

    @Option(parsing: .unconditional, help: "Port to listen on; 0 picks a free one. (default: 50051)")
    var port: String?

    @Option(help: "PEM certificate chain: serve TLS (ALPN h2) instead of plain h2c.")
    var tlsCert: String?

    @Option(help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(parsing: .unconditional, help: "SETTINGS_MAX_CONCURRENT_STREAMS per connection. (default: 256)")
    var maxConcurrentStreams: String?

    @Option(
        parsing: .unconditional,
        help:
            "Largest request message, in bytes; responses stay within 4 MiB (a page of ListOrders, for one). (default: 4194304)"
    )
    var maxMessageSize: String?

    @Option(parsing: .unconditional, help: "Seconds a graceful shutdown waits for calls in flight. (default: 10)")
    var shutdownGraceSeconds: String?

    @Option(
        help:
            "Directory of the embedded event store (one SQLite file) and of the generated master key. (default: .data/tradecore)"
    )
    var dataDirectory: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. (default: info)")
    var logLevel: String?

    @Option(
        help:
            "API tokens, comma-separated: service:<name>=<token> or user:<uuid>=<token>, each token at least 16 characters (or sha256:<hex> of it)."
    )
    var apiTokens: String?

    @Option(
        help:
            "File holding the master key (base64 of at least 32 bytes) that webhook tokens, OAuth states and the credential vault derive from. (default: <data-directory>/master.key, made if missing)"
    )
    var masterKeyFile: String?

    @Option(help: "Base of automations' webhook URLs. (default: https://hooks.tradecore.invalid)")
    var webhookBaseURL: String?

    @Option(help: "Address of the admin endpoint (Prometheus metrics over HTTP/1.1). (default: 127.0.0.1)")
    var adminHost: String?

    @Option(parsing: .unconditional, help: "Port of the admin endpoint; 0 turns it off. (default: 9464)")
    var adminPort: String?

    @Option(
        parsing: .unconditional,
        help:
            "Seed of the virtual broker: its tokens, account numbers, order ids and unlisted prices; recorded with its books, which a server with another seed refuses. (default: 42)"
    )
    var virtualBrokerSeed: String?

    @Option(
        parsing: .unconditional,
        help: "How often the fill poller asks brokers for executions, in milliseconds. (default: 100)")
    var fillPollMilliseconds: String?

    @Option(
        help:
            "Keep the events, read models and locks in PostgreSQL, shared with other servers: postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=disable|prefer|require|verify-full]. Servers sharing a database must share the master key too (--master-key-file). (default: the embedded SQLite store in --data-directory)"
    )
    var postgresURL: String?

    @Option(help: "The PostgreSQL schema of the store, for --postgres-url. (default: tradecore)")
    var postgresSchema: String?

    @Flag(
        help:
            "Empty every read model and rebuild it from the event log before serving (after a damaged read model, or to go back to an older server); the server listens once it is done."
    )
    var rebuildReadModels = false

    @Option(help: "A JSON file of settings (see above). [env: TRADECORE_CONFIG]")
    var config: String?

    private var flags: [ServerSettings.Key: String] {
        let given: [ServerSettings.Key: String?] = [
            .host: host, .port: port, .tlsCert: tlsCert, .tlsKey: tlsKey, .maxConcurrentStreams: maxConcurrentStreams,
            .maxMessageSize: maxMessageSize, .shutdownGraceSeconds: shutdownGraceSeconds, .dataDirectory: dataDirectory,
            .logLevel: logLevel, .apiTokens: apiTokens, .masterKeyFile: masterKeyFile, .webhookBaseURL: webhookBaseURL,
            .adminHost: adminHost, .adminPort: adminPort, .virtualBrokerSeed: virtualBrokerSeed,
            .fillPollMilliseconds: fillPollMilliseconds, .postgresURL: postgresURL, .postgresSchema: postgresSchema,
            .rebuildReadModels: rebuildReadModels ? "true" : nil,
        ]
        return given.compactMapValues { $0 }
    }

    /// Refuses to start: says why on standard error, without the usage text (the flags parsed; a
    /// value, or what it names, is what is wrong), and ends with status 64, as a usage error does.
    static func refusal(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        return ExitCode(64)
    }

    func run() async throws {
        // Before the settings are read: a misspelt variable may be why they are refused.
        for warning in ServerSettings.unknownEnvironmentVariables(in: ProcessInfo.processInfo.environment) {
            FileHandle.standardError.write(Data("Warning: \(warning)\n".utf8))
        }
        let settings: ServerSettings
        let authenticator: Authenticator
        do {
            settings = try await ServerSettings.load(flags: flags, configFile: config)
            authenticator = try Authenticator(tokens: settings.apiTokens)
        } catch let error as ConfigurationError {
            throw Self.refusal(error.description)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        let logger = Logger(label: "tradecore.server")
        logger.info(
            "tradecore-server starting",
            metadata: ["version": "\(TradeCoreVersion.current)", "process.id": "\(getpid())"])
        if let version = tradecore_jemalloc_version() {
            logger.info("memory allocator: jemalloc", metadata: ["allocator.version": "\(String(cString: version))"])
        } else {
            logger.warning("jemalloc is linked but another malloc serves this process: every call costs more CPU")
        }
        if !authenticator.requiresTokens {
            guard Self.isLoopback(settings.host) else {
                throw Self.refusal(
                    "refusing to serve on \(settings.host) without API tokens: anyone who reaches it could act for "
                        + "every user. Set --api-tokens (or TRADECORE_API_TOKENS), or listen on 127.0.0.1.")
            }
            logger.warning(
                "no API tokens are configured: the server is open to every caller on this machine",
                metadata: ["rpc.host": "\(settings.host)"])
        }

        let registry = PrometheusCollectorRegistry()
        // Always 1, labelled with the version: how Prometheus tells which build a server runs.
        registry.makeGauge(
            name: "tradecore_build_info", labels: [("version", TradeCoreVersion.current)],
            help: "Always 1; the version label is the server's version."
        ).set(to: 1)
        var metricsFactory = PrometheusMetricsFactory(registry: registry)
        metricsFactory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        metricsFactory.defaultValueHistogramBuckets = [0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000]
        MetricsSystem.bootstrap(metricsFactory)

        var configuration = RPCServerConfiguration(host: settings.host, port: settings.port)
        if let certificate = settings.tlsCert, let key = settings.tlsKey {
            let tls = TLSConfiguration(certificateChainFile: certificate, privateKeyFile: key)
            // Before the store opens and a master key is made: a start that cannot serve leaves
            // nothing behind.
            do {
                try tls.check()
            } catch {
                throw Self.refusal("--tls-cert and --tls-key (TRADECORE_TLS_CERT, TRADECORE_TLS_KEY): \(error)")
            }
            configuration.tls = tls
        }
        configuration.maxConcurrentStreams = settings.maxConcurrentStreams
        configuration.maxReceiveMessageSize = settings.maxMessageSize
        configuration.shutdownGracePeriod = .seconds(settings.shutdownGraceSeconds)

        // Both addresses, before anything is made: a port in use stops the start with nothing left behind.
        let rpcAddress = "\(settings.host):\(settings.port) (--host and --port, TRADECORE_HOST and TRADECORE_PORT)"
        let adminAddress =
            "\(settings.adminHost):\(settings.adminPort) (--admin-host and --admin-port, TRADECORE_ADMIN_HOST and "
            + "TRADECORE_ADMIN_PORT)"
        do {
            try await checkCanListen(host: settings.host, port: settings.port, address: rpcAddress)
            try await checkCanListen(host: settings.adminHost, port: settings.adminPort, address: adminAddress)
        } catch let error as ListenError {
            throw Self.refusal(error.description)
        }

        // The store: a file (or a schema) that is not ours, is damaged or is held by another
        // server stops the start here with the store's own explanation.
        let backend = try await Backend.open(settings, logger: logger)
        let store = backend.store
        do {
            try FileManager.default.createDirectory(
                atPath: settings.dataDirectory, withIntermediateDirectories: true)
            let key = try MasterKey.load(settings: settings)
            let secrets = try ServerSecrets(masterKeyBytes: key.bytes)
            do {
                try await secrets.checkMasterKey(in: backend.readModels, lock: backend.lock)
            } catch {
                // A key made for a start that does not go through is not left behind: the next
                // start would take it for the store's.
                if let made = key.madeAt { try? FileManager.default.removeItem(atPath: made) }
                guard let mismatch = error as? MasterKeyMismatch else { throw error }
                guard let made = key.madeAt else { throw Self.refusal(mismatch.description) }
                throw Self.refusal(
                    "the master key file \(made) is missing, and this store was used with another key "
                        + "(\(mismatch.recorded.map { "key check \($0)" } ?? "its credentials do not open with a new one")"
                        + "): put that key back there, or name its file with --master-key-file.")
            }
            if let made = key.madeAt { logger.notice("made a new master key", metadata: ["key.path": "\(made)"]) }
            let books = StoredVirtualBrokerBooks(storage: backend.readModels)
            do {
                try await books.checkSeed(settings.virtualBrokerSeed)
            } catch let mismatch as VirtualBrokerSeedMismatch {
                throw Self.refusal(mismatch.description)
            }
            let broker = VirtualBroker(configuration: .init(seed: settings.virtualBrokerSeed), books: books)
            let app = try TradeCoreApplication(
                store: store, readModels: backend.readModels, secrets: secrets,
                brokers: BrokerRegistry([broker]),
                configuration: .init(
                    webhookBaseURL: settings.webhookBaseURL,
                    fillPollInterval: .milliseconds(settings.fillPollMilliseconds)),
                lock: backend.lock, leadership: backend.leadership,
                logger: Logger(label: "tradecore.domain"))
            if settings.rebuildReadModels { try await app.rebuildReadModels() }
            do {
                try await app.checkReadModelVersions()
            } catch let tooNew as ProjectionVersionTooNew {
                throw Self.refusal(tooNew.description)
            }

            let health = HealthStatus()
            let stats = RPCServerStats()
            let shutdown = ShutdownSignal()
            var router = RPCRouter()
            try router.register(HealthService(status: health))
            try router.register(DiagnosticsService(stats: stats))
            try router.register(
                TradeCoreAPI(
                    app: app, authenticator: authenticator, shutdown: shutdown, logger: Logger(label: "tradecore.api")))
            try router.register(
                ReflectionService(index: try SchemaIndex(descriptorSet: TradeCoreSchema.descriptorSet), routing: router)
            )

            let server = RPCServer(configuration: configuration, router: router, logger: logger, stats: stats)
            // Stopped in reverse order: the RPC server drains first, while the domain still runs.
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: DomainService(app: app)),
                .init(service: StoreHealthService(store: store, health: health, paths: router.methods, logger: logger)),
            ]
            if settings.adminPort > 0 {
                services.append(
                    .init(
                        service: AdminService(
                            admin: AdminServer(
                                registry: registry, transport: TransportMetrics(stats: stats, registry: registry),
                                health: health, host: settings.adminHost, port: settings.adminPort, logger: logger),
                            address: adminAddress)
                    ))
            }
            services.append(
                .init(
                    service: RPCServerService(
                        server: server, health: health, paths: router.methods, shutdown: shutdown,
                        address: rpcAddress
                    )))
            // SIGHUP too: the terminal or ssh session a server was started from closing ends it
            // the way SIGTERM does, drained, not killed (the signal's default) with calls in flight.
            let group = ServiceGroup(
                configuration: .init(
                    services: services, gracefulShutdownSignals: [.sigterm, .sigint, .sighup], logger: logger))
            try await group.run()
        } catch {
            await backend.close()
            if let error = error as? SecretsError { throw Self.refusal(error.description) }
            // A master key file that is missing or unreadable: a setting's fault, as above.
            if let error = error as? ConfigurationError { throw Self.refusal(error.description) }
            throw error
        }
        // After the calls in flight have finished and the domain has stopped: nothing appends any more.
        await backend.close()
    }

    /// The store and what goes with it: the embedded SQLite store, or PostgreSQL shared with other
    /// servers (its read models, lock and leadership there too).
    struct Backend {
        let store: any EventStore
        let readModels: any ProjectionStore
        let lock: (any DistributedLock)?
        let leadership: any Leadership
        let close: @Sendable () async -> Void

        static func open(_ settings: ServerSettings, logger: Logger) async throws -> Backend {
            guard let url = settings.postgresURL else {
                let store = try await SQLiteEventStore.open(
                    .init(
                        directory: URL(fileURLWithPath: settings.dataDirectory, isDirectory: true),
                        logger: Logger(label: "tradecore.eventstore")))
                return Backend(
                    store: store, readModels: SQLiteProjectionStore(store: store), lock: nil, leadership: SoleServer(),
                    close: { await store.close() })
            }
            let store: PostgresEventStore
            do {
                store = try await PostgresEventStore.open(
                    .init(url: url, schema: settings.postgresSchema, logger: Logger(label: "tradecore.eventstore")))
            } catch let error as EventStoreError where error.code == .invalidArgument {
                throw ServerCommand.refusal(error.message)
            }
            let leadership = PostgresLeadership(store: store, logger: Logger(label: "tradecore.leadership"))
            logger.info(
                "sharing the PostgreSQL store with any other server on it",
                metadata: ["eventstore.schema": "\(settings.postgresSchema)"])
            return Backend(
                store: store, readModels: PostgresProjectionStore(store: store), lock: PostgresLock(store: store),
                leadership: leadership,
                close: {
                    await leadership.stop()
                    await store.close()
                })
        }
    }

    /// Whether `host` is a loopback address: `localhost`, 127.0.0.0/8 or ::1.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { bytes in bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1 }
        }
        return false
    }
}
