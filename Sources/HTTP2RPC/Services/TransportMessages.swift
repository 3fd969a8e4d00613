import WireFormat

// The messages the transport serves itself (Schemas/health.proto and Schemas/diagnostics.proto),
// apart from the services so that they depend on WireFormat alone (the fuzzer builds them so).

/// `grpc.health.v1.HealthCheckRequest`.
public struct HealthCheckRequest: ProtoSchemaMessage, Equatable {
    public var service: String

    public init(service: String = "") { self.service = service }
    public init(protoPlaceholder: ProtoPlaceholder) { service = "" }

    public static let protoSchema = ProtoSchema<HealthCheckRequest>(
        "grpc.health.v1.HealthCheckRequest", [.field("service", 1, ProtoString.self, \.service)])
}

/// `grpc.health.v1.HealthCheckResponse`.
public struct HealthCheckResponse: ProtoSchemaMessage, Equatable {
    /// `HealthCheckResponse.ServingStatus`; UNKNOWN (0) is the absent value, `nil`.
    public enum ServingStatus: Int32, ProtoEnum {
        public static let protoEnumName = "grpc.health.v1.HealthCheckResponse.ServingStatus"
        case serving = 1
        case notServing = 2
        case serviceUnknown = 3
    }

    public var status: ServingStatus?

    public init(status: ServingStatus?) { self.status = status }
    public init(protoPlaceholder: ProtoPlaceholder) { status = nil }

    public static let protoSchema = ProtoSchema<HealthCheckResponse>(
        "grpc.health.v1.HealthCheckResponse",
        [.field("status", 1, ProtoEnumCodec<ServingStatus>.self, \.status)])
}

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
