import Logging
import Synchronization

/// Hands committed events to live subscribers, in commit order, with bounded memory.
///
/// A backend calls ``publish(_:)`` after each commit, in commit order. Each subscriber has a buffer
/// bounded in events and bytes. A subscriber that lets its buffer fill is not allowed to grow it: the
/// buffer is released and the subscriber is switched back to reading from storage, from where it
/// left off, until it catches up again (see ``EventSubscription``). So the hub's memory stays within
/// `subscribers × bufferCapacity` whatever the subscribers do, and nothing is dropped.
///
/// Subscribers that receive nothing for ``Configuration/checkpointInterval`` get a checkpoint message
/// carrying the head position.
public final class SubscriptionHub: Sendable {
    /// Buffers, page size and checkpoint interval.
    public struct Configuration: Sendable, Hashable {
        /// The most events one subscriber's live buffer holds before it is switched to catch-up reads.
        public var bufferCapacity: Int
        /// The most bytes (see ``RecordedEvent/approximateByteCount``) one subscriber's buffer holds.
        public var bufferByteCapacity: Int
        /// Events read from storage per catch-up read.
        public var catchUpPageSize: Int
        /// How long a subscriber may go without a message before it gets a checkpoint.
        public var checkpointInterval: Duration

        /// Makes a configuration; the defaults suit a server.
        public init(
            bufferCapacity: Int = 4_096,
            bufferByteCapacity: Int = 16 << 20,
            catchUpPageSize: Int = 512,
            checkpointInterval: Duration = .seconds(5)
        ) {
            self.bufferCapacity = max(bufferCapacity, 1)
            self.bufferByteCapacity = max(bufferByteCapacity, 1)
            self.catchUpPageSize = max(catchUpPageSize, 1)
            self.checkpointInterval = checkpointInterval
        }
    }

    /// What the hub holds, for tests, metrics and health checks.
    public struct Statistics: Sendable, Hashable {
        /// Registered subscriptions.
        public var subscribers = 0
        /// Events held in all live buffers now.
        public var bufferedEvents = 0
        /// Bytes held in all live buffers now.
        public var bufferedBytes = 0
        /// The most events the live buffers ever held at once.
        public var peakBufferedEvents = 0
        /// The most bytes the live buffers ever held at once.
        public var peakBufferedBytes = 0
        /// How many times a subscriber's buffer overflowed and was released.
        public var overflows = 0
        /// The position of the last published event.
        public var headPosition: Int64 = 0
    }

    /// What a subscriber finds when it looks at its buffer.
    package enum Take: Sendable {
        case events([RecordedEvent])
        case overflowed
        case checkpoint(Int64)
        case empty
        case closed
        case removed
    }

    private struct Subscriber {
        let filter: EventFilter
        var buffer: [RecordedEvent] = []
        var bytes = 0
        var overflowed = false
        var checkpointDue = false
        var deliveredSinceTick = false
        var cancelled = false
        var waiter: CheckedContinuation<Void, Never>?

        var hasWork: Bool { !buffer.isEmpty || overflowed || checkpointDue || cancelled }
    }

    private struct State {
        var subscribers: [UInt64: Subscriber] = [:]
        var nextID: UInt64 = 1
        var statistics = Statistics()
        var ticker: Task<Void, Never>?
        var isClosed = false

        mutating func dropBuffer(at index: Dictionary<UInt64, Subscriber>.Index) {
            statistics.bufferedEvents -= subscribers.values[index].buffer.count
            statistics.bufferedBytes -= subscribers.values[index].bytes
            subscribers.values[index].buffer = []
            subscribers.values[index].bytes = 0
        }
    }

    /// The hub's settings.
    public let configuration: Configuration
    private let logger: Logger
    private let state: Mutex<State>

    /// Makes a hub whose log currently ends at `headPosition`.
    public init(
        configuration: Configuration = Configuration(),
        headPosition: Int64 = 0,
        logger: Logger = Logger(label: "tradecore.eventstore.subscriptions")
    ) {
        self.configuration = configuration
        self.logger = logger
        var state = State()
        state.statistics.headPosition = headPosition
        self.state = Mutex(state)
    }

