/// The fields of one message type, in field-number order: the single description both its
/// encoder and its decoder run from.
public struct ProtoSchema<Message>: Sendable {
    /// The fully qualified protobuf name of the message.
    public let messageName: String
    /// The fields, sorted by number.
    public let fields: [ProtoField<Message>]
    // The fields' closures on their own, so the hot loops index them without copying a whole
    // `ProtoField` (and retaining its strings) per field.
    @usableFromInline let encoders: [ProtoField<Message>.InPlaceEncoder]
    @usableFromInline let decoders: [ProtoField<Message>.Decoder]
    /// For each field number up to the largest, the index into `fields` plus one (0: unknown).
    @usableFromInline let indexByNumber: [UInt8]
    /// Bit i set: `fields[i]` is required. Schemas hold at most 64 fields (checked by a test), so
    /// one word covers them; fields past 64 could not be marked required.
    @usableFromInline let requiredMask: UInt64
    /// Bit i set: `fields[i]` holds one message (not a list or a map of them, nor a `oneof`
    /// member), whose occurrences protobuf merges.
    @usableFromInline let singularMessageMask: UInt64

    /// Creates a schema. Field numbers must be distinct; the drift test checks every schema
    /// against its `.proto` file.
    public init(_ messageName: String, _ fields: [ProtoField<Message>]) {
        self.messageName = messageName
        let sorted = fields.sorted { $0.descriptor.number < $1.descriptor.number }
        self.fields = sorted
        self.encoders = sorted.map(\.encoder)
        self.decoders = sorted.map(\.decoder)
        let largest = sorted.last.map { min($0.descriptor.number, 4096) } ?? 0
        var index = [UInt8](repeating: 0, count: largest + 1)
        var mask: UInt64 = 0
        var messages: UInt64 = 0
        for (position, field) in sorted.enumerated() where position < 255 {
            if field.descriptor.number <= largest {
                index[field.descriptor.number] = UInt8(position + 1)
            }
            if field.descriptor.isRequired && position < 64 {
                mask |= 1 << UInt64(position)
            }
            // A `oneof` member is left out: another member between two of its occurrences would
            // clear the first, which joining them cannot express; its last occurrence is kept.
            if case .message = field.descriptor.type, field.descriptor.label != .repeated,
                field.descriptor.oneof == nil, position < 64
            {
                messages |= 1 << UInt64(position)
            }
        }
        self.indexByNumber = index
        self.requiredMask = mask
        self.singularMessageMask = messages
    }

    @inlinable
    func fieldIndex(_ number: Int) -> Int? {
        if number < indexByNumber.count {
            let slot = Int(indexByNumber[number])
            return slot == 0 ? nil : slot - 1
        }
        return fields.firstIndex { $0.descriptor.number == number }
    }

    /// Writes every field of `message`, in number order.
    @inlinable
    public func encode(_ message: Message, to writer: inout ProtoWriter) {
        withUnsafePointer(to: message) { pointer in
            for encoder in encoders { encoder(pointer, &writer) }
        }
    }

    /// Reads fields into `message` until the reader's end, skipping unknown ones, then checks
    /// that every required field was set. Errors name this message and the failing field.
    ///
    /// A known field arriving with a wire type its declared type cannot have is rejected, where
    /// the reference implementations would keep it as an unknown field: a peer sending one is
    /// broken, and letting the field vanish would hide that. A message field that occurs twice
    /// is an error here; ``ProtoSchemaMessage/init(from:)`` then decodes the message again with
    /// the occurrences merged, as protobuf reads them (``joiningRepeatedMessageFields(_:)``).
    @inlinable
    public func decode(into message: inout Message, from reader: inout ProtoReader) throws(ProtoDecodingError) {
        var present: UInt64 = 0
        var messagesSeen: UInt64 = 0
        while true {
            let tag: ProtoTag
            do throws(ProtoDecodingError) {
                guard let next = try reader.nextTag() else { break }
                tag = next
            } catch {
                throw error.within(message: messageName)
            }
            guard let index = fieldIndex(tag.fieldNumber) else {
                do throws(ProtoDecodingError) {
                    try reader.skip(tag)
                } catch {
                    throw error.within(message: messageName, fieldNumber: tag.fieldNumber)
                }
                continue
            }
            do throws(ProtoDecodingError) {
                if index < 64 && singularMessageMask & (1 << UInt64(index)) != 0 {
                    let bit: UInt64 = 1 << UInt64(index)
                    guard messagesSeen & bit == 0 else {
                        throw ProtoDecodingError(.invalidValue("a message field occurs more than once"))
                    }
                    messagesSeen |= bit
                }
                let isSet = try decoders[index](&message, &reader, tag)
                if index < 64 {
                    let bit: UInt64 = 1 << UInt64(index)
                    present = isSet ? present | bit : present & ~bit
                }
            } catch {
                throw error.within(
                    message: messageName, fieldNumber: tag.fieldNumber, fieldName: fields[index].descriptor.name)
            }
        }
        let missing = requiredMask & ~present
        if missing != 0 {
            let field = fields[missing.trailingZeroBitCount].descriptor
            throw ProtoDecodingError(
                .missingRequiredField,
                path: [.init(message: messageName, fieldNumber: field.number, fieldName: field.name)])
        }
    }
}

