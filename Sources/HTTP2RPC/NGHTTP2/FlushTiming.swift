/// When a connection hands its frames to the channel: once at the end of a read (so every
/// response a read produced goes out in one write), or once on the next loop tick for output
/// produced outside a read (a handler finishing later, a timer).
struct FlushTiming {
    private var inReadCycle = false
    private var requested = false

    /// Records that frames are waiting. Returns true when the caller must schedule a flush for
    /// the next loop tick; false when one is already due (scheduled, or at the end of the read).
    mutating func request() -> Bool {
        guard !requested else { return false }
        requested = true
        return !inReadCycle
    }

    mutating func readStarted() { inReadCycle = true }

    /// The read is over: the caller flushes now, which serves every request made during it.
    mutating func readCompleted() {
        inReadCycle = false
        requested = false
    }

    /// The scheduled flush runs now.
    mutating func scheduledFlushRuns() { requested = false }
}
