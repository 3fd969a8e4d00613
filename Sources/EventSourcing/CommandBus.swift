import EventStore
import Foundation
import Logging
import Synchronization

/// How a command is sent: its id and what its events carry besides.
public struct CommandOptions: Sendable {
    /// The command's id. A client-supplied id makes the command idempotent: sent again, it returns
    /// the first outcome. `nil`: the bus generates one (a UUIDv7).
    public var commandID: UUID?
    /// The correlation id; `nil`: the command id.
    public var correlationID: UUID?
    /// The user the command runs for.
    public var userID: UUID?
    /// The saga the command runs for, when the command itself does not say (``Command/sagaID``).
    public var sagaID: UUID?
    /// Extra metadata for the command's events (never a secret).
    public var extraMetadata: [String: String]
    /// A digest of the command's content (at most 64 bytes), recorded with its outcome when
    /// ``commandID`` is set. The id then belongs to that content: sent again with another
    /// fingerprint, the command fails with ``CommandBusError/Code/commandIDReused`` instead of
    /// returning the first outcome for a command it did not run. `nil`: only the command type is
    /// compared. Make it a keyed digest (an HMAC) when the command carries a secret.
    public var fingerprint: [UInt8]?

    /// Makes options.
    public init(
        commandID: UUID? = nil,
        correlationID: UUID? = nil,
        userID: UUID? = nil,
        sagaID: UUID? = nil,
        extraMetadata: [String: String] = [:],
        fingerprint: [UInt8]? = nil
    ) {
        self.commandID = commandID
        self.correlationID = correlationID
        self.userID = userID
        self.sagaID = sagaID
        self.extraMetadata = extraMetadata
        self.fingerprint = fingerprint
    }
}

/// Routes each command to its one handler, with retries on version conflicts, idempotency by
/// command id, and interceptors around it all.
///
/// - Registration is explicit and checked when the bus is made: a command type without a handler,
///   or with two, is a ``HandlerRegistrationError`` naming them.
/// - Retries: when the handler's append conflicts and the attempt wrote nothing, the handler runs
///   again on freshly loaded aggregates after a backoff (``RetryPolicy``); no other error is retried.
///   ``CommandOutcome/attempts`` (and the metrics interceptor) tell how many runs it took.
/// - Idempotency: the outcome of a command whose id the caller chose — the encoded result, or a
///   ``CommandRejection`` — is recorded under that id; a result in the same transaction as the
///   command's append, otherwise on its own. A generated id cannot be sent again, so its outcome is
///   not recorded. A command id seen again returns the recorded outcome without running the handler:
///   concurrent sends of one id in this process wait for the first; across processes and restarts
///   the store's unique key on command ids settles it (the loser's append writes nothing and the
///   winner's outcome is returned). Failures that are not outcomes (bugs, storage errors, conflicts
///   after every retry) are not recorded, so the same id may be sent again.
public final class CommandBus: Sendable {
    /// Settings of the bus.
    public struct Configuration: Sendable {
        /// Retries after version conflicts.
        public var retry: RetryPolicy
        /// How long recorded outcomes are kept (see ``CommandBus/purgeExpiredOutcomes()``).
        public var outcomeRetention: Duration
        /// Where the bus logs failures.
        public var logger: Logger

        /// Makes a configuration; outcomes are kept for 7 days by default.
        public init(
            retry: RetryPolicy = RetryPolicy(),
            outcomeRetention: Duration = .seconds(7 * 24 * 3_600),
            logger: Logger = Logger(label: "tradecore.eventsourcing.commands")
        ) {
            self.retry = retry
            self.outcomeRetention = outcomeRetention
            self.logger = logger
        }
    }

    /// Counters, for tests and metrics.
    public struct Statistics: Sendable, Hashable {
        /// Commands whose handler ran to an outcome (completed or rejected).
        public var handled = 0
        /// Commands answered from a recorded (or concurrent) outcome without running the handler.
        public var replayed = 0
        /// Handler runs repeated after version conflicts.
        public var retries = 0
        /// Commands rejected by the domain.
        public var rejected = 0
        /// Commands that failed (not rejected).
        public var failed = 0
    }

