import Testing
import WireFormat

private enum Colour: Int32, ProtoEnum {
    static let protoEnumName = "test.Colour"
    case red = 1
    case green = 2
}

private struct Inner: ProtoSchemaMessage, Equatable {
    var label = ""
    init(label: String = "") { self.label = label }
    init(protoPlaceholder: ProtoPlaceholder) {}
    static let protoSchema = ProtoSchema<Inner>("test.Inner", [.field("label", 1, ProtoString.self, \.label)])
}

/// One field of every kind the schema engine offers.
private struct Sample: ProtoSchemaMessage, Equatable {
    enum Choice: Equatable, Sendable {
        case text(String)
        case inner(Inner)
    }

    var name = ""
    var count: Int64 = 0
    var colour: Colour = .red
    var shade: Colour?
    var flag: Bool?
    var numbers: [Int32] = []
    var tags: [String] = []
    var attributes: [String: String] = [:]
    var inner: Inner?
    var choice: Choice?
    var code = ""

    init() {}
    init(protoPlaceholder: ProtoPlaceholder) {}

    static let protoSchema = ProtoSchema<Sample>(
        "test.Sample",
        [
            .field("name", 1, ProtoString.self, \.name),
            .field("count", 2, ProtoSInt64.self, \.count),
            .field("colour", 3, ProtoEnumCodec<Colour>.self, \.colour),
            .field("shade", 4, ProtoEnumCodec<Colour>.self, \.shade),
            .optional("flag", 5, ProtoBool.self, \.flag),
            .repeated("numbers", 6, ProtoInt32.self, \.numbers),
            .repeated("tags", 7, ProtoString.self, \.tags),
            .map("attributes", 8, ProtoString.self, ProtoString.self, \.attributes),
            .field("inner", 9, ProtoMessageCodec<Inner>.self, \.inner),
            .oneof(
                "choice", "text", 10, ProtoString.self,
                get: { if case .text(let value) = $0.choice { value } else { nil } },
                set: { $0.choice = .text($1) }),
            .oneof(
                "choice", "choice_inner", 11, ProtoMessageCodec<Inner>.self,
                get: { if case .inner(let value) = $0.choice { value } else { nil } },
                set: { $0.choice = .inner($1) }),
            .field("code", 12, ProtoString.self, \.code, required: true),
        ])
}

/// A message with required fields, a list and a nested message, held by ``Holder``: for the
/// merging of a message field that occurs more than once.
private struct Sizing: ProtoSchemaMessage, Equatable {
    var method = ""
    var value = ""
    var notes: [String] = []
    var inner: Inner?

    init(method: String = "", value: String = "", notes: [String] = [], inner: Inner? = nil) {
        (self.method, self.value, self.notes, self.inner) = (method, value, notes, inner)
    }
    init(protoPlaceholder: ProtoPlaceholder) {}

    static let protoSchema = ProtoSchema<Sizing>(
        "test.Sizing",
        [
            .field("method", 1, ProtoString.self, \.method, required: true),
            .field("value", 2, ProtoString.self, \.value, required: true),
            .repeated("notes", 3, ProtoString.self, \.notes),
            .field("inner", 4, ProtoMessageCodec<Inner>.self, \.inner),
        ])
}

private struct Holder: ProtoSchemaMessage, Equatable {
    var sizing: Sizing?
    var name = ""
    var items: [Inner] = []

    init(sizing: Sizing? = nil, name: String = "", items: [Inner] = []) {
        (self.sizing, self.name, self.items) = (sizing, name, items)
    }
    init(protoPlaceholder: ProtoPlaceholder) {}

    static let protoSchema = ProtoSchema<Holder>(
        "test.Holder",
        [
            .field("sizing", 1, ProtoMessageCodec<Sizing>.self, \.sizing),
            .field("name", 2, ProtoString.self, \.name),
            .repeated("items", 3, ProtoMessageCodec<Inner>.self, \.items),
        ])
}

