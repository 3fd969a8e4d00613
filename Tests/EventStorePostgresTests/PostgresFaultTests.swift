import EventStore
import Foundation
import Logging
import PostgresNIO
import Testing

@testable import EventStorePostgres

/// What a user gets wrong, and what goes wrong: each a clear error naming it.
@Suite(.enabled(if: TestDatabase.enabled, TestDatabase.skipReason), .timeLimit(.minutes(1)))
struct PostgresFaultTests {
    private func open(_ url: String, schema: String = TestDatabase.freshSchema()) async throws -> PostgresEventStore {
        var logger = Logger(label: "tradecore.test.postgres.faults")
        logger.logLevel = .critical
        // Generous: opening a fresh schema runs its migrations, which take seconds when the whole
        // suite creates schemas at once on a small machine; no test here waits for this timeout.
        return try await PostgresEventStore.open(
            .init(url: url, schema: schema, operationTimeout: .seconds(30), logger: logger))
    }

    private func refusal(_ url: String, schema: String = TestDatabase.freshSchema()) async throws -> EventStoreError {
        do {
            let store = try await open(url, schema: schema)
            await store.close()
            throw MissingDatabase()
        } catch let error as EventStoreError {
            return error
        }
    }

    private var url: URLComponents {
        get throws {
            guard let text = TestDatabase.url, let url = URLComponents(string: text) else { throw MissingDatabase() }
            return url
        }
    }

