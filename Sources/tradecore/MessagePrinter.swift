import Foundation
import HTTP2RPC
import TradeCoreMessages
import WireFormat

/// A message as a tree of fields, read from its encoding with the schema's field descriptors: so
/// every message prints the same way, as JSON (one object per line) or as indented text.
indirect enum Value: Sendable {
    case text(String)
    case literal(String)
    /// A time (a `*_at` field): nanoseconds since the Unix epoch, a JSON string as other 64-bit
    /// integers are, and in text a UTC date a person reads.
    case time(Int64)
    case list([Value])
    case object([(String, Value)])

    /// Compact JSON.
    var json: String {
        switch self {
        case .text(let text): Self.quote(text)
        case .literal(let literal): literal
        case .time(let nanoseconds): Self.quote(String(nanoseconds))
        case .list(let items): "[" + items.map(\.json).joined(separator: ",") + "]"
        case .object(let fields): "{" + fields.map { Self.quote($0.0) + ":" + $0.1.json }.joined(separator: ",") + "}"
        }
    }

    /// Indented `name: value` lines.
    func lines(indent: String = "") -> [String] {
        guard case .object(let fields) = self else { return [indent + plain] }
        var lines: [String] = []
        for (name, value) in fields {
            switch value {
            case .object:
                lines.append("\(indent)\(name):")
                lines += value.lines(indent: indent + "  ")
            case .list(let items) where items.contains(where: { if case .object = $0 { true } else { false } }):
                lines.append("\(indent)\(name):")
                for item in items {
                    let itemLines = item.lines(indent: indent + "    ")
                    lines += itemLines.enumerated().map { index, line in
                        index == 0 ? indent + "  - " + line.dropFirst(indent.count + 4) : line
                    }
                }
            default:
                lines.append("\(indent)\(name): \(value.plain)")
            }
        }
        return lines
    }

    /// The value as a person reads it, without quotes.
    var plain: String {
        switch self {
        case .text(let text): text
        case .literal(let literal): literal
        case .time(let nanoseconds): Self.utcDate(nanoseconds)
        case .list(let items): items.map(\.plain).joined(separator: ", ")
        case .object: json
        }
    }

    /// The value as `--field` prints it: as plain text, but a time as the schema's nanoseconds,
    /// which a script can compare or give back to a command.
    var fieldText: String {
        if case .time(let nanoseconds) = self { String(nanoseconds) } else { plain }
    }

    /// The value of a top-level field.
    subscript(field: String) -> Value? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.0 == field }?.1
    }

    /// `2026-12-03T15:20:50.715774498Z (1796312050715774498)`: the date, and the schema's value
    /// beside it for a command that takes one; 0 (not set) stays 0.
    static func utcDate(_ nanoseconds: Int64) -> String {
        guard nanoseconds != 0 else { return "0" }
        let (seconds, fraction) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        // Before 1970 the remainder is negative: borrow a second so the fraction counts forward.
        let wholeSeconds = fraction < 0 ? seconds - 1 : seconds
        let nanos = fraction < 0 ? fraction + 1_000_000_000 : fraction
        var time = time_t(wholeSeconds)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return String(nanoseconds) }
        let date = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(nanos))
        return "\(date) (\(nanoseconds))"
    }

    private static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Reads messages into ``Value`` trees.
enum MessagePrinter {
    private static let messages: [String: [ProtoFieldDescriptor]] = {
        var messages: [String: [ProtoFieldDescriptor]] = [:]
        let types: [any ProtoSchemaMessage.Type] =
            TradeCoreSchema.messageTypes + [HealthCheckResponse.self, PingResponse.self, ServerStatsMessage.self]
        for type in types { messages[type.protoMessageName] = type.protoFieldDescriptors }
        return messages
    }()

