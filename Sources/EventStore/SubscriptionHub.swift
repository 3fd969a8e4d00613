import Logging
import Synchronization

/// Hands committed events to live subscribers, in commit order, with bounded memory.
///
/// A backend calls ``publish(_:)`` after each commit, in commit order. The hub keeps one live log of
/// the recent commits, shared by every subscriber: a publish costs the same for a hundred
/// subscribers as for one (the events are not copied per subscriber), and each subscriber keeps
/// only its place in that log. The log is bounded in events and bytes. A subscriber that falls so
/// far behind that the events it has not taken would be dropped is switched back to reading from
/// storage, from where it left off, until it catches up again (see ``EventSubscription``). So the
/// hub's memory stays within one bound whatever the subscribers do, and nothing is lost. Commits no
/// subscriber still needs are released at once.
///
/// Subscribers that receive nothing for ``Configuration/checkpointInterval`` get a checkpoint message
/// carrying the head position.
public final class SubscriptionHub: Sendable {
    /// Buffers, page size and checkpoint interval.
    public struct Configuration: Sendable, Hashable {
        /// The most events the live log holds; a subscriber further behind than that is switched to
        /// catch-up reads.
        public var bufferCapacity: Int
        /// The most bytes (see ``RecordedEvent/approximateByteCount``) the live log holds.
        public var bufferByteCapacity: Int
        /// Events read from storage per catch-up read.
        public var catchUpPageSize: Int
        /// Full pages of the log kept in memory for subscribers catching up, which share their
        /// reads (see ``CatchUpPages``); 0 turns the sharing off. Memory: this many pages of
        /// ``catchUpPageSize`` events.
        public var sharedCatchUpPages: Int
        /// How long a subscriber may go without a message before it gets a checkpoint.
        public var checkpointInterval: Duration

        /// Makes a configuration; the defaults suit a server.
        public init(
            bufferCapacity: Int = 4_096,
            bufferByteCapacity: Int = 16 << 20,
            catchUpPageSize: Int = 512,
            sharedCatchUpPages: Int = 32,
            checkpointInterval: Duration = .seconds(5)
        ) {
            self.bufferCapacity = max(bufferCapacity, 1)
            self.bufferByteCapacity = max(bufferByteCapacity, 1)
            self.catchUpPageSize = max(catchUpPageSize, 1)
            self.sharedCatchUpPages = max(sharedCatchUpPages, 0)
            self.checkpointInterval = checkpointInterval
        }
    }

    /// What the hub holds, for tests, metrics and health checks.
    public struct Statistics: Sendable, Hashable {
        /// Registered subscriptions.
        public var subscribers = 0
        /// Events the live log holds now.
        public var bufferedEvents = 0
        /// Bytes the live log holds now.
        public var bufferedBytes = 0
        /// The most events the live log ever held at once.
        public var peakBufferedEvents = 0
        /// The most bytes the live log ever held at once.
        public var peakBufferedBytes = 0
        /// How many times a subscriber fell behind the live log and was switched to storage reads.
        public var overflows = 0
        /// The position of the last published event.
        public var headPosition: Int64 = 0
    }

    /// What a subscriber finds when it looks at the live log.
    package enum Take: Sendable {
        /// The events published since the subscriber last took (not filtered), in order.
        case events([ArraySlice<RecordedEvent>])
        case overflowed
        case checkpoint(Int64)
        case empty
        case closed
        case removed
    }

    /// The events of one publish, shared by the subscribers that have not taken them yet.
    private struct Chunk {
        /// The sequence number of `events[0]`: how many events were published before it.
        let first: Int64
        let events: [RecordedEvent]
        let bytes: Int

        var end: Int64 { first + Int64(events.count) }
    }

    private struct Subscriber {
        let filter: EventFilter
        /// The sequence number of the first published event this subscriber has not taken.
        var next: Int64
        /// Events it had not taken were dropped from the live log; it reads from storage next.
        var overflowed = false
        var checkpointDue = false
        var deliveredSinceTick = false
        var cancelled = false
        var waiter: CheckedContinuation<Void, Never>?

        var isFollowing: Bool { !overflowed && !cancelled }
    }

    private struct State {
        var subscribers: [UInt64: Subscriber] = [:]
        var nextID: UInt64 = 1
        var statistics = Statistics()
        var ticker: Task<Void, Never>?
        var isClosed = false
        /// The live log: `chunks[firstChunk...]`, oldest first.
        var chunks: [Chunk] = []
        var firstChunk = 0
        /// The sequence number the next published event gets.
        var end: Int64 = 0