    /// The hub's counters.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// The position of the last published event.
    public var headPosition: Int64 { state.withLock { $0.statistics.headPosition } }

    /// Hands committed events to the subscribers. Call once per commit, in commit order, with the
    /// events in position order. Never blocks on a subscriber.
    public func publish(_ events: [RecordedEvent]) {
        guard let last = events.last else { return }
        let capacity = configuration.bufferCapacity
        let byteCapacity = configuration.bufferByteCapacity
        var toWake: [CheckedContinuation<Void, Never>] = []
        var overflowed = 0
        state.withLock { state in
            state.statistics.headPosition = max(state.statistics.headPosition, last.position)
            for index in state.subscribers.indices {
                if state.subscribers.values[index].overflowed || state.subscribers.values[index].cancelled { continue }
                let filter = state.subscribers.values[index].filter
                var added = false
                for event in events where filter.matches(event) {
                    let size = event.approximateByteCount
                    // Read the two numbers, not a copy of the subscriber: a copy would share the
                    // buffer's storage and make the append below copy the whole buffer.
                    let count = state.subscribers.values[index].buffer.count
                    let bytes = state.subscribers.values[index].bytes
                    if count >= capacity || bytes + size > byteCapacity {
                        // Too slow: release the buffer; the subscriber re-reads from storage.
                        state.dropBuffer(at: index)
                        state.subscribers.values[index].overflowed = true
                        state.statistics.overflows += 1
                        overflowed += 1
                        added = true
                        break
                    }
                    state.subscribers.values[index].buffer.append(event)
                    state.subscribers.values[index].bytes += size
                    state.statistics.bufferedEvents += 1
                    state.statistics.bufferedBytes += size
                    added = true
                }
                if added, let waiter = state.subscribers.values[index].waiter {
                    state.subscribers.values[index].waiter = nil
                    toWake.append(waiter)
                }
            }
            state.statistics.peakBufferedEvents = max(
                state.statistics.peakBufferedEvents, state.statistics.bufferedEvents)
            state.statistics.peakBufferedBytes = max(state.statistics.peakBufferedBytes, state.statistics.bufferedBytes)
        }
        for waiter in toWake { waiter.resume() }
        if overflowed > 0 {
            logger.debug(
                "subscribers fell behind; switched to catch-up reads",
                metadata: ["eventstore.subscribers": "\(overflowed)", "eventstore.position": "\(last.position)"]
            )
        }
    }

    /// Ends every subscription: their iterators throw ``EventStoreError/Code/closed``.
    public func close() {
        let (waiters, ticker) = state.withLock { state -> ([CheckedContinuation<Void, Never>], Task<Void, Never>?) in
            state.isClosed = true
            let waiters = state.subscribers.values.compactMap(\.waiter)
            for index in state.subscribers.indices {
                state.subscribers.values[index].waiter = nil
                state.dropBuffer(at: index)
            }
            defer { state.ticker = nil }
            return (waiters, state.ticker)
        }
        ticker?.cancel()
        for waiter in waiters { waiter.resume() }
    }

    /// Makes a subscription reading through `reader` when it catches up.
    package func subscribe(_ start: SubscriptionStart, filter: EventFilter, reader: any EventStore) -> EventSubscription
    {
        let liveFilter: EventFilter
        if case .stream(let stream, _) = start {
            var narrowed = filter
            narrowed.streams = (filter.streams ?? [stream]).intersection([stream])
            liveFilter = narrowed
        } else {
            liveFilter = filter
        }
        let (id, head) = state.withLock { state -> (UInt64, Int64) in
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = Subscriber(filter: liveFilter)
            state.statistics.subscribers = state.subscribers.count
            if state.ticker == nil && !state.isClosed {
                state.ticker = makeTicker()
            }
            return (id, state.statistics.headPosition)
        }
        return EventSubscription(
            EventSubscription.Setup(
                registration: EventSubscription.Registration(hub: self, id: id),
                start: start,
                filter: filter,
                reader: reader,
                headAtRegistration: head,
                pageSize: configuration.catchUpPageSize
            )
        )
    }

