/// What a schema says about one field: the facts a `.proto` file states, plus the codec's
/// checks that proto3 cannot express (``isRequired``, ``format``).
public struct ProtoFieldDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// The field name as written in the `.proto` file (snake_case).
    public let name: String
    /// The field number.
    public let number: Int
    /// The declared type.
    public let type: ProtoFieldType
    /// The declared label.
    public let label: ProtoFieldLabel
    /// The `oneof` the field belongs to, if any.
    public let oneof: String?
    /// Whether decoding fails when the field is absent or holds its default.
    public let isRequired: Bool
    /// The value format beyond the protobuf type (`"uuid"`, `"decimal"`), if any.
    public let format: String?
    /// The Swift property the field is bound to, as `\Type.property`, so a test can check that
    /// each field reads and writes the property its name says. Nil for `oneof` members.
    public let swiftBinding: String?

    public init(
        name: String, number: Int, type: ProtoFieldType, label: ProtoFieldLabel,
        oneof: String? = nil, isRequired: Bool = false, format: String? = nil, swiftBinding: String? = nil
    ) {
        self.name = name
        self.number = number
        self.type = type
        self.label = label
        self.oneof = oneof
        self.isRequired = isRequired
        self.format = format
        self.swiftBinding = swiftBinding
    }

    public var description: String {
        let prefix = label == .singular ? "" : "\(label.rawValue) "
        return "\(prefix)\(type) \(name) = \(number)"
    }
}

/// One field of a message of type `Message`: its descriptor and the code that writes and reads
/// it, built from a codec and a key path (or accessors) so that the two cannot disagree.
///
/// The static constructors choose the presence rules:
/// - ``field(_:_:_:_:required:)``: implicit presence; the default is not written.
/// - ``field(_:_:_:_:)-(_,_,_,WritableKeyPath<Message,C.Value>)``: a presence codec on a
///   non-optional property: required.
/// - ``field(_:_:_:_:)-(_,_,_,WritableKeyPath<Message,C.Value?>)``: a presence codec on an
///   optional property: absent is `nil`.
/// - ``optional(_:_:_:_:)``: proto3 `optional`, explicit presence.
/// - ``repeated(_:_:_:_:)``, ``map(_:_:_:_:_:)`` and ``oneof(_:_:_:_:get:set:)``.
public struct ProtoField<Message>: Sendable {
    /// Writes the field (tag and value) if the message holds a value that must be written.
    public typealias Encoder = @Sendable (Message, inout ProtoWriter) -> Void
    /// Reads one occurrence of the field; returns whether it left a non-default value, for the
    /// required-field check.
    public typealias Decoder =
        @Sendable (inout Message, inout ProtoReader, ProtoTag) throws(ProtoDecodingError) -> Bool

    /// An encoder that reads the message where it lies: the schema passes every field's encoder
    /// a pointer to one copy of the message, instead of each field materializing its own.
    @usableFromInline typealias InPlaceEncoder = @Sendable (UnsafePointer<Message>, inout ProtoWriter) -> Void

    /// The field's description, checked against the `.proto` files by the drift test.
    public let descriptor: ProtoFieldDescriptor
    @usableFromInline let encoder: InPlaceEncoder
    @usableFromInline let decoder: Decoder

    /// Creates a field from its descriptor and hand-written encoder and decoder. Prefer the
    /// codec-based constructors, which derive all three from one declaration.
    public init(descriptor: ProtoFieldDescriptor, encoder: @escaping Encoder, decoder: @escaping Decoder) {
        self.init(
            descriptor: descriptor, inPlaceEncoder: { message, writer in encoder(message.pointee, &writer) },
            decoder: decoder)
    }

    @usableFromInline
    init(descriptor: ProtoFieldDescriptor, inPlaceEncoder: @escaping InPlaceEncoder, decoder: @escaping Decoder) {
        self.descriptor = descriptor
        self.encoder = inPlaceEncoder
        self.decoder = decoder
    }
}

