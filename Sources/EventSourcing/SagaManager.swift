import EventStore
import Foundation
import Logging

/// Runs one ``Saga``: feeds it the global log, records its steps, sends its commands, fires its
/// deadlines, and resumes all of that after a restart.
///
/// - Order of work: for each event, the step is appended to the instance's stream (expecting its
///   version), then its commands are sent (ids derived from the step), then the manager's
///   checkpoint moves past the event, together with the instance's deadline, in one transaction of
///   the ``ProjectionStore``. A crash anywhere in between is redone from the checkpoint: a step
///   already recorded for the event is not recorded again, its commands are recomputed and sent
///   again, and the command bus answers those that ran from their recorded outcomes.
/// - Deadlines: each instance's deadline is part of its recorded state; the manager also keeps the
///   deadlines of active instances beside its checkpoint, reads them on start and re-arms a timer
///   for the earliest, on its clock. A deadline that passes compensates the instance.
/// - Failures of commands: a refused command compensates the instance at once; other failures are
///   retried a few times (``Configuration/commandAttempts``) before it is compensated. A failure of
///   the store ends ``run()`` with the error; running it again resumes.
///
/// One manager per saga type and store.
public final class SagaManager<S: Saga>: ReadModelProgress, Sendable {
    /// Buffering, checkpointing and retries.
    public struct Configuration: Sendable {
        /// The most events waiting to be handled.
        public var bufferCapacity: Int
        /// The most positions of events the saga does not handle before the checkpoint is written anyway.
        public var checkpointInterval: Int64
        /// How many times a command that fails (other than by being refused) is sent.
        public var commandAttempts: Int
        /// The pause between those attempts.
        public var commandRetryDelay: Duration

        /// Makes a configuration.
        public init(
            bufferCapacity: Int = 1_024,
            checkpointInterval: Int64 = 4_096,
            commandAttempts: Int = 3,
            commandRetryDelay: Duration = .milliseconds(200)
        ) {
            self.bufferCapacity = max(bufferCapacity, 1)
            self.checkpointInterval = max(checkpointInterval, 1)
            self.commandAttempts = max(commandAttempts, 1)
            self.commandRetryDelay = commandRetryDelay
        }
    }

    private enum Work: Sendable {
        case event(RecordedEvent)
        case deadlinesDue
    }

    private struct Timers: Sendable {
        var deadlines: [UUID: Int64] = [:]
        var version: UInt64 = 0
    }

    private enum Execution {
        case succeeded
        case failed(SagaFailureReason)
    }

    /// The saga run.
    public let saga: S
    private let store: any EventStore
    private let commands: CommandBus
    private let checkpoints: any ProjectionStore
    private let clock: any EventSourcingClock
    private let configuration: Configuration
    private let logger: Logger
    private let timers = Monitor(Timers())
    private let handled = Monitor(Int64(0))