    /// Starts (again) recording live events for a subscriber that is about to read from storage:
    /// whatever is published from now on is buffered, so the read and the buffer overlap with no gap.
    package func beginRecording(_ id: UInt64) {
        state.withLock { state in
            guard let index = state.subscribers.index(forKey: id) else { return }
            state.dropBuffer(at: index)
            state.subscribers.values[index].overflowed = false
            state.subscribers.values[index].checkpointDue = false
        }
    }

    /// Takes what the subscriber's buffer holds.
    package func take(_ id: UInt64) -> Take {
        state.withLock { state in
            if state.isClosed { return .closed }
            guard let index = state.subscribers.index(forKey: id) else { return .removed }
            let subscriber = state.subscribers.values[index]
            if subscriber.cancelled { return .removed }
            if !subscriber.buffer.isEmpty {
                let events = subscriber.buffer
                state.dropBuffer(at: index)
                state.subscribers.values[index].deliveredSinceTick = true
                state.subscribers.values[index].checkpointDue = false
                return .events(events)
            }
            if subscriber.overflowed { return .overflowed }
            if subscriber.checkpointDue {
                // The buffer is empty and did not overflow since recording began, and the iterator
                // holds nothing undelivered: every matching event up to the head has been delivered.
                state.subscribers.values[index].checkpointDue = false
                state.subscribers.values[index].deliveredSinceTick = true
                return .checkpoint(state.statistics.headPosition)
            }
            return .empty
        }
    }

    /// Waits until the subscriber's buffer has something, it is due a checkpoint, the task is
    /// cancelled or the hub closes.
    package func waitForWork(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = state.withLock { state -> Bool in
                    guard !state.isClosed, let index = state.subscribers.index(forKey: id),
                        !state.subscribers.values[index].hasWork
                    else { return false }
                    state.subscribers.values[index].waiter = continuation
                    return true
                }
                if !parked { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let index = state.subscribers.index(forKey: id) else { return nil }
                state.subscribers.values[index].cancelled = true
                defer { state.subscribers.values[index].waiter = nil }
                return state.subscribers.values[index].waiter
            }
            waiter?.resume()
        }
    }

    /// Forgets a subscriber and frees its buffer.
    package func remove(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let index = state.subscribers.index(forKey: id) else { return nil }
            state.dropBuffer(at: index)
            let waiter = state.subscribers.values[index].waiter
            state.subscribers.remove(at: index)
            state.statistics.subscribers = state.subscribers.count
            return waiter
        }
        waiter?.resume()
    }

    private func makeTicker() -> Task<Void, Never> {
        let interval = configuration.checkpointInterval
        return Task { [weak self] in
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                guard let self, self.tick() else { return }
            }
        }
    }

    /// Marks subscribers that received nothing since the last tick as due a checkpoint. Returns
    /// false (and forgets the ticker) when there is nobody left to tick for.
    private func tick() -> Bool {
        let (keepGoing, waiters) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
            guard !state.isClosed, !state.subscribers.isEmpty else {
                state.ticker = nil
                return (false, [])
            }
            var waiters: [CheckedContinuation<Void, Never>] = []
            for index in state.subscribers.indices {
                let subscriber = state.subscribers.values[index]
                if !subscriber.deliveredSinceTick && subscriber.buffer.isEmpty && !subscriber.overflowed {
                    state.subscribers.values[index].checkpointDue = true
                    if let waiter = subscriber.waiter {
                        state.subscribers.values[index].waiter = nil
                        waiters.append(waiter)
                    }
                }
                state.subscribers.values[index].deliveredSinceTick = false
            }
            return (true, waiters)
        }
        for waiter in waiters { waiter.resume() }
        return keepGoing
    }
}