    /// A handler, kept with its concrete type behind a protocol whose one requirement is generic
    /// over the command: a send passes the command and takes the result back as themselves. An
    /// erasure to a closure over `any Command` and `any CommandResult` boxed both on every command
    /// (a heap allocation each for a command or result larger than three words) and cast them
    /// back; a cast to a constrained existential (`any CommandHandler<C>`) is resolved slowly by
    /// the runtime, on every command.
    private protocol Registration: Sendable {
        func run<C: Command>(_ command: C, context: CommandContext) async throws -> C.Result
    }

    private struct HandlerRegistration<H: CommandHandler>: Registration {
        let handler: H

        func run<C: Command>(_ command: C, context: CommandContext) async throws -> C.Result {
            // The table is keyed by command type name, and the bus refuses two Swift types under one
            // name, so C is the handled type; the check keeps a bug from reinterpreting memory.
            guard C.self == H.Handled.self else { throw HandlerTypeMismatch(commandType: C.commandType) }
            let result = try await handler.handle(unsafeBitCast(command, to: H.Handled.self), context: context)
            // C is H.Handled, so C.Result is H.Handled.Result.
            return unsafeBitCast(result, to: C.Result.self)
        }
    }

    /// The dependencies handed to handlers.
    public let dependencies: HandlerDependencies
    /// The bus's settings.
    public let configuration: Configuration
    private let handlers: [String: any Registration]
    private let interceptors: [any CommandInterceptor]
    private let inFlight = InFlightCommands()

    /// How many sends of a client command id wait for the send of it that runs the handler.
    func sendsWaiting(for commandID: UUID) -> Int { inFlight.waitingCount(for: commandID) }
    private let counters = Mutex(Statistics())

    /// Makes a bus and checks its handlers.
    ///
    /// - Parameters:
    ///   - handlers: one handler per command type.
    ///   - commands: every command type the bus must handle; each needs exactly one handler, and a
    ///     handler for a type not listed is an error too. `nil` checks only for duplicates.
    /// - Throws: ``HandlerRegistrationError`` naming the command types without a handler, with
    ///   several, handled but not expected, or whose name two Swift types share.
    public init(
        handlers: [any CommandHandler],
        commands: [any Command.Type]? = nil,
        dependencies: HandlerDependencies,
        interceptors: [any CommandInterceptor] = [],
        configuration: Configuration = Configuration()
    ) throws(HandlerRegistrationError) {
        self.handlers = try HandlerTable.build(
            kind: "command",
            handlers: handlers.map { Self.tableEntry($0) },
            expected: commands?.map { ($0.commandType, String(reflecting: $0)) }
        )
        self.dependencies = dependencies
        self.interceptors = interceptors
        self.configuration = configuration
    }

    private static func tableEntry<H: CommandHandler>(_ handler: H) -> HandlerTable<any Registration>.Handler {
        HandlerTable.Handler(
            typeName: H.Handled.commandType,
            swiftType: String(reflecting: H.Handled.self),
            handlerName: String(describing: H.self),
            entry: HandlerRegistration(handler: handler)
        )
    }

    /// The command types with a handler.
    public var commandTypes: [String] { handlers.keys.sorted() }

    /// The bus's counters.
    public var statistics: Statistics { counters.withLock { $0 } }

    // MARK: - Sending

