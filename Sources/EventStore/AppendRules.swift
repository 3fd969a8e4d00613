import Foundation

/// The rules of an append that every backend must apply identically: input validation, the
/// expected-version check and idempotent retries. Backends find the facts (the stream's version,
/// where the append's event ids are already committed); these functions decide.
package enum AppendRules {
    /// The longest event type accepted, in bytes.
    package static let maxEventTypeLength = 128
    /// The longest command type accepted in metadata, in bytes.
    package static let maxCommandTypeLength = 256

    /// Checks an append before it reaches storage. Throws the first problem found.
    package static func validate(_ request: AppendRequest, limits: EventStoreLimits) throws(EventStoreError) {
        let stream = request.stream
        guard !request.events.isEmpty else {
            throw .invalidArgument("an append to \(stream) needs at least one event")
        }
        if case .exact(let version) = request.expectedVersion, version < 0 {
            throw .invalidArgument(
                "expected version \(version) for \(stream) is negative; use .noStream for a new stream")
        }
        guard request.events.count <= limits.maxEventsPerAppend else {
            throw EventStoreError(
                code: .appendTooLarge,
                message: "an append to \(stream) has \(request.events.count) events; the limit is "
                    + "\(limits.maxEventsPerAppend)"
            )
        }
        var totalBytes = 0
        for (index, event) in request.events.enumerated() {
            try validate(event, index: index, stream: stream, limits: limits)
            totalBytes += event.data.count + event.metadata.extraByteCount
        }
        if request.events.count > 1 {
            var ids = Set<UUID>(minimumCapacity: request.events.count)
            for event in request.events where !ids.insert(event.id).inserted {
                throw .invalidArgument("event id \(event.id) appears twice in one append to \(stream)")
            }
        }
        guard totalBytes <= limits.maxAppendBytes else {
            throw EventStoreError(
                code: .appendTooLarge,
                message: "an append to \(stream) holds \(totalBytes) bytes; the limit is \(limits.maxAppendBytes)"
            )
        }
        if let command = request.command {
            try validate(command, limits: limits)
        }
        if let fencing = request.fencing {
            try validateFencingKey(fencing.key)
        }
    }

    /// The longest lock key accepted for fencing, in bytes.
    package static let maxFencingKeyLength = 256

    /// Checks a command record before it reaches storage.
    package static func validate(_ command: CommandRecord, limits: EventStoreLimits) throws(EventStoreError) {
        let id = command.commandID.lowercasedText
        guard !command.commandType.isEmpty, command.commandType.utf8.count <= maxCommandTypeLength else {
            throw .invalidArgument(
                "the record of command \(id) has a command type of \(command.commandType.utf8.count) bytes; it must "
                    + "have 1 to \(maxCommandTypeLength)"
            )
        }
        guard command.outcome.count <= limits.maxCommandOutcomeBytes else {
            throw EventStoreError(
                code: .eventTooLarge,
                message: "the outcome of command \(id) (\(command.commandType)) has \(command.outcome.count) bytes; "
                    + "the limit is \(limits.maxCommandOutcomeBytes)"
            )
        }
    }

    /// Checks a lock key used for fencing tokens.
    package static func validateFencingKey(_ key: String) throws(EventStoreError) {
        guard !key.isEmpty, key.utf8.count <= maxFencingKeyLength else {
            throw .invalidArgument(
                "a fencing key must have 1 to \(maxFencingKeyLength) bytes, not \(key.utf8.count)")
        }
    }

    private static func validate(
        _ event: NewEvent,
        index: Int,
        stream: StreamName,
        limits: EventStoreLimits
    ) throws(EventStoreError) {
        guard isValidEventType(event.type) else {
            throw .invalidArgument(
                "event \(index) of an append to \(stream) has type '\(event.type.prefix(200))': an event type is "
                    + "1 to \(maxEventTypeLength) printable ASCII characters without spaces"
            )
        }
        guard event.data.count <= limits.maxEventDataBytes else {
            throw EventStoreError(
                code: .eventTooLarge,
                message: "event \(index) (\(event.type)) of an append to \(stream) has \(event.data.count) bytes "
                    + "of data; the limit is \(limits.maxEventDataBytes)"
            )
        }
        let extraBytes = event.metadata.extraByteCount
        guard extraBytes <= limits.maxExtraMetadataBytes else {
            throw EventStoreError(
                code: .eventTooLarge,
                message: "event \(index) (\(event.type)) of an append to \(stream) has \(extraBytes) bytes of "
                    + "extra metadata; the limit is \(limits.maxExtraMetadataBytes)"
            )
        }
        if let commandType = event.metadata.commandType, commandType.utf8.count > maxCommandTypeLength {
            throw .invalidArgument(
                "event \(index) of an append to \(stream) has a command type longer than \(maxCommandTypeLength) bytes"
            )
        }
    }

    /// Whether `type` is a valid event type: 1 to 128 printable ASCII characters without spaces.
    package static func isValidEventType(_ type: String) -> Bool {
        let bytes = type.utf8
        return (1...maxEventTypeLength).contains(bytes.count) && bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// Where an event id of the append is already committed.
    package struct CommittedEvent: Sendable, Hashable {
        package var stream: StreamName
        package var version: Int64
        package var position: Int64

        package init(stream: StreamName, version: Int64, position: Int64) {
            self.stream = stream
            self.version = version
            self.position = position
        }
    }

    /// What to do with an append.
    package enum Decision: Sendable, Hashable {
        /// Write the events at versions following `currentVersion`.
        case write
        /// The same append was committed before: answer with its result and write nothing.
        case alreadyCommitted(AppendResult)
        /// Refuse with a ``VersionConflict`` for this reason.
        case conflict(VersionConflict.Reason)
        /// These event ids are committed in other streams; refuse with ``EventStoreError/Code/duplicateEventID``.
        case duplicateEventIDs([UUID])
        /// The append's command id is already recorded; refuse with ``DuplicateCommand``.
        case duplicateCommand(RecordedCommand)
        /// The append's fencing token is not the newest issued for its key (`latest`, `nil` if none was
        /// issued); refuse with ``EventStoreError/Code/staleFencingToken``.
        case staleFencingToken(latest: Int64?)
    }

    /// Decides an append from the stream's current version (`nil`: no stream) and where its event ids
    /// are already committed (ids absent from `committed` are not committed anywhere).
    ///
    /// A retry is recognised by its event ids: when every id is committed in the stream, in order,
    /// at consecutive versions, and the expected version fits where they were written, the append
    /// was committed before and its first result is returned. Ids committed only in part are a
    /// conflict: the store never writes half of an append and never guesses.
    ///
    /// Otherwise the checks run in the order ``AppendRequest`` documents: a recorded command id
    /// (`recordedCommand`: the record already stored under the request's command id, if any), then
    /// the expected version, event ids used elsewhere, and last the fencing token (`latestToken`: the
    /// newest token issued for the request's fencing key, `nil` if none).
    package static func decide(
        _ request: AppendRequest,
        currentVersion: Int64?,
        committed: [UUID: CommittedEvent],
        recordedCommand: RecordedCommand? = nil,
        latestToken: Int64? = nil
    ) -> Decision {
        let inStream = request.events.map { event -> CommittedEvent? in
            guard let found = committed[event.id], found.stream == request.stream else { return nil }
            return found
        }
        if inStream.allSatisfy({ $0 == nil }) {
            if let recordedCommand { return .duplicateCommand(recordedCommand) }
            guard request.expectedVersion.isSatisfied(byCurrentVersion: currentVersion) else {
                return .conflict(.wrongExpectedVersion)
            }
            let elsewhere = request.events.map(\.id).filter { committed[$0] != nil }
            guard elsewhere.isEmpty else { return .duplicateEventIDs(elsewhere) }
            if let fencing = request.fencing, fencing.token != latestToken {
                return .staleFencingToken(latest: latestToken)
            }
            return .write
        }
        guard let original = retriedAppend(request, inStream: inStream) else {
            if let recordedCommand { return .duplicateCommand(recordedCommand) }
            return .conflict(.partiallyCommittedRetry)
        }
        return .alreadyCommitted(original)
    }

    /// The first result of the append that `request` retries, or `nil` when its events (found where
    /// `inStream` says) are not committed in its stream as exactly one earlier append.
    private static func retriedAppend(_ request: AppendRequest, inStream: [CommittedEvent?]) -> AppendResult? {
        let found = inStream.compactMap { $0 }
        guard found.count == inStream.count, let first = found.first else { return nil }
        for (offset, event) in found.enumerated() where event.version != first.version + Int64(offset) {
            return nil
        }
        guard retry(of: request.expectedVersion, fitsFirstVersion: first.version) else { return nil }
        return AppendResult(stream: request.stream, firstVersion: first.version, positions: found.map(\.position))
    }

    /// The error for a stale fencing token.
    package static func staleFencingTokenError(
        _ request: AppendRequest, latest: Int64?
    ) -> EventStoreError {
        let token = request.fencing.map { String($0.token) } ?? "?"
        let key = request.fencing?.key ?? "?"
        let newest = latest.map { "the newest issued is \($0)" } ?? "no token was ever issued for it"
        return EventStoreError(
            code: .staleFencingToken,
            message: "an append to \(request.stream) carries fencing token \(token) for lock '\(key)', but \(newest): "
                + "the lock was acquired by someone else since; nothing was written"
        )
    }

    /// Whether an append with this expectation could have written its first event at `firstVersion`.
    private static func retry(of expected: ExpectedVersion, fitsFirstVersion firstVersion: Int64) -> Bool {
        switch expected {
        case .any: true
        case .noStream: firstVersion == 0
        case .streamExists: firstVersion > 0
        case .exact(let version): firstVersion == version + 1
        }
    }

    /// The stream versions a conflict reports as "written after the expected version", cut at `limit`
    /// events; `nil` when there are none. `isComplete` is false when the cut dropped some.
    package static func conflictVersions(
        expected: ExpectedVersion,
        currentVersion: Int64?,
        limit: Int
    ) -> (versions: ClosedRange<Int64>, isComplete: Bool)? {
        guard let currentVersion else { return nil }
        let first: Int64
        switch expected {
        case .exact(let version) where version < currentVersion: first = version + 1
        case .noStream: first = 0
        default: return nil
        }
        let last = min(currentVersion, first + Int64(max(limit, 1)) - 1)
        return (first...last, last == currentVersion)
    }
}

/// The rules of reads every backend applies identically.
package enum ReadRules {
    /// Refuses a page size below 1.
    package static func checkLimit(_ limit: Int) throws(EventStoreError) {
        guard limit > 0 else { throw .invalidArgument("a read limit must be at least 1, not \(limit)") }
    }
}
