import EventStore
import Foundation

/// What a command came to, as ``CommandBus/send(_:options:)`` returns it.
public struct CommandOutcome<Result: CommandResult>: Sendable {
    /// The command's id (the client's, or the one the bus generated).
    public let commandID: UUID
    /// The handler's result.
    public let result: Result
    /// The global position of the last event the command appended; `nil` if it appended none.
    /// Pass it to a query as its minimum position to read the command's own writes.
    public let position: Int64?
    /// How many times the handler ran: 1, plus one per retry after a version conflict; 0 when the
    /// outcome was recorded before (``replayed``).
    public let attempts: Int
    /// Whether the outcome is the recorded one of an earlier send of the same command id: the
    /// handler did not run.
    public let replayed: Bool

    /// The retries after version conflicts.
    public var retries: Int { max(attempts - 1, 0) }
}

/// A command's outcome without its typed result, as interceptors see it.
public struct CommandReceipt: Sendable, Hashable {
    /// The command's id.
    public let commandID: UUID
    /// The command's type.
    public let commandType: String
    /// The global position of the last event the command appended, if any.
    public let position: Int64?
    /// How many times the handler ran (0 when replayed).
    public let attempts: Int
    /// Whether the outcome was an earlier, recorded one.
    public let replayed: Bool
}

/// A recorded outcome, looked up by command id (``CommandBus/recordedOutcome(of:)``): for a caller
/// whose deadline passed before it learned what became of its command.
public struct RecordedOutcome: Sendable, Hashable {
    /// How the command ended.
    public enum Status: Sendable, Hashable {
        /// The handler returned this encoded result.
        case completed(Data)
        /// The domain refused the command.
        case rejected(CommandRejection)
    }

    /// The command's id.
    public let commandID: UUID
    /// The command's type.
    public let commandType: String
    /// How it ended.
    public let status: Status
    /// The global position of the last event it appended, if any.
    public let position: Int64?
    /// When the outcome was recorded, in Unix nanoseconds.
    public let recordedAt: Int64
    /// The ``CommandOptions/fingerprint`` the command was sent with, if it had one.
    let fingerprint: [UInt8]?

    init(
        commandID: UUID, commandType: String, status: Status, position: Int64?, recordedAt: Int64,
        fingerprint: [UInt8]?
    ) {
        self.commandID = commandID
        self.commandType = commandType
        self.status = status
        self.position = position
        self.recordedAt = recordedAt
        self.fingerprint = fingerprint
    }

    /// Reads a stored record.
    init(_ recorded: RecordedCommand) throws {
        let record = recorded.record
        let decoded = try OutcomeCoding.decode(record.outcome)
        self.commandID = record.commandID
        self.commandType = record.commandType
        self.status = decoded.status
        self.position = recorded.append?.lastPosition ?? decoded.position
        self.recordedAt = record.time
        self.fingerprint = decoded.fingerprint
    }
}

/// The bytes of ``CommandRecord/outcome``: a format byte (2; 1 before fingerprints, still read), a
/// kind byte, then (format 2) the fingerprint's length (one byte, 0 for none) and bytes; then for a
/// result the position (8 bytes, big-endian, -1 for none) and the result's bytes; for a rejection
/// its code, message and details as length-prefixed UTF-8 strings.
enum OutcomeCoding {
    private static let formatWithoutFingerprint: UInt8 = 1
    private static let format: UInt8 = 2
    private static let completed: UInt8 = 0
    private static let rejected: UInt8 = 1
    /// The longest fingerprint recorded; a longer one is cut to this (a digest needs no more).
    static let maxFingerprintBytes = 64

    /// A completed outcome. `position` is set for a record written on its own after earlier appends;
    /// a record riding on an append takes its position from the append.
    static func encodeCompleted(_ result: Data, position: Int64?, fingerprint: [UInt8]?) -> Data {
        var bytes = header(completed, fingerprint: fingerprint, capacity: 8 + result.count)
        append(position ?? -1, to: &bytes)
        bytes.append(result)
        return bytes
    }

