import NIOCore
import Testing

@testable import HTTP2RPC

/// The connection's decisions without a channel: every threshold just below (the connection stays
/// as it is) and just above (the action, with its error code).
@Suite("Server connection state machine")
struct ServerConnectionStateMachineTests {
    private static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    private func machine(_ configure: (inout RPCServerConfiguration) -> Void = { _ in }) -> ServerConnectionStateMachine
    {
        var configuration = RPCServerConfiguration()
        configure(&configuration)
        return ServerConnectionStateMachine(limits: .init(configuration), now: Self.start)
    }

    private func at(_ offset: TimeAmount) -> NIODeadline { Self.start + offset }

    @Test("control frames up to the burst are served; one more terminates with ENHANCE_YOUR_CALM, once")
    func controlFrameBurst() {
        var connection = machine { $0.controlFrameBurst = 200 }
        for _ in 0..<200 {
            let step1 = connection.spendControlFrameBudget(now: Self.start)
            #expect(step1 == ServerConnectionStateMachine.Action.none)
        }
        #expect(connection.isOpen && !connection.closesAfterInput)
        let step2 = connection.spendControlFrameBudget(now: Self.start)
        #expect(step2 == .terminate(.enhanceYourCalm))
        #expect(connection.closesAfterInput)
        let step3 = connection.spendControlFrameBudget(now: Self.start)
        #expect(step3 == ServerConnectionStateMachine.Action.none)
    }

    @Test("a PING that follows a HEADERS or DATA frame we sent spends an allowance of its own, larger, but bounded")
    func pingAfterSending() {
        let factor = ServerConnectionStateMachine.pingsAfterSendingFactor
        var connection = machine {
            $0.controlFrameBurst = 3
            $0.controlFramesPerSecond = 1
        }
        // The allowance, then the budget's own three: each PING after a sent frame takes from the
        // first, each PING without one from the second.
        for _ in 0..<(3 * factor) {
            connection.sentStreamFrame()
            #expect(connection.receivedPing(now: Self.start) == ServerConnectionStateMachine.Action.none)
        }
        for _ in 0..<3 {
            #expect(connection.receivedPing(now: Self.start) == ServerConnectionStateMachine.Action.none)
        }
        var flooding = connection
        #expect(flooding.receivedPing(now: Self.start) == .terminate(.enhanceYourCalm))
        // Past the allowance, PINGs after sent frames end the connection too.
        connection.sentStreamFrame()
        #expect(connection.receivedPing(now: Self.start) == .terminate(.enhanceYourCalm))
    }

    @Test("the budget refills at its rate, in steps of at least 10 ms, never above the burst")
    func refill() {
        var connection = machine {
            $0.controlFrameBurst = 100
            $0.controlFramesPerSecond = 1_000
        }
        for _ in 0..<100 { _ = connection.spendControlFrameBudget(now: Self.start) }
        // 9 ms refills nothing yet: the next frame overdraws.
        var early = connection
        let step4 = early.spendControlFrameBudget(now: at(.milliseconds(9)))
        #expect(step4 == .terminate(.enhanceYourCalm))
        // 10 ms at 1,000/s gives back ten frames, and no more.
        for _ in 0..<10 {
            let step5 = connection.spendControlFrameBudget(now: at(.milliseconds(10)))
            #expect(step5 == ServerConnectionStateMachine.Action.none)
        }
        let step6 = connection.spendControlFrameBudget(now: at(.milliseconds(10)))
        #expect(step6 == .terminate(.enhanceYourCalm))
        // An hour of quiet refills to the burst, not beyond.
        var rested = machine {
            $0.controlFrameBurst = 100
            $0.controlFramesPerSecond = 1_000
        }
        for _ in 0..<100 {
            let step7 = rested.spendControlFrameBudget(now: at(.hours(1)))
            #expect(step7 == ServerConnectionStateMachine.Action.none)
        }
        let step8 = rested.spendControlFrameBudget(now: at(.hours(1)))
        #expect(step8 == .terminate(.enhanceYourCalm))
    }

    @Test("ten abusive streams fit a burst of 100; the eleventh terminates")
    func abusiveStreams() {
        var connection = machine { $0.controlFrameBurst = 100 }
        let cost = ServerConnectionStateMachine.abusiveStreamCost
        for _ in 0..<10 {
            let step9 = connection.spendControlFrameBudget(cost: cost, now: Self.start)
            #expect(step9 == ServerConnectionStateMachine.Action.none)
        }
        let step10 = connection.spendControlFrameBudget(cost: cost, now: Self.start)
        #expect(step10 == .terminate(.enhanceYourCalm))
    }

    @Test("an idle connection is closed with GOAWAY at the timeout, not before, and not while a stream is open")
    func idle() {
        var connection = machine {
            $0.idleTimeout = .seconds(2)
            $0.keepaliveInterval = nil
        }
        let step11 = connection.housekeeping(now: at(.milliseconds(1_999)), openStreams: 0)
        #expect(step11 == .none)
        let step12 = connection.housekeeping(now: at(.seconds(5)), openStreams: 1)
        #expect(step12 == .none)
        // Idleness counts from when the last stream closed.
        connection.streamClosed(now: at(.seconds(5)), openStreams: 0)
        let step13 = connection.housekeeping(now: at(.milliseconds(6_999)), openStreams: 0)
        #expect(step13 == .none)
        let step14 = connection.housekeeping(now: at(.seconds(7)), openStreams: 0)
        #expect(step14 == .goAwayAndClose)
        let step15 = connection.closeStarted()
        #expect(step15)
        #expect(!connection.isOpen)
    }

