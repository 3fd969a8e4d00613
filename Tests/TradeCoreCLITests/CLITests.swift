import EventSourcing
import EventSourcingSQLite
import EventStoreSQLite
import Foundation
import ProcessTesting
import Testing

/// The built `tradecore` binary against a running `tradecore-server`, as a user runs them.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct CLITests {
    /// A server process on a free port with its own store.
    final class Server: @unchecked Sendable {
        // @unchecked: used by one test's task only.
        let port: Int
        let directory: TemporaryDirectory
        let process: ChildProcess.Running

        /// Starts one; `directory` reuses another server's files.
        init(_ arguments: [String] = [], directory: TemporaryDirectory? = nil) async throws {
            port = try freePort()
            self.directory = try directory ?? TemporaryDirectory()
            process = try ChildProcess.start(
                "tradecore-server",
                [
                    "--port", "\(port)", "--admin-port", "0", "--data-directory", self.directory.url.path,
                    "--fill-poll-milliseconds", "20", "--log-level", "warning",
                ] + arguments)
            try await waitForPort(port)
        }

        var address: String { "127.0.0.1:\(port)" }

        /// Stops it with SIGTERM; the server must exit cleanly.
        func stop() async -> Int32 {
            let outcome = await stopKeepingFiles()
            directory.remove()
            return outcome.status
        }

        /// Stops it with SIGTERM and leaves its files for another server.
        func stopKeepingFiles() async -> ChildProcess.Outcome {
            process.signal(SIGTERM)
            return await process.finish()
        }
    }

    /// Runs `body` against a server started with `arguments`, then stops it: the server must exit
    /// cleanly, also when `body` failed.
    func withServer(_ arguments: [String] = [], _ body: (Server) async throws -> Void) async throws {
        let server = try await Server(arguments)
        do {
            try await body(server)
        } catch {
            #expect(await server.stop() == 0, "the server exits cleanly")
            throw error
        }
        #expect(await server.stop() == 0, "the server exits cleanly")
    }

    /// Runs `tradecore` with the arguments against `server`.
    @discardableResult
    func cli(_ server: Server?, _ arguments: String..., token: String? = nil) async throws -> ChildProcess.Outcome {
        try await cli(server, arguments, token: token)
    }

    /// Runs `tradecore` with the arguments against `server`.
    @discardableResult
    func cli(_ server: Server?, _ arguments: [String], token: String? = nil) async throws -> ChildProcess.Outcome {
        var environment: [String: String] = [:]
        if let server { environment["TRADECORE_SERVER"] = server.address }
        if let token { environment["TRADECORE_TOKEN"] = token }
        return try await ChildProcess.run("tradecore", arguments, environment: environment)
    }

    /// Waits (at most 30 s) until `condition` holds, looking again every 20 ms: a child process's
    /// output is read from its file, which says nothing when it grows.
    func waitUntil(_ condition: () -> Bool) async {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Waits (at most 30 s) until `process` has printed `count` lines: what a tail has read.
    func waitForLines(of process: ChildProcess.Running, _ count: Int) async {
        await waitUntil { process.output.split(separator: "\n").count >= count }
    }

    /// Runs `tradecore … --json` and parses its one line.
    func json(_ server: Server, _ arguments: String..., token: String? = nil) async throws -> [String: Any] {
        var environment = ["TRADECORE_SERVER": server.address]
        if let token { environment["TRADECORE_TOKEN"] = token }
        let outcome = try await ChildProcess.run("tradecore", arguments + ["--json"], environment: environment)
        guard outcome.status == 0 else {
            throw ChildProcessError(
                "tradecore \(arguments.joined(separator: " ")) failed (\(outcome.status)): \(outcome.errors)")
        }
        let line = outcome.output.split(separator: "\n").first.map(String.init) ?? ""
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw ChildProcessError("not a JSON object: \(line)")
        }
        return object
    }

    /// The lines of `tradecore … --json`, parsed.
    func jsonLines(_ server: Server, _ arguments: String...) async throws -> [[String: Any]] {
        let outcome = try await ChildProcess.run(
            "tradecore", arguments + ["--json"], environment: ["TRADECORE_SERVER": server.address])
        guard outcome.status == 0 else { throw ChildProcessError("tradecore failed: \(outcome.errors)") }
        return try outcome.output.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }

    /// Connects the virtual broker for a new user; returns the user and the cash account.
    func onboard(_ server: Server) async throws -> (user: String, account: String) {
        let user = try await cli(nil, "id").output.trimmingCharacters(in: .whitespacesAndNewlines)
        let connect = try await cli(server, "broker", "connect", "--user", user, "--authorize-with-code", "demo")
        #expect(connect.status == 0, "\(connect.errors)")
        let account = try await cli(
            server, "account", "list", "--user", user, "--type", "cash", "--field", "account_id")
        #expect(account.status == 0, "\(account.errors)")
        return (user, account.output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func everySubcommandSucceedsAndItsJSONParses() async throws {
        try await withServer { server in
            let (user, account) = try await onboard(server)
            #expect(UUID(uuidString: user) != nil && UUID(uuidString: account) != nil)

            let connection = try await json(server, "broker", "find", "--user", user)
            #expect(connection["status"] as? String == "CONNECTED")
            let connectionID = try #require(connection["broker_connection_id"] as? String)
            // A status spelled as the schema spells it (a run of capitals is one word).
            let waiting = try await cli(nil, "id").output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(
                try await json(server, "broker", "connect", "--user", waiting)["status"] as? String == "AWAITING_OAUTH")
            // API keys alone choose API-key authentication.
            let keyed = try await cli(nil, "id").output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(
                try await json(
                    server, "broker", "connect", "--user", keyed, "--api-key", "vbk_abcdefghijkl", "--api-secret", "s")[
                        "status"] as? String == "CONNECTED")
            // A saga's event carries JSON, which the event shows as it is.
            let sagaEvent = try #require(
                try await jsonLines(server, "events", "tail", "--stream-type", "saga", "--count", "1").first)
            let payload = try #require(sagaEvent["payload"] as? [String: Any], "\(sagaEvent)")
            #expect(payload["sagaType"] as? String == "connection_onboarding")
            #expect(
                try await json(server, "broker", "get", "--user", user, "--connection", connectionID)["broker_id"]
                    as? String
                    == "virtual")
            #expect(
                try await json(server, "account", "refresh", "--user", user, "--account", account)["status"] as? String
                    == "ACTIVE")
            let all = try await json(server, "account", "refresh-all", "--user", user, "--force")
            #expect(all["total"] as? Int == 2 && all["refreshed"] as? Int == 2)

            let automation = try await json(
                server, "automation", "create", "--user", user, "--name", "Breakout", "--symbol", "AAPL", "--sizing",
                "fixed-quantity", "--size", "10", "--account", account, "--stop-loss", "5", "--metadata", "desk=alpha")
            let automationID = try #require(automation["automation_id"] as? String)
            #expect((automation["webhook_token"] as? String)?.hasPrefix("whk_") == true)
            #expect(
                try await json(
                    server, "automation", "update", "--user", user, "--automation", automationID, "--name", "Renamed")[
                        "version"] as? String == "1")
            // An update replaces the stop loss whole, so its type is asked for, not taken as percent.
            let untyped = try await cli(
                server, "automation", "update", "--user", user, "--automation", automationID, "--stop-loss", "3")
            #expect(untyped.status == 64 && untyped.errors.contains("--stop-loss-type"), "\(untyped.errors)")
            let typed = try await json(
                server, "automation", "update", "--user", user, "--automation", automationID, "--stop-loss", "3",
                "--stop-loss-type", "amount")
            #expect(typed["version"] as? String == "2", "\(typed)")
            // A strike with nothing to belong to is refused, not dropped.
            let strike = try await cli(
                server, "automation", "update", "--user", user, "--automation", automationID, "--strike-price", "100")
            #expect(strike.status == 64 && strike.errors.contains("--option-type"), "\(strike.errors)")
            #expect(
                try await json(server, "automation", "activate", "--user", user, "--automation", automationID)["status"]
                    as? String == "ACTIVE")
            #expect(
                try await json(server, "automation", "deactivate", "--user", user, "--automation", automationID)[
                    "status"]
                    as? String == "INACTIVE")
            #expect(
                try await json(server, "automation", "get", "--user", user, "--automation", automationID)["status"]
                    as? String
                    == "INACTIVE")
            #expect(try await jsonLines(server, "automation", "list", "--user", user).count == 1)
            #expect(
                try await json(server, "automation", "delete", "--user", user, "--automation", automationID)["status"]
                    as? String
                    == "DELETED")
            // Fields left unset print as protobuf's JSON mapping has them: a map as {}, an enum as its zero.
            let plain = try await json(
                server, "automation", "create", "--user", user, "--name", "Plain", "--symbol", "MSFT", "--sizing",
                "fixed-quantity", "--size", "1", "--account", account, "--order-type", "limit")
            let plainID = try #require(plain["automation_id"] as? String)
            let plainView = try await json(server, "automation", "get", "--user", user, "--automation", plainID)
            let plainConfig = try #require(plainView["config"] as? [String: Any])
            #expect((plainConfig["metadata"] as? [String: Any])?.isEmpty == true, "\(plainConfig)")
            let preferences = plainConfig["order_preferences"] as? [String: Any]
            #expect(preferences?["time_in_force"] as? String == "UNSPECIFIED", "\(plainConfig)")
            #expect(preferences?["order_type"] as? String == "LIMIT", "\(plainConfig)")

            let created = try await json(
                server, "order", "create", "--user", user, "--account", account, "--symbol", "MSFT", "--side", "buy",
                "--quantity", "10", "--type", "limit", "--limit-price", "100.50")
            let order = try #require(created["order_id"] as? String)
            // 64-bit integers are JSON strings (protobuf's JSON mapping), so no digit is lost.
            let position = try #require((created["position"] as? String).flatMap { Int($0) })
            #expect(
                try await json(server, "order", "update", "--user", user, "--order", order, "--limit-price", "101")[
                    "version"]
                    as? String == "1")
            #expect(
                try await json(server, "order", "place", "--user", user, "--order", order, "--broker-order-id", "B-1")[
                    "status"]
                    as? String == "PLACED")
            #expect(
                try await json(
                    server, "order", "fill", "--user", user, "--order", order, "--quantity", "4", "--price", "101")[
                        "status"]
                    as? String == "PARTIALLY_FILLED")
            #expect(
                try await json(server, "order", "cancel", "--user", user, "--order", order, "--reason", "enough")[
                    "status"]
                    as? String == "CANCELLED")
            #expect(
                try await json(server, "order", "delete", "--user", user, "--order", order)["status"] as? String
                    == "DELETED")
            let view = try await json(
                server, "order", "get", "--user", user, "--order", order, "--min-position", "\(position)")
            #expect(view["limit_price"] as? String == "101" && view["filled_quantity"] as? String == "4")
            let second = try await json(
                server, "order", "create", "--user", user, "--account", account, "--symbol", "MSFT", "--side", "sell",
                "--quantity", "1", "--type", "market")
            let secondID = try #require(second["order_id"] as? String)
            #expect(
                try await json(server, "order", "reject", "--user", user, "--order", secondID, "--reason", "risk")[
                    "status"]
                    as? String == "REJECTED")
            #expect(try await jsonLines(server, "order", "list", "--user", user, "--status", "rejected").count == 1)

            let events = try await jsonLines(server, "stream", "read", "order-\(order)")
            #expect(
                events.map { $0["event_type"] as? String } == [
                    "OrderCreated", "OrderUpdated", "OrderPlaced", "FillAdded", "OrderCancelled", "OrderDeleted",
                ])
            #expect((events.first?["payload"] as? [String: Any])?["symbol"] as? String == "MSFT")
            #expect(try await json(server, "health")["status"] as? String == "SERVING")
            #expect(
                try await json(server, "health", "--service", "tradecore.api.v1.CommandService")["status"] as? String
                    == "SERVING")
            let unknownService = try await cli(server, "health", "--service", "tradecore.api.v1.NoSuchService")
            #expect(
                unknownService.status == 5 && unknownService.errors.contains("NoSuchService"),
                "\(unknownService.errors)")
            #expect((try await json(server, "server", "stats")["total_calls"] as? String).flatMap { Int($0) } ?? 0 > 10)

            let bench = try await cli(server, "bench", "-n", "200", "-c", "4", "-m", "2")
            #expect(bench.status == 0, "\(bench.errors)")
            #expect(
                bench.output.contains("p99") && bench.output.contains("p99.9") && bench.output.contains("errors: none"))
            // One call at a time needs no --connections: the default follows --concurrency down.
            let single = try await cli(server, "bench", "-n", "5", "-c", "1")
            #expect(single.status == 0 && single.output.contains("1 connection(s)"), "\(single.errors)")
            let benchJSON = try await json(
                server, "bench", "--method", "create-order", "--user", user, "--account", account, "-n", "50")
            #expect(benchJSON["succeeded"] as? Int == 50 && benchJSON["p99_us"] != nil)
            // Calls that fail still give the figures, and the run fails with their status.
            let missing = try await cli(
                server, "bench", "--method", "get-order", "--user", user, "--order", UUID().uuidString, "-n", "20")
            #expect(missing.status == 5, "NOT_FOUND: \(missing.errors)")
            #expect(missing.output.contains("errors: NOT_FOUND 20"), "\(missing.output)")
            #expect(missing.errors.contains("20 of 20 calls failed"), "\(missing.errors)")
        }
    }

    @Test func aServerStartedWithRebuildReadModelsRebuildsThemAndAnswersAsBefore() async throws {
        let first = try await Server()
        let (user, _) = try await onboard(first)
        let accounts = try await jsonLines(first, "account", "list", "--user", user)
        let connection = try await json(first, "broker", "find", "--user", user)
        #expect(accounts.count == 2 && connection["status"] as? String == "CONNECTED")
        #expect(await first.stopKeepingFiles().status == 0)

        let second = try await Server(["--rebuild-read-models", "--log-level", "notice"], directory: first.directory)
        let accountsAfter = try await jsonLines(second, "account", "list", "--user", user)
        let connectionAfter = try await json(second, "broker", "find", "--user", user)
        let outcome = await second.stopKeepingFiles()
        second.directory.remove()
        #expect(outcome.status == 0)
        #expect(
            accountsAfter.map { $0["account_id"] as? String } == accounts.map { $0["account_id"] as? String }
                && connectionAfter["broker_connection_id"] as? String == connection["broker_connection_id"] as? String)
        for projection in ["orders", "automations", "broker_connections", "broker_accounts"] {
            #expect(
                outcome.errors.split(separator: "\n").contains {
                    $0.contains("read model rebuilt") && $0.contains("projection.name=\(projection) ")
                }, "the log says \(projection) was rebuilt: \(outcome.errors)")
        }

        let refused = try await ChildProcess.run(
            "tradecore-server", ["--port", "0", "--admin-port", "0"],
            environment: ["TRADECORE_REBUILD_READ_MODELS": "maybe"])
        #expect(
            refused.status != 0
                && refused.errors.contains("must be true or false (or yes or no, 1 or 0), not \"maybe\""))

        // An empty value is refused, not read as unset: an empty PostgreSQL URL would fall back to a
        // new local store, empty tokens to none at all. Nothing is made before the refusal.
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let data = scratch.url.appendingPathComponent("data").path
        for (arguments, environment, name) in [
            ([String](), ["TRADECORE_POSTGRES_URL": ""], "TRADECORE_POSTGRES_URL"),
            ([], ["TRADECORE_API_TOKENS": " "], "TRADECORE_API_TOKENS"),
            (["--host", ""], [:], "--host"),
        ] {
            let empty = try await ChildProcess.run(
                "tradecore-server", ["--port", "0", "--admin-port", "0", "--data-directory", data] + arguments,
                environment: environment)
            #expect(
                empty.status != 0 && empty.errors.contains("is empty") && empty.errors.contains(name), "\(empty.errors)"
            )
        }
        #expect(!FileManager.default.fileExists(atPath: data))
    }

    @Test func aReconnectionPrintsEveryAccountItLinksAgain() async throws {
        try await withServer { server in
            let (user, _) = try await onboard(server)
            var connection = try #require(
                try await json(server, "broker", "find", "--user", user)["broker_connection_id"] as? String)
            // The accounts linked again first were once printed alone (their refresh time was old).
            for _ in 0..<3 {
                let disconnected = try await cli(
                    server, "broker", "disconnect", "--user", user, "--connection", connection)
                #expect(disconnected.status == 0, "\(disconnected.errors)")
                let lines = try await jsonLines(
                    server, "broker", "connect", "--user", user, "--authorize-with-code", "demo")
                connection = try #require(lines.first?["broker_connection_id"] as? String)
                #expect(
                    lines.dropFirst().compactMap { $0["account_type"] as? String }.sorted() == ["CASH", "MARGIN"],
                    "\(lines)")
            }
        }
    }

    @Test func sighupDrainsTheServerAsSigtermDoesAndDebugLogsEachCallWithItsStatusAndDuration() async throws {
        let server = try await Server(["--log-level", "debug"])
        defer { server.directory.remove() }
        #expect(try await cli(server, "account", "list", "--user", UUID().uuidString).status == 0)
        #expect(
            try await cli(server, "order", "get", "--user", UUID().uuidString, "--order", UUID().uuidString).status == 5
        )
        server.process.signal(SIGHUP)
        let outcome = await server.process.finish()
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.errors.contains("shutting down"), "\(outcome.errors)")
        let lines = outcome.errors.split(separator: "\n")
        #expect(
            lines.contains {
                $0.contains("call answered") && $0.contains("rpc.status=OK") && $0.contains("rpc.duration_us=")
                    && $0.contains("request.id=")
            }, "\(outcome.errors)")
        #expect(
            lines.contains {
                $0.contains("call refused") && $0.contains("rpc.status=NOT_FOUND") && $0.contains("rpc.duration_us=")
            }, "\(outcome.errors)")
    }

    @Test func aServerOlderThanItsReadModelsStopsAndSaysWhyUntilItRebuildsThem() async throws {
        let first = try await Server()
        let (user, _) = try await onboard(first)
        #expect(await first.stopKeepingFiles().status == 0)
        defer { first.directory.remove() }
        // The orders read model as a newer server, with version 9 of its projection, leaves it.
        let store = try await SQLiteEventStore.open(.init(directory: first.directory.url))
        try await SQLiteProjectionStore(store: store).write { writer in
            try writer.put(Data("9".utf8), in: ProjectionRunner.versionsCollection, key: "orders")
        }
        await store.close()

        // The domain cannot run, so the server must not serve without it: it refuses to start (a
        // usage error's status, before it listens), and says why.
        let refused = try await ChildProcess.run(
            "tradecore-server",
            ["--port", "\(try freePort())", "--admin-port", "0", "--data-directory", first.directory.url.path],
            timeout: .seconds(30))
        #expect(refused.status == 64)
        #expect(
            refused.errors.contains("projection orders was built by version 9 of it, but this server runs version 1"),
            "\(refused.errors)")

        let rebuilt = try await Server(["--rebuild-read-models"], directory: first.directory)
        #expect(try await jsonLines(rebuilt, "account", "list", "--user", user).count == 2, "the accounts are back")
        #expect(await rebuilt.stopKeepingFiles().status == 0, "it serves, and stops cleanly")
    }

    @Test func aMistypedFieldIsRefusedBeforeTheCommandRunsAndAZeroFieldPrintsItsValue() async throws {
        try await withServer { server in
            let (user, account) = try await onboard(server)
            let order = ["order", "create", "--user", user, "--account", account, "--symbol", "AAPL", "--side", "buy"]
            let typo = try await cli(server, order + ["--quantity", "1", "--type", "market", "--field", "ordr_id"])
            #expect(typo.status == 64 && typo.errors.contains("--field"), "\(typo.errors)")
            #expect(try await jsonLines(server, "order", "list", "--user", user).isEmpty, "nothing was created")
            // A new order's version is 0, which proto3 leaves off the wire: printed all the same.
            let version = try await cli(server, order + ["--quantity", "1", "--type", "market", "--field", "version"])
            #expect(version.status == 0, "\(version.errors)")
            #expect(version.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
            // A page that is not the last says how to get the next one, on stderr.
            let second = try await cli(server, order + ["--quantity", "2", "--type", "market", "--field", "order_id"])
            #expect(second.status == 0, "\(second.errors)")
            let page = try await cli(server, "order", "list", "--user", user, "--limit", "1", "--field", "order_id")
            #expect(page.status == 0 && page.errors.contains("more orders follow: list them with --after"), "\(page)")
            for kind in ["order", "automation"] {
                let tooMany = try await cli(server, kind, "list", "--user", user, "--limit", "5000")
                #expect(tooMany.status == 64 && tooMany.errors.contains("--limit is at most 1000"), "\(tooMany.errors)")
            }
            let last = try await cli(server, "order", "list", "--user", user, "--limit", "5", "--field", "order_id")
            #expect(last.status == 0 && !last.errors.contains("more orders follow"), "\(last.errors)")
            // A tail after a position past the head is refused rather than left waiting to skip events.
            let ahead = try await cli(server, "events", "tail", "--from", "1000000000")
            #expect(ahead.status == 11 && ahead.errors.contains("past the head"), "\(ahead.errors)")
            // Refused API keys fail the command as a refused authorization does (for a user without a connection).
            let newcomer = try await cli(nil, "id").output.trimmingCharacters(in: .whitespacesAndNewlines)
            let refused = try await cli(
                server, "broker", "connect", "--user", newcomer, "--auth", "api-key", "--api-key", "wrong",
                "--api-secret",
                "s")
            #expect(refused.status == 9 && refused.errors.contains("the connection failed"), "\(refused.errors)")
            let other = try await cli(nil, "id").output.trimmingCharacters(in: .whitespacesAndNewlines)
            let denied = try await cli(
                server, "broker", "connect", "--user", other, "--authorize-with-code", "denied-by-user")
            #expect(denied.status == 9 && denied.errors.contains("the connection failed"), "\(denied.errors)")
            // A CA file that cannot be read is a mistake on the command line, not an unreachable server.
            let ca = try await cli(server, "health", "--tls", "--ca-file", "/nonexistent/ca.pem")
            #expect(ca.status == 64 && ca.errors.contains("cannot read /nonexistent/ca.pem"), "\(ca.errors)")
        }
    }

    @Test func timesReadAsDatesAndSeveralFieldsPrintOnOneLineAlsoForEvents() async throws {
        try await withServer { server in
            let (user, account) = try await onboard(server)
            let created = try await cli(
                server, "order", "create", "--user", user, "--account", account, "--symbol", "AAPL", "--side", "buy",
                "--quantity", "1", "--type", "market", "--field", "order_id", "--field", "position")
            #expect(created.status == 0, "\(created.errors)")
            let columns = created.output.trimmingCharacters(in: .newlines).split(separator: "\t").map(String.init)
            #expect(
                columns.count == 2 && UUID(uuidString: columns[0]) != nil && UInt64(columns[1]) != nil, "\(created)")
            let order = columns[0]
            let position = columns.last ?? "0"

            // Text shows a time as a UTC date, with the schema's nanoseconds beside it; --field and
            // JSON give the nanoseconds alone.
            let text = try await cli(
                server, "order", "get", "--user", user, "--order", order, "--min-position", position)
            let line = text.output.split(separator: "\n").first { $0.hasPrefix("created_at: ") }.map(String.init) ?? ""
            let nanoseconds = try await cli(
                server, "order", "get", "--user", user, "--order", order, "--field", "created_at")
            let raw = nanoseconds.output.trimmingCharacters(in: .newlines)
            let seconds = (Int64(raw) ?? 0) / 1_000_000_000
            #expect(abs(Date().timeIntervalSince1970 - Double(seconds)) < 600, "a time of now: \(raw)")
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            let date = formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
            #expect(line.hasPrefix("created_at: \(date.dropLast())."), "\(line) for \(date)")
            #expect(line.hasSuffix("Z (\(raw))"), "\(line)")
            let object = try await json(server, "order", "get", "--user", user, "--order", order)
            #expect(object["created_at"] as? String == raw)

            // Several fields as one JSON object.
            let both = try await json(
                server, "order", "get", "--user", user, "--order", order, "--field", "order_id", "--field", "status")
            #expect(both.count == 2 && both["order_id"] as? String == order && both["status"] as? String != nil)

            // Events: fields of the envelope and of the payload, in columns; an event without one
            // leaves its column empty.
            let events = try await cli(
                server, "stream", "read", "order-\(order)", "--max-count", "1", "--field", "event_type", "--field",
                "order_id", "--field", "automation_id")
            #expect(events.status == 0, "\(events.errors)")
            #expect(events.output == "OrderCreated\t\(order)\t\n", "\(events.output)")
            let payload = try await cli(
                server, "stream", "read", "order-\(order)", "--max-count", "1", "--field", "payload")
            #expect(payload.output.hasPrefix("{") && payload.output.contains(order), "\(payload.output)")
            let tail = try await cli(
                server, "events", "tail", "--stream", "order-\(order)", "--count", "1", "--field", "global_position")
            #expect(tail.status == 0 && UInt64(tail.output.trimmingCharacters(in: .newlines)) != nil, "\(tail)")

            // A missing read model row names the CLI's option, not the request's field.
            let missing = try await cli(server, "order", "get", "--user", user, "--order", UUID().uuidString)
            #expect(missing.status == 5 && missing.errors.contains("as --min-position"), "\(missing.errors)")
        }
    }

    @Test func aCommandWhoseOutcomeIsUnknownNamesTheIDToSendItAgainWith() async throws {
        try await withServer { server in
            let (user, account) = try await onboard(server)
            let order = [
                "order", "create", "--user", user, "--account", account, "--symbol", "AAPL", "--side", "buy",
                "--quantity", "1", "--type", "market", "--field", "order_id",
            ]
            // A deadline too short for any answer: whether the server applied it is not known.
            let lost = try await cli(server, order + ["--timeout", "0.0001"])
            #expect(lost.status == 4, "DEADLINE_EXCEEDED: \(lost.errors)")
            let hint = try #require(
                lost.errors.firstRange(of: #/--command-id ([0-9a-f-]{36})/#), "\(lost.errors)")
            let id = String(lost.errors[hint].dropFirst("--command-id ".count))
            let first = try await cli(server, order + ["--command-id", id])
            let again = try await cli(server, order + ["--command-id", id])
            #expect(first.status == 0 && again.status == 0, "\(first.errors) \(again.errors)")
            #expect(
                first.output == again.output && UUID(uuidString: first.output.trimmingCharacters(in: .newlines)) != nil)
            // A refusal is an answer: nothing to send again.
            let refused = try await cli(server, order + ["--symbol", "aapl"])
            #expect(refused.status == 3 && !refused.errors.contains("--command-id"), "\(refused.errors)")
            // Nor is there when the server was never reached.
            let unreachable = try await ChildProcess.run(
                "tradecore", order + ["--server", "127.0.0.1:\(try freePort())"], environment: [:])
            #expect(unreachable.status == 14 && !unreachable.errors.contains("--command-id"), "\(unreachable.errors)")
        }
    }

    /// Both programs say their version, the same one, as `--version` does elsewhere.
    @Test func bothProgramsPrintTheirVersion() async throws {
        let cli = try await ChildProcess.run("tradecore", ["--version"])
        let server = try await ChildProcess.run("tradecore-server", ["--version"])
        #expect(cli.status == 0 && server.status == 0, "\(cli.errors) \(server.errors)")
        #expect(cli.output.wholeMatch(of: /[0-9]+\.[0-9]+\.[0-9]+\n/) != nil, "\(cli.output)")
        #expect(server.output == cli.output)
    }

    @Test func exitCodesFollowTheStatus() async throws {
        let service = "cli-test-service-token-0123"
        let user = UUID().uuidString.lowercased()
        let other = UUID().uuidString.lowercased()
        let userToken = "cli-test-user-token-4567"
        let server = try await Server(["--api-tokens", "service:ops=\(service),user:\(user)=\(userToken)"])
        let invalid = try await cli(
            server, "order", "create", "--user", user, "--account", user, "--symbol", "AAPL", "--side", "buy",
            "--quantity", "0", "--type", "market", token: service)
        #expect(invalid.status == 3, "\(invalid.errors)")
        #expect(invalid.errors.hasPrefix("error: INVALID_ARGUMENT") && invalid.errors.split(separator: "\n").count == 1)
        let missing = try await cli(server, "order", "get", "--user", user, "--order", other, token: service)
        #expect(missing.status == 5 && missing.errors.contains("NOT_FOUND"), "\(missing.errors)")
        // A stream with no events is said so, on standard error, not left as an empty output.
        let empty = try await cli(server, "stream", "read", "order-\(other)", token: service)
        #expect(empty.status == 0 && empty.output.isEmpty, "\(empty.output)")
        #expect(empty.errors == "order-\(other) has no events\n", "\(empty.errors)")
        let denied = try await cli(server, "order", "get", "--user", other, "--order", other, token: userToken)
        #expect(denied.status == 7 && denied.errors.contains("PERMISSION_DENIED"), "\(denied.errors)")
        let wrongToken = try await cli(server, "account", "list", "--user", user, token: "not-a-token-of-this-server")
        #expect(wrongToken.status == 16 && wrongToken.errors.contains("--token"), "\(wrongToken.errors)")
        // An empty TRADECORE_TOKEN is no token: the server says the call has none.
        let emptyToken = try await cli(server, "account", "list", "--user", user, token: "")
        #expect(emptyToken.status == 16 && emptyToken.errors.contains("no token"), "\(emptyToken.errors)")
        // A new order has no version to expect: the option is refused, not sent for nothing.
        let versioned = try await cli(
            server, "order", "create", "--user", user, "--account", user, "--symbol", "AAPL", "--side", "buy",
            "--quantity", "1", "--type", "market", "--expected-version", "5")
        #expect(
            versioned.status == 64 && versioned.errors.contains("--expected-version does not apply"),
            "\(versioned.errors)")
        let usage = try await cli(server, "order", "create", "--user", "not-a-uuid")
        #expect(usage.status == 64 && usage.errors.split(separator: "\n").count == 1, "\(usage.errors)")
        let decimal = try await cli(
            server, "order", "create", "--user", user, "--account", user, "--symbol", "AAPL", "--side", "buy",
            "--quantity", "1e3", "--type", "market")
        #expect(decimal.status == 64 && decimal.errors.contains("--quantity"), "\(decimal.errors)")
        // A negative number is a value for the option, refused by the rule, not "a missing value".
        let negative = try await cli(
            server, "order", "create", "--user", user, "--account", user, "--symbol", "AAPL", "--side", "buy",
            "--quantity", "-1", "--type", "market", token: service)
        #expect(negative.status == 3 && negative.errors.contains("quantity"), "\(negative.errors)")
        // An error's hint names help that exists: the command, not the words after it.
        let hint = try await cli(server, "stream", "read", "order-01a2", "--max-count", "0")
        #expect(hint.status == 64 && hint.errors.contains("(see tradecore stream read --help)"), "\(hint.errors)")
        // TLS to the plain HTTP/2 port says so.
        let tls = try await cli(server, "health", "--tls")
        #expect(tls.status == 14 && tls.errors.contains("does not speak TLS"), "\(tls.errors)")
        // --server may be a URL: http:// is cleartext, https:// is TLS.
        let url = try await cli(server, "health", "--server", "http://\(server.address)/")
        #expect(url.status == 0 && url.output.contains("SERVING"), "\(url.errors)")
        let secure = try await cli(server, "health", "--server", "https://\(server.address)")
        #expect(secure.status == 14 && secure.errors.contains("does not speak TLS"), "\(secure.errors)")
        for (address, hint) in [
            ("ftp://\(server.address)", "HOST:PORT"), ("http://\(server.address)/v1", "HOST:PORT"),
            ("http://127.0.0.1", "HOST:PORT"), ("127.0.0.1", "HOST:PORT"),
        ] {
            let refused = try await cli(server, "health", "--server", address)
            #expect(refused.status == 64 && refused.errors.contains(hint), "\(address): \(refused.errors)")
        }
        let fromEnvironment = try await ChildProcess.run(
            "tradecore", ["health"], environment: ["TRADECORE_SERVER": "127.0.0.1"])
        #expect(
            fromEnvironment.status == 64 && fromEnvironment.errors.contains("TRADECORE_SERVER must be"),
            "\(fromEnvironment.errors)")
        let mixed = try await cli(server, "health", "--server", "http://\(server.address)", "--tls")
        #expect(mixed.status == 64 && mixed.errors.contains("https://"), "\(mixed.errors)")
        // TRADECORE_CA_FILE, set for other servers, leaves an http:// one cleartext.
        let caForOthers = try await ChildProcess.run(
            "tradecore", ["health", "--server", "http://\(server.address)"],
            environment: ["TRADECORE_CA_FILE": "/nonexistent/ca.pem"])
        #expect(caForOthers.status == 0 && caForOthers.output.contains("SERVING"), "\(caForOthers.errors)")
        #expect(await server.stop() == 0)
        let unreachable = try await cli(server, "health")
        #expect(
            unreachable.status == 14 && unreachable.errors.contains("connection refused")
                && unreachable.errors.contains("is the server running"), "\(unreachable.errors)")
        #expect(!unreachable.errors.contains("SingleConnectionFailure"), "\(unreachable.errors)")
        #expect(!unreachable.errors.contains("Fatal error") && unreachable.errors.split(separator: "\n").count == 1)
    }

    @Test func outOfRangeOptionsAndAClosedPipeEndCleanlyAndAFieldOfAnotherResultRunsNothing() async throws {
        try await withServer { server in
            let (user, account) = try await onboard(server)
            // A reader that goes away ends the tail quietly (it crashed on the broken pipe).
            let tradecore = try builtExecutable("tradecore").path
            // pipefail: the status is the tail's own, not head's.
            let piped = try await ChildProcess.run(
                "/bin/bash", ["-c", "set -o pipefail; '\(tradecore)' events tail | head -1"],
                environment: ["TRADECORE_SERVER": server.address])
            #expect(piped.status == 0 && !piped.errors.contains("Fatal error"), "\(piped.errors)")
            #expect(piped.output.split(separator: "\n").count == 1)
            // The same when the tail has nothing to print, so it never writes to find out.
            let idle = try await ChildProcess.run(
                "/bin/bash",
                [
                    "-c",
                    "set -o pipefail; '\(tradecore)' events tail --stream order-\(UUID().uuidString.lowercased()) | true",
                ],
                environment: ["TRADECORE_SERVER": server.address])
            #expect(idle.status == 0 && idle.errors.isEmpty, "\(idle.errors)")
            for arguments in [
                ["stream", "read", "order-\(UUID().uuidString.lowercased())", "--max-count=-1"],
                ["events", "tail", "--count", "0"], ["bench", "--payload-size=-1", "-n", "10"],
                ["health", "--token", ""], ["health", "--token", "t\u{f6}ken"],
                // A negative number as its own argument is the option's value, refused by its rule.
                ["health", "--timeout", "-1"], ["events", "tail", "--count", "-3"],
                ["stream", "read", "order-\(UUID().uuidString.lowercased())", "--max-count", "-1"],
                // Help for a command that does not exist (the parser printed the top-level help, exit 0).
                ["help", "nosuch"], ["help", "order", "nosuch"],
            ] {
                let outcome = try await cli(server, arguments)
                #expect(
                    outcome.status == 64 && !outcome.errors.contains("Fatal error"), "\(arguments): \(outcome.errors)")
                #expect(!outcome.errors.contains("Missing value"), "\(arguments): \(outcome.errors)")
            }
            let help = try await cli(server, "help", "order", "create")
            #expect(help.status == 0 && help.output.contains("--quantity"), "\(help.errors)")
            // A field that another result has, but not this command's: refused before it runs.
            let automation = try await cli(
                server, "automation", "create", "--user", user, "--name", "F", "--symbol", "MSFT", "--sizing",
                "fixed-quantity", "--size", "5", "--account", account, "--field", "symbol")
            #expect(automation.status == 64 && automation.errors.contains("--field"), "\(automation.errors)")
            #expect(try await jsonLines(server, "automation", "list", "--user", user).isEmpty, "nothing was created")
        }
    }

    @Test func aTailInterruptedAndResumedWithFromSeesEveryEventOnce() async throws {
        try await withServer { server in
            _ = try await onboard(server)
            let tail = try ChildProcess.start(
                "tradecore", ["events", "tail", "--json"], environment: ["TRADECORE_SERVER": server.address])
            // Let it read what is there, then interrupt it as Ctrl-C does.
            await waitForLines(of: tail, 5)
            tail.signal(SIGINT)
            let first = await tail.finish()
            #expect(first.status == 0, "\(first.errors)")
            let resume = try #require(
                first.errors.split(separator: " ").last.flatMap {
                    UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines))
                })
            let seen = first.output.split(separator: "\n").compactMap { line -> Int? in
                ((try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["global_position"]
                    as? String)
                    .flatMap { Int($0) }
            }
            #expect(seen.last.map(UInt64.init) == resume, "it resumes after the last event it printed")
            // More events after the interruption.
            _ = try await onboard(server)
            let rest = try await ChildProcess.run(
                "tradecore", ["events", "tail", "--json", "--from", "\(resume)", "--count", "5"],
                environment: ["TRADECORE_SERVER": server.address])
            let resumed = rest.output.split(separator: "\n").compactMap { line -> Int? in
                ((try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["global_position"]
                    as? String)
                    .flatMap { Int($0) }
            }
            let all = seen + resumed
            #expect(resumed.count == 5)
            #expect(all == Array(1...all.count), "every position once and in order: \(all)")

            // SIGTERM (kill, timeout, a service manager) stops it the same way.
            let terminated = try ChildProcess.start(
                "tradecore", ["events", "tail"], environment: ["TRADECORE_SERVER": server.address])
            await waitForLines(of: terminated, all.count)
            terminated.signal(SIGTERM)
            let ended = await terminated.finish()
            #expect(ended.status == 0, "\(ended.errors)")
            let stoppedAt = ended.errors.components(separatedBy: "stopped; resume with --from ").last
                .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            #expect((stoppedAt ?? 0) >= UInt64(all.count), "\(ended.errors)")

            // A filtered tail that caught up resumes from where it caught up, not from the last event
            // its filter let through: the events in between were filtered out, not missed.
            let filtered = try ChildProcess.start(
                "tradecore", ["events", "tail", "--verbose", "--event-type", "BrokerConnectionInitiated"],
                environment: ["TRADECORE_SERVER": server.address])
            await waitUntil { filtered.errors.contains("caught up at") }
            filtered.signal(SIGTERM)
            let filteredEnd = await filtered.finish()
            func number(after marker: String, in text: String) -> UInt64? {
                text.components(separatedBy: marker).dropFirst().first?.split(whereSeparator: { !$0.isNumber }).first
                    .flatMap { UInt64($0) }
            }
            let caughtUpAt = try #require(
                number(after: "caught up at ", in: filteredEnd.errors), "\(filteredEnd.errors)")
            let lastPrinted = filteredEnd.output.split(separator: "\n").last?.split(separator: " ").first
                .flatMap { UInt64($0) }
            #expect(caughtUpAt >= UInt64(all.count))
            #expect(
                lastPrinted.map { $0 < caughtUpAt } == true, "the filter left later events out: \(filteredEnd.output)")
            #expect(number(after: "resume with --from ", in: filteredEnd.errors) == caughtUpAt, "\(filteredEnd.errors)")
        }
    }

    @Test func aTLSNameMismatchIsOneClearLine() async throws {
        let certificates = try TemporaryDirectory()
        defer { certificates.remove() }
        let key = certificates.url.appendingPathComponent("key.pem").path
        let certificate = certificates.url.appendingPathComponent("cert.pem").path
        let made = try await ChildProcess.runSystem(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key,
                "-out", certificate,
            ])
        #expect(made == 0)
        try await withServer(["--tls-cert", certificate, "--tls-key", key]) { server in
            let good = try await cli(server, "health", "--ca-file", certificate)
            #expect(good.status == 0, "\(good.errors)")
            let wrong = try await cli(server, "health", "--ca-file", certificate, "--server-name", "wrong.example")
            #expect(wrong.status != 0)
            #expect(wrong.errors.split(separator: "\n").count == 1, "\(wrong.errors)")
            #expect(
                wrong.errors.lowercased().contains("certificate") || wrong.errors.lowercased().contains("tls"),
                "\(wrong.errors)")
            #expect(wrong.errors.contains("--server-name") && !wrong.errors.contains("running"), "\(wrong.errors)")
        }
    }
}
