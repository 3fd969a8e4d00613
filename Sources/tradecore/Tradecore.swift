import ArgumentParser
import Foundation
import HTTP2RPC
import TradeCoreClient
import TradeCoreMessages
import WireFormat

/// `tradecore`: drives a TradeCore server from a terminal.
@main
struct Tradecore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tradecore",
        abstract: "Send TradeCore commands and queries, tail its events, and load-test it.",
        discussion: """
            The server, token and TLS come from flags or TRADECORE_SERVER, TRADECORE_TOKEN and \
            TRADECORE_CA_FILE. Output is text by default; --json prints one JSON object per line \
            (per event, for streams), and --field NAME only that field's value. The exit status is \
            the call's gRPC status code (0 for OK, 3 INVALID_ARGUMENT, 5 NOT_FOUND, 7 \
            PERMISSION_DENIED, 14 UNAVAILABLE, 16 UNAUTHENTICATED, ...), 64 for a command line that \
            does not parse.
            """,
        version: TradeCoreVersion.current,
        subcommands: [
            OrderCommand.self, AutomationCommand.self, BrokerCommand.self, AccountCommand.self, EventsCommand.self,
            StreamCommand.self, HealthCommand.self, ServerCommand.self, BenchCommand.self, NewIDCommand.self,
        ])

    /// Runs the command line; a line that does not parse is reported in one line (what is wrong, and
    /// where to look) with exit status 64, help and completions as the parser prints them.
    static func main() async {
        if let unknown = unknownHelpTopic(Array(CommandLine.arguments.dropFirst())) {
            // The parser would print the top-level help for it and exit 0.
            FileHandle.standardError.write(Data("error: \(unknown) (see tradecore --help)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            // A failure the CLI itself found, during a call or after it: one line and its code.
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                let path = commandPath(Array(CommandLine.arguments.dropFirst()))
                FileHandle.standardError.write(Data("error: \(message(for: error)) (see \(path) --help)\n".utf8))
                Foundation.exit(code.rawValue)
            }
            exit(withError: error)
        }
    }
}

extension Tradecore {
    /// The command the arguments name, as far as its leading words are commands: `tradecore order
    /// create` for `order create --user …`, `tradecore` for a word that is not a command, so that
    /// an error's hint points at help that exists.
    static func commandPath(_ arguments: [String]) -> String {
        var command: any ParsableCommand.Type = Tradecore.self
        var path = "tradecore"
        for name in arguments.prefix(while: { !$0.hasPrefix("-") }) {
            guard let next = command.configuration.subcommands.first(where: { $0._commandName == name }) else { break }
            command = next
            path += " " + name
        }
        return path
    }

    /// For `tradecore help NAME...`: what is wrong when a name is not a command under the one before.
    static func unknownHelpTopic(_ arguments: [String]) -> String? {
        guard arguments.first == "help" else { return nil }
        var command: any ParsableCommand.Type = Tradecore.self
        var path = "tradecore"
        // The names before the first option (after it, a word may be an option's value).
        for name in arguments.dropFirst().prefix(while: { !$0.hasPrefix("-") }) {
            guard let next = command.configuration.subcommands.first(where: { $0._commandName == name }) else {
                return "'\(name)' is not a command of \(path)"
            }
            command = next
            path += " \(name)"
        }
        return nil
    }
}

/// Where the server is and how to reach it.
struct ConnectionOptions: ParsableArguments {
    @Option(
        help: """
            The server, HOST:PORT, or http://HOST:PORT (cleartext) or https://HOST:PORT (TLS; port 443 \
            when left out). [env: TRADECORE_SERVER] (default: 127.0.0.1:50051)
            """)
    var server: String?

    @Option(help: "The bearer token. [env: TRADECORE_TOKEN]")
    var token: String?

    @Flag(help: "Use TLS (implied by --ca-file).")
    var tls = false

