import WireFormat

/// `tradecore.broker.v1.BrokerEnvironment`.
public enum BrokerEnvironment: Int32, ProtoEnum {
    /// `BROKER_ENVIRONMENT_PAPER`.
    case paper = 1
    /// `BROKER_ENVIRONMENT_LIVE`.
    case live = 2

    public static var protoEnumName: String { "tradecore.broker.v1.BrokerEnvironment" }
}

/// `tradecore.broker.v1.AuthMethod`.
public enum AuthMethod: Int32, ProtoEnum {
    /// `AUTH_METHOD_OAUTH`.
    case oauth = 1
    /// `AUTH_METHOD_API_KEY`.
    case apiKey = 2

    public static var protoEnumName: String { "tradecore.broker.v1.AuthMethod" }
}

/// `tradecore.broker.v1.BrokerConnectionStatus`.
public enum BrokerConnectionStatus: Int32, ProtoEnum {
    /// Created; authentication not started or not finished.
    case pending = 1
    /// Waiting for the user to finish the OAuth flow.
    case awaitingOAuth = 2
    /// `BROKER_CONNECTION_STATUS_CONNECTED`.
    case connected = 3
    /// `BROKER_CONNECTION_STATUS_FAILED`.
    case failed = 4
    /// `BROKER_CONNECTION_STATUS_DISCONNECTED`.
    case disconnected = 5

    public static var protoEnumName: String { "tradecore.broker.v1.BrokerConnectionStatus" }
}

/// API credentials. A secret: accepted in commands, kept in the secret store, never in events.
public struct ApiKeyCredentials: Sendable, Hashable {
    /// Field 1, `api_key`.
    public var apiKey: String
    /// Field 2, `api_secret`.
    public var apiSecret: String

    /// Creates the message.
    public init(
        apiKey: String,
        apiSecret: String = ""
    ) {
        self.apiKey = apiKey
        self.apiSecret = apiSecret
    }
}

extension ApiKeyCredentials: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            apiKey: "",
            apiSecret: "")
    }

    public static let protoSchema = ProtoSchema<ApiKeyCredentials>(
        "tradecore.broker.v1.ApiKeyCredentials",
        [
            .field("api_key", 1, ProtoString.self, \.apiKey, required: true),
            .field("api_secret", 2, ProtoString.self, \.apiSecret),
        ])
}
