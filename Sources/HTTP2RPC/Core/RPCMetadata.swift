/// Custom metadata of a call: ordered key/value pairs carried as HTTP/2 header fields.
///
/// Keys are lowercase. Keys ending in `-bin` carry binary values, base64-encoded on the wire;
/// all other values are printable ASCII. Keys may repeat. Reserved names (pseudo-headers,
/// `content-type`, `te`, `grpc-*` fields the protocol itself uses) never appear here.
public struct RPCMetadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public enum Value: Sendable, Hashable, CustomStringConvertible {
        case string(String)
        case binary([UInt8])

        public var description: String {
            switch self {
            case .string(let text): text
            case .binary(let bytes): "<\(bytes.count) bytes>"
            }
        }
    }

    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: Value
    }

    private var entries: [Entry]

    public init() { entries = [] }

    public init(dictionaryLiteral elements: (String, Value)...) {
        entries = []
        for (key, value) in elements { add(key, value) }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public mutating func add(_ key: String, _ value: Value) {
        entries.append(Entry(key: key.lowercased(), value: value))
    }

    public mutating func add(_ key: String, _ text: String) {
        add(key, .string(text))
    }

    public mutating func add(_ key: String, binary bytes: [UInt8]) {
        add(key, .binary(bytes))
    }

    /// Removes every value of `key`, then adds `value`.
    public mutating func replace(_ key: String, _ value: Value) {
        let lowered = key.lowercased()
        entries.removeAll { $0.key == lowered }
        entries.append(Entry(key: lowered, value: value))
    }

    /// All values of `key`, in the order they were sent.
    public subscript(values key: String) -> [Value] {
        let lowered = key.lowercased()
        return entries.filter { $0.key == lowered }.map(\.value)
    }

    /// The first text value of `key`, if any.
    public func first(_ key: String) -> String? {
        let lowered = key.lowercased()
        for entry in entries where entry.key == lowered {
            if case .string(let text) = entry.value { return text }
        }
        return nil
    }

    /// How many entries `key` has.
    public func count(of key: String) -> Int {
        let lowered = key.lowercased()
        return entries.reduce(0) { $0 + ($1.key == lowered ? 1 : 0) }
    }

    /// The first binary value of `key` (which must end in `-bin`), if any.
    public func firstBinary(_ key: String) -> [UInt8]? {
        let lowered = key.lowercased()
        for entry in entries where entry.key == lowered {
            if case .binary(let bytes) = entry.value { return bytes }
        }
        return nil
    }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}

// MARK: - Wire form

extension RPCMetadata {
    /// Header names the protocol owns; they are neither delivered as metadata nor accepted from it.
    static func isReserved(_ key: String) -> Bool {
        if key.hasPrefix(":") { return true }
        switch key {
        case "content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
            "grpc-status", "grpc-message", "content-length", "connection", "keep-alive",
            "proxy-connection", "transfer-encoding", "upgrade", "host":
            return true
        default:
            return false
        }
    }

    /// Whether `key` is a legal metadata key: lowercase letters, digits, `-`, `_` and `.`.
    static func isValidKey(_ key: String) -> Bool {
        guard !key.isEmpty else { return false }
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// Whether `text` may be sent as an ASCII metadata value (printable, no CR/LF).
    static func isValidTextValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
    }

    /// Adds one received header field. Binary values that are not valid base64 are dropped,
    /// as are reserved names; the return value says whether the field was kept.
    @discardableResult
    mutating func addReceived(name: String, value: String) -> Bool {
        guard !Self.isReserved(name) else { return false }
        if name.hasSuffix("-bin") {
            guard let bytes = Base64.decode(value) else { return false }
            entries.append(Entry(key: name, value: .binary(bytes)))
        } else {
            entries.append(Entry(key: name, value: .string(value)))
        }
        return true
    }

    /// Whether an entry can be sent legally: a valid, unreserved key; binary values only under
    /// `-bin` keys, printable text only under other keys.
    private static func isSendable(_ entry: Entry) -> Bool {
        guard isValidKey(entry.key), !isReserved(entry.key) else { return false }
        switch entry.value {
        case .binary: return entry.key.hasSuffix("-bin")
        case .string(let text): return !entry.key.hasSuffix("-bin") && isValidTextValue(text)
        }
    }

    /// Keys of entries that cannot be sent (see `forEachWireField`).
    var unsendableKeys: [String] {
        entries.filter { !Self.isSendable($0) }.map(\.key)
    }

    /// Calls `body` with each header field to send for this metadata, base64-encoding binary
    /// values. Entries that cannot be sent are skipped and their keys returned, for the log.
    func forEachWireField(_ body: (String, String) -> Void) -> [String] {
        var rejected: [String] = []
        for entry in entries {
            guard Self.isSendable(entry) else {
                rejected.append(entry.key)
                continue
            }
            switch entry.value {
            case .binary(let bytes): body(entry.key, Base64.encode(bytes))
            case .string(let text): body(entry.key, text)
            }
        }
        return rejected
    }
}
