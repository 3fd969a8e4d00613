import EventStore

/// A bounded queue between tasks that hands its consumer everything waiting at once.
///
/// Producers wait while it is full (so a slow consumer holds memory down); the consumer takes up
/// to a batch of elements each time, so while it is busy writing one batch the next one gathers —
/// group commit for read models. ``finish(throwing:)`` ends it for both sides.
final class BatchQueue<Element: Sendable>: Sendable {
    private struct State: Sendable {
        var buffer: [Element] = []
        var isFinished = false
        var failure: (any Error)?
    }

    private let monitor = Monitor(State())
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    /// Adds an element, waiting while the queue is full.
    ///
    /// - Throws: the error the queue was finished with, or `CancellationError`.
    func push(_ element: Element) async throws {
        try await push(contentsOf: CollectionOfOne(element))
    }

    /// Adds elements in order, as many at once as there is room for, waiting while the queue is
    /// full. A consumer waiting for work is woken once per call that finds room, not per element.
    ///
    /// - Throws: the error the queue was finished with, or `CancellationError` (the elements not
    ///   yet added are not).
    func push<Elements: Collection<Element>>(contentsOf elements: Elements) async throws {
        let capacity = self.capacity
        var rest = elements[...]
        while !rest.isEmpty {
            let added = try monitor.update { state throws -> Int in
                if state.isFinished { throw state.failure ?? CancellationError() }
                let room = capacity - state.buffer.count
                guard room > 0 else { return 0 }
                let taken = rest.prefix(room)
                state.buffer.append(contentsOf: taken)
                return taken.count
            }
            rest = rest.dropFirst(added)
            if rest.isEmpty { return }
            guard await monitor.wait(until: { $0.buffer.count < capacity || $0.isFinished }) else {
                throw CancellationError()
            }
        }
    }

    /// Takes up to `limit` elements, oldest first, waiting while the queue is empty. Returns `nil`
    /// once the queue is finished without an error and drained; with `idle`, an empty batch when
    /// nothing arrived for that long.
    ///
    /// - Throws: the error the queue was finished with, or `CancellationError`.
    func take(upTo limit: Int, idle: Duration? = nil) async throws -> [Element]? {
        while true {
            let taken = try monitor.update { state throws -> [Element]?? in
                if let failure = state.failure { throw failure }
                if !state.buffer.isEmpty {
                    let count = min(limit, state.buffer.count)
                    defer { state.buffer.removeFirst(count) }
                    return .some(Array(state.buffer.prefix(count)))
                }
                return state.isFinished ? .some(nil) : nil
            }
            if let taken { return taken }
            let ready: @Sendable (State) -> Bool = { !$0.buffer.isEmpty || $0.isFinished }
            if let idle {
                if await monitor.wait(until: ready, orUntil: { try? await Task.sleep(for: idle) }) { continue }
                if Task.isCancelled { throw CancellationError() }
                return []
            }
            guard await monitor.wait(until: ready) else { throw CancellationError() }
        }
    }

    /// Pushes what `subscription` delivers, mapped by `transform` (`nil`: skip), until it ends; then
    /// finishes the queue (with the error, if it failed) so the consumer stops too.
    func fill(
        from subscription: EventSubscription, _ transform: @Sendable (SubscriptionMessage) -> Element?
    ) async throws {
        do {
            // The events delivered together (a commit's, a page's) are pushed together: one lock
            // and one wake-up of the consumer per delivery, not per event.
            var iterator = subscription.makeAsyncIterator()
            var elements: [Element] = []
            while let message = try await iterator.next() {
                if let element = transform(message) { elements.append(element) }
                while let event = iterator.nextBufferedEvent() {
                    if let element = transform(.event(event)) { elements.append(element) }
                }
                try await push(contentsOf: elements)
                elements.removeAll(keepingCapacity: true)
            }
            finish()
        } catch {
            finish(throwing: error)
            throw error
        }
    }

    /// Hands batches of up to `limit` elements to `body` until the queue is finished (and an empty
    /// batch when nothing arrived for as long as `idle` says before each wait); if `body` throws, finishes the queue with the error (so the producer stops too) and rethrows it.
    func drain(
        upTo limit: Int, idle: () -> Duration? = { nil }, _ body: ([Element]) async throws -> Void
    ) async throws {
        do {
            while let batch = try await take(upTo: limit, idle: idle()) {
                try await body(batch)
            }
        } catch {
            finish(throwing: error)
            throw error
        }
    }

    /// Ends the queue: producers fail; the consumer drains what is left (unless `error` is given,
    /// which it gets instead).
    func finish(throwing error: (any Error)? = nil) {
        monitor.update { state in
            state.isFinished = true
            if let error, state.failure == nil { state.failure = error }
        }
    }
}
