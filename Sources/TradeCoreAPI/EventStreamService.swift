import EventSourcing
import EventStore
import Foundation
import HTTP2RPC
import Logging
import Synchronization
import TradeCoreMessages
import WireFormat

/// `EventStreamService`: committed events as subscribers see them.
///
/// - Subscribe: from the start, after a log position, or after a version of one stream, with the
///   schema's filters; catch-up from storage, then live, with no gap and no duplicate (the store's
///   subscription guarantees it). While nothing passes the filter for the requested interval, a
///   checkpoint says how far the subscription is, so an idle subscriber can save a resume point.
///   When the server drains, every subscription gets a last checkpoint and then UNAVAILABLE naming
///   the position to resume after.
/// - ReadStream: one stream, in version order, a page at a time.
///
/// A user principal sees only its own events: those whose metadata names it.
public struct EventStreamService: RPCService {
    /// Checkpoint and paging settings.
    public struct Settings: Sendable {
        /// How often an idle subscriber gets a checkpoint when its request does not say.
        public var checkpointInterval: Duration = .seconds(5)
        /// The shortest interval a request may ask for.
        public var minimumCheckpointInterval: Duration = .milliseconds(50)
        /// Events per ReadStream page when the request does not say, and the most it may ask for.
        public var defaultPageSize: UInt32 = 100
        public var maxPageSize: UInt32 = 1_000
        /// The stream types a subscription may filter on; `nil` accepts any.
        public var streamTypes: Set<String>?
        /// The event types a subscription may filter on; `nil` accepts any.
        public var eventTypes: Set<String>?
        /// Stream types whose events name no user (the sagas' records): a user principal that
        /// filters on these alone would wait for ever, and is told so instead.
        public var userlessStreamTypes: Set<String> = []

        public init() {}
    }

    static let subscribePath = "/\(TradeCoreAPI.package).EventStreamService/Subscribe"
    static let readStreamPath = "/\(TradeCoreAPI.package).EventStreamService/ReadStream"

    let store: any EventStore
    let authenticator: Authenticator
    let metrics: APIMetrics
    let shutdown: ShutdownSignal
    let settings: Settings
    let logger: Logger
    /// Recent events as encoded for the wire, shared by the subscribers reading them.
    let encodedEvents = EncodedEvents(capacity: 8_192)

    public func register(into router: inout RPCRouter) throws(RPCRouter.DuplicateMethodError) {
        try router.serverStreaming(Self.subscribePath) { request, writer in
            let started = ContinuousClock.now
            do {
                let trailers = try await subscribe(request, writer)
                metrics.call("Subscribe", code: .ok, since: started)
                return trailers
            } catch {
                let failure = TradeCoreAPI.rpcError(error)
                metrics.call("Subscribe", code: failure.code, since: started)
                throw failure
            }
        }
        try router.unary(Self.readStreamPath) { request in
            let started = ContinuousClock.now
            do {
                let response = try await readStream(request)
                metrics.call("ReadStream", code: .ok, since: started)
                return response
            } catch {
                let failure = TradeCoreAPI.rpcError(error)
                metrics.call("ReadStream", code: failure.code, since: started)
                throw failure
            }
        }
    }

    // MARK: - Subscribe

    /// Where a subscription is, shared by the task that delivers and the one that sends checkpoints.
    private final class Progress: Sendable {
        private struct State {
            /// Every event up to here has been delivered or filtered out.
            var position: Int64
            var lastWrite: ContinuousClock.Instant
        }

        private let state: Mutex<State>
        private let subscription: EventSubscription

        init(position: Int64, of subscription: EventSubscription) {
            state = Mutex(State(position: position, lastWrite: .now))
            self.subscription = subscription
        }

        /// Also past the events the store's filter left out, which the events written do not show.
        var position: Int64 { max(state.withLock { $0.position }, subscription.passedPosition) }

        /// How long nothing was written.
        var idle: Duration { state.withLock { ContinuousClock.now - $0.lastWrite } }

