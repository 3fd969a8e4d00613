/// A message could not be decoded: truncated, overlong, mistyped or otherwise malformed input.
///
/// The error names what was wrong (``reason``) and where: the chain of messages and fields, from
/// the outermost message down to the field that failed (``path``). The RPC layer turns it into
/// `INVALID_ARGUMENT`; its ``description`` is safe to send back to the caller because it never
/// quotes the input bytes.
public struct ProtoDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One step of the path to the failing field.
    public struct PathElement: Sendable, Hashable, CustomStringConvertible {
        /// The fully qualified protobuf name of the message, e.g. `tradecore.order.v1.CreateOrder`.
        public var message: String
        /// The field number, when the failure is inside a field.
        public var fieldNumber: Int?
        /// The field name from the schema, when the codec knows it.
        public var fieldName: String?

        public init(message: String, fieldNumber: Int? = nil, fieldName: String? = nil) {
            self.message = message
            self.fieldNumber = fieldNumber
            self.fieldName = fieldName
        }

        public var description: String {
            switch (fieldName, fieldNumber) {
            case let (name?, number?): "\(message).\(name) (field \(number))"
            case let (nil, number?): "\(message) field \(number)"
            case let (name?, nil): "\(message).\(name)"
            case (nil, nil): message
            }
        }
    }

    /// What was wrong with the input. New reasons may be added; match with `==`, not exhaustively.
    public struct Reason: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case truncated
            case varintTooLong
            case valueOutOfRange(String)
            case invalidWireType(UInt8)
            case invalidFieldNumber
            case wrongWireType(expected: WireType, found: WireType)
            case depthLimitExceeded(Int)
            case invalidUTF8
            case unmatchedEndGroup
            case missingRequiredField
            case invalidValue(String)
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The input ends inside a tag, value or length-delimited field.
        public static let truncated = Reason(.truncated)
        /// A varint runs longer than ten bytes.
        public static let varintTooLong = Reason(.varintTooLong)
        /// A number does not fit the width of its target type (e.g. `uint32`, `bool`, a length).
        public static func valueOutOfRange(_ target: String) -> Reason { Reason(.valueOutOfRange(target)) }
        /// The wire type bits are 6 or 7.
        public static func invalidWireType(_ bits: UInt8) -> Reason { Reason(.invalidWireType(bits)) }
        /// The field number is 0 or above 2^29 - 1.
        public static let invalidFieldNumber = Reason(.invalidFieldNumber)
        /// A known field arrived with a wire type its declared type cannot have.
        public static func wrongWireType(expected: WireType, found: WireType) -> Reason {
            Reason(.wrongWireType(expected: expected, found: found))
        }
        /// Messages or groups are nested deeper than the reader allows.
        public static func depthLimitExceeded(_ limit: Int) -> Reason { Reason(.depthLimitExceeded(limit)) }
        /// A `string` field is not valid UTF-8.
        public static let invalidUTF8 = Reason(.invalidUTF8)
        /// An end-group tag with no matching start-group tag.
        public static let unmatchedEndGroup = Reason(.unmatchedEndGroup)
        /// A field the codec requires is absent (or holds its proto3 default, which is the same).
        public static let missingRequiredField = Reason(.missingRequiredField)
        /// The value is well-formed protobuf but not a valid value of its type (a 15-byte UUID,
        /// an unknown enum number, a non-canonical decimal ...).
        public static func invalidValue(_ detail: String) -> Reason { Reason(.invalidValue(detail)) }

        public var description: String {
            switch base {
            case .truncated: "truncated input"
            case .varintTooLong: "varint longer than 10 bytes"
            case .valueOutOfRange(let target): "value out of range for \(target)"
            case .invalidWireType(let bits): "invalid wire type \(bits)"
            case .invalidFieldNumber: "invalid field number"
            case .wrongWireType(let expected, let found): "wire type \(found), expected \(expected)"
            case .depthLimitExceeded(let limit): "nesting deeper than \(limit)"
            case .invalidUTF8: "string is not valid UTF-8"
            case .unmatchedEndGroup: "end-group tag without a start-group tag"
            case .missingRequiredField:
                "required, and not set (an empty or zero value is not sent, so it counts as not set)"
            case .invalidValue(let detail): detail
            }
        }
    }

    /// What was wrong.
    public var reason: Reason
    /// Where it was wrong, outermost message first. Empty when the reader failed outside any codec.
    public var path: [PathElement]

    public init(_ reason: Reason, path: [PathElement] = []) {
        self.reason = reason
        self.path = path
    }

    /// The innermost message named in ``path``.
    public var messageName: String? { path.last?.message }
    /// The number of the innermost field named in ``path``.
    public var fieldNumber: Int? { path.last?.fieldNumber }
    /// The name of the innermost field named in ``path``.
    public var fieldName: String? { path.last?.fieldName }

    /// The failing field as a path from the outermost message, such as `stop_loss.value` (a field
    /// known only by number shows as `#7`); `nil` when no field is to blame (a truncated tag).
    public var fieldPath: String? {
        let fields = path.compactMap { element in element.fieldName ?? element.fieldNumber.map { "#\($0)" } }
        return fields.isEmpty ? nil : fields.joined(separator: ".")
    }

    /// Returns this error with `element` prepended to the path, as a message codec does when a
    /// failure passes out through one of its fields.
    public func within(_ element: PathElement) -> ProtoDecodingError {
        var copy = self
        // Codecs add one element per level while unwinding, so the outermost arrives last.
        copy.path.insert(element, at: 0)
        return copy
    }

    /// Returns this error located in `message`, field `fieldNumber` named `fieldName`.
    public func within(message: String, fieldNumber: Int? = nil, fieldName: String? = nil) -> ProtoDecodingError {
        within(PathElement(message: message, fieldNumber: fieldNumber, fieldName: fieldName))
    }

    public var description: String {
        path.isEmpty ? reason.description : "\(path.map(\.description).joined(separator: " > ")): \(reason)"
    }
}
