import EventStore
import Foundation
import Logging
import Metrics
import Synchronization

/// A command as it passes through the bus's interceptors, before its handler runs.
public struct CommandInvocation: Sendable {
    /// The command.
    public let command: any Command
    /// Its type name.
    public let commandType: String
    /// Its id: the client's, or generated.
    public let commandID: UUID
    /// Whether the client supplied the id (so the command may be a retry of an earlier send).
    public let clientSuppliedID: Bool
    /// The correlation id.
    public let correlationID: UUID
    /// The saga the command runs for, if any.
    public let sagaID: UUID?
    /// The user the command runs for; an interceptor that authenticates may set it.
    public var userID: UUID?
    /// Extra metadata for the command's events; an interceptor may add to it.
    public var extraMetadata: [String: String]
    /// The digest of the command's content its id is recorded with (``CommandOptions/fingerprint``);
    /// `nil` without a client-supplied id.
    public let fingerprint: [UInt8]?
}

/// Wraps every command the bus sends: logging, metrics, authorisation.
///
/// Interceptors run in the order given to the bus, the first outermost, around everything the bus
/// does for a command, including answering a repeated command id from its record, so an
/// authorisation check also guards recorded outcomes. An interceptor that throws stops the command:
/// the handler does not run, and the caller gets the error as a ``CommandBusError`` (a
/// ``CommandRejection`` as ``CommandBusError/Code/rejected``; it is not recorded).
public protocol CommandInterceptor: Sendable {
    /// Handles `invocation`, calling `next` to go on (at most once).
    func intercept(
        _ invocation: CommandInvocation,
        next: @Sendable (CommandInvocation) async throws -> CommandReceipt
    ) async throws -> CommandReceipt
}

/// Logs each command: its outcome at `debug` (retries and replays included), failures at `warning`
/// (rejections at `debug`), with namespaced metadata keys.
public struct LoggingInterceptor: CommandInterceptor {
    private let logger: Logger

    /// Logs through `logger`.
    public init(logger: Logger = Logger(label: "tradecore.eventsourcing.commands")) {
        self.logger = logger
    }

    public func intercept(
        _ invocation: CommandInvocation,
        next: @Sendable (CommandInvocation) async throws -> CommandReceipt
    ) async throws -> CommandReceipt {
        var metadata: Logger.Metadata = [
            "command.type": "\(invocation.commandType)",
            "command.id": "\(invocation.commandID.lowercasedText)",
            "command.correlation_id": "\(invocation.correlationID.lowercasedText)",
        ]
        if let sagaID = invocation.sagaID { metadata["command.saga_id"] = "\(sagaID.lowercasedText)" }
        do {
            let receipt = try await next(invocation)
            metadata["command.attempts"] = "\(receipt.attempts)"
            metadata["command.replayed"] = "\(receipt.replayed)"
            if let position = receipt.position { metadata["command.position"] = "\(position)" }
            logger.debug("command handled", metadata: metadata)
            return receipt
        } catch let error as CommandBusError where error.code == .rejected {
            metadata["command.error"] = "\(error.message)"
            logger.debug("command rejected", metadata: metadata)
            throw error
        } catch {
            metadata["command.error"] = "\(error)"
            logger.warning("command failed", metadata: metadata)
            throw error
        }
    }
}

/// Counts commands by type and outcome, times them, and counts retries, through swift-metrics:
/// `<prefix>_commands_total{command,outcome}`, `<prefix>_command_duration_seconds{command}` and
/// `<prefix>_command_retries_total{command}`.
public struct MetricsInterceptor: CommandInterceptor {
    private let prefix: String
    private let metrics = MetricCache()

    /// Reports under names starting with `prefix`.
    public init(prefix: String = "tradecore") {
        self.prefix = prefix
    }

    public func intercept(
        _ invocation: CommandInvocation,
        next: @Sendable (CommandInvocation) async throws -> CommandReceipt
    ) async throws -> CommandReceipt {
        let start = ContinuousClock.now
        let type = invocation.commandType
        do {
            let receipt = try await next(invocation)
            record(type, outcome: receipt.replayed ? "replayed" : "completed", since: start)
            if receipt.attempts > 1 {
                metrics.counter("\(prefix)_command_retries_total", type, nil).increment(by: receipt.attempts - 1)
            }
            return receipt
        } catch {
            let outcome = (error as? CommandBusError).map { "\($0.code)".replacingOccurrences(of: " ", with: "_") }
            record(type, outcome: outcome ?? "failed", since: start)
            throw error
        }
    }

    private func record(_ type: String, outcome: String, since start: ContinuousClock.Instant) {
        metrics.counter("\(prefix)_commands_total", type, outcome).increment()
        metrics.timer("\(prefix)_command_duration_seconds", type).record(duration: ContinuousClock.now - start)
    }

    /// Metric handles made once per label and dimensions, not per command.
    private final class MetricCache: Sendable {
        private struct Key: Hashable {
            var label: String
            var command: String
            var outcome: String?
        }

        private let counters = Mutex<[Key: Counter]>([:])
        private let timers = Mutex<[Key: Timer]>([:])

        func counter(_ label: String, _ command: String, _ outcome: String?) -> Counter {
            counters.withLock { counters in
                let key = Key(label: label, command: command, outcome: outcome)
                if let counter = counters[key] { return counter }
                var dimensions = [("command", command)]
                if let outcome { dimensions.append(("outcome", outcome)) }
                let counter = Counter(label: label, dimensions: dimensions)
                counters[key] = counter
                return counter
            }
        }

        func timer(_ label: String, _ command: String) -> Timer {
            timers.withLock { timers in
                let key = Key(label: label, command: command, outcome: nil)
                if let timer = timers[key] { return timer }
                let timer = Timer(label: label, dimensions: [("command", command)], preferredDisplayUnit: .seconds)
                timers[key] = timer
                return timer
            }
        }
    }
}

/// Lets a function decide whether a command may run: the hook an API layer uses to check the
/// caller's principal against the command. Throw a ``CommandRejection`` (`.permissionDenied`,
/// `.unauthenticated`) to refuse; the refusal is not recorded.
public struct AuthorizationInterceptor: CommandInterceptor {
    /// Decides; may return the invocation with ``CommandInvocation/userID`` set.
    public typealias Authorize = @Sendable (CommandInvocation) async throws -> CommandInvocation

    private let authorize: Authorize

    /// Makes the interceptor.
    public init(_ authorize: @escaping Authorize) {
        self.authorize = authorize
    }

    public func intercept(
        _ invocation: CommandInvocation,
        next: @Sendable (CommandInvocation) async throws -> CommandReceipt
    ) async throws -> CommandReceipt {
        try await next(try await authorize(invocation))
    }
}
