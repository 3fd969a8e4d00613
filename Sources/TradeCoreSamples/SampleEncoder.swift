import TradeCoreMessages
import WireFormat

/// Builds random, valid encodings of any message of `Schemas/*.proto` from its field
/// descriptors alone, independently of the message's codec.
///
/// The bytes are in the canonical form the codecs write (fields in number order, proto3
/// defaults left out, scalars packed, map entries sorted by key bytes), so a correct codec
/// decodes them and re-encodes the very same bytes. Values lean towards extremes: empty and
/// 300-byte strings, multi-byte UTF-8, 38-digit decimals, `Int64.min`, `UInt64.max`.
public struct SampleEncoder: Sendable {
    /// Fields of every message, by fully qualified name.
    public let messages: [String: [ProtoFieldDescriptor]]
    /// Known numbers of every enum, by fully qualified name.
    public let enums: [String: [Int32]]
    /// How deep optional nested messages may go; required ones are always written.
    public var maxDepth = 4

    /// An encoder for the given messages and enums, by default those of ``TradeCoreSchema``.
    public init(
        messageTypes: [any ProtoSchemaMessage.Type] = TradeCoreSchema.messageTypes,
        enumTypes: [any ProtoEnum.Type] = TradeCoreSchema.enumTypes
    ) {
        var messages: [String: [ProtoFieldDescriptor]] = [:]
        for type in messageTypes { messages[type.protoMessageName] = type.protoFieldDescriptors }
        var enums: [String: [Int32]] = [:]
        for type in enumTypes { enums[type.protoEnumName] = type.protoNumbers }
        self.messages = messages
        self.enums = enums
    }

    /// A random encoding of the message named `messageName`.
    public func sample(_ messageName: String, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        var writer = ProtoWriter()
        writeMessage(messageName, depth: 0, to: &writer, using: &generator)
        return writer.bytes
    }

    private func writeMessage(
        _ name: String, depth: Int, to writer: inout ProtoWriter, using generator: inout some RandomNumberGenerator
    ) {
        guard let fields = messages[name] else { return }
        // At most one member of each oneof, chosen up front; nil: none.
        var chosen: [String: Int] = [:]
        for field in fields where field.oneof != nil {
            guard let oneof = field.oneof, chosen[oneof] == nil else { continue }
            let members = fields.filter { $0.oneof == oneof }
            chosen[oneof] =
                Int.random(in: 0...members.count, using: &generator) < members.count
                ? members[Int.random(in: 0..<members.count, using: &generator)].number : -1
        }
        for field in fields {
            if let oneof = field.oneof {
                guard chosen[oneof] == field.number else { continue }
                writeValue(field, explicit: true, depth: depth, to: &writer, using: &generator)
                continue
            }
            switch field.label {
            case .repeated:
                writeRepeated(field, depth: depth, to: &writer, using: &generator)
            case .optional:
                if Bool.random(using: &generator) {
                    writeValue(field, explicit: true, depth: depth, to: &writer, using: &generator)
                }
            case .singular:
                let present = field.isRequired || (Int.random(in: 0..<3, using: &generator) > 0 && depth < maxDepth)
                if present { writeValue(field, explicit: false, depth: depth, to: &writer, using: &generator) }
            }
        }
    }

    /// Writes one occurrence of a singular field. `explicit`: written even when it is the default.
    private func writeValue(
        _ field: ProtoFieldDescriptor, explicit: Bool, depth: Int, to writer: inout ProtoWriter,
        using generator: inout some RandomNumberGenerator
    ) {
        let avoidDefault = field.isRequired
        switch field.type {
        case .message(let name):
            writer.writeMessageField(field.number) { (nested: inout ProtoWriter) in
                writeMessage(name, depth: depth + 1, to: &nested, using: &generator)
            }
        case .enumeration(let name):
            guard let number = enums[name]?.randomElement(using: &generator) else { return }
            writer.writeInt32Field(field.number, number)
        case .map:
            return
        default:
            guard let payload = scalar(field, nonDefault: avoidDefault, using: &generator) else { return }
            if !explicit && payload.isDefault { return }
            writer.writeTag(fieldNumber: field.number, wireType: payload.wireType)
            payload.write(&writer)
        }
    }

