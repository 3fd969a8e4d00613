import EventStore
import Foundation
import Logging
import NIOSSL
import PostgresNIO

extension PostgresEventStore {
    /// Where the store lives and how it behaves.
    public struct Configuration: Sendable {
        /// The database, as a URL: `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE`.
        /// `sslmode` is `disable`, `prefer` (the default: TLS when the server offers it, without
        /// checking its certificate, as libpq does), `require` (TLS, certificate unchecked) or
        /// `verify-full` (TLS with the certificate checked against the system's roots and the host).
        public var url: String
        /// The PostgreSQL schema that holds the store's tables: 1 to 48 lowercase letters, digits
        /// and `_`. Servers sharing one store name the same schema.
        public var schema: String
        /// Limits and subscription settings shared with other backends.
        public var options: EventStoreOptions
        /// The most appends one batch (one transaction) carries.
        public var maxAppendsPerBatch: Int
        /// The most events one batch carries.
        public var maxEventsPerBatch: Int
        /// Connections the store may open to the server.
        public var maxConnections: Int
        /// How long an operation may wait for the database (a connection, then its answer) before it
        /// fails with an error saying the database did not answer.
        public var operationTimeout: Duration
        /// How often the store looks for events that other servers committed, besides being woken
        /// by their notifications.
        public var pollInterval: Duration
        /// Where the store logs.
        public var logger: Logger

        /// Makes a configuration for the database at `url`.
        public init(
            url: String,
            schema: String = "tradecore",
            options: EventStoreOptions = EventStoreOptions(),
            maxAppendsPerBatch: Int = 1_024,
            maxEventsPerBatch: Int = 20_000,
            maxConnections: Int = 10,
            operationTimeout: Duration = .seconds(10),
            pollInterval: Duration = .milliseconds(500),
            logger: Logger = Logger(label: "tradecore.eventstore.postgres")
        ) {
            self.url = url
            self.schema = schema
            self.options = options
            self.maxAppendsPerBatch = max(maxAppendsPerBatch, 1)
            self.maxEventsPerBatch = max(maxEventsPerBatch, 1)
            self.maxConnections = max(maxConnections, 2)
            self.operationTimeout = operationTimeout
            self.pollInterval = pollInterval
            self.logger = logger
        }

        /// The URL without its password, for messages and logs.
        public var redactedURL: String {
            if var components = URLComponents(string: url), components.host != nil {
                if components.password != nil { components.password = "***" }
                // A parameter other than sslmode may be `password=` (as libpq reads it).
                components.queryItems = components.queryItems?.map {
                    $0.name == "sslmode" ? $0 : URLQueryItem(name: $0.name, value: "***")
                }
                if let text = components.string { return text }
            }
            // Not a URL whose host URLComponents finds (`postgres:/user:pw@host`, a port that is
            // not a number, a space): what comes before the last "@" may hold a password.
            // Nor is what follows a "?" shown: a `password=` parameter.
            let scheme = url.prefix { $0 != ":" }.prefix(20)
            let beforeQuery = url.prefix { $0 != "?" && $0 != "#" }
            let query = beforeQuery.endIndex < url.endIndex ? "?***" : ""
            guard let at = beforeQuery.lastIndex(of: "@") else { return "\(scheme):… (unreadable)" }
            return "\(scheme):***\(beforeQuery[at...].prefix(200))\(query)"
        }

        /// The parts of the URL, checked.
        private struct Parts {
            let host: String
            let port: Int
            let user: String
            let password: String?
            let database: String
            /// `nil` for no TLS; whether the server's certificate is checked otherwise.
            let tls: TLSConfiguration?
            let tlsRequired: Bool
        }

