#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WireFormat

/// `tradecore.diagnostics.v1.PingRequest`.
public struct PingRequest: ProtoSchemaMessage, Equatable {
    public var payload: [UInt8]
    public var delayMillis: UInt32

    public init(payload: [UInt8] = [], delayMillis: UInt32 = 0) {
        self.payload = payload
        self.delayMillis = delayMillis
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<PingRequest>(
        "tradecore.diagnostics.v1.PingRequest",
        [
            .field("payload", 1, ProtoBytes.self, \.payload),
            .field("delay_millis", 2, ProtoUInt32.self, \.delayMillis),
        ])
}

/// `tradecore.diagnostics.v1.PingResponse`.
public struct PingResponse: ProtoSchemaMessage, Equatable {
    public var payload: [UInt8]
    public var serverTimeUnixNanos: Int64
    public var sequence: UInt64

    public init(payload: [UInt8] = [], serverTimeUnixNanos: Int64 = 0, sequence: UInt64 = 0) {
        self.payload = payload
        self.serverTimeUnixNanos = serverTimeUnixNanos
        self.sequence = sequence
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<PingResponse>(
        "tradecore.diagnostics.v1.PingResponse",
        [
            .field("payload", 1, ProtoBytes.self, \.payload),
            .field("server_time_unix_nanos", 2, ProtoInt64.self, \.serverTimeUnixNanos),
            .field("sequence", 3, ProtoUInt64.self, \.sequence),
        ])
}

/// `tradecore.diagnostics.v1.PingStreamRequest`.
public struct PingStreamRequest: ProtoSchemaMessage, Equatable {
    public var count: UInt64
    public var payload: [UInt8]

    public init(count: UInt64 = 0, payload: [UInt8] = []) {
        self.count = count
        self.payload = payload
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<PingStreamRequest>(
        "tradecore.diagnostics.v1.PingStreamRequest",
        [
            .field("count", 1, ProtoUInt64.self, \.count),
            .field("payload", 2, ProtoBytes.self, \.payload),
        ])
}

/// `tradecore.diagnostics.v1.ServerStatsRequest`.
public struct ServerStatsRequest: ProtoSchemaMessage, Equatable {
    public init() {}
    public init(protoPlaceholder: ProtoPlaceholder) {}
    public static let protoSchema = ProtoSchema<ServerStatsRequest>("tradecore.diagnostics.v1.ServerStatsRequest", [])
}

/// `tradecore.diagnostics.v1.ServerStats`.
public struct ServerStatsMessage: ProtoSchemaMessage, Equatable {
    public var activeCalls: UInt64 = 0
    public var openConnections: UInt64 = 0
    public var totalCalls: UInt64 = 0
    public var failedCalls: UInt64 = 0

    public init() {}
    public init(protoPlaceholder: ProtoPlaceholder) {}

    public static let protoSchema = ProtoSchema<ServerStatsMessage>(
        "tradecore.diagnostics.v1.ServerStats",
        [
            .field("active_calls", 1, ProtoUInt64.self, \.activeCalls),
            .field("open_connections", 2, ProtoUInt64.self, \.openConnections),
            .field("total_calls", 3, ProtoUInt64.self, \.totalCalls),
            .field("failed_calls", 4, ProtoUInt64.self, \.failedCalls),
        ])
}

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