        /// The sequence number of the oldest event the live log holds.
        var start: Int64 { firstChunk < chunks.count ? chunks[firstChunk].first : end }

        func hasWork(_ subscriber: Subscriber) -> Bool {
            subscriber.next < end || subscriber.overflowed || subscriber.checkpointDue || subscriber.cancelled
        }

        mutating func dropOldestChunk() {
            statistics.bufferedEvents -= chunks[firstChunk].events.count
            statistics.bufferedBytes -= chunks[firstChunk].bytes
            chunks[firstChunk] = Chunk(first: 0, events: [], bytes: 0)
            firstChunk += 1
            if firstChunk == chunks.count {
                chunks.removeAll(keepingCapacity: true)
                firstChunk = 0
            } else if firstChunk >= 64 && firstChunk * 2 >= chunks.count {
                chunks.removeFirst(firstChunk)
                firstChunk = 0
            }
        }

        /// Drops the chunks every following subscriber has taken.
        mutating func releaseTaken() {
            var oldest = end
            for subscriber in subscribers.values where subscriber.isFollowing { oldest = min(oldest, subscriber.next) }
            while firstChunk < chunks.count && chunks[firstChunk].end <= oldest { dropOldestChunk() }
        }

        mutating func dropAllChunks() {
            while firstChunk < chunks.count { dropOldestChunk() }
        }

        /// The live log from sequence number `next` to its end, as slices of its chunks.
        func slices(from next: Int64) -> [ArraySlice<RecordedEvent>] {
            // The chunk holding `next`: the last one that starts at or before it.
            var low = firstChunk
            var high = chunks.count
            while high - low > 1 {
                let middle = low + (high - low) / 2
                if chunks[middle].first <= next { low = middle } else { high = middle }
            }
            var slices: [ArraySlice<RecordedEvent>] = []
            slices.reserveCapacity(chunks.count - low)
            let offset = Int(next - chunks[low].first)
            slices.append(chunks[low].events[offset...])
            for index in (low + 1)..<chunks.count { slices.append(chunks[index].events[...]) }
            return slices
        }
    }

    /// The hub's settings.
    public let configuration: Configuration
    private let logger: Logger
    private let state: Mutex<State>
    /// Catch-up reads of the whole log, shared by the subscribers.
    let catchUpPages: CatchUpPages

    /// Makes a hub whose log currently ends at `headPosition`.
    public init(
        configuration: Configuration = Configuration(),
        headPosition: Int64 = 0,
        logger: Logger = Logger(label: "tradecore.eventstore.subscriptions")
    ) {
        self.configuration = configuration
        self.logger = logger
        catchUpPages = CatchUpPages(
            blockSize: configuration.catchUpPageSize, capacity: configuration.sharedCatchUpPages)
        var state = State()
        state.statistics.headPosition = headPosition
        self.state = Mutex(state)
    }

    /// The hub's counters.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// The position of the last published event.
    public var headPosition: Int64 { state.withLock { $0.statistics.headPosition } }

