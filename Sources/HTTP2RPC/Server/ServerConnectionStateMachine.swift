import NIOCore

/// The life of one server connection, apart from its I/O: whether it serves, drains or closes,
/// and the decisions about keepalive, idleness, requests that never arrive and floods of control
/// frames. Each event returns what to do; ``HTTP2ServerConnectionHandler`` does it (sends the
/// PING, the GOAWAY, the reset, closes the channel).
///
/// A value type driven only by its callers' clock readings, so every transition can be tested
/// without a channel or nghttp2.
struct ServerConnectionStateMachine {
    /// The configured thresholds the decisions are taken against.
    struct Limits {
        var idleTimeout: TimeAmount?
        var keepaliveInterval: TimeAmount?
        var keepaliveTimeout: TimeAmount
        var requestReceiveTimeout: TimeAmount
        var controlFrameBurst: Int
        var controlFramesPerSecond: Int

        init(_ configuration: RPCServerConfiguration) {
            idleTimeout = configuration.idleTimeout
            keepaliveInterval = configuration.keepaliveInterval
            keepaliveTimeout = configuration.keepaliveTimeout
            requestReceiveTimeout = configuration.requestReceiveTimeout
            controlFrameBurst = configuration.controlFrameBurst
            controlFramesPerSecond = configuration.controlFramesPerSecond
        }
    }

    /// What the connection knows about its peer's liveness and budget while it is open.
    struct Liveness {
        /// When the last bytes arrived.
        var lastReceive: NIODeadline
        /// When the last stream closed (or the connection opened): idleness counts from there.
        var lastStreamActivity: NIODeadline
        /// The keepalive PING in flight, if any.
        var pingSentAt: NIODeadline?
        var controlFrames: TokenBucket
        /// The allowance of PINGs that follow something we sent (see ``receivedPing(now:)``).
        var pingsAfterSending: TokenBucket
    }

    enum State {
        /// Serving calls.
        case active(Liveness)
        /// Graceful shutdown: the notice is out and calls in flight finish; once the final GOAWAY
        /// names the last stream served and no stream is left, the connection closes.
        case draining(Liveness, finalGoawaySent: Bool)
        /// The connection must go: the handler closes the channel as soon as it may — at once from
        /// a timer, or once the current input has been processed (inside nghttp2's callbacks the
        /// channel must not close). Input is still processed until then.
        case closeRequested
        /// The channel is closing: nothing more is processed.
        case closing
        /// Torn down: every call has been cancelled.
        case closed
    }

    /// What the handler does about an event.
    enum Action: Equatable {
        case none
        /// Send a keepalive PING.
        case sendPing
        /// Send GOAWAY(NO_ERROR) naming the last stream processed, then close after the flush.
        case goAwayAndClose
        /// Terminate the session with this error code (nghttp2 sends the GOAWAY), then close after
        /// the flush — at once from a timer, after the current input inside it.
        case terminate(HTTP2ErrorCode)
        /// Close at once, without a GOAWAY: the peer has stopped answering.
        case closeNow
    }

    /// What to do about a call whose request has not arrived in time.
    enum OverdueRequestAction: Equatable {
        /// Not overdue yet.
        case wait
        /// Reset the stream (CANCEL) and answer the call with its error.
        case resetStream
        /// Reset it, and this abusive stream spent the last of the budget: terminate with the code.
        case resetStreamAndTerminate(HTTP2ErrorCode)
        /// The request's header block is unfinished, which blocks the whole connection: terminate.
        case terminate(HTTP2ErrorCode)
    }

    /// What refusing one stream for abuse (headers over the limit, a request that never arrived)
    /// costs the control-frame budget: one such stream is a caller's mistake and gets its error; a
    /// stream of them (a hundred within the default burst) closes the connection.
    static let abusiveStreamCost = 10

    let limits: Limits
    private(set) var state: State
    /// Whether a HEADERS or DATA frame went out since the peer's last PING (see ``receivedPing(now:)``).
    private var sentStreamFrameSincePing = false