/// A message holding one of its own kind (through a box, as a struct cannot hold itself).
private struct Chain: ProtoSchemaMessage, Equatable {
    final class Box: Sendable, Equatable {
        let chain: Chain
        init(_ chain: Chain) { self.chain = chain }
        static func == (lhs: Box, rhs: Box) -> Bool { lhs.chain == rhs.chain }
    }

    var label = ""
    var next: Box?

    init(label: String = "", next: Chain? = nil) { (self.label, self.next) = (label, next.map(Box.init)) }
    init(protoPlaceholder: ProtoPlaceholder) {}

    // Its own, so that building the schema, which names the field's message type, does not
    // ask for the schema being built.
    static let protoMessageName = "test.Chain"
    static let protoSchema = ProtoSchema<Chain>(
        "test.Chain",
        [
            .field("label", 1, ProtoString.self, \.label),
            ProtoField(
                descriptor: ProtoFieldDescriptor(
                    name: "next", number: 2, type: .message("test.Chain"), label: .singular),
                encoder: { chain, writer in if let next = chain.next { writer.writeMessageField(2, next.chain) } },
                decoder: { (chain, reader, tag) throws(ProtoDecodingError) in
                    chain.next = Box(try reader.readMessage(tag, as: Chain.self))
                    return true
                }),
        ])
}

/// The encoding of `fields` written by `body`, for messages a schema would not write.
private func bytes(_ body: (inout ProtoWriter) -> Void) -> [UInt8] {
    var writer = ProtoWriter()
    body(&writer)
    return writer.bytes
}

private func decodeFailure(_ bytes: [UInt8]) -> ProtoDecodingError? {
    do {
        _ = try Sample(protoBytes: bytes)
        return nil
    } catch {
        return error
    }
}

@Suite struct ProtoSchemaTests {
    private var full: Sample {
        var sample = Sample()
        sample.name = "naïve"
        sample.count = .min
        sample.colour = .green
        sample.shade = .red
        sample.flag = false
        sample.numbers = [0, -1, .max, .min]
        sample.tags = ["", "b"]
        sample.attributes = ["z": "1", "a": "", "é": "x"]
        sample.inner = Inner()
        sample.choice = .text("")
        sample.code = "C"
        return sample
    }

    @Test func everyKindOfFieldRoundTrips() throws {
        #expect(try Sample(protoBytes: full.protoBytes) == full)
        var other = full
        other.choice = .inner(Inner(label: "x"))
        other.shade = nil
        other.flag = nil
        #expect(try Sample(protoBytes: other.protoBytes) == other)
    }

    @Test func minimalMessageWritesOnlyWhatIsRequired() throws {
        var sample = Sample()
        sample.code = "C"
        // colour is a required presence field; code a required string; nothing else is written.
        #expect(sample.protoBytes == [0x18, 0x01, 0x62, 0x01, 0x43])
        #expect(try Sample(protoBytes: sample.protoBytes) == sample)
    }

    @Test func explicitPresenceWritesTheDefaultAndOneofWritesEmptyMembers() {
        var sample = Sample()
        sample.code = "C"
        sample.flag = false
        sample.choice = .text("")
        #expect(sample.protoBytes == [0x18, 0x01, 0x28, 0x00, 0x52, 0x00, 0x62, 0x01, 0x43])
    }

    @Test func mapEntriesAreWrittenInKeyByteOrder() throws {
        var first = Sample()
        first.code = "C"
        first.attributes = ["b": "2", "a": "1", "é": "3", "Z": "0"]
        var second = first
        second.attributes = [:]
        for key in ["é", "Z", "b", "a"] { second.attributes[key] = first.attributes[key] }
        #expect(first.protoBytes == second.protoBytes)
        let keys = try read(first.protoBytes) { r throws(ProtoDecodingError) -> [String] in
            var keys: [String] = []
            while let tag = try r.nextTag() {
                guard tag.fieldNumber == 8 else {
                    try r.skip(tag)
                    continue
                }
                keys.append(
                    try r.readMessage { (entry: inout ProtoReader) throws(ProtoDecodingError) -> String in
                        guard let keyTag = try entry.nextTag() else { return "" }
                        return try entry.readString(keyTag)
                    })
            }
            return keys
        }
        #expect(keys == ["Z", "a", "b", "é"])
    }

