import Synchronization

/// A subscription to committed events: an `AsyncSequence` of ``SubscriptionMessage``.
///
/// It first catches up by reading from storage in pages, then delivers live events as they commit.
/// The switch has no gap and no duplicate: the subscription is registered with the hub (recording
/// live events) before each storage read, and live events already delivered by a read are skipped.
/// When the subscriber falls further behind than the hub's live log holds, it gets
/// ``SubscriptionMessage/fellBehind`` and catches up from storage again, then
/// ``SubscriptionMessage/caughtUp``. Subscriptions of the whole log share their catch-up reads
/// (see ``SubscriptionHub/Configuration/sharedCatchUpPages``).
///
/// Iterate a subscription once, from one task. Cancelling that task ends the iteration (`next()`
/// returns `nil`) and frees the subscription; so does dropping the subscription. When the store
/// closes, `next()` throws ``EventStoreError/Code/closed``; a failed storage read is thrown too and
/// ends the subscription (subscribe again from the last position seen plus one).
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = SubscriptionMessage

    /// Keeps the hub's registration alive while the sequence or its iterator exists.
    final class Registration: Sendable {
        let hub: SubscriptionHub
        let id: UInt64

        init(hub: SubscriptionHub, id: UInt64) {
            self.hub = hub
            self.id = id
        }

        deinit { hub.remove(id) }
    }

    /// What the subscription was made with: everything its iterator starts from.
    struct Setup: Sendable {
        let registration: Registration
        let start: SubscriptionStart
        let filter: EventFilter
        /// The filter live events are checked against (for a stream subscription, narrowed to it).
        let liveFilter: EventFilter
        let reader: any EventStore
        /// The hub's head when the subscription registered: where a subscription from the end starts.
        let headAtRegistration: Int64
        let pageSize: Int
    }

    private let setup: Setup
    private let passed: PassedPosition

    init(_ setup: Setup) {
        self.setup = setup
        let before: Int64 =
            switch setup.start {
            case .beginning, .stream: 0
            case .position(let position): Swift.max(position, 1) - 1
            case .end: setup.headAtRegistration
            }
        passed = PassedPosition(before)
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(setup, passed: passed)
    }

    /// The global position up to which every event that passes the filter has been handed out
    /// and the iterator has been asked for more (so its consumer has dealt with them), including
    /// events the filter left out: where a subscriber whose filter matched nothing for a while may
    /// resume, which the last event it got does not say. Readable from any task. For a
    /// subscription to one stream too: its events are in the log in version order, so a read of
    /// the stream to its end has passed every one of them up to the head before the read.
    ///
    /// Two sources, either a safe bound: what the iterator passed (events a storage read or its
    /// own filter left out), published each time it is asked for more; and, while it waits for
    /// live events, the hub's head (the hub skips, without waking it, publishes its filter takes
    /// none of).
    public var passedPosition: Int64 {
        // A live subscriber waiting for work was not woken for publishes its filter takes none of.
        if let waiting = setup.registration.hub.passedPosition(setup.registration.id) {
            // Kept: once it stops waiting, the iterator knows no more than what it published.
            passed.publish(waiting)
        }
        return passed.value
    }

    /// ``passedPosition``, shared by the sequence and its iterator.
    final class PassedPosition: Sendable {
        private let position: Atomic<Int64>

        init(_ position: Int64) {
            self.position = Atomic(position)
        }

        var value: Int64 { position.load(ordering: .acquiring) }

        func publish(_ value: Int64) {
            position.max(value, ordering: .releasing)
        }
    }

    /// Iterates a subscription; see ``EventSubscription``.
    public struct Iterator: AsyncIteratorProtocol {
        private enum Mode {
            case catchingUp
            case live
            case finished
        }

        /// Where the subscription stands: the next event it may deliver.
        private enum Cursor {
            case position(Int64)
            case stream(StreamName, version: Int64)
        }

        private var registration: Registration?
        /// Every event up to here that passes the filter has been handed out (see
        /// ``EventSubscription/passedPosition``); published when the consumer asks for more.
        private var passed: Int64
        /// Where `passed` gets to once `pending` is handed out: the head before a storage read
        /// that reached it (a filtered read returns only what matches, so says nothing of the rest),
        /// or the last position of a page of one stream (its events up to there are all in it).
        private var passedAfterPending: Int64?
        private let published: PassedPosition
        private let filter: EventFilter
        private let liveFilter: EventFilter?
        private let reader: any EventStore
        private let pageSize: Int
        private var mode: Mode
        private var cursor: Cursor
        private var pending = Pending()
        private var announceCaughtUp = false

        init(_ setup: Setup, passed published: PassedPosition) {
            self.published = published
            passed = published.value
            registration = setup.registration
            filter = setup.filter
            liveFilter = setup.liveFilter.acceptsEverything ? nil : setup.liveFilter
            reader = setup.reader
            pageSize = setup.pageSize
            switch setup.start {
            case .beginning:
                cursor = .position(1)
                mode = .catchingUp
            case .position(let position):
                cursor = .position(Swift.max(position, 1))
                mode = .catchingUp
            case .end:
                // Registered at `headAtRegistration`: everything after it is in the live buffer.
                cursor = .position(setup.headAtRegistration + 1)
                mode = .live
                announceCaughtUp = true
            case .stream(let stream, let version):
                cursor = .stream(stream, version: Swift.max(version, 0))
                mode = .catchingUp
            }
        }

        public mutating func next() async throws -> SubscriptionMessage? {
            // Asked for more: what was handed out before has been dealt with.
            publishPassed()
            while true {
                guard let registration, mode != .finished else { return nil }
                if Task.isCancelled {
                    finish()
                    return nil
                }
                while let event = pending.next() {
                    if delivers(event) {
                        advance(past: event)
                        return .event(event)
                    }
                    pass(event)
                }
                pending = Pending()
                if let after = passedAfterPending {
                    passed = Swift.max(passed, after)
                    passedAfterPending = nil
                }
                if announceCaughtUp {
                    announceCaughtUp = false
                    publishPassed()
                    return .caughtUp
                }
                switch mode {
                case .catchingUp:
                    registration.hub.beginRecording(registration.id)
                    // Committed before the read begins, so the read sees it.
                    let headBeforeRead = registration.hub.headPosition
                    let reachedHead: Bool
                    do {
                        reachedHead = try await readPage()
                    } catch is CancellationError {
                        finish()
                        return nil
                    } catch {
                        finish()
                        throw error
                    }
                    if reachedHead {
                        mode = .live
                        announceCaughtUp = true
                        passedAfterPending = headBeforeRead
                    }
                case .live:
                    switch registration.hub.take(registration.id) {
                    case .events(let slices):
                        // What came before these was taken before, or skipped by the hub (its
                        // filter takes none of it).
                        if let first = slices.first?.first { passed = Swift.max(passed, first.position - 1) }
                        pending = Pending(slices, isLive: true)
                    case .overflowed:
                        mode = .catchingUp
                        publishPassed()
                        return .fellBehind
                    case .checkpoint(let position):
                        publishPassed()
                        return .checkpoint(position: position)
                    case .empty:
                        // Events the filter left out may have moved `passed` on while nothing was
                        // handed out: say so before waiting.
                        publishPassed()
                        await registration.hub.waitForWork(registration.id)
                    case .removed:
                        finish()
                        return nil
                    case .closed:
                        finish()
                        throw EventStoreError.closed
                    }
                case .finished:
                    return nil
                }
            }
        }

        /// The next event if one is already buffered (from the page being delivered, or the live
        /// events taken last), without waiting or reading; `nil` otherwise. Lets a consumer that
        /// got an event from ``next()`` take the ones right behind it as one batch.
        public mutating func nextBufferedEvent() -> RecordedEvent? {
            guard registration != nil, mode != .finished, !Task.isCancelled else { return nil }
            while let event = pending.next() {
                if delivers(event) {
                    advance(past: event)
                    return event
                }
                pass(event)
            }
            return nil
        }

        /// Reads the next page from storage into `pending` and moves the cursor past it. Returns
        /// whether the read reached the head of the log.
        private mutating func readPage() async throws -> Bool {
            switch cursor {
            case .position(let position):
                let page =
                    if filter.acceptsEverything, let hub = registration?.hub {
                        try await hub.catchUpPages.read(from: position, limit: pageSize) { [reader] from, limit in
                            try await reader.readAll(from: from, filter: .all, limit: limit)
                        }
                    } else {
                        try await reader.readAll(from: position, filter: filter, limit: pageSize)
                    }
                pending = Pending([page[...]], isLive: false)
                if let last = page.last { cursor = .position(last.position + 1) }
                return page.count < pageSize
            case .stream(let stream, let version):
                let page = try await reader.readStream(stream, from: version, direction: .forward, limit: pageSize)
                // Filter here, after moving the cursor past every event read, so a page with no
                // matching event still makes progress.
                pending = Pending([page.filter(filter.matches)[...]], isLive: false)
                if let last = page.last {
                    cursor = .stream(stream, version: last.version + 1)
                    // The stream's events up to its last one read are in this page or were before.
                    passedAfterPending = last.position
                }
                return page.count < pageSize
            }
        }

        /// Whether an event taken from `pending` is delivered: events from a storage read are
        /// delivered as read; live events are unfiltered and may overlap what a read delivered.
        private func delivers(_ event: RecordedEvent) -> Bool {
            guard pending.isLive else { return true }
            if let liveFilter, !liveFilter.matches(event) { return false }
            return isAfterCursor(event)
        }

        private func isAfterCursor(_ event: RecordedEvent) -> Bool {
            switch cursor {
            case .position(let position): event.position >= position
            case .stream(let stream, let version): event.stream == stream && event.version >= version
            }
        }

        /// Notes an event that was not handed out (the filter left it out, or a storage read
        /// delivered it already): everything before it that passes was handed out.
        private mutating func pass(_ event: RecordedEvent) {
            passed = Swift.max(passed, event.position)
        }

        private func publishPassed() {
            published.publish(passed)
        }

        private mutating func advance(past event: RecordedEvent) {
            passed = Swift.max(passed, event.position)
            switch cursor {
            case .position(let position): cursor = .position(Swift.max(position, event.position + 1))
            case .stream(let stream, let version):
                cursor = .stream(stream, version: Swift.max(version, event.version + 1))
            }
        }

        private mutating func finish() {
            mode = .finished
            pending = Pending()
            if let registration {
                registration.hub.remove(registration.id)
            }
            registration = nil
        }
    }
}

/// Events taken and not yet delivered: a page read from storage, or slices of the hub's live log.
private struct Pending {
    private var slices: [ArraySlice<RecordedEvent>]
    private var slice = 0
    private var index: Int
    let isLive: Bool

    init(_ slices: [ArraySlice<RecordedEvent>] = [], isLive: Bool = false) {
        self.slices = slices
        self.index = slices.first?.startIndex ?? 0
        self.isLive = isLive
    }

    mutating func next() -> RecordedEvent? {
        while slice < slices.count {
            if index < slices[slice].endIndex {
                defer { index += 1 }
                return slices[slice][index]
            }
            slice += 1
            if slice < slices.count { index = slices[slice].startIndex }
        }
        return nil
    }
}