        private func parts() throws(EventStoreError) -> Parts {
            guard PostgresSchema.isValidName(schema) else {
                throw .invalidArgument(
                    "the PostgreSQL schema name '\(schema.prefix(80))' must be 1 to 48 lowercase letters, digits or "
                        + "'_', starting with a letter or '_'")
            }
            guard let components = URLComponents(string: url), let scheme = components.scheme,
                ["postgres", "postgresql"].contains(scheme)
            else {
                throw .invalidArgument(
                    "'\(redactedURL)' is not a PostgreSQL URL: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE "
                        + "(a port of digits, no spaces, special characters of the password percent-encoded)")
            }
            guard let host = components.host, !host.isEmpty else {
                throw .invalidArgument("the PostgreSQL URL '\(redactedURL)' names no host")
            }
            guard let user = components.user, !user.isEmpty else {
                throw .invalidArgument("the PostgreSQL URL '\(redactedURL)' names no user")
            }
            let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            guard !database.isEmpty else {
                throw .invalidArgument("the PostgreSQL URL '\(redactedURL)' names no database (…/DATABASE)")
            }
            var unchecked = TLSConfiguration.makeClientConfiguration()
            unchecked.certificateVerification = .none
            // A parameter this store does not read would be ignored: a misspelt sslmode would
            // quietly leave the default.
            if let unknown = components.queryItems?.first(where: { $0.name != "sslmode" }) {
                throw .invalidArgument(
                    "the PostgreSQL URL '\(redactedURL)' has the parameter '\(unknown.name.prefix(40))', which is not "
                        + "one this server reads (sslmode)")
            }
            let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
            let tls: TLSConfiguration?
            switch mode {
            case "disable": tls = nil
            case "prefer", "require": tls = unchecked
            case "verify-full": tls = .makeClientConfiguration()
            default:
                throw .invalidArgument(
                    "sslmode '\(mode.prefix(40))' in the PostgreSQL URL is not one of disable, prefer, require, "
                        + "verify-full")
            }
            return Parts(
                host: host, port: components.port ?? 5432, user: user.removingPercentEncoding ?? user,
                password: components.password?.removingPercentEncoding ?? components.password,
                database: database.removingPercentEncoding ?? database, tls: tls, tlsRequired: mode != "prefer")
        }

        /// The startup parameters of every session: our schema first, and commits durable before
        /// they return whatever the server's default is (acknowledged appends must survive a crash
        /// of the server). A transaction left idle for 30 s is ended by PostgreSQL: ours never wait
        /// that long between statements, so only a server frozen mid-transaction (SIGSTOP, a
        /// paused VM) leaves one, and its row locks (the log head's, a checkpoint's) would
        /// otherwise stop every server's appends or a projection's new leader for good.
        private var startupParameters: [(String, String)] {
            [
                ("search_path", schema), ("synchronous_commit", "on"), ("application_name", "tradecore"),
                ("idle_in_transaction_session_timeout", "30s"),
            ]
        }

        /// The configuration of one connection to the same database, for a first attempt whose
        /// error says why the database cannot be used (the pool would only retry).
        func singleConnectionConfiguration() throws -> PostgresConnection.Configuration {
            let parts = try parts()
            let tls: PostgresConnection.Configuration.TLS
            if let configuration = parts.tls {
                let context = try NIOSSLContext(configuration: configuration)
                tls = parts.tlsRequired ? .require(context) : .prefer(context)
            } else {
                tls = .disable
            }
            var configuration = PostgresConnection.Configuration(
                host: parts.host, port: parts.port, username: parts.user, password: parts.password,
                database: parts.database, tls: tls)
            configuration.options.additionalStartupParameters = startupParameters
            configuration.options.connectTimeout = .seconds(5)
            return configuration
        }

        /// The postgres-nio client configuration the URL describes (for tools and tests that talk to
        /// the same database). Throws `.invalidArgument` saying what is wrong.
        public func postgresClientConfiguration() throws(EventStoreError) -> PostgresClient.Configuration {
            let parts = try parts()
            let tls: PostgresClient.Configuration.TLS =
                parts.tls.map { parts.tlsRequired ? .require($0) : .prefer($0) } ?? .disable
            var configuration = PostgresClient.Configuration(
                host: parts.host, port: parts.port, username: parts.user, password: parts.password,
                database: parts.database, tls: tls)
            configuration.options.maximumConnections = maxConnections
            configuration.options.connectTimeout = .seconds(5)
            configuration.options.additionalStartupParameters = startupParameters
            return configuration
        }
    }
}
