import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Fetches one account's balances from its broker.
public struct RefreshAccountDataFromBroker: Sendable, Hashable {
    /// Field 1, `account_id`.
    public var accountID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 4, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        accountID: UUID,
        userID: UUID,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.accountID = accountID
        self.userID = userID
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension RefreshAccountDataFromBroker: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        accountID = .protoPlaceholder
        userID = .protoPlaceholder
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<RefreshAccountDataFromBroker>(
        "tradecore.broker.v1.RefreshAccountDataFromBroker",
        [
            .field("account_id", 1, ProtoUUID.self, \.accountID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("saga_id", 3, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 4, ProtoUInt64.self, \.expectedVersion),
        ])
}

/// Refreshes every account of a connection, or of the user when no connection is given.
/// Accounts synced in the last five minutes are skipped unless force_refresh is set.
public struct RefreshAllAccounts: Sendable, Hashable {
    /// Field 1, `user_id`.
    public var userID: UUID
    /// Field 2, `broker_connection_id`.
    public var brokerConnectionID: UUID?
    /// Field 3, `force_refresh`.
    public var forceRefresh: Bool
    /// Field 4, `saga_id`.
    public var sagaID: UUID?

    /// Creates the command.
    public init(
        userID: UUID,
        brokerConnectionID: UUID? = nil,
        forceRefresh: Bool = false,
        sagaID: UUID? = nil
    ) {
        self.userID = userID
        self.brokerConnectionID = brokerConnectionID
        self.forceRefresh = forceRefresh
        self.sagaID = sagaID
    }
}

extension RefreshAllAccounts: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        userID = .protoPlaceholder
        brokerConnectionID = nil
        forceRefresh = false
        sagaID = nil
    }

    public static let protoSchema = ProtoSchema<RefreshAllAccounts>(
        "tradecore.broker.v1.RefreshAllAccounts",
        [
            .field("user_id", 1, ProtoUUID.self, \.userID),
            .field("broker_connection_id", 2, ProtoUUID.self, \.brokerConnectionID),
            .field("force_refresh", 3, ProtoBool.self, \.forceRefresh),
            .field("saga_id", 4, ProtoUUID.self, \.sagaID),
        ])
}