extension ProtoField {
    /// A scalar with implicit presence: the default (`0`, `""`, `false`) is not written, and
    /// reads as absent. With `required`, a default value is rejected.
    @inlinable
    public static func field<C: ProtoDefaultingCodec>(
        _ name: String, _ number: Int, _ codec: C.Type,
        _ keyPath: any WritableKeyPath<Message, C.Value> & Sendable, required: Bool = false
    ) -> ProtoField {
        let property = StoredProperty(keyPath)
        return ProtoField(
            descriptor: ProtoFieldDescriptor(
                name: name, number: number, type: C.fieldType, label: .singular,
                isRequired: required, format: C.format, swiftBinding: "\(keyPath)"),
            inPlaceEncoder: { message, writer in
                let value = property.get(message)
                guard !C.isDefault(value) else { return }
                C.writeField(number, value, to: &writer)
            },
            decoder: { (message, reader, tag) throws(ProtoDecodingError) in
                try reader.expect(tag, C.wireType)
                let value = try C.read(from: &reader) ?? C.defaultValue
                property.set(&message, value)
                return !C.isDefault(value)
            })
    }

    /// A value whose type has no default (a UUID, an enum, a message) on a non-optional
    /// property: the field is required.
    @inlinable
    public static func field<C: ProtoPresenceCodec>(
        _ name: String, _ number: Int, _ codec: C.Type,
        _ keyPath: any WritableKeyPath<Message, C.Value> & Sendable
    ) -> ProtoField {
        let property = StoredProperty(keyPath)
        return ProtoField(
            descriptor: ProtoFieldDescriptor(
                name: name, number: number, type: C.fieldType, label: .singular,
                isRequired: true, format: C.format, swiftBinding: "\(keyPath)"),
            inPlaceEncoder: { message, writer in C.writeField(number, property.get(message), to: &writer) },
            decoder: { (message, reader, tag) throws(ProtoDecodingError) in
                try reader.expect(tag, C.wireType)
                guard let value = try C.read(from: &reader) else { return false }
                property.set(&message, value)
                return true
            })
    }

    /// A value whose type has no default on an optional property: `nil` is not written, and an
    /// absent field (or its default on the wire) reads as `nil`.
    @inlinable
    public static func field<C: ProtoPresenceCodec>(
        _ name: String, _ number: Int, _ codec: C.Type,
        _ keyPath: any WritableKeyPath<Message, C.Value?> & Sendable
    ) -> ProtoField {
        let property = StoredProperty(keyPath)
        return ProtoField(
            descriptor: ProtoFieldDescriptor(
                name: name, number: number, type: C.fieldType, label: .singular, format: C.format,
                swiftBinding: "\(keyPath)"),
            inPlaceEncoder: { message, writer in
                if let value = property.get(message) { C.writeField(number, value, to: &writer) }
            },
            decoder: { (message, reader, tag) throws(ProtoDecodingError) in
                try reader.expect(tag, C.wireType)
                let value = try C.read(from: &reader)
                property.set(&message, value)
                return value != nil
            })
    }

    /// A proto3 `optional` scalar: explicit presence, so a set default value is written and
    /// reads back as set.
    @inlinable
    public static func optional<C: ProtoDefaultingCodec>(
        _ name: String, _ number: Int, _ codec: C.Type,
        _ keyPath: any WritableKeyPath<Message, C.Value?> & Sendable
    ) -> ProtoField {
        let property = StoredProperty(keyPath)
        return ProtoField(
            descriptor: ProtoFieldDescriptor(
                name: name, number: number, type: C.fieldType, label: .optional, format: C.format,
                swiftBinding: "\(keyPath)"),
            inPlaceEncoder: { message, writer in
                if let value = property.get(message) { C.writeField(number, value, to: &writer) }
            },
            decoder: { (message, reader, tag) throws(ProtoDecodingError) in
                try reader.expect(tag, C.wireType)
                property.set(&message, try C.read(from: &reader) ?? C.defaultValue)
                return true
            })
    }