        /// Notes that everything up to `position` was delivered or filtered out, and whether a
        /// message was written.
        func advance(to position: Int64, wrote: Bool) {
            state.withLock { state in
                state.position = max(state.position, position)
                if wrote { state.lastWrite = .now }
            }
        }

        func wrote() {
            state.withLock { $0.lastWrite = .now }
        }
    }

    /// Refuses the first of `requested` that `known` lacks (INVALID_ARGUMENT on `field`, naming the
    /// known ones); `nil` known accepts any.
    private static func refuseUnknown(
        _ requested: Set<String>?, of known: Set<String>?, _ field: String, _ what: String
    ) throws(RPCError) {
        guard let known, let unknown = requested?.subtracting(known).sorted().first else { return }
        throw APIErrors.invalidArgument(
            field, "\"\(unknown.prefix(80))\" is not \(what) of this server: " + known.sorted().joined(separator: ", "))
    }

    private func subscribe(_ request: RPCServerRequest, _ writer: RPCResponseWriter) async throws -> RPCMetadata {
        let principal = try authenticator.principal(of: request.context.metadata)
        let message: SubscribeRequest
        do throws(ProtoDecodingError) {
            message = try SubscribeRequest(protoBytes: request.message)
        } catch {
            throw APIErrors.malformed(error, message: SubscribeRequest.protoMessageName)
        }
        let (start, filter, resumeAfter) = try Self.subscription(of: message)
        // A misspelt type would otherwise match nothing, silently, for ever.
        try Self.refuseUnknown(filter.streamTypes, of: settings.streamTypes, "filter.stream_types", "a stream type")
        try Self.refuseUnknown(filter.eventTypes, of: settings.eventTypes, "filter.event_types", "an event type")
        let interval = try checkpointInterval(message.checkpointIntervalMs)
        let owner: UUID? = if case .user(let id) = principal { id } else { nil }
        if owner != nil, let wanted = filter.streamTypes, !wanted.isEmpty,
            wanted.isSubset(of: settings.userlessStreamTypes)
        {
            throw APIErrors.error(
                .permissionDenied, reason: "NOT_A_USER_STREAM",
                "\(principal) sees only its own events, and streams of type \(wanted.sorted().joined(separator: ", ")) "
                    + "hold events of no user: this subscription would never deliver one",
                fields: [BadRequest.FieldViolation(field: "filter.stream_types", description: "holds no user's events")]
            )
        }
        if case .stream(let stream, _) = start {
            // Before its versions are judged: neither a refusal nor a caught-up position may tell
            // a user how long another user's stream is.
            try await refuseForeignStream(stream, to: principal)
        } else if owner != nil, let named = filter.streams {
            // Another user's stream in the filter would deliver nothing, for ever: said now, as
            // ReadStream says it. A stream with no events yet may still become the user's.
            for stream in named { try await refuseForeignStream(stream, to: principal) }
        }
        try await checkCommitted(start, showingStreamVersion: owner == nil)
        let subscription = store.subscribe(start, filter: filter)
        let progress = Progress(position: resumeAfter, of: subscription)
        metrics.subscriberOpened()
        defer { metrics.subscriberClosed() }

        let ended: Bool = try await shutdown.track {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await deliver(subscription, to: writer, owner: owner, progress: progress)
                    return true
                }
                group.addTask {
                    try await sendCheckpoints(to: writer, every: interval, progress: progress)
                    return false
                }
                group.addTask {
                    await shutdown.wait()
                    return true
                }
                defer { group.cancelAll() }
                return try await group.next() ?? true
            }
        }
        // The store closed or the server is draining: say where to resume, then end the call.
        let position = progress.position
        if ended {
            try await writer.write(checkpoint(position))
        }
        throw APIErrors.error(
            .unavailable, reason: "SHUTTING_DOWN",
            "the server is shutting down: subscribe again after position \(position)",
            facts: ["resume_after_position": "\(position)"])
    }

    /// Refuses a start after what is committed. A subscription after a position past the head (or
    /// a version past its stream's end) would wait for the events that come to take the numbers in
    /// between and skip them: a client that mistyped its resume point would lose events unawares.
    /// A user principal is not told the version of a stream (it may be another user's).
    private func checkCommitted(_ start: SubscriptionStart, showingStreamVersion: Bool) async throws {
        switch start {
        case .beginning, .end:
            return
        case .position(let next):
            let head = try await store.headPosition()
            guard next - 1 <= head else {
                throw APIErrors.error(
                    .outOfRange, reason: "AFTER_THE_HEAD",
                    "after_position \(next - 1) is past the head of the log (\(head)): subscribe after a position "
                        + "you have seen, or from the start",
                    facts: ["after_position": "\(next - 1)", "head_position": "\(head)"],
                    fields: [BadRequest.FieldViolation(field: "after_position", description: "past the head \(head)")])
            }
        case .stream(let stream, version: let next):
            let current = try await store.streamVersion(stream)
            guard next - 1 <= current ?? -1 else {
                let end = current.map { "its version is \($0)" } ?? "it has no events"
                throw APIErrors.error(
                    .outOfRange, reason: "AFTER_THE_STREAM_END",
                    "after_stream_version.version \(next - 1) is past the end of \(stream)"
                        + (showingStreamVersion ? " (\(end))" : ""),
                    facts: showingStreamVersion
                        ? ["after_version": "\(next - 1)", "stream_version": current.map { "\($0)" } ?? "none"]
                        : ["after_version": "\(next - 1)"],
                    fields: [
                        BadRequest.FieldViolation(field: "after_stream_version.version", description: "past the end")
                    ])
            }
        }
    }

    /// The most streams a subscription's filter names.
    static let maxFilterStreams = 1_000

    /// The start and filter of a request; the position a subscriber has handled when it starts.
    static func subscription(of request: SubscribeRequest) throws(RPCError) -> (SubscriptionStart, EventFilter, Int64) {
        var filter = EventFilter()
        var streams: Set<StreamName> = []
        if let requested = request.filter {
            if !requested.streamTypes.isEmpty { filter.streamTypes = Set(requested.streamTypes) }
            if !requested.eventTypes.isEmpty { filter.eventTypes = Set(requested.eventTypes) }
            // Each named stream is looked at before a user's subscription starts: a bounded number.
            guard requested.streams.count <= Self.maxFilterStreams else {
                throw APIErrors.invalidArgument(
                    "filter.streams",
                    "names \(requested.streams.count) streams; a subscription names at most \(Self.maxFilterStreams)")
            }
            for text in requested.streams {
                guard let stream = try? StreamName(text) else {
                    throw APIErrors.invalidArgument("filter.streams", "\"\(text.prefix(80))\" is not a stream name")
                }
                streams.insert(stream)
            }
            if !streams.isEmpty { filter.streams = streams }
        }
        switch request.start {
        case nil:
            return (.beginning, filter, 0)
        case .afterPosition(let position)?:
            guard position < UInt64(Int64.max) else {
                throw APIErrors.invalidArgument("after_position", "is past the end of any log")
            }
            return (.position(Int64(position) + 1), filter, Int64(position))
        case .afterStreamVersion(let after)?:
            guard let stream = try? StreamName(after.stream) else {
                throw APIErrors.invalidArgument(
                    "after_stream_version.stream", "\"\(after.stream.prefix(80))\" is not a stream name")
            }
            guard streams.isEmpty || streams == [stream] else {
                throw APIErrors.invalidArgument(
                    "filter.streams", "a subscription after a stream version reads that stream only")
            }
            guard after.version < UInt64(Int64.max) else {
                throw APIErrors.invalidArgument("after_stream_version.version", "is past the end of any stream")
            }
            if let types = filter.streamTypes, !types.contains(stream.type) {
                throw APIErrors.invalidArgument(
                    "filter.stream_types", "leaves out type \(stream.type) of the stream after whose version it reads")
            }
            filter.streams = [stream]
            return (.stream(stream, version: Int64(after.version) + 1), filter, 0)
        }
    }

    private func checkpointInterval(_ milliseconds: UInt32) throws(RPCError) -> Duration {
        guard milliseconds > 0 else { return settings.checkpointInterval }
        let interval = Duration.milliseconds(Int64(milliseconds))
        guard interval >= settings.minimumCheckpointInterval else {
            throw APIErrors.invalidArgument(
                "checkpoint_interval_ms", "at least \(settings.minimumCheckpointInterval.nanoseconds / 1_000_000)")
        }
        return interval
    }

    /// The most events written to a subscriber in one batch.
    static let maxBatch = 256

    /// Writes what the subscription delivers, until it ends (the store closed). Events already
    /// buffered behind the one delivered (a storage page, or live events that arrived together)
    /// go out as one batch: one trip to the connection's loop and one flush.
    private func deliver(
        _ subscription: EventSubscription, to writer: RPCResponseWriter, owner: UUID?, progress: Progress
    ) async throws {
        var delivered = 0
        var iterator = subscription.makeAsyncIterator()
        var batch: [[UInt8]] = []
        batch.reserveCapacity(Self.maxBatch)
        while let message = try await iterator.next() {
            let response: SubscribeResponse?
            switch message {
            case .event(let first):
                var event = first
                var last = first.position
                var taken = 0
                batch.removeAll(keepingCapacity: true)
                while true {
                    if owner == nil || event.metadata.userID == owner {
                        batch.append(encodedEvents.bytes(of: event))
                    }
                    last = event.position
                    taken += 1
                    guard taken < Self.maxBatch, let next = iterator.nextBufferedEvent() else { break }
                    event = next
                }
                if !batch.isEmpty {
                    delivered += batch.count
                    if delivered / 256 != (delivered - batch.count) / 256 {
                        metrics.subscriberLag(max(store.subscriptions.headPosition - last, 0))
                    }
                    try await writer.write(contentsOf: batch)
                }
                progress.advance(to: last, wrote: !batch.isEmpty)
                continue
            case .caughtUp:
                let position = progress.position
                response = SubscribeResponse(message: .caughtUp(SubscriptionCaughtUp(position: UInt64(position))))
            case .fellBehind:
                let position = progress.position
                response = SubscribeResponse(
                    message: .fellBehind(
                        SubscriptionFellBehind(
                            position: UInt64(position), headPosition: UInt64(max(store.subscriptions.headPosition, 0))))
                )
            case .checkpoint(let position):
                // Every event up to `position` that passes the filter has been delivered.
                progress.advance(to: position, wrote: false)
                metrics.subscriberLag(0)
                response = nil
            }
            if let response {
                try await writer.write(response.protoBytes)
                progress.wrote()
            }
        }
    }

    /// Sends a checkpoint whenever nothing was written for `interval`.
    private func sendCheckpoints(
        to writer: RPCResponseWriter, every interval: Duration, progress: Progress
    ) async throws {
        while true {
            let idle = progress.idle
            if idle >= interval {
                try await writer.write(checkpoint(progress.position))
                progress.wrote()
                try await Task.sleep(for: interval)
            } else {
                try await Task.sleep(for: interval - idle)
            }
        }
    }

    private func checkpoint(_ position: Int64) -> [UInt8] {
        SubscribeResponse(
            message: .checkpoint(
                SubscriptionCheckpoint(
                    position: UInt64(max(position, 0)), headPosition: UInt64(max(store.subscriptions.headPosition, 0))))
        ).protoBytes
    }

    /// Refuses a user principal `stream` when its first event is another user's, or no user's;
    /// a service principal reads any.
    private func refuseForeignStream(_ stream: StreamName, to principal: Principal) async throws {
        guard case .user = principal else { return }
        let first: [RecordedEvent]
        do {
            first = try await store.readStream(stream, from: 0, direction: .forward, limit: 1)
        } catch {
            throw APIErrors.error(.unavailable, reason: "STORE_UNAVAILABLE", "the event store could not be read")
        }
        try Self.refuseForeign(first, of: stream, to: principal)
    }

    /// A user reads only its own events, as on Subscribe: refuses `events` of `stream` when one is
    /// another user's, without naming that user, or of no user (a saga's, whose payloads name the
    /// users it acts for).
    static func refuseForeign(_ events: [RecordedEvent], of stream: StreamName, to principal: Principal) throws {
        guard case .user(let id) = principal, let foreign = events.first(where: { $0.metadata.userID != id }) else {
            return
        }
        guard foreign.metadata.userID != nil else {
            throw APIErrors.error(
                .permissionDenied, reason: "NOT_A_USER_STREAM",
                "\(principal) reads only its own events; stream \(stream) holds events of no user",
                facts: ["stream": "\(stream)"])
        }
        throw APIErrors.error(
            .permissionDenied, reason: "NOT_YOUR_STREAM",
            "\(principal) reads only its own events; stream \(stream) holds another user's",
            facts: ["stream": "\(stream)"])
    }

    /// A committed event as subscribers see it.
    static func envelope(_ event: RecordedEvent) -> EventEnvelope {
        let metadata = event.metadata
        return EventEnvelope(
            globalPosition: UInt64(event.position), stream: event.stream.rawValue, streamType: event.stream.type,
            version: UInt64(event.version), eventType: event.type, eventID: event.id, recordedAt: metadata.time,
            metadata: TradeCoreMessages.EventMetadata(
                causationID: metadata.causationID, correlationID: metadata.correlationID, sagaID: metadata.sagaID,
                userID: metadata.userID, commandType: metadata.commandType ?? ""),
            payload: [UInt8](event.data))
    }

    // MARK: - ReadStream

    private func readStream(_ request: RPCServerRequest) async throws -> RPCServerResponse {
        let principal = try authenticator.principal(of: request.context.metadata)
        let message: ReadStreamRequest
        do throws(ProtoDecodingError) {
            message = try ReadStreamRequest(protoBytes: request.message)
        } catch {
            throw APIErrors.malformed(error, message: ReadStreamRequest.protoMessageName)
        }
        guard let stream = try? StreamName(message.stream) else {
            throw APIErrors.invalidArgument(
                "stream", "\"\(message.stream.prefix(80))\" is not a stream name such as order-<uuid>")
        }
        let count = message.maxCount == 0 ? settings.defaultPageSize : message.maxCount
        guard count <= settings.maxPageSize else {
            throw APIErrors.invalidArgument("max_count", "at most \(settings.maxPageSize)")
        }
        guard message.fromVersion < UInt64(Int64.max) else {
            throw APIErrors.invalidArgument("from_version", "is past the end of any stream")
        }
        // By the stream's first event, whatever the page: a page past the end (empty) must not
        // tell a user how long another user's stream is.
        try await refuseForeignStream(stream, to: principal)
        let events: [RecordedEvent]
        do {
            events = try await store.readStream(
                stream, from: Int64(message.fromVersion), direction: .forward, limit: Int(count))
        } catch {
            throw APIErrors.error(.unavailable, reason: "STORE_UNAVAILABLE", "the event store could not be read")
        }
        try Self.refuseForeign(events, of: stream, to: principal)
        let response = ReadStreamResponse(
            events: events.map(Self.envelope),
            nextVersion: events.last.map { UInt64($0.version) + 1 } ?? message.fromVersion,
            endOfStream: events.count < Int(count))
        return RPCServerResponse(message: response.protoBytes)
    }
}

/// The `SubscribeResponse` bytes of recent events, by position: subscribers reading the same part
/// of the log (every live subscriber, usually) encode each event once between them.
///
/// A fixed ring: the event at position p lives in slot p mod capacity until a later event takes it.
final class EncodedEvents: Sendable {
    private struct Slot {
        var position: Int64 = 0
        var bytes: [UInt8] = []
    }

    private let slots: Mutex<[Slot]>
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        slots = Mutex([Slot](repeating: Slot(), count: self.capacity))
    }

    func bytes(of event: RecordedEvent) -> [UInt8] {
        let index = Int(event.position % Int64(capacity))
        if let cached = slots.withLock({ $0[index].position == event.position ? $0[index].bytes : nil }) {
            return cached
        }
        let bytes = SubscribeResponse(message: .event(EventStreamService.envelope(event))).protoBytes
        slots.withLock { $0[index] = Slot(position: event.position, bytes: bytes) }
        return bytes
    }
}
