import WireFormat

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `tradecore.diagnostics.v1.Diagnostics`: calls that touch nothing but the transport, so it
/// can be measured and probed without the store.
public struct DiagnosticsService: RPCService {
    public static let pingPath = "/tradecore.diagnostics.v1.Diagnostics/Ping"
    public static let pingStreamPath = "/tradecore.diagnostics.v1.Diagnostics/PingStream"
    public static let serverStatsPath = "/tradecore.diagnostics.v1.Diagnostics/GetServerStats"
    static let maximumDelayMillis: UInt32 = 60_000
    static let maximumStreamCount: UInt64 = 10_000_000

    private let stats: RPCServerStats

    public init(stats: RPCServerStats) { self.stats = stats }

    public func register(into router: inout RPCRouter) throws(RPCRouter.DuplicateMethodError) {
        try router.unary(Self.pingPath) { request in
            let ping = try decode(PingRequest.self, request.message)
            guard ping.delayMillis <= Self.maximumDelayMillis else {
                throw RPCError(.invalidArgument, "delay_millis must be at most \(Self.maximumDelayMillis)")
            }
            if ping.delayMillis > 0 { try await Task.sleep(for: .milliseconds(Int(ping.delayMillis))) }
            let (headers, trailers) = Self.echoedMetadata(request.context.metadata)
            let response = PingResponse(payload: ping.payload, serverTimeUnixNanos: Self.unixNanoseconds())
            return RPCServerResponse(message: response.protoBytes, metadata: headers, trailers: trailers)
        }
        try router.serverStreaming(Self.pingStreamPath) { request, writer in
            let ping = try decode(PingStreamRequest.self, request.message)
            guard ping.count <= Self.maximumStreamCount else {
                throw RPCError(.invalidArgument, "count must be at most \(Self.maximumStreamCount)")
            }
            for sequence in 0..<ping.count {
                let response = PingResponse(
                    payload: ping.payload, serverTimeUnixNanos: Self.unixNanoseconds(), sequence: sequence)
                try await writer.write(response.protoBytes)
            }
            return Self.echoedMetadata(request.context.metadata).trailers
        }
        let stats = self.stats
        try router.unary(Self.serverStatsPath) { request in
            _ = try decode(ServerStatsRequest.self, request.message)
            let snapshot = stats.snapshot
            var message = ServerStatsMessage()
            message.activeCalls = UInt64(max(0, snapshot.activeCalls))
            message.openConnections = UInt64(max(0, snapshot.openConnections))
            message.totalCalls = UInt64(max(0, snapshot.totalCalls))
            message.failedCalls = UInt64(max(0, snapshot.failedCalls))
            return RPCServerResponse(message: message.protoBytes)
        }
    }

    /// Request metadata under `x-echo-` keys, to send back as headers and as trailers.
    static func echoedMetadata(_ metadata: RPCMetadata) -> (headers: RPCMetadata, trailers: RPCMetadata) {
        var echoed = RPCMetadata()
        for entry in metadata where entry.key.hasPrefix("x-echo-") { echoed.add(entry.key, entry.value) }
        return (echoed, echoed)
    }

    static func unixNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