    /// Enum case names by enum and number: `partiallyFilled` as `PARTIALLY_FILLED`.
    private static let enums: [String: [Int32: String]] = {
        var enums: [String: [Int32: String]] = [:]
        func add<E: ProtoEnum>(_ type: E.Type) {
            var names = Dictionary(uniqueKeysWithValues: E.allCases.map { ($0.rawValue, constantName(of: $0)) })
            // The schema's zero (`TIME_IN_FORCE_UNSPECIFIED`), which the Swift enums leave out: a
            // field that was not set, spelled as the others are, without the enum's prefix.
            if names[0] == nil { names[0] = "UNSPECIFIED" }
            enums[E.protoEnumName] = names
        }
        for type in TradeCoreSchema.enumTypes { add(type) }
        add(HealthCheckResponse.ServingStatus.self)
        return enums
    }()

    /// The schema's spelling of a case: a word starts at a capital after a small letter or a
    /// digit, so a run of capitals stays one word (`awaitingOAuth` is `AWAITING_OAUTH`).
    static func constantName(of value: some ProtoEnum) -> String {
        var name = ""
        var previous: Character?
        for character in String(describing: value) {
            if character.isUppercase, let previous, previous.isLowercase || previous.isNumber { name.append("_") }
            name.append(character.uppercased())
            previous = character
        }
        return name
    }

    /// Every field name of every message the CLI prints.
    static let fieldNames: Set<String> = Set(messages.values.joined().map(\.name))

    /// The tree of `message` with `field` only; a field the message has but did not send (proto3
    /// leaves out zero, empty and false) is given its default value. Nil: the message has no
    /// such field.
    static func field(_ field: String, of message: any ProtoMessage) -> Value? {
        guard let descriptor = fields(of: type(of: message))?.first(where: { $0.name == field }) else { return nil }
        return value(of: message)[field] ?? defaultValue(of: descriptor)
    }

    /// The fields of a message type the CLI prints; nil for a type it does not know.
    static func fields(of type: any ProtoMessage.Type) -> [ProtoFieldDescriptor]? {
        messages[type.protoMessageName]
    }

    /// What a field that was not sent holds: proto3 leaves zero, empty and false off the wire.
    private static func defaultValue(of descriptor: ProtoFieldDescriptor) -> Value {
        if case .map = descriptor.type { return .object([]) }
        if descriptor.label == .repeated { return .list([]) }
        switch descriptor.type {
        case .string, .bytes: return .text("")
        case .bool: return .literal("false")
        case .enumeration(let name): return .text(enums[name]?[0] ?? "0")
        case .message, .map: return .object([])
        case let type where type.isSixtyFourBit: return .text("0")
        default: return .literal("0")
        }
    }

    /// The tree of `message`.
    static func value(of message: any ProtoMessage) -> Value {
        let bytes = message.protoBytes
        let name = type(of: message).protoMessageName
        return bytes.withUnsafeBytes { buffer in
            var reader = ProtoReader(buffer)
            return (try? object(name, &reader)) ?? .object([])
        }
    }

    private static func object(_ name: String, _ reader: inout ProtoReader) throws -> Value {
        let fields = messages[name] ?? []
        var values: [Int: [Value]] = [:]
        while let tag = try reader.nextTag() {
            guard let field = fields.first(where: { $0.number == tag.fieldNumber }) else {
                try reader.skip(tag)
                continue
            }
            if case .map(_, let valueType) = field.type {
                let entry = try reader.readLengthDelimited()
                var entryReader = ProtoReader(entry)
                var key = Value.text("")
                var item = Value.text("")
                while let inner = try entryReader.nextTag() {
                    if inner.fieldNumber == 1 {
                        key = try scalar(.string, format: nil, &entryReader, tag: inner)
                    } else {
                        item = try scalar(valueType, format: nil, &entryReader, tag: inner)
                    }
                }
                values[field.number, default: []].append(.object([(key.plain, item)]))
            } else if field.label == .repeated, tag.wireType == .lengthDelimited, field.type.isPackable {
                let packed = try reader.readLengthDelimited()
                var packedReader = ProtoReader(packed)
                while !packedReader.isAtEnd {
                    values[field.number, default: []].append(
                        try scalar(field.type, format: field.format, &packedReader, tag: nil))
                }
            } else {
                var value = try scalar(field.type, format: field.format, &reader, tag: tag)
                if field.isTime, case .text(let digits) = value, let nanoseconds = Int64(digits) {
                    value = .time(nanoseconds)
                }
                values[field.number, default: []].append(value)
            }
        }
        var out: [(String, Value)] = []
        for field in fields {
            guard let found = values[field.number] else {
                // Every field is printed, so each object has the same names: a field without
                // presence that was not sent holds its zero value. One with presence (optional, or
                // a message) that was not sent is absent, and is left out.
                switch (field.label, field.type) {
                case (.optional, _), (.singular, .message): break
                default: out.append((field.name, defaultValue(of: field)))
                }
                continue
            }
            if case .map = field.type {
                let entries = found.compactMap { value -> (String, Value)? in
                    if case .object(let pairs) = value { pairs.first } else { nil }
                }
                out.append((field.name, .object(entries)))
            } else if field.label == .repeated {
                out.append((field.name, .list(found)))
            } else if let last = found.last {
                out.append((field.name, last))
            }
        }
        return .object(out)
    }