    @Test func mapKeysRepeatWithLastWinsButCanonicallyEquivalentKeysAreRejected() throws {
        func entry(_ key: String, _ value: String) -> ProtoWriter {
            var writer = ProtoWriter()
            writer.writeMapEntry(8, key: { $0.writeStringField(1, key) }, value: { $0.writeStringField(2, value) })
            return writer
        }
        let required: [UInt8] = [0x18, 0x01, 0x62, 0x01, 0x43]
        let repeated = entry("k", "1").bytes + entry("k", "2").bytes + required
        #expect(try Sample(protoBytes: repeated).attributes == ["k": "2"])
        let equivalent = entry("\u{E9}", "1").bytes + entry("e\u{301}", "2").bytes + required
        let error = decodeFailure(equivalent)
        #expect(error?.reason == .invalidValue("two map keys are canonically equivalent strings"))
        #expect(error?.fieldName == "attributes")
    }

    @Test func missingRequiredFieldsAreNamed() {
        let noColour = decodeFailure([0x62, 0x01, 0x43])
        #expect(noColour?.reason == .missingRequiredField)
        #expect(noColour?.fieldName == "colour")
        #expect(noColour?.messageName == "test.Sample")

        // Enum 0 on the wire is UNSPECIFIED: absent, so still missing.
        #expect(decodeFailure([0x18, 0x00, 0x62, 0x01, 0x43])?.fieldName == "colour")
        // An empty required string is its default: missing.
        #expect(decodeFailure([0x18, 0x01, 0x62, 0x00])?.fieldName == "code")
        // Set, then reset to the default by a later occurrence: missing.
        #expect(decodeFailure([0x18, 0x01, 0x62, 0x01, 0x43, 0x62, 0x00])?.fieldName == "code")
    }

    @Test func unknownEnumValuesAreRejectedWithTheirField() {
        let error = decodeFailure([0x18, 0x07, 0x62, 0x01, 0x43])
        #expect(error?.reason == .invalidValue("unknown test.Colour value 7"))
        #expect(error?.fieldNumber == 3)
        #expect(error?.fieldName == "colour")
    }

    @Test func wrongWireTypeOfAKnownFieldIsRejected() {
        // Field 1 (string) sent as a varint.
        let error = decodeFailure([0x08, 0x01, 0x18, 0x01, 0x62, 0x01, 0x43])
        #expect(error?.reason == .wrongWireType(expected: .lengthDelimited, found: .varint))
        #expect(error?.fieldName == "name")
    }

    @Test func repeatedScalarsAcceptUnpackedElements() throws {
        // numbers as two unpacked elements and one packed run.
        let bytes: [UInt8] = [0x30, 0x05, 0x30, 0x06, 0x32, 0x02, 0x07, 0x08, 0x18, 0x01, 0x62, 0x01, 0x43]
        #expect(try Sample(protoBytes: bytes).numbers == [5, 6, 7, 8])
    }

    @Test func unknownFieldsAreSkippedAndOneofKeepsTheLastMember() throws {
        var writer = ProtoWriter()
        writer.writeStringField(10, "first")
        writer.writeFixed64Field(99, 1)
        writer.writeTag(fieldNumber: 100, wireType: .startGroup)
        writer.writeTag(fieldNumber: 100, wireType: .endGroup)
        writer.writeMessageField(11, Inner(label: "second"))
        writer.writeInt32Field(3, 2)
        writer.writeStringField(12, "C")
        let sample = try Sample(protoBytes: writer.bytes)
        #expect(sample.choice == .inner(Inner(label: "second")))
        #expect(sample.colour == .green)
    }

