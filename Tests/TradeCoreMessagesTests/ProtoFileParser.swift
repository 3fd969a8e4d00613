/// A parser for the subset of proto3 that `Schemas/*.proto` uses: `syntax`, `package`,
/// `import`, `option`, top-level `message` (fields, `optional`, `repeated`, `map<,>`, `oneof`)
/// and `enum`, and `service` with unary or streaming `rpc`s. `//` comments only; a field's
/// trailing comment may carry the tags `[required]`, `[uuid]` and `[decimal]`.
///
/// Anything else is reported as an error rather than skipped, so the drift test cannot pass by
/// ignoring part of a schema.
struct ProtoFile {
    struct Field: Equatable {
        var name: String
        var number: Int
        /// As written: `string`, `OrderSide`, `tradecore.common.v1.OrderSide`, `map<string, string>`.
        var type: String
        var label: String  // "singular", "optional", "repeated"
        var oneof: String?
        var tags: Set<String>
    }

    struct Message {
        var name: String
        var fields: [Field] = []
    }

    struct EnumValue: Equatable {
        var name: String
        var number: Int
    }

    struct Enum {
        var name: String
        var values: [EnumValue] = []
    }

    struct RPC {
        var name: String
        var request: String
        var response: String
        var clientStreaming: Bool
        var serverStreaming: Bool
    }

    struct Service {
        var name: String
        var rpcs: [RPC] = []
    }

    struct ParseError: Error, CustomStringConvertible {
        var file: String
        var line: Int
        var message: String
        var description: String { "\(file):\(line): \(message)" }
    }

    var fileName: String
    var package = ""
    var imports: [String] = []
    var messages: [Message] = []
    var enums: [Enum] = []
    var services: [Service] = []

