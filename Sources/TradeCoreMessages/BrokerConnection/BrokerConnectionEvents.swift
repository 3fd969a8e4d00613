import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `tradecore.broker.v1.BrokerConnectionInitiated`.
public struct BrokerConnectionInitiated: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `broker_id`.
    public var brokerID: String
    /// Field 4, `environment`.
    public var environment: BrokerEnvironment
    /// Field 5, `api_endpoint_override`.
    public var apiEndpointOverride: String
    /// Field 6, `auth_method`.
    public var authMethod: AuthMethod
    /// Field 7, `initiated_at`.
    public var initiatedAt: Int64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        userID: UUID,
        brokerID: String,
        environment: BrokerEnvironment,
        apiEndpointOverride: String = "",
        authMethod: AuthMethod,
        initiatedAt: Int64
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.userID = userID
        self.brokerID = brokerID
        self.environment = environment
        self.apiEndpointOverride = apiEndpointOverride
        self.authMethod = authMethod
        self.initiatedAt = initiatedAt
    }
}

extension BrokerConnectionInitiated: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            userID: .protoPlaceholder,
            brokerID: "",
            environment: .paper,
            apiEndpointOverride: "",
            authMethod: .oauth,
            initiatedAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerConnectionInitiated>(
        "tradecore.broker.v1.BrokerConnectionInitiated",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("broker_id", 3, ProtoString.self, \.brokerID, required: true),
            .field("environment", 4, ProtoEnumCodec<BrokerEnvironment>.self, \.environment),
            .field("api_endpoint_override", 5, ProtoString.self, \.apiEndpointOverride),
            .field("auth_method", 6, ProtoEnumCodec<AuthMethod>.self, \.authMethod),
            .field("initiated_at", 7, ProtoInt64.self, \.initiatedAt, required: true),
        ])
}

/// A disconnected connection is being connected again.
public struct BrokerConnectionReset: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `reset_at`.
    public var resetAt: Int64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        resetAt: Int64
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.resetAt = resetAt
    }
}

extension BrokerConnectionReset: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            resetAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerConnectionReset>(
        "tradecore.broker.v1.BrokerConnectionReset",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("reset_at", 2, ProtoInt64.self, \.resetAt, required: true),
        ])
}

/// `tradecore.broker.v1.BrokerOAuthStarted`.
public struct BrokerOAuthStarted: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// SHA-256 of the OAuth state, to check the callback without keeping the state itself.
    /// Field 2, `oauth_state_sha256`.
    public var oauthStateSHA256: [UInt8]
    /// Field 3, `redirect_uri`.
    public var redirectURI: String
    /// Field 4, `started_at`.
    public var startedAt: Int64
    /// After this, the state is refused.
    /// Field 5, `expires_at`.
    public var expiresAt: Int64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        oauthStateSHA256: [UInt8],
        redirectURI: String = "",
        startedAt: Int64,
        expiresAt: Int64
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.oauthStateSHA256 = oauthStateSHA256
        self.redirectURI = redirectURI
        self.startedAt = startedAt
        self.expiresAt = expiresAt
    }
}

extension BrokerOAuthStarted: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            oauthStateSHA256: [],
            redirectURI: "",
            startedAt: 0,
            expiresAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerOAuthStarted>(
        "tradecore.broker.v1.BrokerOAuthStarted",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("oauth_state_sha256", 2, ProtoBytes.self, \.oauthStateSHA256, required: true),
            .field("redirect_uri", 3, ProtoString.self, \.redirectURI),
            .field("started_at", 4, ProtoInt64.self, \.startedAt, required: true),
            .field("expires_at", 5, ProtoInt64.self, \.expiresAt, required: true),
        ])
}

/// Credentials were put in the secret store. The event names them; it never holds them.
public struct BrokerCredentialsStored: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `auth_method`.
    public var authMethod: AuthMethod
    /// The secret store's key for the credentials.
    /// Field 3, `credentials_ref`.
    public var credentialsRef: String
    /// When access tokens expire; absent for API keys.
    /// Field 4, `expires_at`.
    public var expiresAt: Int64
    /// Field 5, `stored_at`.
    public var storedAt: Int64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        authMethod: AuthMethod,
        credentialsRef: String,
        expiresAt: Int64 = 0,
        storedAt: Int64
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.authMethod = authMethod
        self.credentialsRef = credentialsRef
        self.expiresAt = expiresAt
        self.storedAt = storedAt
    }
}

extension BrokerCredentialsStored: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            authMethod: .oauth,
            credentialsRef: "",
            expiresAt: 0,
            storedAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerCredentialsStored>(
        "tradecore.broker.v1.BrokerCredentialsStored",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("auth_method", 2, ProtoEnumCodec<AuthMethod>.self, \.authMethod),
            .field("credentials_ref", 3, ProtoString.self, \.credentialsRef, required: true),
            .field("expires_at", 4, ProtoInt64.self, \.expiresAt),
            .field("stored_at", 5, ProtoInt64.self, \.storedAt, required: true),
        ])
}

/// `tradecore.broker.v1.BrokerConnectionEstablished`.
public struct BrokerConnectionEstablished: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `connected_at`.
    public var connectedAt: Int64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        connectedAt: Int64
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.connectedAt = connectedAt
    }
}

extension BrokerConnectionEstablished: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            connectedAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerConnectionEstablished>(
        "tradecore.broker.v1.BrokerConnectionEstablished",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("connected_at", 2, ProtoInt64.self, \.connectedAt, required: true),
        ])
}

/// `tradecore.broker.v1.BrokerConnectionFailed`.
public struct BrokerConnectionFailed: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `reason`.
    public var reason: String
    /// Field 3, `failed_at`.
    public var failedAt: Int64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        reason: String,
        failedAt: Int64
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.reason = reason
        self.failedAt = failedAt
    }
}

extension BrokerConnectionFailed: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            reason: "",
            failedAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerConnectionFailed>(
        "tradecore.broker.v1.BrokerConnectionFailed",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("reason", 2, ProtoString.self, \.reason, required: true),
            .field("failed_at", 3, ProtoInt64.self, \.failedAt, required: true),
        ])
}

/// `tradecore.broker.v1.BrokerDisconnected`.
public struct BrokerDisconnected: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `reason`.
    public var reason: String
    /// Field 3, `disconnected_at`.
    public var disconnectedAt: Int64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        reason: String = "",
        disconnectedAt: Int64
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.reason = reason
        self.disconnectedAt = disconnectedAt
    }
}

extension BrokerDisconnected: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            reason: "",
            disconnectedAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerDisconnected>(
        "tradecore.broker.v1.BrokerDisconnected",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("reason", 2, ProtoString.self, \.reason),
            .field("disconnected_at", 3, ProtoInt64.self, \.disconnectedAt, required: true),
        ])
}

/// The accounts the broker gives this connection access to were linked.
public struct BrokerAccountsSynced: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `account_ids`.
    public var accountIDs: [UUID]
    /// Field 3, `synced_at`.
    public var syncedAt: Int64

    /// Creates the message.
    public init(brokerConnectionID: UUID, accountIDs: [UUID] = [], syncedAt: Int64) {
        self.brokerConnectionID = brokerConnectionID
        self.accountIDs = accountIDs
        self.syncedAt = syncedAt
    }
}

extension BrokerAccountsSynced: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(brokerConnectionID: .protoPlaceholder, syncedAt: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerAccountsSynced>(
        "tradecore.broker.v1.BrokerAccountsSynced",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .repeated("account_ids", 2, ProtoUUID.self, \.accountIDs),
            .field("synced_at", 3, ProtoInt64.self, \.syncedAt, required: true),
        ])
}