    @Test("keepalive: a PING after the interval of silence; unanswered past the timeout, the connection closes")
    func keepalive() {
        var connection = machine {
            $0.idleTimeout = nil
            $0.keepaliveInterval = .seconds(1)
            $0.keepaliveTimeout = .seconds(1)
        }
        let step16 = connection.housekeeping(now: at(.milliseconds(999)), openStreams: 0)
        #expect(step16 == .none)
        let step17 = connection.housekeeping(now: at(.seconds(1)), openStreams: 0)
        #expect(step17 == .sendPing)
        // One PING at a time.
        let step18 = connection.housekeeping(now: at(.milliseconds(1_500)), openStreams: 0)
        #expect(step18 == .none)
        var answered = connection
        answered.receivedPingAck()
        answered.receivedInput(now: at(.milliseconds(1_100)))
        let step19 = answered.housekeeping(now: at(.milliseconds(2_099)), openStreams: 0)
        #expect(step19 == .none)
        let step20 = answered.housekeeping(now: at(.milliseconds(2_100)), openStreams: 0)
        #expect(step20 == .sendPing)

        let step21 = connection.housekeeping(now: at(.milliseconds(1_999)), openStreams: 0)
        #expect(step21 == .none)
        let step22 = connection.housekeeping(now: at(.seconds(2)), openStreams: 0)
        #expect(step22 == .closeNow)
        #expect(connection.closesAfterInput, "the close is decided; the handler carries it out")
    }

    @Test("a request that has not arrived by the receive timeout is reset; an unfinished header block terminates")
    func overdueRequests() {
        var connection = machine { $0.requestReceiveTimeout = .seconds(30) }
        let opened = at(.seconds(1))
        let step23 = connection.requestOverdue(openedAt: opened, inHeaderBlock: false, now: at(.milliseconds(30_999)))
        #expect(step23 == .wait)
        let step24 = connection.requestOverdue(openedAt: opened, inHeaderBlock: false, now: at(.seconds(31)))
        #expect(step24 == .resetStream)
        #expect(connection.isOpen && !connection.closesAfterInput)
        let step25 = connection.requestOverdue(openedAt: opened, inHeaderBlock: true, now: at(.milliseconds(30_999)))
        #expect(step25 == .wait)
        let step26 = connection.requestOverdue(openedAt: opened, inHeaderBlock: true, now: at(.seconds(31)))
        #expect(step26 == .terminate(.protocolError))
        #expect(connection.closesAfterInput)
    }

    @Test("overdue requests spend the budget like abusive streams: the one that overdraws it terminates")
    func overdueRequestsExhaustBudget() {
        var connection = machine {
            $0.requestReceiveTimeout = .seconds(1)
            $0.controlFrameBurst = 30
        }
        for _ in 0..<3 {
            let step27 = connection.requestOverdue(openedAt: Self.start, inHeaderBlock: false, now: at(.seconds(1)))
            #expect(step27 == .resetStream)
        }
        let step28 = connection.requestOverdue(openedAt: Self.start, inHeaderBlock: false, now: at(.seconds(1)))
        #expect(step28 == .resetStreamAndTerminate(.enhanceYourCalm))
    }

    @Test("draining: the notice once, the final GOAWAY once, and the close when no stream is left")
    func draining() {
        var connection = machine()
        #expect(!connection.closesAfterFlush(sessionWantsIO: true, openStreams: 0))
        let step29 = connection.beginDraining()
        #expect(step29)
        let step30 = connection.beginDraining()
        #expect(!step30)
        #expect(connection.isDraining)
        #expect(!connection.closesAfterFlush(sessionWantsIO: true, openStreams: 0), "the final GOAWAY is not out yet")
        let step31 = connection.drainNoticeElapsed()
        #expect(step31)
        let step32 = connection.drainNoticeElapsed()
        #expect(!step32)
        #expect(!connection.closesAfterFlush(sessionWantsIO: true, openStreams: 1))
        #expect(connection.closesAfterFlush(sessionWantsIO: true, openStreams: 0))
    }

    @Test("a session with nothing to read or write closes; closing and tear-down happen once")
    func closing() {
        var connection = machine()
        #expect(connection.closesAfterFlush(sessionWantsIO: false, openStreams: 3))
        connection.protocolErrorReceived()
        #expect(connection.closesAfterInput && connection.isOpen)
        let step33 = connection.beginDraining()
        #expect(!step33, "a closing connection does not drain")
        let step34 = connection.closeStarted()
        #expect(step34)
        let step35 = connection.closeStarted()
        #expect(!step35)
        #expect(!connection.isOpen)
        #expect(!connection.closesAfterFlush(sessionWantsIO: false, openStreams: 0))
        let step36 = connection.housekeeping(now: at(.hours(1)), openStreams: 0)
        #expect(step36 == .none)
        let step37 = connection.closed()
        #expect(step37)
        let step38 = connection.closed()
        #expect(!step38)
    }
}
