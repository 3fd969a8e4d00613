import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every message and enum of `Schemas/*.proto`, for tools that handle them by name (the
/// drift test, the cross-check tool, the fuzzer).
///
/// Decoding checks well-formedness only (ids, decimals, enums, required fields). Business rules
/// (a positive quantity, the prices an order type needs) are the domain's: its aggregates check
/// them, the one place a decoded command and one built in code both pass through.
public enum TradeCoreSchema {
    /// Every message type, in the order of the `.proto` files.
    public static let messageTypes: [any ProtoSchemaMessage.Type] = [
        PositionSizing.self,
        OptionDetails.self,
        FutureDetails.self,
        StopLoss.self,
        TakeProfit.self,
        OrderPreferences.self,
        AutomationConfig.self,
        CreateAutomation.self,
        UpdateAutomation.self,
        ActivateAutomation.self,
        DeactivateAutomation.self,
        DeleteAutomation.self,
        CreateAutomationResult.self,
        AutomationResult.self,
        AutomationCreated.self,
        AutomationUpdated.self,
        AutomationActivated.self,
        AutomationDeactivated.self,
        AutomationDeleted.self,
        GetAutomation.self,
        AutomationView.self,
        ListAutomations.self,
        AutomationList.self,
        RefreshAccountDataFromBroker.self,
        RefreshAllAccounts.self,
        BrokerAccountResult.self,
        RefreshAllAccountsResult.self,
        AccountRefreshError.self,
        BrokerAccountLinked.self,
        BrokerAccountDataRefreshed.self,
        BrokerAccountRefreshFailed.self,
        BrokerAccountUnlinked.self,
        AllAccountsRefreshCompleted.self,
        GetAccountsByUser.self,
        GetAccountsByConnection.self,
        BrokerAccountView.self,
        BrokerAccountList.self,
        BrokerPosition.self,
        ApiKeyCredentials.self,
        InitiateBrokerConnection.self,
        CompleteOAuth.self,
        DisconnectBroker.self,
        InitiateBrokerConnectionResult.self,
        BrokerConnectionResult.self,
        BrokerConnectionInitiated.self,
        BrokerConnectionReset.self,
        BrokerOAuthStarted.self,
        BrokerCredentialsStored.self,
        BrokerConnectionEstablished.self,
        BrokerConnectionFailed.self,
        BrokerDisconnected.self,
        BrokerAccountsSynced.self,
        GetBrokerConnection.self,
        BrokerConnectionView.self,
        FindBrokerConnection.self,
        EventMetadata.self,
        EventEnvelope.self,
        StreamVersion.self,
        SubscriptionFilter.self,
        SubscribeRequest.self,
        SubscribeResponse.self,
        SubscriptionCheckpoint.self,
        SubscriptionCaughtUp.self,
        SubscriptionFellBehind.self,
        ReadStreamRequest.self,
        ReadStreamResponse.self,
        CreateOrder.self,
        PlaceOrder.self,
        AddFill.self,
        UpdateOrder.self,
        CancelOrder.self,
        RejectOrder.self,
        DeleteOrder.self,
        OrderResult.self,
        OrderCreated.self,
        OrderPlaced.self,
        FillAdded.self,
        OrderFilled.self,
        OrderUpdated.self,
        OrderCancelled.self,
        OrderRejected.self,
        OrderDeleted.self,
        GetOrder.self,
        Fill.self,
        OrderView.self,
        ListOrders.self,
        OrderList.self,
    ]

    /// Every enum type.
    public static let enumTypes: [any ProtoEnum.Type] = [
        AutomationStatus.self,
        PositionSizingMethod.self,
        SidePreference.self,
        PriceOffsetType.self,
        OptionType.self,
        BrokerAccountType.self,
        BrokerAccountStatus.self,
        BrokerEnvironment.self,
        AuthMethod.self,
        BrokerConnectionStatus.self,
        OrderSide.self,
        OrderType.self,
        TimeInForce.self,
        AssetType.self,
        OrderStatus.self,
    ]

    /// Every command: the requests of `CommandService`, each of which has one handler.
    public static let commandTypes: [any ProtoSchemaMessage.Type] = [
        CreateOrder.self,
        PlaceOrder.self,
        AddFill.self,
        UpdateOrder.self,
        CancelOrder.self,
        RejectOrder.self,
        DeleteOrder.self,
        CreateAutomation.self,
        UpdateAutomation.self,
        ActivateAutomation.self,
        DeactivateAutomation.self,
        DeleteAutomation.self,
        InitiateBrokerConnection.self,
        CompleteOAuth.self,
        DisconnectBroker.self,
        RefreshAccountDataFromBroker.self,
        RefreshAllAccounts.self,
    ]

    /// Every domain event of the four aggregates: the payloads an ``EventEnvelope`` carries,
    /// named in its `event_type` by their message name without the package.
    public static let domainEventTypes: [any ProtoSchemaMessage.Type] = [
        OrderCreated.self,
        OrderPlaced.self,
        FillAdded.self,
        OrderFilled.self,
        OrderUpdated.self,
        OrderCancelled.self,
        OrderRejected.self,
        OrderDeleted.self,
        AutomationCreated.self,
        AutomationUpdated.self,
        AutomationActivated.self,
        AutomationDeactivated.self,
        AutomationDeleted.self,
        BrokerConnectionInitiated.self,
        BrokerConnectionReset.self,
        BrokerOAuthStarted.self,
        BrokerCredentialsStored.self,
        BrokerConnectionEstablished.self,
        BrokerConnectionFailed.self,
        BrokerDisconnected.self,
        BrokerAccountsSynced.self,
        BrokerAccountLinked.self,
        BrokerAccountDataRefreshed.self,
        BrokerAccountRefreshFailed.self,
        BrokerAccountUnlinked.self,
        AllAccountsRefreshCompleted.self,
    ]
}

extension TradeCoreSchema {
    /// A serialized `google.protobuf.FileDescriptorSet` of every file of `Schemas/`, as protoc
    /// compiles them (`Tools/schemas/descriptor_set.sh`): what server reflection answers from.
    public static let descriptorSet: [UInt8] = {
        let text = descriptorSetBase64.filter { !$0.isWhitespace }
        return Data(base64Encoded: text).map { [UInt8]($0) } ?? []
    }()
}
