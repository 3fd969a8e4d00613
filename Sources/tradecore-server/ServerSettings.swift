import Configuration
import Foundation
import Logging
import TradeCoreAPI

/// Everything the server is started with, from one precedence: command-line flags, then
/// `TRADECORE_*` environment variables, then the JSON file named by `--config` (or
/// `TRADECORE_CONFIG`), then the defaults. Keys are the flags' names in camel case in the file
/// (`dataDirectory`) and in upper snake case after `TRADECORE_` in the environment
/// (`TRADECORE_DATA_DIRECTORY`). A value that does not parse stops the start, naming the setting
/// and where it came from.
struct ServerSettings: Sendable {
    var host = "127.0.0.1"
    var port = 50051
    var tlsCert: String?
    var tlsKey: String?
    var maxConcurrentStreams: UInt32 = 256
    var maxMessageSize = 4 << 20
    var shutdownGraceSeconds: Int64 = 10
    var dataDirectory = ".data/tradecore"
    var logLevel = Logger.Level.info
    var apiTokens: [String] = []
    var masterKeyFile: String?
    var webhookBaseURL = "https://hooks.tradecore.invalid"
    var adminHost = "127.0.0.1"
    /// 0 disables the admin endpoint.
    var adminPort = 9464
    var virtualBrokerSeed: UInt64 = 42
    var fillPollMilliseconds = 100
    /// The PostgreSQL store shared by several servers; `nil` keeps the embedded SQLite store.
    var postgresURL: String?
    var postgresSchema = "tradecore"
    /// Empty every read model and rebuild it from the log before serving.
    var rebuildReadModels = false

    /// The keys, as flags name them.
    enum Key: String, CaseIterable {
        case host, port, tlsCert, tlsKey, maxConcurrentStreams, maxMessageSize, shutdownGraceSeconds
        case dataDirectory, logLevel, apiTokens, masterKeyFile, webhookBaseURL, adminHost, adminPort
        case virtualBrokerSeed, fillPollMilliseconds, postgresURL, postgresSchema, rebuildReadModels

        /// The environment variable that sets it.
        var environmentName: String { "TRADECORE_" + words.joined(separator: "_").uppercased() }

        /// The setting as an error names it: its key in a settings file, its flag and its variable.
        var named: String { "\(rawValue) (--\(flag), \(environmentName), or \"\(rawValue)\" in the --config file)" }

        /// The words of the name, split where a lowercase letter meets an uppercase one, as
        /// swift-configuration splits keys (`webhookBaseURL`: webhook, Base, URL).
        var words: [String] {
            var words: [String] = []
            var previous: Character?
            for character in rawValue {
                if let previous, previous.isLowercase, character.isUppercase || words.isEmpty { words.append("") }
                if words.isEmpty { words.append("") }
                words[words.count - 1].append(character)
                previous = character
            }
            return words
        }

        /// Whether it is a whole number (read with `number(_:_:)`).
        var isWholeNumber: Bool {
            switch self {
            case .port, .maxConcurrentStreams, .maxMessageSize, .shutdownGraceSeconds, .adminPort, .virtualBrokerSeed,
                .fillPollMilliseconds:
                true
            default: false
            }
        }

        /// Values kept out of logs and messages: tokens, and the database URL (it may hold a password).
        var isSecret: Bool { self == .apiTokens || self == .postgresURL }
    }

