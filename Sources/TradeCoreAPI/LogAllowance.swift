import Synchronization

/// How many lines of one kind may be logged each second: the rest are left out and counted, and
/// the next line logged says how many were. For lines that a caller can cause at will (calls
/// refused for their token), so that no caller can flood the log.
final class LogAllowance: Sendable {
    private struct State {
        var second: Int64 = .min
        var logged = 0
        var unlogged = 0
    }

    private let state = Mutex(State())
    private let perSecond: Int
    private let start = ContinuousClock.now

    init(perSecond: Int) {
        self.perSecond = max(perSecond, 1)
    }

    /// Whether a line may be logged at `now`: `nil` when it is left out, else how many lines were
    /// left out since the last one logged.
    func admit(at now: ContinuousClock.Instant = .now) -> Int? {
        let second = (now - start).components.seconds
        return state.withLock { state in
            if second != state.second {
                state.second = second
                state.logged = 0
            }
            guard state.logged < perSecond else {
                state.unlogged += 1
                return nil
            }
            state.logged += 1
            defer { state.unlogged = 0 }
            return state.unlogged
        }
    }
}