extension ProtoSchema {
    /// The bytes left in `reader` (one message's fields) with each message field that occurs more
    /// than once written once, after the others, its payload the occurrences' payloads back to
    /// back. Protobuf merges such occurrences, and merging them in order is reading their payloads
    /// as one (a field set again keeps the last value, a list grows): so a peer that concatenates
    /// encoded messages, as protobuf allows, is read as it meant. Nil when no message field
    /// repeats, or the bytes do not parse.
    ///
    /// A first pass only counts, in two words, so a message that fails for another reason costs
    /// one more scan and no memory; the second copies each byte once.
    func joiningRepeatedMessageFields(_ reader: ProtoReader) -> [UInt8]? {
        var seen: UInt64 = 0
        var repeated: UInt64 = 0
        var scan = reader
        do throws(ProtoDecodingError) {
            while let tag = try scan.nextTag() {
                if let bit = joinableBit(tag) {
                    repeated |= seen & bit
                    seen |= bit
                }
                try scan.skip(tag)
            }
        } catch {
            return nil
        }
        guard repeated != 0 else { return nil }

        var writer = ProtoWriter(reservingCapacity: reader.remainingCount)
        var payloads: [Int: [UInt8]] = [:]
        scan = reader
        do throws(ProtoDecodingError) {
            while true {
                let begin = scan.position
                guard let tag = try scan.nextTag() else { break }
                if let bit = joinableBit(tag), repeated & bit != 0 {
                    let payload = try scan.readLengthDelimited()
                    payloads[bit.trailingZeroBitCount, default: []].append(contentsOf: payload)
                } else {
                    try scan.skip(tag)
                    writer.storage.append(
                        contentsOf: UnsafeRawBufferPointer(rebasing: reader.buffer[begin..<scan.position]))
                }
            }
        } catch {
            return nil
        }
        for (index, payload) in payloads.sorted(by: { $0.key < $1.key }) {
            writer.writeTag(fieldNumber: fields[index].descriptor.number, wireType: .lengthDelimited)
            writer.writeLengthDelimited(payload)
        }
        return writer.bytes
    }

    /// The bit of a field whose occurrences are merged (a message field, not a list, a map or a
    /// `oneof` member) when `tag` is one of it, as written.
    private func joinableBit(_ tag: ProtoTag) -> UInt64? {
        guard tag.wireType == .lengthDelimited, let index = fieldIndex(tag.fieldNumber), index < 64 else { return nil }
        let bit: UInt64 = 1 << UInt64(index)
        return singularMessageMask & bit != 0 ? bit : nil
    }
}

/// A token that only this package can create, so that the placeholder initializer of a
/// ``ProtoSchemaMessage`` cannot be called from outside to build an unchecked value.
public struct ProtoPlaceholder: Sendable {
    @usableFromInline package init() {}
}

/// A message whose codec is its ``protoSchema``: encoding and decoding both run from that one
/// table, which the drift test compares with the `.proto` files.
public protocol ProtoSchemaMessage: ProtoMessage {
    /// The message's fields.
    static var protoSchema: ProtoSchema<Self> { get }

    /// Creates a value whose required fields hold placeholders. Decoding starts from it and either
    /// overwrites every required field or fails, so a placeholder never escapes.
    init(protoPlaceholder: ProtoPlaceholder)

    /// Checks what the schema cannot: rules across fields. Runs after every successful decode;
    /// the default accepts everything.
    func validateDecoded() throws(ProtoDecodingError)
}

extension ProtoSchemaMessage {
    public static var protoMessageName: String { protoSchema.messageName }

    /// The descriptors of the message's fields, in number order; usable on `any
    /// ProtoSchemaMessage.Type`, unlike ``protoSchema``.
    public static var protoFieldDescriptors: [ProtoFieldDescriptor] { protoSchema.fields.map(\.descriptor) }

    public func validateDecoded() throws(ProtoDecodingError) {}

    @inlinable
    public init(from reader: inout ProtoReader) throws(ProtoDecodingError) {
        let start = reader
        var message = Self(protoPlaceholder: ProtoPlaceholder())
        do throws(ProtoDecodingError) {
            try Self.protoSchema.decode(into: &message, from: &reader)
        } catch {
            // A message field that occurs more than once fails the decode; read the message
            // again with its occurrences merged. Only failures pay for the look.
            guard let joined = try Self.decodeJoiningRepeatedMessageFields(start) else { throw error }
            message = joined
            reader.position = reader.end
        }
        do throws(ProtoDecodingError) {
            try message.validateDecoded()
        } catch {
            throw error.path.isEmpty ? error.within(message: Self.protoSchema.messageName) : error
        }
        self = message
    }

    @inlinable
    public func encode(to writer: inout ProtoWriter) {
        Self.protoSchema.encode(self, to: &writer)
    }

    /// The message in `reader` decoded with the occurrences of each repeated message field
    /// merged; nil when no message field repeats, or the message is nested deeper than
    /// ``ProtoReader/mergeDepthLimit``.
    @usableFromInline
    static func decodeJoiningRepeatedMessageFields(_ reader: ProtoReader) throws(ProtoDecodingError) -> Self? {
        guard reader.depth < ProtoReader.mergeDepthLimit,
            let joined = protoSchema.joiningRepeatedMessageFields(reader)
        else { return nil }
        let decoded = joined.withUnsafeBytes { buffer in
            Result { () throws(ProtoDecodingError) -> Self in
                var message = Self(protoPlaceholder: ProtoPlaceholder())
                var rereader = ProtoReader(
                    buffer: buffer, position: 0, end: buffer.count, depth: reader.depth, maxDepth: reader.maxDepth)
                try protoSchema.decode(into: &message, from: &rereader)
                return message
            }
        }
        return try decoded.get()
    }
}