    /// Reads the settings: `flags` are the values given on the command line.
    static func load(flags: [Key: String], configFile: String?) async throws -> ServerSettings {
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags {
            flagValues[AbsoluteConfigKey([key.rawValue])] =
                key == .apiTokens
                ? ConfigValue(.stringArray(value.split(separator: ",").map(String.init)), isSecret: true)
                : ConfigValue(.string(value), isSecret: key.isSecret)
        }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: flagValues),
            EnvironmentVariablesProvider(
                secretsSpecifier: .specific([Key.apiTokens.environmentName, Key.postgresURL.environmentName])
            )
            .prefixKeys(with: "tradecore"),
        ]
        let file = configFile ?? ProcessInfo.processInfo.environment["TRADECORE_CONFIG"]
        if let file {
            guard FileManager.default.fileExists(atPath: file) else {
                throw ConfigurationError("the configuration file \(file) does not exist")
            }
            let contents: Data
            do {
                contents = try FileHandle(forReadingFrom: URL(fileURLWithPath: file)).readToEnd() ?? Data()
            } catch {
                throw ConfigurationError("cannot read the configuration file \(file): \(error.localizedDescription)")
            }
            try checkFile(file, contents)
            // The library reads the file itself; a pipe (`--config /dev/stdin`, `<(...)`), already
            // read, is given to it as a private copy of what was checked.
            var path = file
            let copy = try isRegularFile(file) ? nil : privateCopy(of: contents, from: file)
            if let copy { path = copy.path }
            defer { if let copy { try? FileManager.default.removeItem(at: copy) } }
            do {
                providers.append(
                    try await FileProvider<JSONSnapshot>(
                        config: ConfigReader(
                            provider: InMemoryProvider(values: ["filePath": .init(.string(path), isSecret: false)]))))
            } catch {
                throw ConfigurationError("the configuration file \(file) is not a JSON object of settings: \(error)")
            }
        }
        return try ServerSettings(reading: ConfigReader(providers: providers))
    }

    private static func isRegularFile(_ path: String) throws -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { throw ConfigurationError("cannot read the configuration file \(path)") }
        return info.st_mode & S_IFMT == S_IFREG
    }

    /// `contents` in a new file only its owner can read (it may hold tokens), made so from the start.
    private static func privateCopy(of contents: Data, from file: String) throws -> URL {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("tradecore-config-\(UUID()).json")
        let descriptor = open(copy.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw ConfigurationError("cannot copy the configuration file \(file)") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: contents)
        } catch {
            try? FileManager.default.removeItem(at: copy)
            throw ConfigurationError("cannot copy the configuration file \(file): \(error.localizedDescription)")
        }
        return copy
    }

    /// A JSON value of the settings file, as written: a number is not read as a flag, nor `true`
    /// as a port.
    private enum FileValue: Decodable {
        case bool, integer, fraction, text, texts, other

        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            // In this order: JSON's true is not a number here, nor 1 a Bool.
            let kinds: [(any Decodable.Type, FileValue)] = [
                (Bool.self, .bool), (Int64.self, .integer), (Double.self, .fraction), (String.self, .text),
                ([String].self, .texts),
            ]
            self = kinds.first { type, _ in (try? value.decode(type)) != nil }?.1 ?? .other
        }

        var kind: String {
            switch self {
            case .bool: "true or false"
            case .integer: "a whole number"
            case .fraction: "a number with a fraction"
            case .text: "text"
            case .texts: "a list"
            case .other: "neither text, a number nor true or false"
            }
        }

        /// Whether a setting of `key` may be written so (text always: it is parsed as the flag's).
        func fits(_ key: Key) -> Bool {
            switch self {
            case .text: true
            case .integer: key.isWholeNumber
            case .bool: key == .rebuildReadModels
            case .texts: key == .apiTokens
            case .fraction, .other: false
            }
        }
    }

    /// `TRADECORE_*` variables the CLI reads, the one that names the settings file, and the test
    /// tools' (`Tools/test.sh`): set in the same shell as a server's, not misspelt settings.
    static let otherEnvironmentNames: Set<String> = [
        "TRADECORE_CONFIG", "TRADECORE_SERVER", "TRADECORE_TOKEN", "TRADECORE_CA_FILE", "TRADECORE_API_SECRET",
        "TRADECORE_BIN_PATH",
        "TRADECORE_REQUIRE_POSTGRES", "TRADECORE_TEST_POSTGRES_URL",
    ]

    /// What to say about each `TRADECORE_*` variable in `environment` that is no setting: the
    /// configuration library takes it as absent, so a misspelt one would silently keep the
    /// default. Not refused, as an unknown key in the file is: a deployment may set variables of
    /// its own under the prefix.
    static func unknownEnvironmentVariables(in environment: [String: String]) -> [String] {
        let known = Set(Key.allCases.map(\.environmentName)).union(otherEnvironmentNames)
        return environment.keys.filter { $0.hasPrefix("TRADECORE_") && !known.contains($0) }.sorted().map { name in
            let nearest = Key.allCases.map(\.environmentName).min {
                editDistance(name, $0) < editDistance(name, $1)
            }
            if let nearest, editDistance(name, nearest) <= 3 {
                return "\(name) is not a setting, and is ignored: did you mean \(nearest)?"
            }
            return "\(name) is not a setting, and is ignored"
        }
    }

    /// The number of one-character insertions, deletions and substitutions from `a` to `b`.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            current.reserveCapacity(b.count + 1)
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Checks the file before the configuration library reads it, which would take a key it does
    /// not know as absent (a misspelt setting silently keeping its default) and `true` as the
    /// number 1: every key must be a setting, and every value of a kind the setting takes.
    private static func checkFile(_ file: String, _ contents: Data) throws {
        let values: [String: FileValue]
        do {
            values = try JSONDecoder().decode([String: FileValue].self, from: contents)
        } catch {
            // The decoder does not say where JSON goes wrong; the parser does.
            var problem = "not a JSON object of settings"
            do {
                _ = try JSONSerialization.jsonObject(with: contents)
            } catch {
                let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
                problem =
                    "not valid JSON" + (detail.map { " (\($0.trimmingCharacters(in: .punctuationCharacters)))" } ?? "")
            }
            throw ConfigurationError("the configuration file \(file) is \(problem)")
        }
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            guard let key = Key(rawValue: name) else {
                throw ConfigurationError(
                    "the configuration file \(file) sets \"\(name)\", which is not a setting; the settings are "
                        + Key.allCases.map(\.rawValue).joined(separator: ", "))
            }
            guard value.fits(key) else {
                let takes =
                    key.isWholeNumber ? "a whole number" : key == .rebuildReadModels ? "true or false" : "text"
                throw ConfigurationError(
                    "\(name) in the configuration file \(file) is \(value.kind), which it cannot be; it takes \(takes)")
            }
        }
    }

    private init(reading config: ConfigReader) throws {
        // An empty value (an unset variable in `TRADECORE_X=$X`, a blank flag) is refused, not
        // read as absent: it would quietly take a lower source's value or the default, and for
        // a PostgreSQL URL or the API tokens that is another store, or no authentication.
        func text(_ key: Key) throws -> String? {
            let name = ConfigKey([key.rawValue])
            if let value = config.string(forKey: name, isSecret: key.isSecret) {
                guard !value.allSatisfy(\.isWhitespace) else {
                    throw ConfigurationError("\(key.named) is empty: give it a value, or leave it unset")
                }
                return value
            }
            if let value = config.int(forKey: name) { return String(value) }
            if let value = config.bool(forKey: name) { return String(value) }
            return nil
        }
        func number<N: FixedWidthInteger>(_ key: Key, _ range: ClosedRange<N>) throws -> N? {
            guard let value = try text(key) else { return nil }
            guard let number = N(value), range.contains(number) else {
                throw ConfigurationError(
                    "\(key.named) must be a whole number from "
                        + "\(range.lowerBound) to \(range.upperBound), not \"\(value)\"")
            }
            return number
        }
        host = try text(.host) ?? host
        port = try number(.port, 0...65_535) ?? port
        tlsCert = try text(.tlsCert)
        tlsKey = try text(.tlsKey)
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ConfigurationError("tlsCert and tlsKey (--tls-cert, --tls-key) go together")
        }
        // Checked before the store opens and a master key is made: a start that cannot serve
        // should leave nothing behind.
        for (file, name) in [(tlsCert, Key.tlsCert.named), (tlsKey, Key.tlsKey.named)] {
            if let file, !FileManager.default.isReadableFile(atPath: file) {
                throw ConfigurationError("\(name): cannot read \(file)")
            }
        }
        maxConcurrentStreams = try number(.maxConcurrentStreams, 1...UInt32.max) ?? maxConcurrentStreams
        maxMessageSize = try number(.maxMessageSize, 1...Int(UInt32.max)) ?? maxMessageSize
        shutdownGraceSeconds = try number(.shutdownGraceSeconds, 0...86_400) ?? shutdownGraceSeconds
        dataDirectory = try text(.dataDirectory) ?? dataDirectory
        if let level = try text(.logLevel) {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError(
                    "\(Key.logLevel.named) must be one of trace, debug, info, notice, warning, error, critical, not \"\(level)\""
                )
            }
            logLevel = parsed
        }
        let tokens = ConfigKey([Key.apiTokens.rawValue])
        let givenTokens =
            try config.stringArray(forKey: tokens, isSecret: true)
            ?? text(.apiTokens).map { $0.split(separator: ",").map(String.init) }
        if let givenTokens {
            apiTokens = givenTokens.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            // Blank entries only (`TRADECORE_API_TOKENS=" "`): as empty as an empty value. A file's
            // explicit `[]` says no tokens, and is taken at its word.
            guard !apiTokens.isEmpty || givenTokens.isEmpty else {
                throw ConfigurationError("\(Key.apiTokens.named) is empty: give it a value, or leave it unset")
            }
        }
        masterKeyFile = try text(.masterKeyFile)
        webhookBaseURL = try text(.webhookBaseURL) ?? webhookBaseURL
        guard webhookBaseURL.hasPrefix("https://") || webhookBaseURL.hasPrefix("http://") else {
            throw ConfigurationError("\(Key.webhookBaseURL.named) must be an http:// or https:// URL")
        }
        adminHost = try text(.adminHost) ?? adminHost
        adminPort = try number(.adminPort, 0...65_535) ?? adminPort
        // The same port on the same address (or on every address) is taken twice.
        let wildcards: Set<String> = ["0.0.0.0", "::", "[::]"]
        let sameAddress = adminHost == host || wildcards.contains(adminHost) || wildcards.contains(host)
        guard adminPort == 0 || adminPort != port || !sameAddress else {
            throw ConfigurationError(
                "\(Key.adminPort.named) and \(Key.port.named) are both "
                    + "\(port): the metrics endpoint needs a port of its own (0 turns it off)")
        }
        virtualBrokerSeed = try number(.virtualBrokerSeed, 0...UInt64.max) ?? virtualBrokerSeed
        fillPollMilliseconds = try number(.fillPollMilliseconds, 5...60_000) ?? fillPollMilliseconds
        postgresURL = try text(.postgresURL)
        postgresSchema = try text(.postgresSchema) ?? postgresSchema
        if let rebuild = try text(.rebuildReadModels) {
            switch rebuild.lowercased() {
            case "true", "1", "yes": rebuildReadModels = true
            case "false", "0", "no": rebuildReadModels = false
            default:
                throw ConfigurationError(
                    "\(Key.rebuildReadModels.named) must be true or false (or yes or no, 1 or 0), not \"\(rebuild)\"")
            }
        }
    }
}

extension ServerSettings.Key {
    /// The command-line flag, without its dashes.
    var flag: String { words.joined(separator: "-").lowercased() }
}
