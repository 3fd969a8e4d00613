import WireFormat

/// The messages and enums of `Schemas/health.proto`, `Schemas/diagnostics.proto` and
/// `Schemas/reflection.proto`, which the transport serves itself; the schema drift test checks
/// them like the domain's.
public enum TransportSchema {
    public static let messageTypes: [any ProtoSchemaMessage.Type] = [
        HealthCheckRequest.self,
        HealthCheckResponse.self,
        PingRequest.self,
        PingResponse.self,
        PingStreamRequest.self,
        ServerStatsRequest.self,
        ServerStatsMessage.self,
        ServerReflectionRequest.self,
        ExtensionRequest.self,
        ServerReflectionResponse.self,
        FileDescriptorResponse.self,
        ExtensionNumberResponse.self,
        ListServiceResponse.self,
        ServiceResponse.self,
        ErrorResponse.self,
    ]

    public static let enumTypes: [any ProtoEnum.Type] = [
        HealthCheckResponse.ServingStatus.self
    ]
}
