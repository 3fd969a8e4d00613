import Foundation
import Glibc
import ProcessTesting
import Testing

/// What the server executable does with the data directory it is given.
@Suite(.timeLimit(.minutes(2)))
struct ServerStartTests {
    /// Runs `tradecore-server` with `arguments` until it exits (at most a minute); returns its
    /// exit status and what it wrote (standard error, where it logs, after standard output).
    private func runServer(
        _ arguments: [String], environment: [String: String] = [:]
    ) async throws -> (status: Int32, output: String) {
        let outcome = try await ChildProcess.run("tradecore-server", arguments, environment: environment)
        return (outcome.status, outcome.output + outcome.errors)
    }

    @Test func aDataDirectoryHoldingAnotherKindOfFileStopsTheStart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let garbage = Data("notes, not an event store".utf8)
        _ = FileManager.default.createFile(
            atPath: directory.url.appendingPathComponent("events.sqlite").path, contents: garbage)
        let (status, output) = try await runServer(["--data-directory", directory.url.path, "--port", "0"])
        #expect(status != 0, "\(output)")
        #expect(output.contains("not a SQLite database"), "\(output)")
        #expect(
            FileManager.default.contents(atPath: directory.url.appendingPathComponent("events.sqlite").path) == garbage,
            "the file is left as it was")
    }

    /// The server's allocations go to jemalloc, not to the C library's malloc it is linked beside
    /// (README, "What is here"): it says so when it starts, from a check that allocates.
    @Test func theServerAllocatesWithJemalloc() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = try freePort()
        let server = try ChildProcess.start(
            "tradecore-server",
            ["--data-directory", directory.url.path, "--port", "\(port)", "--admin-port", "0"])
        try await waitForPort(port)
        server.signal(SIGTERM)
        let outcome = await server.finish()
        #expect(outcome.status == 0, "\(outcome.errors)")
        #expect(outcome.errors.contains("memory allocator: jemalloc"), "\(outcome.errors)")
    }

    /// The virtual broker knows its orders by ids derived from its seed: a server started with
    /// another seed than its books were kept with would never fill them, so it does not start.
    @Test func aVirtualBrokerSeedOtherThanTheBooksStopsTheStart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = directory.url.appendingPathComponent("data").path
        let port = try freePort()
        let first = try ChildProcess.start(
            "tradecore-server",
            ["--data-directory", data, "--port", "\(port)", "--admin-port", "0", "--virtual-broker-seed", "7"])
        try await waitForPort(port)
        first.signal(SIGTERM)
        #expect(await first.finish().status == 0)
        let other = try await runServer([
            "--data-directory", data, "--port", "0", "--admin-port", "0", "--virtual-broker-seed", "8",
        ])
        #expect(other.status == 64, "\(other.output)")
        #expect(other.output.contains("kept with seed 7, not 8"), "\(other.output)")
    }

    @Test func aMasterKeyOtherThanTheOneTheStoreWasUsedWithStopsTheStart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = directory.url.appendingPathComponent("data").path
        func startAndStop(_ extra: [String] = []) async throws -> ChildProcess.Outcome {
            let port = try freePort()
            let server = try ChildProcess.start(
                "tradecore-server", ["--data-directory", data, "--port", "\(port)", "--admin-port", "0"] + extra)
            try await waitForPort(port)
            server.signal(SIGTERM)
            return await server.finish()
        }
        let first = try await startAndStop()
        #expect(first.status == 0, "\(first.errors)")
        let keyFile = directory.url.appendingPathComponent("data/master.key")
        let key = try Data(contentsOf: keyFile)

        // The key file lost: a new key would not open the vault's credentials, and is not kept.
        try FileManager.default.removeItem(at: keyFile)
        let lost = try await runServer(["--data-directory", data, "--port", "0", "--admin-port", "0"])
        #expect(lost.status == 64, "\(lost.output)")
        #expect(lost.output.contains("master key file \(keyFile.path) is missing"), "\(lost.output)")
        #expect(!FileManager.default.fileExists(atPath: keyFile.path))

        // Another server's key, as a second server on a shared store given the wrong file.
        let other = directory.url.appendingPathComponent("other.key")
        try Data((Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() + "\n").utf8)
            .write(to: other)
        let wrong = try await runServer([
            "--data-directory", data, "--port", "0", "--admin-port", "0", "--master-key-file", other.path,
        ])
        #expect(wrong.status == 64, "\(wrong.output)")
        #expect(wrong.output.contains("this store was first used with another master key"), "\(wrong.output)")
        // The flags were right; what they name is not: no usage text.
        #expect(!wrong.output.contains("Usage:"), "\(wrong.output)")

        // Its own key back: it starts.
        try key.write(to: keyFile)
        let restored = try await startAndStop()
        #expect(restored.status == 0, "\(restored.errors)")
    }

    @Test func aTLSKeyThatIsNotTheCertificatesStopsTheStartBeforeTheStoreOpens() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let certificate = directory.url.appendingPathComponent("cert.pem").path
        let key = directory.url.appendingPathComponent("key.pem").path
        let otherKey = directory.url.appendingPathComponent("other.pem").path
        let made = try await ChildProcess.runSystem(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-keyout", key, "-out", certificate,
            ])
        let madeOther = try await ChildProcess.runSystem(
            "/usr/bin/openssl",
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", otherKey])
        #expect(made == 0 && madeOther == 0)
        let data = directory.url.appendingPathComponent("data")
        for (certificateFile, keyFile) in [(certificate, otherKey), (key, certificate)] {
            let (status, output) = try await runServer([
                "--data-directory", data.path, "--port", "0", "--admin-port", "0", "--tls-cert", certificateFile,
                "--tls-key", keyFile,
            ])
            #expect(status == 64 && output.contains("--tls-cert and --tls-key"), "\(output)")
            #expect(!FileManager.default.fileExists(atPath: data.path), "nothing is made for a start that cannot serve")
        }
    }

    @Test func aNonLoopbackAddressWithoutTokensStopsTheStartSayingWhy() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (status, output) = try await runServer([
            "--host", "0.0.0.0", "--port", "0", "--data-directory", directory.url.path,
        ])
        #expect(status != 0)
        #expect(output.contains("refusing to serve on 0.0.0.0 without API tokens"), "\(output)")
    }

    @Test func aDataDirectoryUnderAFileOrMissingTLSFilesStopTheStartSayingWhyAndLeaveNothing() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.url.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        for data in [file.appendingPathComponent("data"), file] {
            let (status, output) = try await runServer(["--data-directory", data.path])
            #expect(status != 0 && output.contains("\(file.path) is a file, not a directory"), "\(output)")
            #expect(!output.contains("NSCocoaErrorDomain") && !output.contains("UserInfo"), "\(output)")
        }
        let data = directory.url.appendingPathComponent("data")
        let (status, output) = try await runServer([
            "--data-directory", data.path, "--tls-cert", directory.url.appendingPathComponent("missing.pem").path,
            "--tls-key", directory.url.appendingPathComponent("missing.key").path,
        ])
        #expect(status != 0 && output.contains("--tls-cert") && output.contains("cannot read"), "\(output)")
        #expect(!FileManager.default.fileExists(atPath: data.path), "no store, no master key made")
    }

    @Test func settingsComeFromFlagsThenTheEnvironmentThenTheFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.url.appendingPathComponent("settings.json")
        try Data(#"{"port": "from-the-file", "logLevel": "warning"}"#.utf8).write(to: file)
        let base = ["--config", file.path, "--data-directory", directory.url.path]

        var (status, output) = try await runServer(base)
        #expect(status != 0 && output.contains("\"from-the-file\""), "\(output)")
        (status, output) = try await runServer(base, environment: ["TRADECORE_PORT": "from-the-environment"])
        #expect(status != 0 && output.contains("\"from-the-environment\""), "\(output)")
        (status, output) = try await runServer(
            base + ["--port", "from-the-flag"], environment: ["TRADECORE_PORT": "from-the-environment"])
        #expect(status != 0 && output.contains("\"from-the-flag\""), "\(output)")
        #expect(
            output.contains("--port") && output.contains("TRADECORE_PORT"), "the error names the setting: \(output)")

        (status, output) = try await runServer(["--config", directory.url.appendingPathComponent("missing.json").path])
        #expect(status != 0 && output.contains("does not exist"), "\(output)")
        // The metrics endpoint on the gRPC port: refused before anything binds, naming both.
        (status, output) = try await runServer(["--port", "50999", "--admin-port", "50999"])
        #expect(status == 64 && output.contains("--admin-port") && output.contains("--port"), "\(output)")
        // A negative number as its own argument is the value judged, not "a missing value".
        (status, output) = try await runServer(["--shutdown-grace-seconds", "-1"])
        #expect(status == 64 && output.contains(#"not "-1""#), "\(output)")
    }

    @Test func aSettingsFileWithAnUnknownKeyOrAValueOfTheWrongKindStopsTheStartSayingWhy() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.url.appendingPathComponent("settings.json")
        for (json, fragment) in [
            (#"{"prot": 50552}"#, #""prot", which is not a setting"#),
            (#"{"port": true}"#, "port in the configuration file"),
            (#"{"port": 50554.5}"#, "a number with a fraction"),
            (#"{"rebuildReadModels": 1}"#, "it takes true or false"),
            (#"[1, 2]"#, "is not a JSON object of settings"),
            (#"{"port": 5,, }"#, "is not valid JSON (Invalid value around character 11)"),
        ] {
            try Data(json.utf8).write(to: file)
            let (status, output) = try await runServer(["--config", file.path, "--data-directory", directory.url.path])
            #expect(status != 0 && output.contains(fragment), "\(json): \(output)")
        }
        // A file that is a pipe is read too: the port it sets is the one judged.
        let server = try builtExecutable("tradecore-server").path
        let piped = try await ChildProcess.run(
            "/bin/bash",
            [
                "-c", #"echo '{"port": 70000}' | "$0" --config /dev/stdin --data-directory "$1""#, server,
                directory.url.path,
            ])
        #expect(piped.status == 64 && piped.errors.contains("70000"), "\(piped.errors)")
    }

    @Test func aPortInUseStopsTheStartNamingTheAddressAndTheSetting() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A listener of our own on a free port of loopback.
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(socket >= 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(socket, generic, length) == 0 && listen(socket, 1) == 0
                    && getsockname(socket, generic, &length) == 0
            }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        var (status, output) = try await runServer([
            "--port", "\(port)", "--admin-port", "0", "--data-directory", directory.url.path,
        ])
        #expect(status == 64)
        #expect(output.contains("cannot listen on 127.0.0.1:\(port) (--host and --port"), "\(output)")
        #expect(output.contains("already in use"), "\(output)")
        (status, output) = try await runServer([
            "--port", "0", "--admin-port", "\(port)", "--data-directory", directory.url.path,
        ])
        #expect(status == 64)
        #expect(output.contains("cannot listen on 127.0.0.1:\(port) (--admin-host and --admin-port"), "\(output)")
        // Found before the store opens: no store and no master key are left for a start that
        // never served (the next start, on another port, would take them for its own).
        let made = (try? FileManager.default.contentsOfDirectory(atPath: directory.url.path)) ?? []
        #expect(made.isEmpty, "left behind: \(made)")
        // A host that does not resolve is named as the setting, before anything is made too.
        (status, output) = try await runServer(
            ["--host", "no-such-host.invalid", "--port", "50998", "--data-directory", directory.url.path],
            environment: ["TRADECORE_API_TOKENS": "service:ops=0123456789abcdef"])
        #expect(
            status == 64 && output.contains("(--host and --port") && output.contains("does not resolve"), "\(output)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: directory.url.path))?.isEmpty == true)
    }

    @Test func aMasterKeyFileThatIsMissingOrNotAKeyStopsTheStartAsASettingDoes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = directory.url.appendingPathComponent("missing.key").path
        var (status, output) = try await runServer([
            "--port", "0", "--admin-port", "0", "--data-directory", directory.url.path, "--master-key-file", missing,
        ])
        #expect(status == 64 && output.contains("the master key file \(missing) does not exist"), "\(output)")
        let short = directory.url.appendingPathComponent("short.key")
        try Data("c2hvcnQ=\n".utf8).write(to: short)
        (status, output) = try await runServer([
            "--port", "0", "--admin-port", "0", "--data-directory", directory.url.path, "--master-key-file", short.path,
        ])
        #expect(status == 64 && output.contains("must hold the base64 of at least"), "\(output)")
    }

    @Test func aMisspeltEnvironmentVariableIsNamedWithTheSettingItResembles() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A bad port stops the start once the settings are read, after the warnings, which come
        // first: a misspelt variable may be why the settings are refused.
        let (status, output) = try await runServer(
            ["--port", "not-a-port", "--data-directory", directory.url.path],
            environment: [
                "TRADECORE_DATA_DIRECTROY": "/elsewhere", "TRADECORE_SERVER": "127.0.0.1:1",
                "TRADECORE_DEPLOYMENT": "blue",
            ])
        #expect(status == 64, "\(output)")
        #expect(
            output.contains(
                "TRADECORE_DATA_DIRECTROY is not a setting, and is ignored: did you mean TRADECORE_DATA_DIRECTORY?"),
            "\(output)")
        #expect(output.contains("TRADECORE_DEPLOYMENT is not a setting, and is ignored\n"), "\(output)")
        #expect(!output.contains("TRADECORE_SERVER is not"), "the CLI's variable is left alone: \(output)")
    }

    @Test func anAPITokenThatDoesNotParseStopsTheStartSayingWhy() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for (tokens, fragment) in [
            ("nobody", "must look like service:<name>=<token>"),
            ("robot:x=0123456789abcdef", "use service:<name> or user:<uuid>"),
            ("service:ops=short", "too short"), ("service:ops=sha256:abc", "64 hex digits"),
        ] {
            let (status, output) = try await runServer(
                ["--port", "0", "--data-directory", directory.url.path], environment: ["TRADECORE_API_TOKENS": tokens])
            #expect(status != 0 && output.contains(fragment), "\(tokens): \(output)")
            #expect(!output.contains("0123456789abcdef"), "the error shows no token")
        }
    }
}
