import ArgumentParser
import Dispatch
import Foundation
import HTTP2RPC
import Synchronization
import TradeCoreClient
import TradeCoreMessages
import WireFormat

/// An event as the CLI prints it: the envelope with its payload decoded.
func eventValue(_ event: EventEnvelope) -> Value {
    var fields: [(String, Value)] = []
    if case .object(let envelope) = MessagePrinter.value(of: event) {
        fields = envelope.filter { $0.0 != "payload" }
    }
    fields.append(("payload", payloadValue(event) ?? .text(Data(event.payload).base64EncodedString())))
    return .object(fields)
}

/// One line for an event, in text.
func eventLine(_ event: EventEnvelope) -> String {
    let payload = payloadValue(event)?.json ?? "\(event.payload.count) bytes"
    return "\(event.globalPosition)  \(event.stream)  v\(event.version)  \(event.eventType)  \(payload)"
}

/// An event as `output` asks: a line of text, a JSON object, or the `--field` values, looked up
/// in the envelope (global_position, event_type, ...) and then in the payload (order_id, ...); an
/// event that has no such field prints it empty, so the columns of mixed events stay in place.
func eventOutput(_ event: EventEnvelope, _ output: OutputOptions) throws -> String {
    if output.printsWhole { return output.json ? eventValue(event).json : eventLine(event) }
    let value = eventValue(event)
    return try output.fieldsLine(of: "the event \(event.eventType) at \(event.globalPosition)") { field in
        if let found = value[field] { return found }
        return value["payload"]?[field] ?? .text("")
    }
}

/// The payload read: a domain event by the schema, a saga's JSON as it is; nil for bytes that are
/// neither (printed as their size in text, as base64 in JSON, as protobuf's JSON has bytes).
private func payloadValue(_ event: EventEnvelope) -> Value? {
    if let payload = try? event.decodedPayload() { return MessagePrinter.value(of: payload) }
    guard let text = String(validating: event.payload, as: UTF8.self),
        (try? JSONSerialization.jsonObject(with: Data(event.payload), options: [.fragmentsAllowed])) != nil
    else { return nil }
    // Valid JSON has line breaks only between its tokens: one line, with the same meaning.
    return .literal(text.split(whereSeparator: \.isNewline).joined(separator: " "))
}

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Watch the event stream.", subcommands: [Tail.self])

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print events as they commit, catching up first; Ctrl-C prints the position to resume from.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Option(parsing: .unconditional, help: "Start after this log position (the last one you saw).")
        var from: UInt64?
        @Option(help: "Only streams of this type, e.g. order (repeatable).") var streamType: [String] = []
        @Option(help: "Only this stream, e.g. order-<uuid> (repeatable).") var stream: [String] = []
        @Option(help: "Only this event type, e.g. OrderFilled (repeatable).") var eventType: [String] = []
        @Option(
            parsing: .unconditional,
            help: "Milliseconds between checkpoints while idle: at least 50; 0 takes the server's default (5000).")
        var checkpointInterval: UInt32 = 0
        @Option(parsing: .unconditional, help: "Stop after this many events.") var count: Int?
        @Flag(help: "Print checkpoints and caught-up notices too.") var verbose = false

        func validate() throws {
            if let count, count < 1 { throw ValidationError("--count must be at least 1, not \(count)") }
        }

        func run() async throws {
            let client = try connection.client()
            defer { Task { await client.close() } }
            let request = SubscribeRequest(
                filter: SubscriptionFilter(streamTypes: streamType, streams: stream, eventTypes: eventType),
                checkpointIntervalMs: checkpointInterval, start: from.map { .afterPosition($0) })
            let position = Position(from ?? 0)
            let tail = Task {
                var seen = 0
                for try await message in client.subscribe(request) {
                    switch message {
                    case .event(let event):
                        let line = try eventOutput(event, output) + "\n"
                        if let failure = writeOut(line) {
                            // A reader that went away (`| head`) ends the tail; nobody is left to tell.
                            if failure == EPIPE { return }
                            throw CLIError(
                                "cannot write the event: \(String(cString: strerror(failure))); "
                                    + "resume with --from \(position.value)", exitCode: 74)
                        }
                        position.advance(to: event.globalPosition)
                        seen += 1
                        if let count, seen >= count { return }
                    case .checkpoint(let checkpoint):
                        position.advance(to: checkpoint.position)
                        if verbose { note("checkpoint at \(checkpoint.position) (head \(checkpoint.headPosition))") }
                    case .caughtUp(let caughtUp):
                        // Every event up to here was printed or left out by the filter.
                        position.advance(to: caughtUp.position)
                        if verbose { note("caught up at \(caughtUp.position); live from here") }
                    case .fellBehind(let behind):
                        note("fell behind at \(behind.position); catching up again")
                    }
                }
            }
            // Ctrl-C, or SIGTERM (kill, timeout, systemd), ends the tail, saying where to resume.
            let stops = [SIGINT, SIGTERM].map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number)
                source.setEventHandler { tail.cancel() }
                source.resume()
                return source
            }
            defer { for source in stops { source.cancel() } }
            // A reader that went away is otherwise noticed only at the next write, which an idle
            // tail may never make: `tradecore events tail | head -1` would wait for ever.
            let readerGone = OneWayFlag()
            let watcher = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(200))
                    if outputReaderIsGone() {
                        readerGone.raise()
                        tail.cancel()
                        return
                    }
                }
            }
            defer { watcher.cancel() }
            let outcome = await tail.result
            if readerGone.isRaised {
                // Nobody is left to read a message; a failure of the tail itself still says so.
                switch outcome {
                case .success: return
                case .failure(let error) where TradeCoreError(error).code == .cancelled: return
                case .failure: break
                }
            }
            if tail.isCancelled, !readerGone.isRaised {
                note("stopped; resume with --from \(position.value)")
                return
            }
            if case .failure(let error) = outcome, error is TradeCoreError, position.value > (from ?? 0) {
                // Lost mid-way (the server went away): say where to pick up, then why.
                note("the tail ended; resume with --from \(position.value)")
            }
            try await calling { try outcome.get() }
        }
    }
}