    /// Makes a manager; nothing happens until ``run()``.
    ///
    /// - Parameters:
    ///   - commands: the bus the saga's commands go through (its idempotency makes redone steps safe).
    ///   - checkpoints: where the manager keeps its checkpoint and its instances' deadlines.
    ///   - clock: the clock deadlines are measured on.
    public init(
        _ saga: S,
        store: any EventStore,
        commands: CommandBus,
        checkpoints: any ProjectionStore,
        clock: any EventSourcingClock = SystemClock(),
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "tradecore.eventsourcing.sagas")
    ) {
        self.saga = saga
        self.store = store
        self.commands = commands
        self.checkpoints = checkpoints
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
    }

    /// The name of the manager's checkpoint.
    public var projectionName: String { "saga:\(S.sagaType)" }
    private var deadlineCollection: String { "saga:\(S.sagaType):deadlines" }

    /// The id of the instance that `eventID` starts (if the saga starts one on it).
    public static func sagaID(startedBy eventID: UUID) -> UUID {
        NameBasedUUID.make(
            namespace: NameBasedUUID.sagaNamespace, name: "\(S.sagaType)/\(eventID.lowercasedText)")
    }

    /// The id of the `index`th command of the step recorded at `stepVersion` of instance `sagaID`.
    public static func commandID(sagaID: UUID, stepVersion: Int64, index: Int) -> UUID {
        NameBasedUUID.make(namespace: sagaID, name: "\(stepVersion)/\(index)")
    }

    // MARK: - Running

    /// Resumes from the checkpoint and runs until the task is cancelled (or the store closes).
    ///
    /// When the checkpoint moved under the manager (``CheckpointMismatch``: another server ran the
    /// saga meanwhile, around a lead that changed hands), it starts again from the stored checkpoint
    /// and deadlines, as a projection runner does: what the other server did is done, and this
    /// manager's commit of the same step wrote nothing. So it does when an instance's stream moved
    /// under it (a ``VersionConflict`` recording a step: the other server recorded that step, or a
    /// later one, first); starting again loads the instance as the other server left it.
    ///
    /// - Throws: the store's errors (running again resumes where it stopped).
    public func run() async throws {
        // The same instance's stream found moved again and again: no other server's step, but a
        // step this manager cannot record. Said loudly, now and then, rather than retried in silence.
        var repeatedConflict: (stream: StreamName, count: Int)?
        while !Task.isCancelled {
            do {
                try await runFromCheckpoint()
                return
            } catch let mismatch as CheckpointMismatch {
                logger.info(
                    "saga checkpoint moved; starting again from it",
                    metadata: ["saga.type": "\(S.sagaType)", "saga.checkpoint": "\(mismatch.found)"])
            } catch  where Task.isCancelled {
                // Stopped while it started again (a read of its checkpoint saw the cancellation):
                // the stop asked for, not a failure.
                return
            } catch let conflict as VersionConflict where conflict.stream.type == SagaManagerStreams.streamType {
                let count = repeatedConflict?.stream == conflict.stream ? (repeatedConflict?.count ?? 0) + 1 : 1
                repeatedConflict = (conflict.stream, count)
                if count % 50 == 0 {
                    logger.warning(
                        "a saga instance's stream keeps moving under its manager: unless another server runs this saga too, its step cannot be recorded",
                        metadata: [
                            "saga.type": "\(S.sagaType)", "saga.stream": "\(conflict.stream)", "saga.tries": "\(count)",
                            "error": "\(conflict)",
                        ])
                } else {
                    logger.info(
                        "a saga step was recorded by another server meanwhile; starting again from the checkpoint",
                        metadata: ["saga.type": "\(S.sagaType)", "saga.stream": "\(conflict.stream)"])
                }
            }
            // Two managers that keep moving it under each other (a lead held twice for a while)
            // start again at most ten times a second.
            do {
                try await Task.sleep(for: .milliseconds(100))
            } catch {
                return
            }
        }
    }

    private func runFromCheckpoint() async throws {
        let checkpoint = try await checkpoints.checkpoint(of: projectionName)
        let collection = deadlineCollection
        let stored = try await checkpoints.read { reader in try reader.entries(in: collection) }
        var deadlines: [UUID: Int64] = [:]
        for entry in stored {
            if let id = UUID(uuidString: entry.key), let deadline = try? Int64(decodingCommandResult: entry.value) {
                deadlines[id] = deadline
            }
        }
        timers.update { timers in
            timers.deadlines = deadlines
            timers.version &+= 1
        }
        handled.update { $0 = max($0, checkpoint) }
        logger.info(
            "saga manager resuming",
            metadata: [
                "saga.type": "\(S.sagaType)", "saga.checkpoint": "\(checkpoint)",
                "saga.deadlines": "\(deadlines.count)",
            ])
        let queue = BatchQueue<Work>(capacity: configuration.bufferCapacity)
        let subscription = store.subscribe(.position(checkpoint + 1))
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await queue.fill(from: subscription) { message in
                        if case .event(let event) = message { .event(event) } else { nil }
                    }
                }
                group.addTask { try await self.watchDeadlines(queue) }
                group.addTask {
                    var cursor = checkpoint
                    try await queue.drain(upTo: 64) { batch in
                        for work in batch { try await self.perform(work, cursor: &cursor) }
                    }
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch is CancellationError {
            return
        } catch let error as EventStoreError where error.code == .closed {
            return
        }
    }

    /// Wakes the worker whenever the earliest deadline passes.
    private func watchDeadlines(_ queue: BatchQueue<Work>) async throws {
        var signalled: UInt64?
        let clock = self.clock
        while !Task.isCancelled {
            let (earliest, version) = timers.read { ($0.deadlines.values.min(), $0.version) }
            if let earliest, signalled != version, clock.now() >= earliest {
                try await queue.push(.deadlinesDue)
                signalled = version
                continue
            }
            let changed: @Sendable (Timers) -> Bool = { $0.version != version }
            if let earliest, signalled != version {
                _ = await timers.wait(until: changed) { try? await clock.sleep(until: earliest) }
            } else {
                _ = await timers.wait(until: changed)
            }
        }
    }

    private func perform(_ work: Work, cursor: inout Int64) async throws {
        switch work {
        case .event(let event):
            try await handle(event, cursor: &cursor)
            handled.update { $0 = max($0, event.position) }
        case .deadlinesDue:
            try await fireDueDeadlines(cursor: cursor)
        }
    }

    // MARK: - Events

    private func handle(_ event: RecordedEvent, cursor: inout Int64) async throws {
        let position = event.position
        guard event.stream.type != SagaManagerStreams.streamType, saga.handles(event) else {
            try await skip(position, cursor: &cursor)
            return
        }
        let sagaID: UUID
        let loaded: LoadedSaga<S.State>?
        var first: SagaStep<S.State>?
        if let id = event.metadata.sagaID, let found = try await load(id) {
            sagaID = id
            loaded = found
        } else {
            let named = saga.instanceID(for: event)
            let eventID = event.id
            let startedID: @Sendable () -> UUID = { named ?? Self.sagaID(startedBy: eventID) }
            // Steps are deterministic, so an event whose start step is nil (or fails) now never
            // started an instance before a restart either: nothing to read for it.
            do {
                first = try saga.start(on: event, context: SagaContext(deriving: startedID, time: event.metadata.time))
            } catch {
                // There is no instance yet, so nothing to compensate.
                logger.error(
                    "a saga's start step failed; no instance was started",
                    metadata: ["saga.type": "\(S.sagaType)", "saga.event": "\(position)", "saga.error": "\(error)"])
            }
            if first != nil {
                sagaID = startedID()
                loaded = try await load(sagaID)
            } else if let named, let found = try await load(named) {
                // An event on what an instance follows that none of its commands caused.
                sagaID = named
                loaded = found
            } else {
                try await skip(position, cursor: &cursor)
                return
            }
        }
        let context = SagaContext(sagaID: sagaID, time: event.metadata.time)
        let after: LoadedSaga<S.State>?
        if let loaded, let index = loaded.steps.firstIndex(where: { $0.record.cause.position == position }) {
            // Handled before a restart, maybe not to the end: redo from the first step it recorded.
            after = try await redo(loaded, from: index, event: event, context: context)
        } else if let first, loaded == nil {
            after = try await record(first, cause: .start(position: position), on: nil, id: sagaID, context: context)
        } else if let loaded, loaded.isOpen, let last = loaded.last {
            switch Result(catching: { try saga.react(to: event, state: last.state, context: context) }) {
            case .success(nil):
                try await skip(position, cursor: &cursor)
                return
            case .success(let step?):
                after = try await record(
                    step, cause: .event(position: position), on: loaded, id: sagaID, context: context)
            case .failure(let error):
                after = try await compensate(
                    loaded, reason: .stepFailed(message: "\(error)"), position: position, context: context)
            }
        } else {
            try await skip(position, cursor: &cursor)
            return
        }
        try await commit(sagaID, after, from: cursor, to: position)
        cursor = position
    }

    /// Moves past an event the saga has nothing to do with; writes the checkpoint only now and then.
    private func skip(_ position: Int64, cursor: inout Int64) async throws {
        guard position - cursor >= configuration.checkpointInterval else { return }
        try await checkpoints.commit(projectionName, from: cursor, to: position) { _ in }
        cursor = position
    }

    // MARK: - Deadlines

    private func fireDueDeadlines(cursor: Int64) async throws {
        let now = clock.now()
        let due = timers.read { $0.deadlines.filter { $0.value <= now } }.sorted { $0.value < $1.value }
        for (sagaID, deadline) in due {
            let context = SagaContext(sagaID: sagaID, time: deadline)
            var after = try await load(sagaID)
            if let loaded = after {
                let timedOut = SagaStepRecord.Cause.compensation(reason: .timedOut(deadline: deadline), position: nil)
                if let index = loaded.steps.firstIndex(where: { $0.record.cause == timedOut }) {
                    after = try await redo(loaded, from: index, event: nil, context: context)
                } else if loaded.isOpen, loaded.last?.record.deadline == deadline {
                    logger.info(
                        "saga deadline passed; compensating",
                        metadata: ["saga.type": "\(S.sagaType)", "saga.id": "\(sagaID.lowercasedText)"])
                    after = try await compensate(
                        loaded, reason: .timedOut(deadline: deadline), position: nil, context: context)
                }
            }
            try await commit(sagaID, after, from: cursor, to: cursor)
        }
    }

    /// Moves the checkpoint and stores the instance's deadline (if it is active and has one), in
    /// one transaction; then updates the timers.
    private func commit(_ sagaID: UUID, _ instance: LoadedSaga<S.State>?, from: Int64, to: Int64) async throws {
        let deadline = instance.flatMap { $0.status == .active ? $0.last?.record.deadline : nil }
        let collection = deadlineCollection
        let key = sagaID.lowercasedText
        let value = try deadline?.encodeCommandResult()
        try await checkpoints.commit(projectionName, from: from, to: to) { writer in
            if let value {
                try writer.put(value, in: collection, key: key)
            } else {
                try writer.remove(from: collection, key: key)
            }
        }
        timers.update { timers in
            guard timers.deadlines[sagaID] != deadline else { return }
            timers.deadlines[sagaID] = deadline
            timers.version &+= 1
        }
    }

    // MARK: - Steps

    private func load(_ id: UUID) async throws -> LoadedSaga<S.State>? {
        try await LoadedSaga<S.State>.load(id, sagaType: S.sagaType, from: store)
    }

    /// Records a step, sends its commands, and compensates if one of them fails.
    private func record(
        _ step: SagaStep<S.State>,
        cause: SagaStepRecord.Cause,
        on loaded: LoadedSaga<S.State>?,
        id: UUID,
        context: SagaContext
    ) async throws -> LoadedSaga<S.State> {
        let previousDeadline = loaded?.last?.record.deadline
        let deadline: Int64?
        switch step.deadline {
        case .unchanged: deadline = previousDeadline
        case .cleared: deadline = nil
        case .at(let time): deadline = time
        }
        let ends = step.completes
        let after = try await append(
            SagaStepRecord(
                sagaType: S.sagaType, cause: cause, state: try JSONEncoder().encode(step.state),
                deadline: ends ? nil : deadline, status: ends && step.commands.isEmpty ? .completed : .active,
                closing: ends && !step.commands.isEmpty ? .completed : nil),
            state: step.state, to: loaded, id: id)
        return try await settle(after, commands: step.commands, position: cause.position, context: context)
    }

    /// Sends the commands of the step just recorded; compensates if one fails, or closes the
    /// instance if the step ends it.
    private func settle(
        _ after: LoadedSaga<S.State>, commands: [any Command], position: Int64?, context: SagaContext
    ) async throws -> LoadedSaga<S.State> {
        guard let last = after.last else { return after }
        switch try await execute(commands, sagaID: after.id, stepVersion: last.version, context) {
        case .failed(let reason):
            if case .compensation = last.record.cause {
                return try await recordCompensationFailure(after, reason, position: position)
            }
            return try await compensate(after, reason: reason, position: position, context: context)
        case .succeeded:
            guard let closing = last.record.closing else { return after }
            return try await append(
                SagaStepRecord(
                    sagaType: S.sagaType, cause: .closed(position: position), state: last.record.state,
                    deadline: nil, status: closing),
                state: last.state, to: after, id: after.id)
        }
    }

    /// Records the compensating step and sends its commands; records the failure if they fail.
    private func compensate(
        _ loaded: LoadedSaga<S.State>, reason: SagaFailureReason, position: Int64?, context: SagaContext
    ) async throws -> LoadedSaga<S.State> {
        guard let last = loaded.last else { return loaded }
        let step = saga.compensate(state: last.state, reason: reason, context: context)
        let after = try await append(
            SagaStepRecord(
                sagaType: S.sagaType, cause: .compensation(reason: reason, position: position),
                state: try JSONEncoder().encode(step.state), deadline: nil,
                status: step.commands.isEmpty ? .compensated(reason) : .active,
                closing: step.commands.isEmpty ? nil : .compensated(reason)),
            state: step.state, to: loaded, id: loaded.id)
        return try await settle(after, commands: step.commands, position: position, context: context)
    }

    private func recordCompensationFailure(
        _ loaded: LoadedSaga<S.State>, _ failure: SagaFailureReason, position: Int64?
    ) async throws -> LoadedSaga<S.State> {
        guard let last = loaded.last else { return loaded }
        logger.error(
            "a saga's compensation failed; the instance needs an operator",
            metadata: [
                "saga.type": "\(S.sagaType)", "saga.id": "\(loaded.id.lowercasedText)",
                "saga.error": "\(failure)",
            ])
        return try await append(
            SagaStepRecord(
                sagaType: S.sagaType, cause: .compensationFailed(reason: failure, position: position),
                state: last.record.state, deadline: nil, status: .failed(failure)),
            state: last.state, to: loaded, id: loaded.id)
    }

    /// Sends again the commands of the recorded steps from `index` on, recomputed from the state
    /// before each; continues where the last one left off if its commands fail now.
    private func redo(
        _ loaded: LoadedSaga<S.State>, from index: Int, event: RecordedEvent?, context: SagaContext
    ) async throws -> LoadedSaga<S.State> {
        for stepIndex in index..<loaded.steps.count {
            let step = loaded.steps[stepIndex]
            let before = loaded.state(before: stepIndex)
            let commands: [any Command]
            switch step.record.cause {
            case .start:
                // A step that throws now is an error here too, not a step without commands.
                commands = try event.flatMap { try saga.start(on: $0, context: context)?.commands } ?? []
            case .event:
                if let event, let before {
                    commands = try saga.react(to: event, state: before, context: context)?.commands ?? []
                } else {
                    commands = []
                }
            case .compensation(let reason, _):
                commands = before.map { saga.compensate(state: $0, reason: reason, context: context).commands } ?? []
            case .compensationFailed, .closed:
                commands = []
            }
            if stepIndex == loaded.steps.count - 1 {
                // The last recorded step may not have been carried through: finish it as if it had just
                // been recorded (its commands that ran are answered from their recorded outcomes).
                return try await settle(
                    loaded, commands: commands, position: step.record.cause.position, context: context)
            }
            _ = try await execute(commands, sagaID: loaded.id, stepVersion: step.version, context)
        }
        return loaded
    }

    private func append(
        _ record: SagaStepRecord, state: S.State, to loaded: LoadedSaga<S.State>?, id: UUID
    ) async throws -> LoadedSaga<S.State> {
        let stream = try StreamName(type: SagaManagerStreams.streamType, id: id)
        let expected = loaded.map { ExpectedVersion.exact($0.version) } ?? .noStream
        var event = try record.encoded()
        event.metadata.sagaID = id
        event.metadata.extra = ["saga.type": S.sagaType]
        let result = try await store.append(to: stream, expected: expected, events: [event])
        let step = LoadedSaga<S.State>.Step(version: result.version, record: record, state: state)
        return LoadedSaga(id: id, steps: (loaded?.steps ?? []) + [step])
    }

    /// Sends commands in order, each with its derived id; stops at the first that fails.
    private func execute(
        _ commands: [any Command], sagaID: UUID, stepVersion: Int64, _ context: SagaContext
    ) async throws -> Execution {
        for (index, command) in commands.enumerated() {
            let options = CommandOptions(
                commandID: Self.commandID(sagaID: sagaID, stepVersion: stepVersion, index: index),
                correlationID: sagaID,
                sagaID: sagaID,
                extraMetadata: ["saga.type": S.sagaType]
            )
            var attempt = 0
            while true {
                attempt += 1
                do {
                    try await send(command, options: options)
                    break
                } catch {
                    let type = error.commandType
                    switch error.code {
                    case .rejected:
                        return .failed(
                            .commandRejected(commandType: type, message: error.rejection?.message ?? error.message))
                    case .cancelled:
                        throw CancellationError()
                    case .noHandler, .commandIDReused:
                        return .failed(.commandFailed(commandType: type, message: error.message))
                    default:
                        if let storeError = error.underlying as? EventStoreError, storeError.code == .closed {
                            throw storeError
                        }
                        guard attempt < configuration.commandAttempts else {
                            return .failed(.commandFailed(commandType: type, message: error.message))
                        }
                        logger.warning(
                            "a saga's command failed; sending it again",
                            metadata: [
                                "saga.type": "\(S.sagaType)", "saga.command": "\(type)", "saga.error": "\(error)",
                            ])
                        try await Task.sleep(for: configuration.commandRetryDelay)
                    }
                }
            }
        }
        return .succeeded
    }

    private func send<C: Command>(_ command: C, options: CommandOptions) async throws(CommandBusError) {
        _ = try await commands.send(command, options: options)
    }

    // MARK: - Looking on

    /// The instance `sagaID` as recorded, or `nil` if there is none of this saga type.
    public func instance(_ sagaID: UUID) async throws -> SagaInstance<S.State>? {
        try await load(sagaID)?.instance
    }

    /// Waits until the instance ends and returns it if it completed.
    ///
    /// - Throws: ``SagaError`` `.compensated` (with the reason: timed out, a command refused, a
    ///   step failed), `.failed` (its compensation failed too), or `.stillRunning` when `timeout`
    ///   passes first; the store's errors.
    public func waitUntilFinished(_ sagaID: UUID, timeout: Duration) async throws -> SagaInstance<S.State> {
        let stream = try StreamName(type: SagaManagerStreams.streamType, id: sagaID)
        let store = self.store
        let finished = try await withThrowingTaskGroup(of: SagaInstance<S.State>?.self) { group in
            group.addTask {
                let decoder = JSONDecoder()
                for try await message in store.subscribe(.stream(stream, version: 0)) {
                    guard case .event(let event) = message else { continue }
                    let record = try decoder.decode(SagaStepRecord.self, from: event.data)
                    guard record.sagaType == S.sagaType, record.status.isFinal else { continue }
                    return SagaInstance(
                        id: sagaID, state: try decoder.decode(S.State.self, from: record.state), status: record.status,
                        deadline: nil, version: event.version)
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        guard let finished else {
            throw SagaError(code: .stillRunning, sagaType: S.sagaType, sagaID: sagaID, reason: nil)
        }
        switch finished.status {
        case .compensated(let reason):
            throw SagaError(code: .compensated, sagaType: S.sagaType, sagaID: sagaID, reason: reason)
        case .failed(let reason):
            throw SagaError(code: .failed, sagaType: S.sagaType, sagaID: sagaID, reason: reason)
        case .active, .completed:
            return finished
        }
    }

    /// The global position up to which the manager has handled the log.
    public var position: Int64 { handled.read { $0 } }

    public func waitUntil(position target: Int64, timeout: Duration) async throws(QueryBusError) {
        if position < target { try await QueryBusError.requireCommitted(target, in: store, by: projectionName) }
        let reached = await handled.wait(until: { $0 >= target }) { try? await Task.sleep(for: timeout) }
        guard !reached else { return }
        throw QueryBusError(
            .readModelBehind, queryType: projectionName,
            message: "saga manager \(S.sagaType) reached position \(position), not \(target), within \(timeout)")
    }
}
