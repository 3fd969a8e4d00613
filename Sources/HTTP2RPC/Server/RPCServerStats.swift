import Synchronization

/// Counters of a running server, readable from any thread.
public final class RPCServerStats: Sendable {
    let activeCalls = Atomic<Int>(0)
    let openConnections = Atomic<Int>(0)
    let totalCalls = Atomic<Int>(0)
    let failedCalls = Atomic<Int>(0)

    public init() {}

    public struct Snapshot: Sendable, Equatable {
        public var activeCalls: Int
        public var openConnections: Int
        public var totalCalls: Int
        public var failedCalls: Int
    }

    public var snapshot: Snapshot {
        Snapshot(
            activeCalls: activeCalls.load(ordering: .relaxed),
            openConnections: openConnections.load(ordering: .relaxed),
            totalCalls: totalCalls.load(ordering: .relaxed),
            failedCalls: failedCalls.load(ordering: .relaxed))
    }
}