    /// A repeated field. Scalars are written packed and read packed or unpacked; strings, bytes
    /// and messages are written one element per occurrence. An element that reads as absent
    /// (an empty UUID, enum 0) is rejected, since a list cannot hold a hole.
    @inlinable
    public static func repeated<C: ProtoFieldCodec>(
        _ name: String, _ number: Int, _ codec: C.Type,
        _ keyPath: any WritableKeyPath<Message, [C.Value]> & Sendable
    ) -> ProtoField {
        let property = StoredProperty(keyPath)
        return ProtoField(
            descriptor: ProtoFieldDescriptor(
                name: name, number: number, type: C.fieldType, label: .repeated, format: C.format,
                swiftBinding: "\(keyPath)"),
            inPlaceEncoder: { message, writer in
                let elements = property.get(message)
                if C.isPackable {
                    writer.writePackedField(number, elements) { writer, element in C.write(element, to: &writer) }
                } else {
                    for element in elements {
                        C.writeField(number, element, to: &writer)
                    }
                }
            },
            decoder: { (message, reader, tag) throws(ProtoDecodingError) in
                if C.isPackable {
                    try reader.readRepeatedScalar(tag, elementWireType: C.wireType) {
                        (elementReader: inout ProtoReader) throws(ProtoDecodingError) in
                        guard let element = try C.read(from: &elementReader) else {
                            throw ProtoDecodingError(.invalidValue("repeated element holds the default value"))
                        }
                        property.modify(&message) { $0.append(element) }
                    }
                } else {
                    try reader.expect(tag, C.wireType)
                    guard let element = try C.read(from: &reader) else {
                        throw ProtoDecodingError(.invalidValue("repeated element holds the default value"))
                    }
                    property.modify(&message) { $0.append(element) }
                }
                return true
            })
    }

    /// A `map<K, V>` field. Entries are written sorted by key, as protobuf's deterministic
    /// serialization does, so equal maps encode to equal bytes. A missing key or value in an entry
    /// reads as the default; a repeated key keeps the last value; distinct string keys that Swift
    /// considers equal (canonically equivalent) are rejected.
    @inlinable
    public static func map<K: ProtoMapKeyCodec, V: ProtoDefaultingCodec>(
        _ name: String, _ number: Int, _ keyCodec: K.Type, _ valueCodec: V.Type,
        _ keyPath: any WritableKeyPath<Message, [K.Value: V.Value]> & Sendable
    ) -> ProtoField {
        let property = StoredProperty(keyPath)
        return ProtoField(
            descriptor: ProtoFieldDescriptor(
                name: name, number: number, type: .map(key: K.fieldType, value: V.fieldType), label: .repeated,
                swiftBinding: "\(keyPath)"),
            inPlaceEncoder: { message, writer in
                let map = property.get(message)
                guard !map.isEmpty else { return }
                for (key, value) in map.sorted(by: { K.precedes($0.key, $1.key) }) {
                    writer.writeMapEntry(
                        number,
                        key: { writer in
                            K.writeField(1, key, to: &writer)
                        },
                        value: { writer in
                            V.writeField(2, value, to: &writer)
                        })
                }
            },
            decoder: { (message, reader, tag) throws(ProtoDecodingError) in
                try reader.expect(tag, .lengthDelimited)
                let (key, value) = try reader.readMessage {
                    (entry: inout ProtoReader) throws(ProtoDecodingError) -> (K.Value, V.Value) in
                    var key = K.defaultValue
                    var value = V.defaultValue
                    while let entryTag = try entry.nextTag() {
                        switch entryTag.fieldNumber {
                        case 1:
                            try entry.expect(entryTag, K.wireType)
                            key = try K.read(from: &entry) ?? K.defaultValue
                        case 2:
                            try entry.expect(entryTag, V.wireType)
                            value = try V.read(from: &entry) ?? V.defaultValue
                        default:
                            try entry.skip(entryTag)
                        }
                    }
                    return (key, value)
                }
                // A repeated key keeps the last value, as in protobuf. Two different keys that Swift
                // holds equal (canonically equivalent strings) cannot both be kept: rejected rather
                // than one silently dropped.
                let collides = property.modify(&message) { map in
                    if let existing = map.index(forKey: key), !K.isSameWireKey(map[existing].key, key) { return true }
                    map[key] = value
                    return false
                }
                if collides {
                    throw ProtoDecodingError(.invalidValue("two map keys are canonically equivalent strings"))
                }
                return true
            })
    }