/// A line for the person at the terminal, on standard error, apart from the output.
private func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Writes `text` to standard output; the errno when it cannot (EPIPE: the reader closed the pipe).
/// `FileHandle.write(_:)` would stop the process with a crash report instead.
func writeOut(_ text: String) -> Int32? {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            return errno
        }
        bytes = bytes.dropFirst(written)
    }
    return nil
}

/// Whether standard output is a pipe whose reading end has closed, or a terminal that hung up.
/// Asks without writing (`poll` reports the error of a pipe with no reader even when no event was
/// asked for); a file, `/dev/null` or an open terminal never answers yes.
func outputReaderIsGone() -> Bool {
    var descriptor = pollfd(fd: STDOUT_FILENO, events: 0, revents: 0)
    guard poll(&descriptor, 1, 0) == 1 else { return false }
    return Int32(descriptor.revents) & (POLLERR | POLLHUP) != 0
}

/// Raised once by one task, seen by another.
final class OneWayFlag: Sendable {
    private let raised = Atomic(false)

    func raise() { raised.store(true, ordering: .relaxed) }

    var isRaised: Bool { raised.load(ordering: .relaxed) }
}

/// The position a tail has reached, shared with the Ctrl-C handler.
final class Position: Sendable {
    private let current: Atomic<UInt64>

    init(_ start: UInt64) {
        current = Atomic(start)
    }

    var value: UInt64 { current.load(ordering: .relaxed) }

    func advance(to position: UInt64) {
        current.max(position, ordering: .relaxed)
    }
}

struct StreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream", abstract: "Read one stream.", subcommands: [Read.self])

    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the events of a stream in version order.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The stream, e.g. order-<uuid>.") var stream: String
        @Option(parsing: .unconditional, help: "The first version to print.") var fromVersion: UInt64 = 0
        @Option(parsing: .unconditional, help: "At most this many events (default: all).") var maxCount: Int?

        func validate() throws {
            if let maxCount, maxCount < 1 { throw ValidationError("--max-count must be at least 1, not \(maxCount)") }
        }

        func run() async throws {
            let client = try connection.client()
            defer { Task { await client.close() } }
            var next = fromVersion
            var printed = 0
            while true {
                let page = try await calling {
                    try await client.readStream(
                        ReadStreamRequest(
                            stream: stream, fromVersion: next,
                            maxCount: UInt32(min(maxCount.map { $0 - printed } ?? 1_000, 1_000))))
                }
                for event in page.events {
                    print(try eventOutput(event, output))
                }
                printed += page.events.count
                next = page.nextVersion
                if page.endOfStream || page.events.isEmpty || maxCount.map({ printed >= $0 }) == true { break }
            }
            // Said, not left to an empty output: a mistyped stream name reads as an empty stream.
            if printed == 0 {
                note(
                    fromVersion == 0 ? "\(stream) has no events" : "\(stream) has no events from version \(fromVersion)"
                )
            }
        }
    }
}

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract:
            "Ask the server whether it serves (exit 0 when SERVING, 14 when not, 5 for a service it does not know).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Ask about one service, e.g. tradecore.api.v1.CommandService (default: the whole server).")
    var service = ""

    func validate() throws { try output.check(HealthCheckResponse.self) }

    func run() async throws {
        let client = try connection.client(attempts: 1)
        defer { Task { await client.close() } }
        let status = try await calling { try await client.health(service: service) }
        try output.print(HealthCheckResponse(status: status))
        if status != .serving { throw ExitCode(14) }
    }
}

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "The server's own figures.", subcommands: [Stats.self])

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Connections and calls, as the server counts them.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws { try output.check(ServerStatsMessage.self) }

        func run() async throws {
            let client = try connection.client()
            defer { Task { await client.close() } }
            try output.print(try await calling { try await client.serverStats() })
        }
    }
}

struct NewIDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "id", abstract: "Print a new random id (a UUID).")

    func run() {
        print(UUID().uuidString.lowercased())
    }
}
