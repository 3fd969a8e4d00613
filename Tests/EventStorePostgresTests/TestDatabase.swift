import EventStore
import EventStorePostgres
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// The PostgreSQL server the tests use: `TRADECORE_TEST_POSTGRES_URL` (Tools/test.sh starts a
/// throwaway cluster and sets it). Without it the suites are skipped, saying so; with
/// `TRADECORE_REQUIRE_POSTGRES=1` (set by Tools/test.sh, so CI) they run and fail instead.
enum TestDatabase {
    static let url = ProcessInfo.processInfo.environment["TRADECORE_TEST_POSTGRES_URL"]
    static let required = ProcessInfo.processInfo.environment["TRADECORE_REQUIRE_POSTGRES"] == "1"

    /// Whether the suites run.
    static var enabled: Bool { url != nil || required }

    static let skipReason: Comment =
        "TRADECORE_TEST_POSTGRES_URL is not set: the PostgreSQL tests are skipped (Tools/test.sh starts a server)"

    /// A schema name no other test uses.
    static func freshSchema() -> String {
        "test_" + UUID().lowercasedText.replacingOccurrences(of: "-", with: "").prefix(20)
    }

    /// How long a test's store waits for PostgreSQL: every suite runs at once on a machine of two
    /// cores, where opening a store (its schema's migration) can queue for longer than a server's
    /// 10 seconds. `PostgresFaultTests` checks the timeout itself.
    static let operationTimeout: Duration = .seconds(60)

    /// A configuration for a store in `schema` of the test database.
    static func configuration(
        schema: String, options: EventStoreOptions = EventStoreOptions(), logger: Logger? = nil
    ) throws -> PostgresEventStore.Configuration {
        guard let url else {
            throw MissingDatabase()
        }
        var logger = logger ?? Logger(label: "tradecore.test.postgres")
        if logger.logLevel < .warning { logger.logLevel = .warning }
        return PostgresEventStore.Configuration(
            url: url, schema: schema, options: options, maxConnections: 4,
            operationTimeout: TestDatabase.operationTimeout, logger: logger)
    }

    /// Drops the schemas a test made.
    static func drop(_ schemas: [String]) async {
        guard let url, !schemas.isEmpty,
            let configuration = try? PostgresEventStore.Configuration(url: url)
                .postgresClientConfiguration()
        else { return }
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "tradecore.test"))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            for schema in schemas {
                _ = try? await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"))
            }
            group.cancelAll()
        }
    }
}

struct MissingDatabase: Error, CustomStringConvertible {
    var description: String {
        "TRADECORE_REQUIRE_POSTGRES=1 but TRADECORE_TEST_POSTGRES_URL is not set: start a PostgreSQL server "
            + "(Tools/test.sh does) and set it"
    }
}

/// Schemas made during one test, dropped at its end.
final class Schemas: Sendable {
    private let names = Mutex<[String]>([])

    func fresh() -> String {
        let name = TestDatabase.freshSchema()
        names.withLock { $0.append(name) }
        return name
    }

    func dropAll() async {
        await TestDatabase.drop(names.withLock { $0 })
    }
}