    @Option(help: "PEM file of the CA to verify the server with. [env: TRADECORE_CA_FILE]")
    var caFile: String?

    @Option(help: "The name to verify the server's certificate against (default: the host).")
    var serverName: String?

    @Option(
        parsing: .unconditional,
        help: "Seconds each call may take, its retries included (not a tail of events: it runs until stopped).")
    var timeout: Double = 10

    func validate() throws {
        // An http:// server is asked for in so many words: TRADECORE_CA_FILE, set for other calls,
        // does not contradict it; the flags, given with it on one command line, do.
        if try endpoint().tls == false && (tls || caFile != nil) {
            throw ValidationError(
                "--server http://... is cleartext, but --tls or --ca-file ask for TLS: use https://...")
        }
        _ = try bearerToken()
        guard timeout > 0, timeout <= 3_600 else {
            throw ValidationError("--timeout must be more than 0 and at most 3600 seconds")
        }
        if let file = try caFileInUse(),
            !FileManager.default.isReadableFile(atPath: file)
        {
            throw ValidationError("--ca-file (or TRADECORE_CA_FILE): cannot read \(file)")
        }
        if let file = try caFileInUse(),
            let contents = FileManager.default.contents(atPath: file),
            !String(decoding: contents, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----")
        {
            throw ValidationError(
                "--ca-file (or TRADECORE_CA_FILE): \(file) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        }
    }

    /// The server's host and port, and whether its URL asked for TLS (`https://`) or for none
    /// (`http://`); `tls` is nil for a bare HOST:PORT, which leaves it to `--tls` and `--ca-file`.
    func endpoint() throws -> (host: String, port: Int, tls: Bool?) {
        let environment = ProcessInfo.processInfo.environment["TRADECORE_SERVER"]
        let given = server ?? environment ?? "127.0.0.1:50051"
        let source = server == nil && environment != nil ? "TRADECORE_SERVER" : "--server"
        let refusal = ValidationError(
            "\(source) must be HOST:PORT (such as 127.0.0.1:50051), http://HOST:PORT or https://HOST:PORT, not \"\(given)\""
        )
        var text = Substring(given)
        var tls: Bool?
        if let separator = text.range(of: "://") {
            switch text[..<separator.lowerBound].lowercased() {
            case "http": tls = false
            case "https": tls = true
            default: throw refusal
            }
            text = text[separator.upperBound...]
            if text.hasSuffix("/") { text = text.dropLast() }
        }
        // An IPv6 address has colons of its own: a port follows only the last one, after any `]`.
        let colon = text.lastIndex(of: ":").flatMap { colon in text[colon...].contains("]") ? nil : colon }
        let hostPart = colon.map { text[..<$0] } ?? text
        let port: Int?
        if let colon {
            port = Int(text[text.index(after: colon)...])
        } else {
            port = tls == true ? 443 : nil
        }
        guard let port, (1...65_535).contains(port), !hostPart.isEmpty, !hostPart.contains("/") else { throw refusal }
        var host = String(hostPart)
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port, tls)
    }

    /// The token to send: `--token`, else TRADECORE_TOKEN unless it is empty (unset, in effect),
    /// without white space at its ends. One that cannot go in an HTTP header, or an empty
    /// `--token`, is refused here rather than by the server as a malformed call.
    func bearerToken() throws -> String? {
        let given =
            token.map { ("--token", $0) }
            ?? ProcessInfo.processInfo.environment["TRADECORE_TOKEN"].map {
                ("TRADECORE_TOKEN", $0)
            }
        guard let (source, raw) = given else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            guard source == "--token" else { return nil }
            throw ValidationError("--token is empty; leave it out to send no token")
        }
        guard trimmed.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw ValidationError("\(source): a token is printable ASCII without spaces")
        }
        return trimmed
    }