    init(fileName: String, text: String) throws {
        self.fileName = fileName
        enum Scope {
            case file
            case message(Message)
            case oneof(Message, String)
            /// An enum declared inside a message; recorded as `Message.Enum`.
            case nestedEnumeration(Message, Enum)
            case enumeration(Enum)
            case service(Service)
        }
        var scope = Scope.file
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            func fail(_ message: String) -> ParseError {
                ParseError(file: fileName, line: lineNumber, message: message)
            }
            var line = Substring(rawLine)
            var comment = Substring("")
            if let slashes = line.firstRange(of: "//") {
                comment = line[slashes.upperBound...]
                line = line[..<slashes.lowerBound]
            }
            let tokens = Self.tokenize(line)
            if tokens.isEmpty { continue }

            switch scope {
            case .file:
                switch tokens[0] {
                case "syntax":
                    guard tokens == ["syntax", "=", "\"proto3\"", ";"] else {
                        throw fail("expected syntax = \"proto3\";")
                    }
                case "package":
                    guard tokens.count == 3, tokens[2] == ";" else { throw fail("bad package line") }
                    package = tokens[1]
                case "import":
                    guard tokens.count == 3, tokens[2] == ";" else { throw fail("bad import line") }
                    imports.append(String(tokens[1].dropFirst().dropLast()))
                case "option":
                    continue
                case "message":
                    guard tokens.count == 3, tokens[2] == "{" else { throw fail("bad message line") }
                    scope = .message(Message(name: tokens[1]))
                case "enum":
                    guard tokens.count == 3, tokens[2] == "{" else { throw fail("bad enum line") }
                    scope = .enumeration(Enum(name: tokens[1]))
                case "service":
                    guard tokens.count == 3, tokens[2] == "{" else { throw fail("bad service line") }
                    scope = .service(Service(name: tokens[1]))
                default:
                    throw fail("unexpected \(tokens[0]) at file level")
                }
            case .message(var message):
                if tokens == ["}"] {
                    messages.append(message)
                    scope = .file
                } else if tokens[0] == "oneof" {
                    guard tokens.count == 3, tokens[2] == "{" else { throw fail("bad oneof line") }
                    scope = .oneof(message, tokens[1])
                } else if tokens[0] == "enum" {
                    guard tokens.count == 3, tokens[2] == "{" else { throw fail("bad enum line") }
                    scope = .nestedEnumeration(message, Enum(name: message.name + "." + tokens[1]))
                } else {
                    message.fields.append(try Self.field(tokens, oneof: nil, comment: comment, fail: fail))
                    scope = .message(message)
                }
            case .oneof(var message, let name):
                if tokens == ["}"] {
                    scope = .message(message)
                } else {
                    let field = try Self.field(tokens, oneof: name, comment: comment, fail: fail)
                    guard field.label == "singular" else { throw fail("oneof members take no label") }
                    message.fields.append(field)
                    scope = .oneof(message, name)
                }
            case .nestedEnumeration(let message, var enumeration):
                if tokens == ["}"] {
                    enums.append(enumeration)
                    scope = .message(message)
                } else {
                    guard tokens.count == 4, tokens[1] == "=", tokens[3] == ";", let number = Int(tokens[2]) else {
                        throw fail("bad enum value")
                    }
                    enumeration.values.append(EnumValue(name: tokens[0], number: number))
                    scope = .nestedEnumeration(message, enumeration)
                }
            case .enumeration(var enumeration):
                if tokens == ["}"] {
                    enums.append(enumeration)
                    scope = .file
                } else {
                    guard tokens.count == 4, tokens[1] == "=", tokens[3] == ";", let number = Int(tokens[2]) else {
                        throw fail("bad enum value")
                    }
                    enumeration.values.append(EnumValue(name: tokens[0], number: number))
                    scope = .enumeration(enumeration)
                }
            case .service(var service):
                if tokens == ["}"] {
                    services.append(service)
                    scope = .file
                } else {
                    // rpc Name ( [stream] Request ) returns ( [stream] Response ) ;
                    let clientStreaming = tokens.count > 3 && tokens[3] == "stream"
                    let r = clientStreaming ? 1 : 0
                    guard tokens.count >= 10 + r, tokens[0] == "rpc", tokens[2] == "(", tokens[4 + r] == ")",
                        tokens[5 + r] == "returns", tokens[6 + r] == "(", tokens.last == ";"
                    else { throw fail("bad rpc line") }
                    let streaming = tokens[7 + r] == "stream"
                    let responseIndex = (streaming ? 8 : 7) + r
                    guard tokens.count == responseIndex + 3, tokens[responseIndex + 1] == ")" else {
                        throw fail("bad rpc response")
                    }
                    service.rpcs.append(
                        RPC(
                            name: tokens[1], request: tokens[3 + r], response: tokens[responseIndex],
                            clientStreaming: clientStreaming, serverStreaming: streaming))
                    scope = .service(service)
                }
            }
        }
        guard case .file = scope else {
            throw ParseError(file: fileName, line: 0, message: "unterminated block at end of file")
        }
    }

    private static func field(
        _ tokens: [String], oneof: String?, comment: Substring, fail: (String) -> ParseError
    ) throws -> Field {
        var tokens = tokens[...]
        var label = "singular"
        if let first = tokens.first, first == "optional" || first == "repeated" {
            label = first
            tokens = tokens.dropFirst()
        }
        var type: String
        if tokens.first == "map" {
            // map < K , V > name = N ;
            let parts = Array(tokens)
            guard parts.count == 10, parts[1] == "<", parts[3] == ",", parts[5] == ">", parts[7] == "=",
                parts[9] == ";",
                label == "singular"
            else { throw fail("bad map field") }
            type = "map<\(parts[2]), \(parts[4])>"
            label = "repeated"
            tokens = tokens.dropFirst(6)
        } else {
            guard let first = tokens.first else { throw fail("missing field type") }
            type = first
            tokens = tokens.dropFirst()
        }
        let rest = Array(tokens)
        guard rest.count == 4, rest[1] == "=", rest[3] == ";", let number = Int(rest[2]) else {
            throw fail("bad field declaration")
        }
        var tags = Set<String>()
        var remaining = comment[...]
        while let open = remaining.firstIndex(of: "["), let close = remaining[open...].firstIndex(of: "]") {
            tags.insert(String(remaining[remaining.index(after: open)..<close]))
            remaining = remaining[remaining.index(after: close)...]
        }
        let known: Set<String> = ["required", "uuid", "decimal"]
        guard tags.isSubset(of: known) else { throw fail("unknown tags \(tags.subtracting(known).sorted())") }
        return Field(name: rest[0], number: number, type: type, label: label, oneof: oneof, tags: tags)
    }

    /// Splits on whitespace and around the punctuation proto uses; a quoted string is one token.
    private static func tokenize(_ line: Substring) -> [String] {
        var tokens: [String] = []
        var current = ""
        var inString = false
        for character in line {
            if inString {
                current.append(character)
                if character == "\"" {
                    tokens.append(current)
                    current = ""
                    inString = false
                }
            } else if character == "\"" {
                if !current.isEmpty { tokens.append(current) }
                current = "\""
                inString = true
            } else if character.isWhitespace {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else if "{}()<>=;,".contains(character) {
                if !current.isEmpty { tokens.append(current) }
                tokens.append(String(character))
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }
}