    @Test func aWrongPasswordIsNamedAndNotShown() async throws {
        var wrong = try url
        wrong.password = "not-the-password"
        let error = try await refusal(try #require(wrong.string))
        #expect(error.code == .storageFailure)
        #expect(error.message.contains("refused the login"), "\(error.message)")
        #expect(!error.message.contains("not-the-password"), "the password stays out of the message")
    }

    @Test func aServerThatIsNotThereIsNamed() async throws {
        var wrong = try url
        wrong.port = 1  // nothing listens on port 1
        let error = try await refusal(try #require(wrong.string))
        #expect(error.code == .storageFailure)
        #expect(error.message.contains("127.0.0.1") || error.message.contains("localhost"), "\(error.message)")
    }

    @Test func aDatabaseThatDoesNotExistIsNamed() async throws {
        var wrong = try url
        wrong.path = "/no_such_database"
        let error = try await refusal(try #require(wrong.string))
        #expect(error.message.contains("no_such_database") && error.message.contains("create the database"))
    }

    @Test(arguments: [
        "mysql://user@localhost/db", "postgres://localhost/db", "postgres://user@/db", "postgres://user@localhost",
        "postgres://user@localhost/db?sslmode=sometimes",
    ])
    func aURLThatCannotBeUsedSaysWhy(_ text: String) async throws {
        let error = try await refusal(text)
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("PostgreSQL") || error.message.contains("sslmode"), "\(error.message)")
    }

    @Test func aSchemaNameThatCannotBeUsedSaysWhy() async throws {
        let error = try await refusal(try #require(TestDatabase.url), schema: "Robert'); DROP TABLE students;--")
        #expect(error.code == .invalidArgument && error.message.contains("schema name"))
    }

    @Test func aSchemaOfAnotherApplicationIsLeftAlone() async throws {
        let schemas = Schemas()
        let schema = schemas.fresh()
        let store = try await open(try #require(TestDatabase.url), schema: schemas.fresh())
        _ = try await store.withConnection("making another application's schema") { connection, logger in
            try await connection.execute(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"), logger: logger)
            try await connection.execute(
                PostgresQuery(unsafeSQL: "CREATE TABLE \(schema).invoices (id integer PRIMARY KEY)"), logger: logger)
        }
        let error = try await refusal(try #require(TestDatabase.url), schema: schema)
        #expect(error.code == .foreignStore && error.message.contains("invoices"), "\(error.message)")
        let tables = try await store.withConnection("listing its tables") { connection, logger in
            try await connection.query(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = \(schema)", logger: logger
            ).decode(Int64.self).reduce(0, +)
        }
        #expect(tables == 1, "nothing was added to it")
        await store.close()
        await schemas.dropAll()
    }

    @Test func aNewerStoreIsRefused() async throws {
        let schemas = Schemas()
        let schema = schemas.fresh()
        let store = try await open(try #require(TestDatabase.url), schema: schema)
        _ = try await store.withConnection("pretending to be newer") { connection, logger in
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: "UPDATE \(schema).store_metadata SET value = '99' WHERE key = 'schema_version'"),
                logger: logger)
        }
        await store.close()
        let error = try await refusal(try #require(TestDatabase.url), schema: schema)
        #expect(error.code == .incompatibleStore && error.message.contains("newer"), "\(error.message)")
        await schemas.dropAll()
    }

    @Test func aStoreOfTheFirstSchemaVersionIsMigratedWhenOpened() async throws {
        let schemas = Schemas()
        let schema = schemas.fresh()
        let url = try #require(TestDatabase.url)
        let store = try await open(url, schema: schema)
        let stream = try StreamName(type: "order", id: UUIDv7.next())
        try await store.append(to: stream, expected: .noStream, events: [NewEvent(type: "Tested", data: Data([1]))])
        // Version 1 as far as the migration can tell: its number, and an append_batch that is not
        // version 2's (a stand-in that fails, so that an append proves it was replaced).
        _ = try await store.withConnection("pretending to be version 1") { connection, logger in
            var signature = ""
            for try await (arguments, result) in try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT pg_get_function_arguments(p.oid), pg_get_function_result(p.oid) FROM pg_proc p \
                        WHERE p.oid = '\(schema).append_batch'::regproc
                        """), logger: logger
            ).decode((String, String).self) {
                signature = "(\(arguments)) RETURNS \(result)"
            }
            try await connection.execute(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE OR REPLACE FUNCTION \(schema).append_batch\(signature) LANGUAGE plpgsql AS \
                        $f$ BEGIN RAISE EXCEPTION 'the version 1 function'; END $f$
                        """), logger: logger)
            try await connection.execute(
                PostgresQuery(
                    unsafeSQL: "UPDATE \(schema).store_metadata SET value = '1' WHERE key = 'schema_version'"),
                logger: logger)
        }
        await store.close()

        let reopened = try await open(url, schema: schema)
        let (version, body) = try await reopened.withConnection("reading the schema") { connection, logger in
            var version = ""
            for try await value in try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT value FROM \(schema).store_metadata WHERE key = 'schema_version'"),
                logger: logger
            ).decode(String.self) {
                version = value
            }
            var body = ""
            for try await text in try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT pg_get_functiondef('\(schema).append_batch'::regproc)"), logger: logger
            ).decode(String.self) {
                body = text
            }
            return (version, body)
        }
        #expect(version == String(PostgresSchema.version))
        #expect(body.contains("events_cursor"), "append_batch reads its arrays once (version 2)")
        try await reopened.append(to: stream, expected: .exact(0), events: [NewEvent(type: "Tested", data: Data([2]))])
        #expect(
            try await reopened.readStream(stream, from: 0, direction: .forward, limit: 10).map(\.data) == [
                Data([1]), Data([2]),
            ])
        await reopened.close()
        await schemas.dropAll()
    }

    @Test func aStatementTimeoutIsNamed() async throws {
        let schemas = Schemas()
        let store = try await open(try #require(TestDatabase.url), schema: schemas.fresh())
        do {
            _ = try await store.withConnection("a slow statement") { connection, logger in
                try await connection.execute("BEGIN", logger: logger)
                do {
                    try await connection.execute("SET LOCAL statement_timeout = 50", logger: logger)
                    try await connection.execute("SELECT pg_sleep(1)", logger: logger)
                } catch {
                    _ = try? await connection.execute("ROLLBACK", logger: logger)
                    throw error
                }
            }
            Issue.record("the slow statement was not cancelled")
        } catch let error as EventStoreError {
            #expect(error.message.contains("statement timeout"), "\(error.message)")
        }
        await store.close()
        await schemas.dropAll()
    }
}

/// What a PostgreSQL URL shows of itself in messages and logs, read without a database.
@Suite struct PostgresURLTests {
    @Test(arguments: [
        "postgres:/walkb:s3cretpw@127.0.0.1:5432/db", "postgres//walkb:s3cretpw@127.0.0.1/db",
        "postgres://walkb:s3cretpw@127.0.0.1:54x2/db", " postgres://walkb:s3cretpw@127.0.0.1/db",
        "postgres://walkb@127.0.0.1/db?password=s3cretpw", "postgres://walkb:s3cretpw@127.0.0.1/db",
        "postgres:/walkb@db/trade?password=s3cretpw", "postgres://walkb@db:54x2/trade?password=s3cretpw",
    ])
    func aURLNeverShowsItsPasswordEvenWhenItDoesNotParse(_ url: String) {
        let configuration = PostgresEventStore.Configuration(url: url)
        #expect(!configuration.redactedURL.contains("s3cretpw"), "\(configuration.redactedURL)")
        do {
            _ = try configuration.postgresClientConfiguration()
        } catch {
            #expect(!error.message.contains("s3cretpw"), "\(error.message)")
            #expect(error.code == .invalidArgument)
        }
    }

    @Test func aParameterTheStoreDoesNotReadIsRefusedNotIgnored() throws {
        let misspelt = PostgresEventStore.Configuration(url: "postgres://u:p@127.0.0.1/db?sslmod=disable")
        let error = try #require(throws: EventStoreError.self) { try misspelt.postgresClientConfiguration() }
        #expect(error.message.contains("'sslmod'") && error.message.contains("(sslmode)"), "\(error.message)")
        let known = PostgresEventStore.Configuration(url: "postgres://u:p@127.0.0.1/db?sslmode=disable")
        #expect(throws: Never.self) { try known.postgresClientConfiguration() }
    }
}