    /// Sends a command to its handler and returns its outcome.
    ///
    /// - Throws: ``CommandBusError``: `.noHandler` for a command the bus does not know; `.rejected`
    ///   when the domain refused it (now or, for a repeated id, the first time); `.conflict` when
    ///   every attempt conflicted, or when the command said which version it read and the aggregate
    ///   has moved on; `.handlerFailed`, `.storeFailure`, `.lockLost`, `.cancelled`. When it throws,
    ///   the command's own write was not appended (commands it sent on commit on their own).
    public func send<C: Command>(
        _ command: C, options: CommandOptions = CommandOptions()
    ) async throws(CommandBusError) -> CommandOutcome<C.Result> {
        let commandType = C.commandType
        let commandID = options.commandID ?? UUIDv7.next()
        guard let handler = handlers[commandType] else {
            throw CommandBusError(
                .noHandler, commandType: commandType, commandID: commandID,
                message: "no handler is registered for \(commandType) (the bus handles "
                    + "\(commandTypes.isEmpty ? "nothing" : commandTypes.joined(separator: ", ")))"
            )
        }
        let invocation = CommandInvocation(
            command: command,
            commandType: commandType,
            commandID: commandID,
            clientSuppliedID: options.commandID != nil,
            correlationID: options.correlationID ?? commandID,
            sagaID: command.sagaID ?? options.sagaID,
            userID: command.actingUserID ?? options.userID,
            extraMetadata: options.extraMetadata,
            fingerprint: options.commandID == nil
                ? nil : options.fingerprint.map { Array($0.prefix(OutcomeCoding.maxFingerprintBytes)) }
        )
        if interceptors.isEmpty {
            return try await run(command, handler: handler, invocation: invocation)
        }
        do {
            return try await intercepted(command, handler: handler, invocation: invocation)
        } catch {
            throw CommandBusError.wrapping(error, commandType: commandType, commandID: commandID, attempts: 0)
        }
    }

    /// A send through the interceptors. A function of its own, so that a send without interceptors
    /// (the server's) does not pay, per command, for the type metadata of what only this path holds.
    private func intercepted<C: Command>(
        _ command: C, handler: any Registration, invocation: CommandInvocation
    ) async throws -> CommandOutcome<C.Result> {
        let outcome = Mutex<CommandOutcome<C.Result>?>(nil)
        let receipt = try await intercept(invocation, from: 0) { invocation in
            let result = try await self.run(command, handler: handler, invocation: invocation)
            outcome.withLock { $0 = result }
            return CommandReceipt(
                commandID: result.commandID, commandType: invocation.commandType, position: result.position,
                attempts: result.attempts, replayed: result.replayed)
        }
        guard let result = outcome.withLock({ $0 }), result.commandID == receipt.commandID else {
            throw CommandBusError(
                .handlerFailed, commandType: invocation.commandType, commandID: invocation.commandID,
                message: "an interceptor returned without letting the command run")
        }
        return result
    }

    private func intercept(
        _ invocation: CommandInvocation,
        from index: Int,
        core: @escaping @Sendable (CommandInvocation) async throws -> CommandReceipt
    ) async throws -> CommandReceipt {
        guard index < interceptors.count else { return try await core(invocation) }
        return try await interceptors[index].intercept(invocation) { next in
            try await self.intercept(next, from: index + 1, core: core)
        }
    }

    /// Everything after the interceptors: deduplication by command id, then the handler's attempts.
    private func run<C: Command>(
        _ command: C, handler: any Registration, invocation: CommandInvocation
    ) async throws(CommandBusError) -> CommandOutcome<C.Result> {
        // A generated id is new: nothing to deduplicate, and nobody else can be running it.
        guard invocation.clientSuppliedID else {
            return try await attempt(command, handler: handler, invocation: invocation)
        }
        return try await deduplicated(command, handler: handler, invocation: invocation)
    }

    /// A command under a client's id: answered from a concurrent send of the id or from its
    /// record, or run and its outcome shared with the sends of the id that wait for it.
    private func deduplicated<C: Command>(
        _ command: C, handler: any Registration, invocation: CommandInvocation
    ) async throws(CommandBusError) -> CommandOutcome<C.Result> {
        let id = invocation.commandID
        if case .follower(let shared) = await inFlight.enter(id) {
            counters.withLock { $0.replayed += 1 }
            return try replay(shared, as: C.self, commandID: id, fingerprint: invocation.fingerprint)
        }
        let outcome: Result<CommandOutcome<C.Result>, CommandBusError>
        do throws(CommandBusError) {
            outcome = .success(try await recordedOrAttempt(command, handler: handler, invocation: invocation))
        } catch {
            outcome = .failure(error)
        }
        if case .failure(let error) = outcome, error.code == .cancelled, Task.isCancelled {
            // This caller gave up (a deadline, a client gone); one that waited runs the command. A
            // cancellation from inside the handler, its caller still waiting, is shared as any
            // other failure.
            inFlight.passLead(id)
        } else {
            inFlight.finish(
                id,
                with: SharedOutcome(outcome, commandType: invocation.commandType, fingerprint: invocation.fingerprint))
        }
        return try outcome.get()
    }