    init(limits: Limits, now: NIODeadline) {
        self.limits = limits
        self.state = .active(
            Liveness(
                lastReceive: now, lastStreamActivity: now, pingSentAt: nil,
                controlFrames: TokenBucket(
                    capacity: limits.controlFrameBurst, refillPerSecond: limits.controlFramesPerSecond, now: now),
                pingsAfterSending: TokenBucket(
                    capacity: limits.controlFrameBurst * Self.pingsAfterSendingFactor,
                    refillPerSecond: limits.controlFramesPerSecond * Self.pingsAfterSendingFactor, now: now)))
    }

    /// Whether input and output are still processed (false once the channel is closing).
    var isOpen: Bool {
        switch state {
        case .active, .draining, .closeRequested: true
        case .closing, .closed: false
        }
    }

    /// Whether the connection must close once the current input has been processed.
    var closesAfterInput: Bool {
        if case .closeRequested = state { return true }
        return false
    }

    /// Whether new calls are refused (graceful shutdown).
    var isDraining: Bool {
        if case .draining = state { return true }
        return false
    }

    private mutating func updateLiveness(_ body: (inout Liveness) -> Void) {
        switch state {
        case .active(var liveness):
            body(&liveness)
            state = .active(liveness)
        case .draining(var liveness, let finalGoawaySent):
            body(&liveness)
            state = .draining(liveness, finalGoawaySent: finalGoawaySent)
        case .closeRequested, .closing, .closed:
            break
        }
    }

    private var liveness: Liveness? {
        switch state {
        case .active(let liveness), .draining(let liveness, _): liveness
        case .closeRequested, .closing, .closed: nil
        }
    }

    /// When the last bytes arrived (while the connection is open).
    var lastInputTime: NIODeadline? { liveness?.lastReceive }

    // MARK: Input

    /// Bytes arrived.
    mutating func receivedInput(now: NIODeadline) {
        updateLiveness { $0.lastReceive = now }
    }

    /// The keepalive PING was answered.
    mutating func receivedPingAck() {
        updateLiveness { $0.pingSentAt = nil }
    }

    /// A HEADERS or DATA frame was sent.
    mutating func sentStreamFrame() {
        sentStreamFrameSincePing = true
    }

    /// How many times the control-frame budget the allowance of PINGs after sent frames is.
    static let pingsAfterSendingFactor = 20

    /// The peer sent a PING (not an answer to ours). One that follows something we sent is taken
    /// from an allowance of its own, ``pingsAfterSendingFactor`` times the control-frame budget: a
    /// client that sizes its window from the round trip of the data it receives (grpc-go sends such
    /// a PING whenever data arrives and none is outstanding) pings about once per response, 750 a
    /// second on a busy loopback connection here, which would spend the budget in seconds. The
    /// allowance still has an end: a peer that makes us send (a window opened a byte at a time)
    /// cannot buy PINGs without bound. Pings with nothing sent between them cost the budget, as a
    /// flood does.
    mutating func receivedPing(now: NIODeadline) -> Action {
        guard sentStreamFrameSincePing else { return spendControlFrameBudget(now: now) }
        sentStreamFrameSincePing = false
        guard var liveness else { return .none }
        guard liveness.pingsAfterSending.spend(1, now: now) else {
            state = .closeRequested
            return .terminate(.enhanceYourCalm)
        }
        updateLiveness { $0.pingsAfterSending = liveness.pingsAfterSending }
        return .none
    }

    /// A frame that costs the peer nothing and us work arrived (PING, SETTINGS, PRIORITY, an
    /// empty DATA frame), or an abusive stream was refused (`cost` ``abusiveStreamCost``).
    /// Past the budget: terminate with ENHANCE_YOUR_CALM, once.
    mutating func spendControlFrameBudget(cost: Int = 1, now: NIODeadline) -> Action {
        guard var liveness else { return .none }
        guard liveness.controlFrames.spend(cost, now: now) else {
            state = .closeRequested
            return .terminate(.enhanceYourCalm)
        }
        updateLiveness { $0.controlFrames = liveness.controlFrames }
        return .none
    }

    /// nghttp2 refused the peer's input (it has queued its GOAWAY): close once the input is done.
    mutating func protocolErrorReceived() {
        guard isOpen else { return }
        state = .closeRequested
    }

    // MARK: Streams

    /// A stream closed; `openStreams` are those left.
    mutating func streamClosed(now: NIODeadline, openStreams: Int) {
        if openStreams == 0 { updateLiveness { $0.lastStreamActivity = now } }
    }

