import EventStore
import GRDB

/// Turns SQLite failures into ``EventStoreError``s that say what happened to the caller's data.
enum StorageErrors {
    /// Whether an error may have left the transaction or the file in an unknown state, so the whole
    /// batch must fail (SQLite may already have rolled the transaction back on these).
    static func abortsTransaction(_ error: any Error) -> Bool {
        if error is LogPositionTaken { return true }
        guard let error = error as? DatabaseError else { return false }
        switch error.resultCode {
        case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_NOMEM, .SQLITE_BUSY,
            .SQLITE_LOCKED, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_INTERRUPT, .SQLITE_ABORT:
            return true
        default:
            return false
        }
    }

    /// Whether an insert into the log failed because its position is taken (the primary key, or
    /// the hole-check trigger's position rule).
    static func isTakenPosition(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError, error.resultCode == .SQLITE_CONSTRAINT else { return false }
        let message = error.message ?? ""
        return message.contains("events.position") || message.contains("must directly follow the head of the log")
    }

    /// Whether the store must stop accepting appends: after an I/O error or corruption the file's
    /// state is unknown, and appending on top of it could acknowledge writes that are not there.
    static func isFatal(_ error: EventStoreError) -> Bool {
        error.code == .storageFailure || error.code == .corruptStore
    }

    static func map(_ error: any Error, doing operation: String, path: String) -> EventStoreError {
        if let error = error as? EventStoreError { return error }
        if let error = error as? LogPositionTaken { return error.failure }
        guard let databaseError = error as? DatabaseError else {
            return EventStoreError(
                code: .storageFailure,
                message: "\(operation) failed on \(path): \(error)",
                underlying: SendableDescription(error)
            )
        }
        let detail = databaseError.message ?? "\(databaseError.resultCode)"
        let underlying = SendableDescription(databaseError)
        switch databaseError.resultCode {
        case .SQLITE_FULL:
            return EventStoreError(
                code: .storageFull,
                message:
                    "\(operation) failed: the disk holding \(path), or the store's size limit, is full (\(detail)); "
                    + "nothing of it was written",
                underlying: underlying
            )
        case .SQLITE_IOERR:
            return EventStoreError(
                code: .storageFailure,
                message: "\(operation) failed: I/O error on \(path) (\(detail)); it was not acknowledged",
                underlying: underlying
            )
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return EventStoreError(
                code: .corruptStore,
                message: "\(operation) failed: \(path) is damaged (\(detail))",
                underlying: underlying
            )
        default:
            return EventStoreError(
                code: .storageFailure,
                message: "\(operation) failed on \(path): \(detail)",
                underlying: underlying
            )
        }
    }
}

/// A position the writer numbered is taken in the file: another process has written to it. Ends
/// the whole transaction, and (a storage failure) stops appends.
struct LogPositionTaken: Error {
    let failure: EventStoreError
}

/// An error's description, kept as a `Sendable` value so it can travel inside ``EventStoreError``.
struct SendableDescription: Error, Sendable, CustomStringConvertible {
    let description: String

    init(_ error: any Error) {
        description = String(describing: error)
    }
}
