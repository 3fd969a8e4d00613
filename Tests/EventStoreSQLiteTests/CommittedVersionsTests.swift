import EventStore
import Foundation
import Testing

@testable import EventStoreSQLite

/// The versions the SQLite store answers `streamVersion` from without a read.
struct CommittedVersionsTests {
    private func committed(_ stream: StreamName, at version: Int64) -> RecordedEvent {
        RecordedEvent(
            id: UUIDv7.next(), stream: stream, version: version, position: 1, type: "Tested", data: Data(),
            metadata: EventMetadata())
    }

    private func newStream() throws -> StreamName { try StreamName(type: "order", id: UUIDv7.next()) }

    @Test func aStreamReadOftenStaysKnownHoweverManyStreamsAreCreated() throws {
        var versions = CommittedVersions(capacity: 10)
        let account = try newStream()
        versions.note([committed(account, at: 3)])
        for _ in 0..<1_000 {
            versions.note([committed(try newStream(), at: 0)])
            #expect(versions.version(of: account).version == 3)
        }
    }

    @Test func aStreamNeitherWrittenNorReadForTwoGenerationsIsForgotten() throws {
        var versions = CommittedVersions(capacity: 10)
        let quiet = try newStream()
        versions.note([committed(quiet, at: 1)])
        for _ in 0..<20 { versions.note([committed(try newStream(), at: 0)]) }
        #expect(versions.version(of: quiet).version == nil)
    }

    @Test func theLatestCommitWinsAcrossGenerations() throws {
        var versions = CommittedVersions(capacity: 2)
        let stream = try newStream()
        versions.note([committed(stream, at: 1)])
        versions.note([committed(try newStream(), at: 0), committed(try newStream(), at: 0)])  // rotates
        versions.note([committed(stream, at: 2)])
        #expect(versions.version(of: stream).version == 2)
        versions.note([committed(stream, at: 3), committed(stream, at: 4)])
        #expect(versions.version(of: stream).version == 4)
    }

    @Test func theGenerationThatFallsOutIsHandedBackToBeFreedElsewhere() throws {
        var versions = CommittedVersions(capacity: 2)
        let first = try newStream()
        #expect(versions.note([committed(first, at: 0), committed(try newStream(), at: 0)]) == nil)
        // The first rotation retires the empty generation: nothing to hand back.
        #expect(versions.note([committed(try newStream(), at: 0)]) == nil)
        #expect(versions.note([committed(try newStream(), at: 0)]) == nil)
        // The second drops the generation that held `first`, and hands it back.
        let retired = versions.note([committed(try newStream(), at: 0)])
        #expect(retired?.count == 2)
        #expect(retired?[first] == 0)
        #expect(versions.version(of: first).version == nil)
    }

    @Test func aLookupThatMakesAGenerationFallOutHandsItBackToo() throws {
        var versions = CommittedVersions(capacity: 2)
        let other = try newStream()
        let read = try newStream()
        versions.note([committed(other, at: 0), committed(read, at: 5)])
        // Rotates: `other` and `read` are the previous generation, and the current one fills up.
        versions.note([committed(try newStream(), at: 0), committed(try newStream(), at: 0)])
        // Reading `read` moves it into the full current generation, which rotates and drops the
        // one holding `other`: handed back to the caller, not freed under the table's lock.
        let (version, retired) = versions.version(of: read)
        #expect(version == 5)
        #expect(retired?.count == 1)
        #expect(retired?[other] == 0)
    }
}