    /// Hands committed events to the subscribers. Call once per commit, in commit order, with the
    /// events in position order. Never blocks on a subscriber, and never copies the events per
    /// subscriber.
    public func publish(_ events: [RecordedEvent]) {
        guard let last = events.last else { return }
        var bytes = 0
        for event in events { bytes += event.approximateByteCount }
        let capacity = configuration.bufferCapacity
        let byteCapacity = configuration.bufferByteCapacity
        var toWake: [CheckedContinuation<Void, Never>] = []
        var overflowed = 0
        state.withLock { state in
            state.statistics.headPosition = max(state.statistics.headPosition, last.position)
            let chunk = Chunk(first: state.end, events: events, bytes: bytes)
            state.end = chunk.end
            var wanted = false
            // Walked by index, not over `indices`, which holds the dictionary's storage and so made
            // its first change below copy every subscriber, on every commit.
            var index = state.subscribers.startIndex
            while index != state.subscribers.endIndex {
                defer { state.subscribers.formIndex(after: &index) }
                guard state.subscribers.values[index].isFollowing else { continue }
                // A subscriber that has taken everything and whose filter takes none of these
                // events skips them here, rather than holding them in the log for nothing.
                if state.subscribers.values[index].next == chunk.first,
                    !state.subscribers.values[index].filter.acceptsEverything,
                    !events.contains(where: state.subscribers.values[index].filter.matches)
                {
                    state.subscribers.values[index].next = chunk.end
                    continue
                }
                wanted = true
                if let waiter = state.subscribers.values[index].waiter {
                    state.subscribers.values[index].waiter = nil
                    toWake.append(waiter)
                }
            }
            if wanted {
                state.chunks.append(chunk)
                state.statistics.bufferedEvents += events.count
                state.statistics.bufferedBytes += bytes
            }
            // Release what every subscriber has taken, then whatever is past the bounds.
            state.releaseTaken()
            var trimmed = false
            while state.firstChunk < state.chunks.count
                && (state.statistics.bufferedEvents > capacity || state.statistics.bufferedBytes > byteCapacity)
            {
                state.dropOldestChunk()
                trimmed = true
            }
            if trimmed {
                // Too slow: whoever still needed a dropped event re-reads from storage.
                let start = state.start
                for index in state.subscribers.indices {
                    let subscriber = state.subscribers.values[index]
                    guard subscriber.isFollowing, subscriber.next < start else { continue }
                    state.subscribers.values[index].overflowed = true
                    state.statistics.overflows += 1
                    overflowed += 1
                    if let waiter = subscriber.waiter {
                        state.subscribers.values[index].waiter = nil
                        toWake.append(waiter)
                    }
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
            }
            state.dropAllChunks()
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
            state.subscribers[id] = Subscriber(filter: liveFilter, next: state.end)
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
                liveFilter: liveFilter,
                reader: reader,
                headAtRegistration: head,
                pageSize: configuration.catchUpPageSize
            )
        )
    }

    /// Starts (again) recording live events for a subscriber that is about to read from storage:
    /// whatever is published from now on is kept for it, so the read and the live events overlap
    /// with no gap.
    package func beginRecording(_ id: UInt64) {
        state.withLock { state in
            guard let index = state.subscribers.index(forKey: id) else { return }
            state.subscribers.values[index].next = state.end
            state.subscribers.values[index].overflowed = false
            state.subscribers.values[index].checkpointDue = false
        }
    }

    /// The head of the log, when the subscriber waits for work with nothing left to take: it has
    /// dealt with every event up to there (taken it, or skipped a publish its filter takes none
    /// of), and its consumer has asked for more. `nil` otherwise.
    package func passedPosition(_ id: UInt64) -> Int64? {
        state.withLock { state in
            guard let subscriber = state.subscribers[id], subscriber.waiter != nil, subscriber.isFollowing,
                subscriber.next == state.end
            else { return nil }
            return state.statistics.headPosition
        }
    }

    /// Takes what was published since the subscriber last took, as slices of the live log.
    package func take(_ id: UInt64) -> Take {
        state.withLock { state in
            if state.isClosed { return .closed }
            guard let index = state.subscribers.index(forKey: id) else { return .removed }
            let subscriber = state.subscribers.values[index]
            if subscriber.cancelled { return .removed }
            if subscriber.overflowed { return .overflowed }
            if subscriber.next < state.end {
                let slices = state.slices(from: subscriber.next)
                state.subscribers.values[index].next = state.end
                state.subscribers.values[index].deliveredSinceTick = true
                state.subscribers.values[index].checkpointDue = false
                return .events(slices)
            }
            if subscriber.checkpointDue {
                // Everything published since recording began has been taken, and the iterator
                // holds nothing undelivered: every matching event up to the head has been delivered.
                state.subscribers.values[index].checkpointDue = false
                state.subscribers.values[index].deliveredSinceTick = true
                return .checkpoint(state.statistics.headPosition)
            }
            return .empty
        }
    }

    /// Waits until the live log has something the subscriber has not taken, it is due a checkpoint, the task is
    /// cancelled or the hub closes.
    package func waitForWork(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = state.withLock { state -> Bool in
                    guard !state.isClosed, let index = state.subscribers.index(forKey: id),
                        !state.hasWork(state.subscribers.values[index])
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

    /// Forgets a subscriber, and releases the live events only it still needed.
    package func remove(_ id: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let index = state.subscribers.index(forKey: id) else { return nil }
            let waiter = state.subscribers.values[index].waiter
            state.subscribers.remove(at: index)
            state.statistics.subscribers = state.subscribers.count
            state.releaseTaken()
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
                if !subscriber.deliveredSinceTick && subscriber.next >= state.end && !subscriber.overflowed {
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