    /// Whether a flush that found the session with nothing more to read or write, or the drain
    /// complete, should close the connection.
    func closesAfterFlush(sessionWantsIO: Bool, openStreams: Int) -> Bool {
        guard isOpen else { return false }
        if !sessionWantsIO { return true }
        if case .draining(_, finalGoawaySent: true) = state, openStreams == 0 { return true }
        return false
    }

    // MARK: Timers

    /// The periodic check: an idle connection is closed with GOAWAY(NO_ERROR); a PING unanswered
    /// past the keepalive timeout closes the connection; a peer silent for the keepalive interval
    /// is sent a PING.
    mutating func housekeeping(now: NIODeadline, openStreams: Int) -> Action {
        guard let liveness else { return .none }
        if let idle = limits.idleTimeout, openStreams == 0, now - liveness.lastStreamActivity >= idle {
            state = .closeRequested
            return .goAwayAndClose
        }
        if let sentAt = liveness.pingSentAt {
            guard now - sentAt >= limits.keepaliveTimeout else { return .none }
            state = .closeRequested
            return .closeNow
        }
        if let interval = limits.keepaliveInterval, now - liveness.lastReceive >= interval {
            updateLiveness { $0.pingSentAt = now }
            return .sendPing
        }
        return .none
    }

    /// Judges a call whose request is incomplete: opened at `openedAt`, still inside its header
    /// block or waiting for its messages. A request that never arrives holds a stream slot and
    /// memory, so past the receive timeout its stream is reset, and a stream of such calls spends
    /// the control-frame budget.
    mutating func requestOverdue(openedAt: NIODeadline, inHeaderBlock: Bool, now: NIODeadline) -> OverdueRequestAction {
        guard isOpen, !closesAfterInput, now - openedAt >= limits.requestReceiveTimeout else { return .wait }
        if inHeaderBlock {
            // Nothing but the block's CONTINUATION frames may follow it: the connection is stuck.
            state = .closeRequested
            return .terminate(.protocolError)
        }
        if case .terminate(let code) = spendControlFrameBudget(cost: Self.abusiveStreamCost, now: now) {
            return .resetStreamAndTerminate(code)
        }
        return .resetStream
    }

    // MARK: Closing

    /// Graceful shutdown begins: send the notice (GOAWAY with the largest stream id). Returns false
    /// when the connection is already draining or closing.
    mutating func beginDraining() -> Bool {
        guard case .active(let liveness) = state else { return false }
        state = .draining(liveness, finalGoawaySent: false)
        return true
    }

    /// The grace for streams sent before the notice is over: send the final GOAWAY naming the last
    /// stream processed. Returns false when there is nothing to send (not draining, or closing).
    mutating func drainNoticeElapsed() -> Bool {
        guard case .draining(let liveness, finalGoawaySent: false) = state else { return false }
        state = .draining(liveness, finalGoawaySent: true)
        return true
    }

    /// The handler is closing the channel. Returns false when it already was.
    mutating func closeStarted() -> Bool {
        guard isOpen else { return false }
        state = .closing
        return true
    }

    /// The channel is gone. Returns false when this was already known (tear-down is idempotent).
    mutating func closed() -> Bool {
        if case .closed = state { return false }
        state = .closed
        return true
    }
}

/// A budget of `capacity` tokens, refilled at `refillPerSecond` in steps of at least 10 ms.
struct TokenBucket: Equatable {
    let capacity: Int
    let refillPerSecond: Int
    private(set) var tokens: Int
    private var refilledAt: NIODeadline

    init(capacity: Int, refillPerSecond: Int, now: NIODeadline) {
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.tokens = capacity
        self.refilledAt = now
    }

    /// Takes `cost` tokens; false once the budget is overdrawn.
    mutating func spend(_ cost: Int, now: NIODeadline) -> Bool {
        let elapsed = now - refilledAt
        if elapsed >= .milliseconds(10) {
            let milliseconds = Int(clamping: elapsed.nanoseconds / 1_000_000)
            let refill = milliseconds.multipliedReportingOverflow(by: refillPerSecond)
            let added = refill.overflow ? capacity : refill.partialValue / 1000
            if added > 0 {
                tokens = min(capacity, tokens + min(added, capacity))
                refilledAt = now
            }
        }
        tokens -= cost
        return tokens >= 0
    }
}