    /// A member of a `oneof`: written whenever `get` returns a value, even the default, since
    /// oneof members have explicit presence; reading it replaces whichever member was set.
    @inlinable
    public static func oneof<C: ProtoFieldCodec>(
        _ oneof: String, _ name: String, _ number: Int, _ codec: C.Type,
        get: @escaping @Sendable (Message) -> C.Value?,
        set: @escaping @Sendable (inout Message, C.Value) -> Void
    ) -> ProtoField {
        ProtoField(
            descriptor: ProtoFieldDescriptor(
                name: name, number: number, type: C.fieldType, label: .singular, oneof: oneof, format: C.format),
            inPlaceEncoder: { message, writer in
                guard let value = get(message.pointee) else { return }
                C.writeField(number, value, to: &writer)
            },
            decoder: { (message, reader, tag) throws(ProtoDecodingError) in
                try reader.expect(tag, C.wireType)
                guard let value = try C.read(from: &reader) else {
                    throw ProtoDecodingError(.invalidValue("oneof member holds no value"))
                }
                set(&message, value)
                return true
            })
    }
}

/// Reads and writes a stored property named by a key path at the property's byte offset.
///
/// Applying a key path to a value whose type is only known at run time goes through the
/// runtime's generic projection: about 80 instructions to write a field and several hundred to
/// read one (it instantiates generic metadata on every read). Every stored property of a struct
/// has a fixed offset (`MemoryLayout.offset(of:)`), where a plain typed load or store does the
/// same job. Properties without one (computed, or in a class) go through the key path.
@usableFromInline
struct StoredProperty<Root, Value>: Sendable {
    @usableFromInline let keyPath: any WritableKeyPath<Root, Value> & Sendable
    @usableFromInline let offset: Int?

    @inlinable
    init(_ keyPath: any WritableKeyPath<Root, Value> & Sendable) {
        self.keyPath = keyPath
        // A zero-size root has no storage to point into; its key path still works.
        self.offset = MemoryLayout<Root>.size > 0 ? MemoryLayout<Root>.offset(of: keyPath) : nil
    }

    @inlinable
    func get(_ root: UnsafePointer<Root>) -> Value {
        guard let offset else { return root.pointee[keyPath: keyPath] }
        // The offset is that of a stored, initialized `Value` inside `Root`.
        return UnsafeRawPointer(root).load(fromByteOffset: offset, as: Value.self)
    }

    @inlinable
    func set(_ root: inout Root, _ value: Value) {
        modify(&root) { $0 = value }
    }

    /// Runs `body` on the property in place, without copying it out and back (so appending to
    /// an array property does not copy the array).
    @inlinable
    func modify<Result>(_ root: inout Root, _ body: (inout Value) -> Result) -> Result {
        guard let offset else { return body(&root[keyPath: keyPath]) }
        return withUnsafeMutableBytes(of: &root) { bytes in
            // `offset` is only set for a root of non-zero size, whose buffer has a base address;
            // it is that of a stored `Value` inside `Root`, so this memory is bound to `Value` and
            // holds an initialized one.
            body(&(bytes.baseAddress.unsafelyUnwrapped + offset).assumingMemoryBound(to: Value.self).pointee)
        }
    }
}