    private func recordedOrAttempt<C: Command>(
        _ command: C, handler: any Registration, invocation: CommandInvocation
    ) async throws(CommandBusError) -> CommandOutcome<C.Result> {
        let id = invocation.commandID
        let recorded: RecordedCommand?
        do {
            recorded = try await dependencies.store.recordedCommand(id)
        } catch {
            throw CommandBusError.wrapping(error, commandType: C.commandType, commandID: id, attempts: 0)
        }
        if let recorded {
            counters.withLock { $0.replayed += 1 }
            return try replay(recorded, as: C.self, fingerprint: invocation.fingerprint)
        }
        return try await attempt(command, handler: handler, invocation: invocation)
    }

    /// Runs the handler until it commits, is rejected, fails, or runs out of attempts; then
    /// releases the locks its attempts took.
    private func attempt<C: Command>(
        _ command: C, handler: any Registration, invocation: CommandInvocation
    ) async throws(CommandBusError) -> CommandOutcome<C.Result> {
        let leases = CommandLeases()
        // No `Result` of the outcome held across the release: in this unspecialised function its
        // type's metadata would be looked up on every command.
        do throws(CommandBusError) {
            let outcome = try await attempts(command, handler: handler, invocation: invocation, leases: leases)
            await leases.releaseAll(to: dependencies.lock, logger: configuration.logger)
            return outcome
        } catch {
            await leases.releaseAll(to: dependencies.lock, logger: configuration.logger)
            throw error
        }
    }

