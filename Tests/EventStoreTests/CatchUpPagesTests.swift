import Foundation
import Synchronization
import Testing

@testable import EventStore

/// Catch-up reads shared by subscribers: what each reader gets is exactly what a read of its own
/// would have returned, with fewer reads of storage.
struct CatchUpPagesTests {
    /// A log held in memory, with the positions given, that counts its reads.
    final class Log: Sendable {
        let events: [RecordedEvent]
        let reads = Atomic<Int>(0)

        init(positions: [Int64]) throws {
            let stream = try StreamName(type: "order", id: UUIDv7.next())
            events = positions.enumerated().map { version, position in
                RecordedEvent(
                    id: UUIDv7.next(), stream: stream, version: Int64(version), position: position, type: "Tested",
                    data: Data(), metadata: EventMetadata())
            }
        }

        /// `EventStore.readAll` with no filter.
        func read(from position: Int64, limit: Int) async -> [RecordedEvent] {
            reads.add(1, ordering: .relaxed)
            // Let the other readers in, as a storage read would.
            await Task.yield()
            return Array(events.lazy.filter { $0.position >= position }.prefix(limit))
        }
    }

    /// Reads the whole log in pages of `limit` from `start`, as a subscription catching up does.
    static func readToTheEnd(_ pages: CatchUpPages, _ log: Log, from start: Int64, limit: Int) async throws -> [Int64] {
        var positions: [Int64] = []
        var next = start
        while true {
            let page = try await pages.read(from: next, limit: limit) { await log.read(from: $0, limit: $1) }
            let direct = await log.read(from: next, limit: limit)
            #expect(page.map(\.position) == direct.map(\.position), "the page from \(next) is what a read gives")
            positions += page.map(\.position)
            guard let last = page.last, page.count == limit else { return positions }
            next = last.position + 1
        }
    }

    @Test func readersStartingTogetherShareEachRead() async throws {
        let log = try Log(positions: Array(1...1_000))
        let pages = CatchUpPages(blockSize: 100, capacity: 16)
        let results = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for _ in 0..<10 {
                group.addTask { try await Self.readToTheEnd(pages, log, from: 1, limit: 100) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for positions in results { #expect(positions == Array(1...1_000)) }
        // Each reader's own comparison read is one per page (11 pages); the shared reads come on
        // top: one per full block (10), and at the head, where the block is not full, at most
        // two per reader (its own block read, then a direct read when it joined another's).
        let sharedReads = log.reads.load(ordering: .relaxed) - 10 * 11
        #expect(sharedReads <= 10 + 2 * 10, "\(sharedReads) storage reads for 10 readers of 10 blocks")
    }

    @Test func aReaderStartingInsideABlockAndALogWithGapsGetWhatAReadGives() async throws {
        let positions = (1...700).map(Int64.init).filter { $0 % 7 != 0 }
        let log = try Log(positions: positions)
        let pages = CatchUpPages(blockSize: 64, capacity: 2)
        #expect(try await Self.readToTheEnd(pages, log, from: 1, limit: 64) == positions)
        #expect(try await Self.readToTheEnd(pages, log, from: 333, limit: 50) == positions.filter { $0 >= 333 })

        let contiguous = try Log(positions: Array(1...500))
        let shared = CatchUpPages(blockSize: 64, capacity: 2)
        #expect(try await Self.readToTheEnd(shared, contiguous, from: 1, limit: 64) == Array(1...500))
        #expect(try await Self.readToTheEnd(shared, contiguous, from: 100, limit: 64) == Array(100...500))
    }
}
