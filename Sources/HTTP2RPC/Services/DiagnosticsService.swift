#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WireFormat

/// `tradecore.diagnostics.v1.PingRequest`.
public struct PingRequest: ProtoSchemaMessage, Equatable {
    public var payload: [UInt8]

    public init(payload: [UInt8] = []) { self.payload = payload }
    public init(protoPlaceholder: ProtoPlaceholder) { payload = [] }

    public static let protoSchema = ProtoSchema<PingRequest>(
        "tradecore.diagnostics.v1.PingRequest", [.field("payload", 1, ProtoBytes.self, \.payload)])
}

/// `tradecore.diagnostics.v1.PingResponse`.
public struct PingResponse: ProtoSchemaMessage, Equatable {
    public var payload: [UInt8]
    public var serverTimeUnixNanos: Int64

    public init(payload: [UInt8] = [], serverTimeUnixNanos: Int64 = 0) {
        self.payload = payload
        self.serverTimeUnixNanos = serverTimeUnixNanos
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<PingResponse>(
        "tradecore.diagnostics.v1.PingResponse",
        [
            .field("payload", 1, ProtoBytes.self, \.payload),
            .field("server_time_unix_nanos", 2, ProtoInt64.self, \.serverTimeUnixNanos),
        ])
}

/// `tradecore.diagnostics.v1.Diagnostics`: a Ping that echoes its payload and touches nothing
/// else, so the transport can be measured and probed without the store.
public struct DiagnosticsService: RPCService {
    public static let pingPath = "/tradecore.diagnostics.v1.Diagnostics/Ping"

    public init() {}

    public func register(into router: inout RPCRouter) throws(RPCRouter.DuplicateMethodError) {
        try router.unary(Self.pingPath) { request in
            let ping = try decode(PingRequest.self, request.message)
            let response = PingResponse(payload: ping.payload, serverTimeUnixNanos: Self.unixNanoseconds())
            return RPCServerResponse(message: response.protoBytes)
        }
    }

    static func unixNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
