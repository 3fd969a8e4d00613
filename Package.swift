// swift-tools-version:6.1
import PackageDescription

// Every target compiles in Swift 6 language mode with `any` spelled out for existentials.
// NonisolatedNonsendingByDefault (SE-0461): a nonisolated async function runs on its caller's
// executor instead of hopping to the global one at each call. The package has no actor, and the
// server's handlers already ran on their connection's event loop (a task executor preference), so
// nothing moved; what went is the check at every hop (swift_task_switch, which looks up the task's
// preferred executor under a lock): 8.3% of the event loops' CPU samples under CreateOrder load,
// 2.3% after.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

// The server-side cores, in release builds, also make their generic code available to the modules
// that use them, to be specialised there for the domain's own types (README, "What is here").
// An unsafe flag: these products build from a path or branch dependency, not a versioned one; the
// client's products (TradeCoreClient, TradeCoreMessages, WireFormat, HTTP2RPC) carry none.
let crossModuleOptimized: [SwiftSetting] =
    strictSettings + [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

// Test targets compile unoptimised in release builds too (Tools/test.sh runs the suites on its one
// release build): the code they exercise is optimised all the same, and optimising the suites' own
// code only lengthened CI (three of the suites rebuilt in 108 s optimised, 48 s not).
let testSettings: [SwiftSetting] = strictSettings + [.unsafeFlags(["-Onone"], .when(configuration: .release))]

let package = Package(
    name: "TradeCore",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HTTP2RPC", targets: ["HTTP2RPC"]),
        .library(name: "WireFormat", targets: ["WireFormat"]),
        .library(name: "TradeCoreMessages", targets: ["TradeCoreMessages"]),
        .library(name: "EventStore", targets: ["EventStore"]),
        .library(name: "EventStoreSQLite", targets: ["EventStoreSQLite"]),
        .library(name: "EventStorePostgres", targets: ["EventStorePostgres"]),
        .library(name: "EventSourcingPostgres", targets: ["EventSourcingPostgres"]),
        .library(name: "EventSourcing", targets: ["EventSourcing"]),
        .library(name: "EventSourcingSQLite", targets: ["EventSourcingSQLite"]),
        .library(name: "EventSourcingTesting", targets: ["EventSourcingTesting"]),
        .library(name: "TradeCoreDomain", targets: ["TradeCoreDomain"]),
        .library(name: "TradeCoreAPI", targets: ["TradeCoreAPI"]),
        .library(name: "TradeCoreClient", targets: ["TradeCoreClient"]),
        .executable(name: "tradecore-server", targets: ["tradecore-server"]),
        .executable(name: "tradecore", targets: ["tradecore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(
            url: "https://github.com/apple/swift-configuration.git", from: "1.4.0",
            traits: [.defaults, "CommandLineArguments"]),
    ],
    targets: [
        // System libraries: thin module maps plus inline shims for what Swift cannot call.
        .systemLibrary(
            name: "CNGHTTP2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // The executables' malloc (CJemalloc.h says why); the libraries leave the choice to their user.
        .systemLibrary(
            name: "CJemalloc",
            pkgConfig: "jemalloc",
            providers: [.apt(["libjemalloc-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        // Protobuf wire format, written by hand: strict, never traps, no dependencies.
        .target(
            name: "WireFormat",
            swiftSettings: strictSettings
        ),

        // The domain: commands, events, results and queries with their codecs (Schemas/*.proto).
        .target(
            name: "TradeCoreMessages",
            dependencies: ["WireFormat"],
            swiftSettings: strictSettings
        ),

        // Random valid encodings of every schema message, for property tests, the Python
        // cross-check and the fuzzer's seeds. Not part of any product.
        .target(
            name: "TradeCoreSamples",
            dependencies: ["TradeCoreMessages", "WireFormat"],
            swiftSettings: strictSettings
        ),

        // Decodes and re-encodes messages for the Python cross-check (Tools/interop).
        .executableTarget(
            name: "wire-roundtrip",
            dependencies: ["TradeCoreMessages", "TradeCoreSamples", "WireFormat", "HTTP2RPC"],
            swiftSettings: strictSettings
        ),

        // Asks Linux for a short time slice for latency-sensitive threads (event loops), and names
        // threads for the kernel.
        .target(name: "CThreadScheduling"),

        // HTTP/2 on nghttp2 + NIO, TLS on OpenSSL, and the gRPC-compatible RPC core.
        .target(
            name: "HTTP2RPC",
            dependencies: [
                "CNGHTTP2",
                "CThreadScheduling",
                "COpenSSL",
                "CZlib",
                "WireFormat",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "tradecore-server",
            dependencies: [
                "CJemalloc",
                "EventStorePostgres",
                "EventSourcingPostgres",
                "HTTP2RPC",
                "EventStore",
                "EventStoreSQLite",
                "EventSourcingSQLite",
                "TradeCoreDomain",
                "TradeCoreAPI",
                "TradeCoreMessages",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // The event store: protocol, in-memory backend, subscription hub and snapshots.
        .target(
            name: "EventStore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),

        // The embedded default backend: SQLite through GRDB, group commit, fsync before acknowledging.
        .target(
            name: "EventStoreSQLite",
            dependencies: [
                "EventStore",
                "CSQLiteTuning",
                "CThreadScheduling",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),

        // Process-wide SQLite settings made through sqlite3_config (variadic, so not callable from Swift).
        .target(
            name: "CSQLiteTuning",
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),

        // The store for several servers: PostgreSQL through postgres-nio.
        .target(
            name: "EventStorePostgres",
            dependencies: [
                "EventStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),

        // Read models, locks and leases for servers sharing the PostgreSQL store.
        .target(
            name: "EventSourcingPostgres",
            dependencies: [
                "EventSourcing",
                "EventStore",
                "EventStorePostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // The one conformance suite every backend must pass; plain throwing functions, no test framework.
        .target(
            name: "EventStoreConformance",
            dependencies: ["EventStore"],
            swiftSettings: strictSettings
        ),

        // Child process for the crash-safety test: appends under load and prints each acknowledgement.
        .executableTarget(
            name: "eventstore-crash-writer",
            dependencies: [
                "EventStore",
                "EventStoreSQLite",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // Store benchmark: appends/s at 1/16/256 appenders beside the raw fsync rate, and load times.
        .executableTarget(
            name: "tradecore-store-bench",
            dependencies: [
                "BenchmarkSupport",
                "CJemalloc",
                "EventStorePostgres",
                "EventStore",
                "EventStoreSQLite",
                "EventSourcing",
                "EventSourcingSQLite",
                "TradeCoreDomain",
                "TradeCoreMessages",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // The event stream over the wire: commit-to-subscriber latency at a command rate, and
        // events/s to many subscribers.
        .executableTarget(
            name: "tradecore-stream-bench",
            dependencies: [
                "BenchmarkSupport",
                "CJemalloc",
                "CThreadScheduling",
                "TradeCoreAPI",
                "TradeCoreDomain",
                "TradeCoreMessages",
                "HTTP2RPC",
                "EventSourcing",
                "EventSourcingSQLite",
                "EventStore",
                "EventStoreSQLite",
                "WireFormat",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // Aggregates, repository, command and query buses, projections, sagas and locks, over the
        // event store's protocol. Knows nothing of trading.
        .target(
            name: "EventSourcing",
            dependencies: [
                "EventStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: crossModuleOptimized
        ),

        // Read models and projection checkpoints in the SQLite event store's own database.
        .target(
            name: "EventSourcingSQLite",
            dependencies: [
                "EventSourcing",
                "EventStore",
                "EventStoreSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),

        // For the benchmarks: the host's CPU steal over a measurement, printed beside its figures.
        .target(
            name: "BenchmarkSupport",
            swiftSettings: strictSettings
        ),

        // Test helpers that run this package's executables as child processes.
        .target(
            name: "ProcessTesting",
            swiftSettings: strictSettings
        ),

        // Test helpers for code built on EventSourcing: given/when/then for aggregates, a manual clock.
        .target(
            name: "EventSourcingTesting",
            dependencies: ["EventSourcing", "EventStore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),

        // The seed's business on the event-sourcing core: orders, automations, broker connections
        // and accounts (aggregates, handlers, read models, sagas), the broker adapter with its
        // built-in virtual broker, and the credential vault. Knows nothing of the transport.
        .target(
            name: "TradeCoreDomain",
            dependencies: [
                "TradeCoreMessages",
                "WireFormat",
                "EventSourcing",
                "EventStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // Serves Schemas/api.proto: each call authenticated, decoded, sent through the domain's
        // buses and answered; failures as statuses with google.rpc details; the event stream.
        .target(
            name: "TradeCoreAPI",
            dependencies: [
                "TradeCoreDomain",
                "TradeCoreMessages",
                "HTTP2RPC",
                "EventSourcing",
                "EventStore",
                "WireFormat",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // A typed Swift client of the server: the messages and the transport, never the domain.
        .target(
            name: "TradeCoreClient",
            dependencies: [
                "TradeCoreMessages",
                "HTTP2RPC",
                "WireFormat",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // The `tradecore` CLI: the client only, never the domain.
        .executableTarget(
            name: "tradecore",
            dependencies: [
                "TradeCoreClient",
                "TradeCoreMessages",
                "HTTP2RPC",
                "WireFormat",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSettings
        ),

        .testTarget(
            name: "TradeCoreDomainTests",
            dependencies: [
                "TradeCoreDomain",
                "WireFormat",
                "TradeCoreMessages",
                "EventSourcing",
                "EventSourcingSQLite",
                "EventSourcingTesting",
                "EventStore",
                "EventStoreSQLite",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testSettings
        ),

        // The API over real sockets: every RPC's bad input, principals, error details, the event
        // stream and its drain.
        .testTarget(
            name: "TradeCoreAPITests",
            dependencies: [
                "TradeCoreAPI",
                "TradeCoreClient",
                "ProcessTesting",
                "TradeCoreDomain",
                "TradeCoreMessages",
                "HTTP2RPC",
                "EventSourcing",
                "EventSourcingSQLite",
                "EventSourcingTesting",
                "EventStore",
                "EventStoreSQLite",
                "WireFormat",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: testSettings
        ),

        // The built `tradecore` binary against a running `tradecore-server`, as a user runs them.
        .testTarget(
            name: "TradeCoreCLITests",
            dependencies: [
                "ProcessTesting",
                // To change a stopped server's read models as another version of it would.
                "EventSourcing",
                "EventSourcingSQLite",
                "EventStoreSQLite",
                // Built before the tests, which run them as child processes.
                "tradecore",
                "tradecore-server",
            ],
            swiftSettings: testSettings
        ),

        .testTarget(
            name: "HTTP2RPCTests",
            dependencies: [
                "HTTP2RPC",
                "CNGHTTP2",
                "CZlib",
                "WireFormat",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testSettings
        ),

        .testTarget(
            name: "WireFormatTests",
            dependencies: ["WireFormat"],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "BenchmarkSupportTests",
            dependencies: ["BenchmarkSupport"],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "TradeCoreMessagesTests",
            dependencies: ["TradeCoreMessages", "TradeCoreSamples", "WireFormat", "HTTP2RPC"],
            // The drift test reads Schemas/*.proto from the package root, found via #filePath.
            swiftSettings: testSettings
        ),

        .testTarget(
            name: "EventStoreTests",
            dependencies: ["EventStore", "EventStoreConformance"],
            swiftSettings: testSettings
        ),

        // For tests only: a VFS over SQLite's default that counts and fails the syncs of chosen
        // files, to test that a commit is synced before it is acknowledged.
        .target(
            name: "CSQLiteFaultVFS",
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),

        .testTarget(
            name: "EventStoreSQLiteTests",
            dependencies: [
                "CSQLiteFaultVFS",
                "EventStore",
                "EventStoreSQLite",
                "EventStoreConformance",
                "EventSourcingTesting",
                "ProcessTesting",
                // Built before the tests, which run them as child processes.
                "eventstore-crash-writer",
                "tradecore-server",
                // The server's health service over a store whose appends stopped.
                "HTTP2RPC",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testSettings
        ),

        // The PostgreSQL backend against a real server (TRADECORE_TEST_POSTGRES_URL; Tools/test.sh
        // starts one): the conformance suite, the gap-free order across writers, faults.
        .testTarget(
            name: "EventStorePostgresTests",
            dependencies: [
                "EventStore",
                "EventStorePostgres",
                "EventStoreConformance",
                "EventSourcingTesting",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testSettings
        ),

        // The event-sourcing machinery, each behaviour on the in-memory store and on the real one
        // (SQLite): idempotency across restarts, projections in the store's database, sagas and
        // timeouts surviving restarts.
        .testTarget(
            name: "EventSourcingTests",
            dependencies: [
                "EventSourcing",
                "EventSourcingPostgres",
                "EventSourcingSQLite",
                "EventSourcingTesting",
                "EventStore",
                "EventStorePostgres",
                "EventStoreSQLite",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testSettings
        ),
    ]
)
