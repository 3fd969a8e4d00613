import Synchronization

/// Reads of the global log shared by the subscriptions that catch up through one hub.
///
/// Subscribers catching up usually read the same part of the log: a hundred subscribers started
/// from the beginning would otherwise read and decode every page a hundred times. The log is cut
/// into blocks of `blockSize` positions (block `k` holds positions `k × blockSize + 1` through
/// `(k + 1) × blockSize`). A block with an event at every one of its positions can never change
/// (events are neither removed nor rewritten), so it is kept: the last `capacity` such blocks stay
/// in memory. However many subscribers ask for a block at once, one read fills it.
///
/// A block that is not full (the head is inside it, or the backend left a gap in its positions)
/// is not kept, and only the subscriber whose read it was uses it. Another subscriber may have
/// started recording live events after that read began; a read older than its recording could miss
/// the events committed in between, so it reads for itself.
final class CatchUpPages: Sendable {
    /// Reads up to `limit` events of the whole log from a position: `EventStore.readAll` with no filter.
    typealias Read = @Sendable (_ from: Int64, _ limit: Int) async throws -> [RecordedEvent]
    private typealias Block = Task<[RecordedEvent], any Error>

    private struct State {
        var blocks: [Int64: Block] = [:]
        /// Kept blocks, oldest first.
        var kept: [Int64] = []
    }

    private let blockSize: Int
    private let capacity: Int
    private let state = Mutex(State())

    init(blockSize: Int, capacity: Int) {
        self.blockSize = max(blockSize, 1)
        self.capacity = max(capacity, 0)
    }

    /// What `read(position, limit)` returns, read once for all the subscribers asking at the same
    /// time where the log is complete.
    func read(from position: Int64, limit: Int, with read: @escaping Read) async throws -> [RecordedEvent] {
        guard capacity > 0, position >= 1, limit > 0 else { return try await read(position, limit) }
        let size = Int64(blockSize)
        var result: [RecordedEvent] = []
        result.reserveCapacity(limit)
        var next = position
        while result.count < limit {
            let index = (next - 1) / size
            let first = index * size + 1
            let (block, isOwnRead) = self.block(index, read: read)
            let events: [RecordedEvent]
            do {
                events = try await block.value
            } catch {
                forget(index, block)
                throw error
            }
            let complete =
                events.count == blockSize && events.first?.position == first
                && events.last?.position == first + size - 1
            if complete {
                keep(index, block)
            } else {
                forget(index, block)
                guard isOwnRead else {
                    result += try await read(next, limit - result.count)
                    return result
                }
            }
            let start = events.partitionPoint { $0.position < next }
            let taken = events[start...].prefix(limit - result.count)
            result += taken
            guard complete || events.count == blockSize, let last = taken.last else { return result }
            next = last.position + 1
        }
        return result
    }

    /// The block's read: the one in flight or kept, or a new one (the caller's own).
    private func block(_ index: Int64, read: @escaping Read) -> (Block, isOwnRead: Bool) {
        state.withLock { state in
            if let block = state.blocks[index] { return (block, false) }
            let first = index * Int64(blockSize) + 1
            let size = blockSize
            let block = Block { try await read(first, size) }
            state.blocks[index] = block
            return (block, true)
        }
    }

    private func keep(_ index: Int64, _ block: Block) {
        state.withLock { state in
            guard state.blocks[index] == block, !state.kept.contains(index) else { return }
            state.kept.append(index)
            if state.kept.count > capacity {
                state.blocks[state.kept.removeFirst()] = nil
            }
        }
    }

    private func forget(_ index: Int64, _ block: Block) {
        state.withLock { state in
            if state.blocks[index] == block, !state.kept.contains(index) { state.blocks[index] = nil }
        }
    }
}

extension Array where Element == RecordedEvent {
    /// The index of the first event for which `isBefore` is false, the events being in position
    /// order (so `isBefore` is true for a prefix).
    fileprivate func partitionPoint(_ isBefore: (RecordedEvent) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = low + (high - low) / 2
            if isBefore(self[middle]) { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