    static func encodeRejected(_ rejection: CommandRejection, fingerprint: [UInt8]?) -> Data {
        var bytes = header(rejected, fingerprint: fingerprint, capacity: 64)
        append(rejection.code.rawValue, to: &bytes)
        append(rejection.message, to: &bytes)
        append(Int64(rejection.details.count), to: &bytes)
        for (key, value) in rejection.details.sorted(by: { $0.key < $1.key }) {
            append(key, to: &bytes)
            append(value, to: &bytes)
        }
        return bytes
    }

    private static func header(_ kind: UInt8, fingerprint: [UInt8]?, capacity: Int) -> Data {
        let fingerprint = (fingerprint ?? []).prefix(maxFingerprintBytes)
        var bytes = Data(capacity: 3 + fingerprint.count + capacity)
        bytes.append(format)
        bytes.append(kind)
        bytes.append(UInt8(fingerprint.count))
        bytes.append(contentsOf: fingerprint)
        return bytes
    }

    static func decode(
        _ bytes: Data
    ) throws -> (status: RecordedOutcome.Status, position: Int64?, fingerprint: [UInt8]?) {
        var reader = Reader(bytes: bytes)
        let version = try reader.byte()
        guard version == format || version == formatWithoutFingerprint else {
            throw OutcomeDecodingError(reason: "unknown format")
        }
        let kind = try reader.byte()
        let fingerprint = version == format ? try reader.take(Int(try reader.byte())) : []
        let recorded = fingerprint.isEmpty ? nil : fingerprint
        switch kind {
        case completed:
            let position = try reader.int64()
            return (.completed(reader.rest()), position >= 0 ? position : nil, recorded)
        case rejected:
            let code = try reader.string()
            let message = try reader.string()
            let count = try reader.int64()
            guard (0...10_000).contains(count) else { throw OutcomeDecodingError(reason: "bad detail count") }
            var details: [String: String] = [:]
            for _ in 0..<count {
                let key = try reader.string()
                details[key] = try reader.string()
            }
            return (.rejected(CommandRejection(.init(rawValue: code), message, details: details)), nil, recorded)
        default:
            throw OutcomeDecodingError(reason: "unknown kind")
        }
    }

    private static func append(_ value: Int64, to bytes: inout Data) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func append(_ text: String, to bytes: inout Data) {
        let utf8 = Array(text.utf8)
        append(Int64(utf8.count), to: &bytes)
        bytes.append(contentsOf: utf8)
    }

    private struct Reader {
        let bytes: Data
        var offset: Int

        init(bytes: Data) {
            self.bytes = bytes
            self.offset = bytes.startIndex
        }

        mutating func byte() throws -> UInt8 {
            guard offset < bytes.endIndex else { throw OutcomeDecodingError(reason: "truncated") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func take(_ count: Int) throws -> [UInt8] {
            guard count <= bytes.endIndex - offset else { throw OutcomeDecodingError(reason: "truncated") }
            defer { offset += count }
            return Array(bytes[offset..<(offset + count)])
        }

        mutating func int64() throws -> Int64 {
            var value: Int64 = 0
            for _ in 0..<8 { value = value << 8 | Int64(try byte()) }
            return value
        }

        mutating func string() throws -> String {
            let count = try int64()
            guard count >= 0, count <= bytes.endIndex - offset else { throw OutcomeDecodingError(reason: "truncated") }
            defer { offset += Int(count) }
            return String(decoding: bytes[offset..<(offset + Int(count))], as: UTF8.self)
        }

        func rest() -> Data { Data(bytes[offset...]) }
    }
}

/// A recorded outcome that cannot be read: damaged, or written by a newer version.
struct OutcomeDecodingError: Error, CustomStringConvertible {
    let reason: String

    var description: String { "cannot read a recorded command outcome: \(reason)" }
}