    /// The CA file the connection verifies the server with: `--ca-file`, else TRADECORE_CA_FILE
    /// unless the server is an http:// one.
    func caFileInUse() throws -> String? {
        if let caFile { return caFile }
        guard try endpoint().tls != false else { return nil }
        return ProcessInfo.processInfo.environment["TRADECORE_CA_FILE"]
    }

    func client(attempts: Int = 3) throws -> TradeCoreClient {
        let (host, port, urlTLS) = try endpoint()
        return TradeCoreClient(
            configuration: .init(
                host: host, port: port, token: try bearerToken(), caFile: try caFileInUse(), serverName: serverName,
                useTLS: tls || urlTLS == true,
                timeout: .milliseconds(Int64(timeout * 1_000)), attempts: attempts))
    }
}

/// How results are printed.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON, one object per line.")
    var json = false

    @Option(
        name: .customLong("field"),
        help: ArgumentHelp(
            "Print only this field of the result (its name in the .proto file, e.g. order_id).",
            discussion:
                "Repeat it for several: their values on one line, tab-separated (with --json, an object of them). "
                + "Times print as the nanoseconds the schema holds."))
    var fields: [String] = []

    /// Whether the whole result is printed (no `--field`).
    var printsWhole: Bool { fields.isEmpty }

    /// Refuses a `--field` that no result has before anything is sent: a typo must not be found
    /// only after the command was applied.
    func validate() throws {
        for field in fields where !MessagePrinter.fieldNames.contains(field) {
            throw ValidationError(
                "--field: no result has a field named \"\(field)\" (use its .proto name, e.g. order_id)")
        }
    }

    /// Refuses a `--field` that the command's result (one of `types`) does not have, before
    /// anything is sent: a command that ran must not then fail for a typo in how to print it.
    func check(_ types: any ProtoMessage.Type...) throws {
        let names = Set(types.flatMap { MessagePrinter.fields(of: $0)?.map(\.name) ?? [] })
        for field in fields where !names.contains(field) {
            throw ValidationError(
                "--field: this command's result has no field named \"\(field)\"; it has "
                    + names.sorted().joined(separator: ", "))
        }
    }

    /// Prints a message as asked.
    func print(_ message: some ProtoMessage) throws {
        guard printsWhole else {
            try printFields(of: "its result (\(type(of: message).protoMessageName))") {
                MessagePrinter.field($0, of: message)
            }
            return
        }
        try print(MessagePrinter.value(of: message))
    }

    func print(_ value: Value) throws {
        if !printsWhole {
            try printFields(of: "the result") { value[$0] }
        } else if json {
            Swift.print(value.json)
        } else {
            Swift.print(value.lines().joined(separator: "\n"))
        }
    }

    /// The `--field` values found by `lookup`: one as it is (JSON, or plain text), several on one
    /// line, tab-separated, or as one JSON object.
    private func printFields(of result: String, _ lookup: (String) -> Value?) throws {
        Swift.print(try fieldsLine(of: result, lookup))
    }

    /// The line `--field` prints for one result, whose values `lookup` finds.
    func fieldsLine(of result: String, _ lookup: (String) -> Value?) throws -> String {
        var found: [(String, Value)] = []
        for field in fields {
            guard let value = lookup(field) else {
                throw CLIError("the call succeeded, but \(result) has no field \(field)", exitCode: 64)
            }
            found.append((field, value))
        }
        if json { return found.count == 1 ? found[0].1.json : Value.object(found).json }
        return found.map(\.1.fieldText).joined(separator: "\t")
    }
}

/// A failure the CLI reports in one line, with its exit code.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32

    init(_ description: String, exitCode: Int32) {
        self.description = description
        self.exitCode = exitCode
    }
}

