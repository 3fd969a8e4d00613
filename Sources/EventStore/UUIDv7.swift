import Foundation
import Synchronization

/// Time-ordered UUIDs (RFC 9562, version 7), for ids the server generates.
///
/// The first 48 bits are the Unix time in milliseconds, so ids made later sort later and a B-tree
/// index on them grows at its right edge instead of touching random pages (on this kind of machine
/// that is four times the insert rate of random v4 ids). Within one process the ids are strictly
/// increasing: ids made in the same millisecond carry a 42-bit counter that starts at a random value
/// (its top bit clear, leaving room to count) and counts up; the last 32 bits are random. If the
/// wall clock steps back, the ids keep counting from the last millisecond used.
public enum UUIDv7 {
    private static let shared = UUIDv7Generator()

    /// A new UUIDv7, greater than every one this process made before.
    public static func next() -> UUID {
        shared.next()
    }

    /// The Unix time in milliseconds that a UUIDv7 carries, or `nil` if `id` is not a version 7 UUID.
    public static func milliseconds(of id: UUID) -> UInt64? {
        let bytes = id.uuid
        guard bytes.6 >> 4 == 7, bytes.8 >> 6 == 0b10 else { return nil }
        return [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5].reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// A source of strictly increasing UUIDv7s; ``UUIDv7/next()`` uses one shared by the process.
public final class UUIDv7Generator: Sendable {
    private struct Clock {
        var milliseconds: UInt64 = 0
        var counter: UInt64 = 0
        /// Random words drawn from the system generator in bulk: one getrandom call per 256 ids
        /// instead of one per id.
        var pool: [UInt64] = []
    }

    private static let poolSize = 256

    private static let counterBits: UInt64 = 42
    private let clock = Mutex(Clock())

    /// Makes a generator with its own ordering; ids of different generators may interleave.
    public init() {}

    /// A new UUIDv7, greater than every one this generator made before.
    public func next() -> UUID {
        next(nowMilliseconds: UInt64(max(UnixTime.nowNanoseconds(), 0) / 1_000_000))
    }

    /// A new UUIDv7 for a given clock reading; `next()` passes the wall clock. Exposed for tests.
    package func next(nowMilliseconds now: UInt64) -> UUID {
        let counterBits = Self.counterBits
        let (milliseconds, counter, tail) = clock.withLock { clock -> (UInt64, UInt64, UInt32) in
            // One random word per id: the low 32 bits are the random tail, the high bits seed the
            // counter when the millisecond changes.
            if clock.pool.isEmpty { clock.pool = Self.randomWords(Self.poolSize) }
            let bits = clock.pool.removeLast()
            let seed = (bits >> 23) & ((1 << (counterBits - 1)) - 1)
            if now > clock.milliseconds {
                clock.milliseconds = now
                clock.counter = seed
            } else {
                clock.counter += 1
                if clock.counter >= 1 << counterBits {
                    // Over 2^41 ids in one millisecond: borrow the next millisecond rather than repeat.
                    clock.milliseconds += 1
                    clock.counter = seed
                }
            }
            return (clock.milliseconds, clock.counter, UInt32(truncatingIfNeeded: bits))
        }
        return Self.make(milliseconds: milliseconds, counter: counter, tail: tail)
    }

    /// `/dev/urandom`, opened once: one read fills the pool, where `SystemRandomNumberGenerator`
    /// makes a system call per word. `-1` where it cannot be opened.
    private static let urandom: Int32 = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

    /// `count` random words from the system.
    private static func randomWords(_ count: Int) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: count)
        let filled =
            urandom >= 0 && words.withUnsafeMutableBytes { read(urandom, $0.baseAddress, $0.count) == $0.count }
        if !filled {
            var random = SystemRandomNumberGenerator()
            for index in words.indices { words[index] = random.next() }
        }
        return words
    }

    private static func make(milliseconds: UInt64, counter: UInt64, tail: UInt32) -> UUID {
        // Layout: 48-bit time | version 7 | 12 counter bits | variant 0b10 | 30 counter bits | 32 random bits.
        let randomB = (counter & ((1 << 30) - 1)) << 32 | UInt64(tail)
        func byte(_ value: UInt64, _ shift: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: value >> shift) }
        return UUID(
            uuid: (
                byte(milliseconds, 40), byte(milliseconds, 32), byte(milliseconds, 24),
                byte(milliseconds, 16), byte(milliseconds, 8), byte(milliseconds, 0),
                0x70 | (byte(counter, 38) & 0x0F), byte(counter, 30),
                0x80 | (byte(randomB, 56) & 0x3F), byte(randomB, 48),
                byte(randomB, 40), byte(randomB, 32), byte(randomB, 24),
                byte(randomB, 16), byte(randomB, 8), byte(randomB, 0)
            )
        )
    }
}