    @Test func aMessageFieldThatOccursMoreThanOnceIsMergedAsProtobufDoes() throws {
        // Two encoded messages back to back, as protobuf allows ("merging by concatenation"):
        // the first holds the sizing's method, the second its value. Each occurrence alone lacks
        // a required field; merged, none is missing. Lists grow, a nested message merges again
        // (its label set twice keeps the last), and scalars keep their last value.
        let first = bytes { writer in
            writer.writeMessageField(1) { sizing in
                sizing.writeStringField(1, "fixed")
                sizing.writeStringField(3, "a")
                sizing.writeMessageField(4, Inner(label: "x"))
            }
            writer.writeStringField(2, "first")
            writer.writeMessageField(3, Inner(label: "one"))
        }
        let second = bytes { writer in
            writer.writeMessageField(1) { sizing in
                sizing.writeStringField(2, "10")
                sizing.writeStringField(3, "b")
                sizing.writeMessageField(4, Inner(label: "y"))
            }
            writer.writeMessageField(3, Inner(label: "two"))
            writer.writeStringField(2, "second")
        }
        let merged = try Holder(protoBytes: first + second)
        #expect(
            merged
                == Holder(
                    sizing: Sizing(method: "fixed", value: "10", notes: ["a", "b"], inner: Inner(label: "y")),
                    name: "second", items: [Inner(label: "one"), Inner(label: "two")]))

        // Nothing repeats: a missing required field is still that error, named.
        let error = #expect(throws: ProtoDecodingError.self) { try Holder(protoBytes: first) }
        #expect(error?.reason == .missingRequiredField)
        #expect(error?.path.map(\.fieldName) == ["sizing", "value"])
    }

    @Test func repeatedMessageFieldsAreMergedDownToADepthAndRefusedBelowIt() throws {
        // `depth` links down, a `next` written twice, each time with another field: merged, it
        // has both (kept last, only the second).
        func chain(repeatingAt depth: Int) -> [UInt8] {
            bytes { writer in
                if depth == 0 {
                    writer.writeMessageField(2, Chain(label: "a"))
                    writer.writeMessageField(2, Chain(next: Chain(label: "b")))
                } else {
                    writer.writeStringField(1, "level")
                    writer.writeBytesField(2, chain(repeatingAt: depth - 1))
                }
            }
        }
        var expected = Chain(next: Chain(label: "a", next: Chain(label: "b")))
        for _ in 0..<(ProtoReader.mergeDepthLimit - 1) { expected = Chain(label: "level", next: expected) }
        #expect(try Chain(protoBytes: chain(repeatingAt: ProtoReader.mergeDepthLimit - 1)) == expected)

        let error = #expect(throws: ProtoDecodingError.self) {
            try Chain(protoBytes: chain(repeatingAt: ProtoReader.mergeDepthLimit))
        }
        #expect(error?.description.contains("occurs more than once") == true, "\(String(describing: error))")
    }

    @Test func errorsInsideNestedMessagesCarryTheFullPath() {
        // inner (field 9) holding label (field 1) with invalid UTF-8.
        let error = decodeFailure([0x4A, 0x03, 0x0A, 0x01, 0xFF, 0x18, 0x01, 0x62, 0x01, 0x43])
        #expect(error?.reason == .invalidUTF8)
        #expect(error?.path.map(\.message) == ["test.Sample", "test.Inner"])
        #expect(error?.path.map(\.fieldName) == ["inner", "label"])
    }

    @Test func descriptorsDescribeTheDeclaration() {
        let descriptors = Sample.protoSchema.fields.map(\.descriptor)
        #expect(descriptors.map(\.number) == Array(1...12))
        #expect(descriptors[2].type == .enumeration("test.Colour"))
        #expect(descriptors[2].isRequired)
        #expect(!descriptors[3].isRequired)
        #expect(descriptors[4].label == .optional)
        #expect(descriptors[5].label == .repeated)
        #expect(descriptors[7].type == .map(key: .string, value: .string))
        #expect(descriptors[9].oneof == "choice")
        #expect(descriptors[11].isRequired)
        #expect(descriptors[8].description == "test.Inner inner = 9")
    }
}
