import Foundation

/// A request to change the system, handled by exactly one ``CommandHandler``.
///
/// A command validates itself when it is made or decoded (bad input never reaches a handler). Its
/// result must be encodable: the bus records it under the command id, so the same command sent
/// again returns it without running the handler.
public protocol Command: Sendable {
    /// What the handler returns.
    associatedtype Result: CommandResult

    /// The name the command is registered, recorded and logged under, such as `CreateOrder`;
    /// unique among the commands of one bus.
    static var commandType: String { get }

    /// The saga the command runs for, if any; it is attached to every event the command emits.
    var sagaID: UUID? { get }

    /// The user on whose behalf the command acts, when the command names one. It goes into the
    /// metadata of the command's events ahead of ``CommandOptions/userID``, so the events that a
    /// saga's commands cause keep their user.
    var actingUserID: UUID? { get }
}

extension Command {
    /// No saga, unless the command type says otherwise.
    public var sagaID: UUID? { nil }

    /// No user, unless the command type says otherwise.
    public var actingUserID: UUID? { nil }
}

/// A command's result, encodable so that the bus can record it with the command's outcome.
public protocol CommandResult: Sendable {
    /// Encodes the result.
    func encodeCommandResult() throws -> Data

    /// Decodes a result encoded by ``encodeCommandResult()``.
    init(decodingCommandResult data: Data) throws
}

/// The result of a command that returns nothing but success.
public struct NoResult: CommandResult, Hashable {
    /// The result.
    public init() {}

    public func encodeCommandResult() throws -> Data { Data() }

    public init(decodingCommandResult data: Data) throws {}
}

extension UUID: CommandResult {
    public func encodeCommandResult() throws -> Data {
        withUnsafeBytes(of: uuid) { Data($0) }
    }

    public init(decodingCommandResult data: Data) throws {
        guard data.count == 16 else { throw CommandResultDecodingError(type: "UUID", byteCount: data.count) }
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { $0.copyBytes(from: data) }
        self.init(uuid: bytes)
    }
}

extension String: CommandResult {
    public func encodeCommandResult() throws -> Data { Data(utf8) }

    public init(decodingCommandResult data: Data) throws {
        self = String(decoding: data, as: UTF8.self)
    }
}

extension Data: CommandResult {
    public func encodeCommandResult() throws -> Data { self }

    public init(decodingCommandResult data: Data) throws { self = data }
}

extension Int64: CommandResult {
    public func encodeCommandResult() throws -> Data {
        withUnsafeBytes(of: bigEndian) { Data($0) }
    }

    public init(decodingCommandResult data: Data) throws {
        guard data.count == 8 else { throw CommandResultDecodingError(type: "Int64", byteCount: data.count) }
        self = data.reduce(0) { $0 << 8 | Int64($1) }
    }
}

/// A recorded result whose bytes do not fit its type.
struct CommandResultDecodingError: Error, CustomStringConvertible {
    let type: String
    let byteCount: Int

    var description: String { "a recorded \(type) result cannot have \(byteCount) bytes" }
}