extension ConnectionOptions {
    /// Opens a client, makes one call with it through ``calling(_:)``, and closes it.
    func call<Result: Sendable>(_ body: (TradeCoreClient) async throws -> Result) async throws -> Result {
        let client = try client()
        do {
            let result = try await calling { try await body(client) }
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}

/// Runs a call and turns its failure into one line on stderr and the status as the exit code
/// (a ``CLIError`` goes through to `main`, which does the same with its own code).
func calling<Result>(_ body: () async throws -> Result) async throws -> Result {
    do {
        return try await body()
    } catch let error as TradeCoreError {
        FileHandle.standardError.write(Data("error: \(explain(error))\n".utf8))
        throw ExitCode(Int32(error.code.rawValue))
    }
}

/// A status as a person can act on it.
func explain(_ error: TradeCoreError) -> String {
    let explained = explainStatus(error)
    guard error.outcomeUnknown, let id = error.commandID else { return explained }
    return explained + "\nThe command may have been applied: send it again with --command-id "
        + "\(id.uuidString.lowercased()) to apply it once, or to get its first result."
}

private func explainStatus(_ error: TradeCoreError) -> String {
    // Only a failure to connect is ours to explain; an UNAVAILABLE the server sent says why itself.
    let connecting = error.message.hasPrefix("cannot connect to")
    switch error.code {
    case .unavailable where error.message.contains("certificate was refused"):
        return "UNAVAILABLE: \(error.message); check --ca-file (or TRADECORE_CA_FILE) and --server-name"
    case .unavailable where connecting:
        return "UNAVAILABLE: \(error.message); is the server running, and is --server right?"
    case .unauthenticated:
        return "UNAUTHENTICATED: \(error.message) (give a token with --token or TRADECORE_TOKEN)"
    case .notFound, .outOfRange, .deadlineExceeded:
        // The server names the request's field; here it is an option.
        return error.description.replacingOccurrences(of: "min_position", with: "--min-position")
    default:
        return error.description
    }
}

// MARK: - Values from the command line

extension UUID: @retroactive ExpressibleByArgument {
    public init?(argument: String) {
        self.init(uuidString: argument)
    }
}

/// Decimals are typed as people write them (`150.50`, `.5`, `+3`, `007`) and sent in the
/// canonical form the wire requires (`150.5`, `0.5`, `3`, `7`).
extension ExactDecimal: ExpressibleByArgument {
    public init?(argument: String) {
        var text = Substring(argument.trimmingCharacters(in: .whitespaces))
        var negative = false
        if let sign = text.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            text = text.dropFirst()
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, parts.count <= 2, !text.isEmpty, text != ".",
            whole.allSatisfy(\.isASCIIDigit), parts.count < 2 || parts[1].allSatisfy(\.isASCIIDigit)
        else { return nil }
        var integer = whole.drop { $0 == "0" }
        if integer.isEmpty { integer = "0" }
        var fraction = parts.count == 2 ? parts[1] : ""
        while fraction.last == "0" { fraction = fraction.dropLast() }
        let canonical = integer + (fraction.isEmpty ? "" : "." + fraction)
        let isZero = canonical == "0"
        self.init((negative && !isZero ? "-" : "") + canonical)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// An enum of the schema, named on the command line in kebab case (`stop-limit`,
/// `good-till-cancelled`), with its completions.
struct Choice<E: ProtoEnum>: ExpressibleByArgument, Sendable {
    let value: E

    init?(argument: String) {
        let wanted = argument.lowercased().replacingOccurrences(of: "_", with: "-")
        guard
            let value = E.allCases.first(where: {
                Self.name(of: $0) == wanted || Self.aliases[Self.name(of: $0)] == wanted
            })
        else { return nil }
        self.value = value
    }

    static var allValueStrings: [String] { E.allCases.map(name(of:)) }

    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }

    /// Short names people use.
    private static var aliases: [String: String] {
        ["good-till-cancelled": "gtc", "immediate-or-cancel": "ioc", "fill-or-kill": "fok"]
    }

    static func name(of value: E) -> String {
        var name = ""
        for character in String(describing: value) {
            if character.isUppercase, !name.isEmpty { name.append("-") }
            name.append(character.lowercased())
        }
        return name
    }
}
