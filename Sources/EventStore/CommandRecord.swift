import Foundation

/// The outcome of one command, recorded under its command id so that the same command sent again
/// returns the first outcome instead of running twice.
///
/// A record rides on an ``AppendRequest`` (``AppendRequest/command``) and is then committed in the
/// same transaction as the events, or is written on its own with ``EventStore/recordCommand(_:)``
/// for a command that emitted nothing. Command ids are unique in the store: a second record with
/// the same id is refused with ``DuplicateCommand``, and an append carrying it writes nothing.
/// The store does not interpret ``outcome``; the command bus chooses its encoding.
public struct CommandRecord: Sendable, Hashable {
    /// The command's id: supplied by the client, or generated for it.
    public var commandID: UUID
    /// The command's type name, such as `CreateOrder`; at most 256 bytes.
    public var commandType: String
    /// The encoded outcome (a result or a rejection), as the command bus writes it.
    public var outcome: Data
    /// When the outcome was recorded, in Unix nanoseconds; retention purges by it.
    public var time: Int64

    /// Makes a record; `time` defaults to now.
    public init(commandID: UUID, commandType: String, outcome: Data, time: Int64 = UnixTime.nowNanoseconds()) {
        self.commandID = commandID
        self.commandType = commandType
        self.outcome = outcome
        self.time = time
    }
}

/// A command record as stored, with what its append committed.
public struct RecordedCommand: Sendable, Hashable {
    /// The record as it was written.
    public let record: CommandRecord
    /// The append the record was committed with; `nil` for a record written on its own.
    public let append: AppendResult?

    /// Makes a recorded command; backends build these.
    public init(record: CommandRecord, append: AppendResult?) {
        self.record = record
        self.append = append
    }
}

/// A command id that is already recorded, thrown by ``EventStore/append(_:)`` for an append whose
/// ``AppendRequest/command`` was recorded before (by another append or on its own), and by
/// ``EventStore/recordCommand(_:)``. Nothing of the refused request was written.
///
/// It carries the first record, so the caller can answer with the first outcome. An exact retry
/// of the append that recorded the command (the same event ids) is not refused: it returns the
/// original result, as every retry does.
public struct DuplicateCommand: Error, Sendable, Hashable, CustomStringConvertible {
    /// The record committed first.
    public let existing: RecordedCommand

    /// Makes the error; backends build these.
    public init(existing: RecordedCommand) {
        self.existing = existing
    }

    public var description: String {
        "command \(existing.record.commandID.lowercasedText) (\(existing.record.commandType)) was already "
            + "recorded; nothing was written"
    }
}

/// A fencing check on an append: the append commits only if `token` is the newest token the store
/// has issued for `key` (see ``EventStore/issueFencingToken(for:)``).
///
/// A lock hands out a new, larger token with each acquisition. A holder whose lease ran out while
/// it was paused still carries its old token; once anyone acquired the lock after it, the store has
/// issued a newer token for the key and refuses the old holder's appends with
/// ``EventStoreError/Code/staleFencingToken``. A token the store never issued is refused too.
public struct FencingCheck: Sendable, Hashable {
    /// The lock's key, such as `broker_connection:<user>:<broker>:<environment>`; 1 to 256 bytes.
    public var key: String
    /// The token of the holder's acquisition.
    public var token: Int64

    /// Makes a fencing check.
    public init(key: String, token: Int64) {
        self.key = key
        self.token = token
    }
}