    private func writeRepeated(
        _ field: ProtoFieldDescriptor, depth: Int, to writer: inout ProtoWriter,
        using generator: inout some RandomNumberGenerator
    ) {
        let count = depth < maxDepth ? Int.random(in: 0...3, using: &generator) : 0
        switch field.type {
        case .map(let keyType, let valueType):
            var entries: [(key: [UInt8], entry: [UInt8])] = []
            var seen = Set<[UInt8]>()
            var seenText = Set<String>()
            for _ in 0..<count {
                let keyField = ProtoFieldDescriptor(name: "key", number: 1, type: keyType, label: .singular)
                let valueField = ProtoFieldDescriptor(name: "value", number: 2, type: valueType, label: .singular)
                // Keys must differ as Swift strings too, which compare by canonical equivalence.
                guard let key = scalar(keyField, nonDefault: false, using: &generator),
                    let value = scalar(valueField, nonDefault: false, using: &generator),
                    seen.insert(key.sortKey).inserted,
                    keyType != .string || seenText.insert(String(decoding: key.sortKey, as: UTF8.self)).inserted
                else { continue }
                var entry = ProtoWriter()
                // Map entries carry key and value even when they are defaults, as protobuf writes them.
                entry.writeTag(fieldNumber: 1, wireType: key.wireType)
                key.write(&entry)
                entry.writeTag(fieldNumber: 2, wireType: value.wireType)
                value.write(&entry)
                entries.append((key.sortKey, entry.bytes))
            }
            for (_, entry) in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                writer.writeBytesField(field.number, entry)
            }
        case .message(let name):
            for _ in 0..<count {
                writer.writeMessageField(field.number) { (nested: inout ProtoWriter) in
                    writeMessage(name, depth: depth + 1, to: &nested, using: &generator)
                }
            }
        case .enumeration(let name):
            let numbers = (0..<count).compactMap { _ in enums[name]?.randomElement(using: &generator) }
            writer.writePackedField(field.number, numbers) { $0.writeVarint(UInt64(bitPattern: Int64($1))) }
        default:
            let elements = (0..<count).compactMap { _ in
                scalar(field, nonDefault: field.format != nil, using: &generator)
            }
            if field.type == .string || field.type == .bytes {
                for element in elements {
                    writer.writeTag(fieldNumber: field.number, wireType: .lengthDelimited)
                    element.write(&writer)
                }
            } else {
                writer.writePackedField(field.number, elements) { writer, element in element.write(&writer) }
            }
        }
    }

    /// A scalar value and how to write it.
    private struct Scalar {
        var wireType: WireType
        var isDefault: Bool
        var sortKey: [UInt8]
        var write: (inout ProtoWriter) -> Void
    }

    private func scalar(
        _ field: ProtoFieldDescriptor, nonDefault: Bool, using generator: inout some RandomNumberGenerator
    ) -> Scalar? {
        func varint(_ value: UInt64, sortKey: [UInt8]) -> Scalar {
            Scalar(wireType: .varint, isDefault: value == 0, sortKey: sortKey) { $0.writeVarint(value) }
        }
        func bigEndian(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) } }
        switch field.type {
        case .int64, .sint64, .sfixed64:
            var value = Self.extremeInt64(using: &generator)
            if nonDefault && value == 0 { value = 1 }
            let key = bigEndian(UInt64(bitPattern: value) ^ (1 << 63))
            switch field.type {
            case .sint64: return varint(ZigZag.encode(value), sortKey: key)
            case .sfixed64:
                return Scalar(wireType: .fixed64, isDefault: value == 0, sortKey: key) {
                    $0.writeFixed64(UInt64(bitPattern: value))
                }
            default: return varint(UInt64(bitPattern: value), sortKey: key)
            }
        case .uint64, .fixed64:
            var value: UInt64 =
                [0, 1, .max, UInt64(Int64.max) + 1, .random(in: 0 ... .max, using: &generator)]
                .randomElement(using: &generator) ?? 0
            if nonDefault && value == 0 { value = 1 }
            if field.type == .fixed64 {
                return Scalar(wireType: .fixed64, isDefault: value == 0, sortKey: bigEndian(value)) {
                    $0.writeFixed64(value)
                }
            }
            return varint(value, sortKey: bigEndian(value))
        case .int32, .sint32, .sfixed32:
            var value: Int32 =
                [0, 1, -1, .max, .min, .random(in: .min ... .max, using: &generator)]
                .randomElement(using: &generator) ?? 0
            if nonDefault && value == 0 { value = 1 }
            let key = bigEndian(UInt64(UInt32(bitPattern: value) ^ (1 << 31)))
            switch field.type {
            case .sint32: return varint(UInt64(ZigZag.encode(value)), sortKey: key)
            case .sfixed32:
                return Scalar(wireType: .fixed32, isDefault: value == 0, sortKey: key) {
                    $0.writeFixed32(UInt32(bitPattern: value))
                }
            default: return varint(UInt64(bitPattern: Int64(value)), sortKey: key)
            }
        case .uint32, .fixed32:
            var value: UInt32 =
                [0, 1, .max, .random(in: 0 ... .max, using: &generator)].randomElement(using: &generator) ?? 0
            if nonDefault && value == 0 { value = 1 }
            if field.type == .fixed32 {
                return Scalar(wireType: .fixed32, isDefault: value == 0, sortKey: bigEndian(UInt64(value))) {
                    $0.writeFixed32(value)
                }
            }
            return varint(UInt64(value), sortKey: bigEndian(UInt64(value)))
        case .bool:
            let value = nonDefault || Bool.random(using: &generator)
            return varint(value ? 1 : 0, sortKey: [value ? 1 : 0])
        case .double:
            let value =
                [0, -0.0, 1.5, .greatestFiniteMagnitude, .leastNonzeroMagnitude, .infinity]
                .randomElement(using: &generator) ?? 0
            return Scalar(wireType: .fixed64, isDefault: value.bitPattern == 0, sortKey: []) {
                $0.writeFixed64(value.bitPattern)
            }
        case .float:
            let value: Float = [0, -0.0, 1.5, .greatestFiniteMagnitude].randomElement(using: &generator) ?? 0
            return Scalar(wireType: .fixed32, isDefault: value.bitPattern == 0, sortKey: []) {
                $0.writeFixed32(value.bitPattern)
            }
        case .string:
            let text: String
            switch field.format {
            case "decimal": text = Self.decimal(using: &generator).description
            default:
                var candidate = Self.text(using: &generator)
                if nonDefault && candidate.isEmpty { candidate = "x" }
                text = candidate
            }
            let bytes = Array(text.utf8)
            return Scalar(wireType: .lengthDelimited, isDefault: bytes.isEmpty, sortKey: bytes) {
                $0.writeLengthDelimited(bytes)
            }
        case .bytes:
            var bytes: [UInt8]
            if field.format == "uuid" {
                bytes = (0..<16).map { _ in UInt8.random(in: 0 ... .max, using: &generator) }
            } else {
                let count = [0, 1, 32, 300].randomElement(using: &generator) ?? 0
                bytes = (0..<count).map { _ in UInt8.random(in: 0 ... .max, using: &generator) }
                if nonDefault && bytes.isEmpty { bytes = [0] }
            }
            return Scalar(wireType: .lengthDelimited, isDefault: bytes.isEmpty, sortKey: bytes) { [bytes] in
                $0.writeLengthDelimited(bytes)
            }
        case .enumeration, .message, .map:
            return nil
        }
    }

    private static func extremeInt64(using generator: inout some RandomNumberGenerator) -> Int64 {
        [0, 1, -1, .max, .min, 1_732_000_000_000_000_000, .random(in: .min ... .max, using: &generator)]
            .randomElement(using: &generator) ?? 0
    }

    /// Strings that stress lengths and UTF-8: empty, ASCII, 2-, 3- and 4-byte sequences, a NUL,
    /// combining marks, and a 300-byte run that needs a two-byte length.
    public static func text(using generator: inout some RandomNumberGenerator) -> String {
        let pieces = ["", "AAPL", "é", "€", "😀", "\u{0}", "e\u{301}", "日本語", "BRK.B", " ", "\u{FEFF}", "\u{10FFFF}"]
        switch Int.random(in: 0..<6, using: &generator) {
        case 0: return ""
        case 1: return String(repeating: "x", count: 300)
        default:
            return (0..<Int.random(in: 1...4, using: &generator)).map { _ in
                pieces.randomElement(using: &generator) ?? ""
            }
            .joined()
        }
    }

    /// A random decimal, often at the limits of what ``ExactDecimal`` holds.
    public static func decimal(using generator: inout some RandomNumberGenerator) -> ExactDecimal {
        let limit = Int128(10).power(38) - 1
        let coefficient: Int128 =
            [
                0, 1, -1, limit, -limit, 15025, Int128(Int64.random(in: .min ... .max, using: &generator)),
            ].randomElement(using: &generator) ?? 0
        let scale = [0, 2, 8, 38, Int.random(in: 0...38, using: &generator)].randomElement(using: &generator) ?? 0
        return ExactDecimal(coefficient: coefficient, scale: scale) ?? .zero
    }
}

extension Int128 {
    fileprivate func power(_ exponent: Int) -> Int128 {
        (0..<exponent).reduce(1) { result, _ in result * self }
    }
}

extension ProtoEnum {
    /// The numbers of the enum's cases.
    public static var protoNumbers: [Int32] { allCases.map(\.rawValue) }
}
