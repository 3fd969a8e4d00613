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

struct UUIDTextTests {
    @Test func lowercasedTextIsFoundationsFormInLowercase() {
        for _ in 0..<1_000 {
            let id = UUID()
            #expect(id.lowercasedText == id.uuidString.lowercased())
        }
    }

    @Test func canonicalTextParsesWhatFoundationParses() {
        for _ in 0..<1_000 {
            let id = UUID()
            #expect(UUID(canonicalText: id.uuidString) == id)
            #expect(UUID(canonicalText: id.lowercasedText) == id)
        }
        let mixed = "6Ba7B810-9dAd-41d1-80B4-00c04Fd430C8"
        #expect(UUID(canonicalText: mixed) == UUID(uuidString: mixed))
    }

    @Test(arguments: [
        "", "6ba7b810", "6ba7b810-9dad-41d1-80b4-00c04fd430c", "6ba7b810-9dad-41d1-80b4-00c04fd430c80",
        "6ba7b8109dad-41d1-80b4-00c04fd430c8-", "6ba7b810-9dad-41d1-80b4_00c04fd430c8",
        "6ba7b810-9dad-41d1-80b4-00c04fd430cg", "{6ba7b810-9dad-41d1-80b4-00c04fd430c8}",
        "6ba7b810-9dad-41d1-80b4-00c04fd430c\u{e9}",
    ])
    func canonicalTextRefusesAnythingElse(_ text: String) {
        #expect(UUID(canonicalText: text) == nil)
        #expect(UUID(uuidString: text) == nil, "Foundation agrees")
    }
}