    private static func scalar(
        _ type: ProtoFieldType, format: String?, _ reader: inout ProtoReader, tag: ProtoTag?
    ) throws -> Value {
        switch type {
        case .string:
            return .text(try reader.readString())
        case .bytes:
            let bytes = try reader.readBytes()
            if format == "uuid", bytes.count == 16 {
                return .text(bytes.withUnsafeBytes { UUID(uuid: $0.load(as: uuid_t.self)) }.uuidString.lowercased())
            }
            return .text(Data(bytes).base64EncodedString())
        case .bool:
            return .literal(try reader.readBool() ? "true" : "false")
        // 64-bit integers are JSON strings, as in protobuf's JSON mapping: a JSON number is read
        // as a double by most tools (jq, JavaScript), which keeps 53 bits, and times in
        // nanoseconds need 61. Text output shows them the same either way.
        case .int32:
            return .literal(String(Int32(truncatingIfNeeded: Int64(bitPattern: try reader.readVarint()))))
        case .int64:
            return .text(String(Int64(bitPattern: try reader.readVarint())))
        case .uint32:
            return .literal(String(UInt32(truncatingIfNeeded: try reader.readVarint())))
        case .uint64:
            return .text(String(try reader.readVarint()))
        case .sint32:
            return .literal(String(Int32(truncatingIfNeeded: try reader.readSInt64())))
        case .sint64:
            return .text(String(try reader.readSInt64()))
        case .fixed32:
            return .literal(String(try reader.readFixed32()))
        case .sfixed32:
            return .literal(String(Int32(bitPattern: try reader.readFixed32())))
        case .fixed64:
            return .text(String(try reader.readFixed64()))
        case .sfixed64:
            return .text(String(Int64(bitPattern: try reader.readFixed64())))
        case .double:
            return .literal(String(Double(bitPattern: try reader.readFixed64())))
        case .float:
            return .literal(String(Float(bitPattern: try reader.readFixed32())))
        case .enumeration(let name):
            let number = Int32(truncatingIfNeeded: Int64(bitPattern: try reader.readVarint()))
            return .text(enums[name]?[number] ?? String(number))
        case .message(let name):
            let nested = try reader.readLengthDelimited()
            var nestedReader = ProtoReader(nested)
            return try object(name, &nestedReader)
        case .map:
            if let tag { try reader.skip(tag) }
            return .object([])
        }
    }
}

extension ProtoFieldDescriptor {
    /// Whether the field is a time: the schema's `int64 *_at`, nanoseconds since the Unix epoch.
    var isTime: Bool {
        if case .int64 = type { name.hasSuffix("_at") } else { false }
    }
}

extension ProtoFieldType {
    /// Whether the type is a 64-bit integer (printed as a JSON string).
    var isSixtyFourBit: Bool {
        switch self {
        case .int64, .uint64, .sint64, .fixed64, .sfixed64: true
        default: false
        }
    }

    /// Whether a repeated field of this type may be packed.
    var isPackable: Bool {
        switch self {
        case .string, .bytes, .message, .map: false
        default: true
        }
    }
}