    private func attempts<C: Command>(
        _ command: C, handler: any Registration, invocation: CommandInvocation, leases: CommandLeases
    ) async throws(CommandBusError) -> CommandOutcome<C.Result> {
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            let context = CommandContext(
                invocation: invocation, attempt: attempt, bus: self, leases: leases)
            do {
                // A caller that has given up (its deadline passed, it went away) before the handler
                // starts has nothing run for it. Once the handler runs, its write is committed even
                // so: it may already have acted outside the log (a broker took an OAuth code).
                try Task.checkCancellation()
                let result = try await handler.run(command, context: context)
                let hasStaged = context.hasStagedWrites
                // Only an id the caller chose can be sent again: a generated one needs no record.
                let record =
                    invocation.clientSuppliedID
                    ? CommandRecord(
                        commandID: invocation.commandID,
                        commandType: invocation.commandType,
                        outcome: OutcomeCoding.encodeCompleted(
                            try result.encodeCommandResult(), position: hasStaged ? nil : context.lastPosition,
                            fingerprint: invocation.fingerprint),
                        time: context.now
                    ) : nil
                let position: Int64?
                if hasStaged {
                    position = try await context.commitStaged(record: record)?.lastPosition
                } else {
                    if let record { try await dependencies.store.recordCommand(record) }
                    position = context.lastPosition
                }
                counters.withLock {
                    $0.handled += 1
                    $0.retries += attempt - 1
                }
                return CommandOutcome(
                    commandID: invocation.commandID, result: result, position: position, attempts: attempt,
                    replayed: false)
            } catch let conflict as VersionConflict
                where context.appendsCommitted == 0 && attempt < policy.maxAttempts && !Task.isCancelled
            {
                var random = SystemRandomNumberGenerator()
                let delay = policy.delay(beforeAttempt: attempt + 1, using: &random)
                configuration.logger.debug(
                    "version conflict; retrying the command",
                    metadata: [
                        "command.type": "\(invocation.commandType)", "command.attempt": "\(attempt)",
                        "eventsourcing.stream": "\(conflict.stream)", "command.retry_delay": "\(delay)",
                    ])
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw failure(error, invocation, attempts: attempt)
                }
            } catch let duplicate as DuplicateCommand {
                // Another process ran the same command id first; its outcome is the one.
                counters.withLock { $0.replayed += 1 }
                return try replay(duplicate.existing, as: C.self, fingerprint: invocation.fingerprint)
            } catch let error as any CommandRejectionConvertible {
                return try await reject(error.rejection, as: C.self, invocation, context: context, attempts: attempt)
            } catch let error as QueryBusError where error.rejection != nil {
                // A query the handler asked answered "not found" or "not allowed": that is the
                // command's answer too, not a failure of the handler.
                let rejection = error.rejection ?? CommandRejection(.notFound, error.message)
                return try await reject(rejection, as: C.self, invocation, context: context, attempts: attempt)
            } catch {
                throw failure(error, invocation, attempts: attempt)
            }
        }
    }

    /// Records a rejection (so a repeated id is refused the same way) and throws it.
    private func reject<C: Command>(
        _ rejection: CommandRejection, as type: C.Type, _ invocation: CommandInvocation, context: CommandContext,
        attempts: Int
    ) async throws(CommandBusError) -> CommandOutcome<C.Result> {
        // Only an id the caller chose can be sent again: a generated one needs no record.
        if invocation.clientSuppliedID {
            let record = CommandRecord(
                commandID: invocation.commandID,
                commandType: invocation.commandType,
                outcome: OutcomeCoding.encodeRejected(rejection, fingerprint: invocation.fingerprint),
                time: context.now
            )
            do {
                try await dependencies.store.recordCommand(record)
            } catch let duplicate as DuplicateCommand {
                // Recorded first by another process: answer with that outcome, whatever it was.
                counters.withLock { $0.replayed += 1 }
                return try replay(duplicate.existing, as: C.self, fingerprint: invocation.fingerprint)
            } catch {
                // The rejection stands even when it cannot be recorded; a retry will run the handler again.
                configuration.logger.warning(
                    "could not record a command's rejection",
                    metadata: [
                        "command.type": "\(invocation.commandType)",
                        "command.id": "\(invocation.commandID.lowercasedText)", "command.error": "\(error)",
                    ])
            }
        }
        counters.withLock {
            $0.handled += 1
            $0.rejected += 1
            $0.retries += attempts - 1
        }
        throw CommandBusError.rejected(
            rejection, commandType: invocation.commandType, commandID: invocation.commandID, attempts: attempts)
    }

    private func failure(_ error: any Error, _ invocation: CommandInvocation, attempts: Int) -> CommandBusError {
        let wrapped = CommandBusError.wrapping(
            error, commandType: invocation.commandType, commandID: invocation.commandID, attempts: attempts)
        counters.withLock {
            $0.failed += 1
            $0.retries += attempts - 1
        }
        if wrapped.code == .handlerFailed || wrapped.code == .storeFailure {
            configuration.logger.error(
                "command failed",
                metadata: [
                    "command.type": "\(invocation.commandType)",
                    "command.id": "\(invocation.commandID.lowercasedText)",
                    "command.attempts": "\(attempts)", "command.error": "\(wrapped.message)",
                ])
        }
        return wrapped
    }

    // MARK: - Recorded outcomes

    /// The recorded outcome of a command, or `nil` if none is recorded (never sent, still running,
    /// failed without an outcome, or purged).
    public func recordedOutcome(of commandID: UUID) async throws -> RecordedOutcome? {
        guard let recorded = try await dependencies.store.recordedCommand(commandID) else { return nil }
        return try RecordedOutcome(recorded)
    }

    /// The recorded outcome of a command of type `C`, typed; `nil` if none is recorded.
    ///
    /// - Throws: ``CommandBusError`` `.rejected` when the command was rejected, `.commandIDReused`
    ///   when the id belongs to another type of command.
    public func outcome<C: Command>(
        of commandID: UUID, as type: C.Type
    ) async throws(CommandBusError) -> CommandOutcome<C.Result>? {
        let recorded: RecordedCommand?
        do {
            recorded = try await dependencies.store.recordedCommand(commandID)
        } catch {
            throw CommandBusError.wrapping(error, commandType: C.commandType, commandID: commandID, attempts: 0)
        }
        return try recorded.map { (recorded) throws(CommandBusError) in
            try replay(recorded, as: C.self, fingerprint: nil)
        }
    }

    /// Deletes outcomes older than ``Configuration/outcomeRetention``; their ids are then no longer
    /// deduplicated. Returns how many were deleted. Run it periodically (see ``runRetention(every:)``).
    @discardableResult
    public func purgeExpiredOutcomes() async throws -> Int {
        let cutoff = dependencies.clock.now() - configuration.outcomeRetention.nanoseconds
        return try await dependencies.store.purgeCommandRecords(recordedBefore: cutoff)
    }

    /// Purges expired outcomes every `interval` until the task is cancelled; failures are logged.
    public func runRetention(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                let purged = try await purgeExpiredOutcomes()
                if purged > 0 {
                    configuration.logger.info(
                        "purged expired command outcomes", metadata: ["command.purged": "\(purged)"])
                }
            } catch {
                configuration.logger.warning(
                    "could not purge expired command outcomes", metadata: ["command.error": "\(error)"])
            }
            do {
                try await dependencies.clock.sleep(for: interval)
            } catch {
                return
            }
        }
    }

    /// Answers with a recorded outcome, if it is the outcome of this command (see
    /// ``CommandOptions/fingerprint``).
    private func replay<C: Command>(
        _ recorded: RecordedCommand, as type: C.Type, fingerprint: [UInt8]?
    ) throws(CommandBusError) -> CommandOutcome<C.Result> {
        let id = recorded.record.commandID
        let outcome: RecordedOutcome
        do {
            outcome = try RecordedOutcome(recorded)
        } catch {
            throw CommandBusError.wrapping(error, commandType: C.commandType, commandID: id, attempts: 0)
        }
        return try replay(
            SharedOutcome(.success(outcome), commandType: outcome.commandType, fingerprint: outcome.fingerprint),
            as: type, commandID: id, fingerprint: fingerprint)
    }

    private func replay<C: Command>(
        _ shared: SharedOutcome, as type: C.Type, commandID: UUID, fingerprint: [UInt8]?
    ) throws(CommandBusError) -> CommandOutcome<C.Result> {
        let commandType = C.commandType
        guard shared.commandType == commandType else {
            throw CommandBusError(
                .commandIDReused, commandType: commandType, commandID: commandID,
                message: "the command id was used before, by \(shared.commandType); a new command needs a new id")
        }
        if let fingerprint, let first = shared.fingerprint, fingerprint != first {
            throw CommandBusError(
                .commandIDReused, commandType: commandType, commandID: commandID,
                message: "the command id was used before, by \(commandType) with other content; "
                    + "a retry must send the same command, and a new command needs a new id")
        }
        switch shared.result {
        case .failure(let error):
            throw error
        case .success(let outcome):
            switch outcome.status {
            case .rejected(let rejection):
                throw CommandBusError.rejected(rejection, commandType: commandType, commandID: commandID, attempts: 0)
            case .completed(let bytes):
                do {
                    return CommandOutcome(
                        commandID: commandID, result: try C.Result(decodingCommandResult: bytes),
                        position: outcome.position, attempts: 0, replayed: true)
                } catch {
                    throw CommandBusError.wrapping(
                        OutcomeDecodingError(reason: "\(error)"), commandType: commandType, commandID: commandID,
                        attempts: 0)
                }
            }
        }
    }
}

/// A command reached a handler registered for another Swift type of the same name: a wiring bug
/// the registration checks rule out.
struct HandlerTypeMismatch: Error, CustomStringConvertible {
    let commandType: String

    var description: String { "the handler registered for \(commandType) handles another type" }
}
