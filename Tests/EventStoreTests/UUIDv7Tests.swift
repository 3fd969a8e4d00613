import Foundation
import Testing

@testable import EventStore

struct UUIDv7Tests {
    @Test func carriesVersionVariantAndTime() {
        let before = UInt64(UnixTime.nowNanoseconds() / 1_000_000)
        let id = UUIDv7.next()
        let after = UInt64(UnixTime.nowNanoseconds() / 1_000_000)
        #expect(id.uuid.6 >> 4 == 7, "version nibble")
        #expect(id.uuid.8 >> 6 == 0b10, "RFC 9562 variant")
        let milliseconds = UUIDv7.milliseconds(of: id)
        #expect(milliseconds.map { (before...after).contains($0) } == true)
        #expect(UUIDv7.milliseconds(of: UUID(uuidString: "6ba7b810-9dad-41d1-80b4-00c04fd430c8")!) == nil)
    }

    @Test func strictlyIncreasingWithinAProcess() {
        let ids = (0..<100_000).map { _ in UUIDv7.next() }
        let bytes = ids.map { withUnsafeBytes(of: $0.uuid) { Array($0) } }
        #expect(zip(bytes, bytes.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) })
        #expect(Set(ids).count == ids.count)
    }

    @Test func keepsIncreasingWhenTheClockStepsBack() {
        let generator = UUIDv7Generator()
        let later = generator.next(nowMilliseconds: 4_000_000_000_000)
        let earlierClock = generator.next(nowMilliseconds: 3_000_000_000_000)
        let a = withUnsafeBytes(of: later.uuid) { Array($0) }
        let b = withUnsafeBytes(of: earlierClock.uuid) { Array($0) }
        #expect(a.lexicographicallyPrecedes(b))
        #expect(UUIDv7.milliseconds(of: earlierClock) == 4_000_000_000_000)
    }
}
