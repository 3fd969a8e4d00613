import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages

/// The automations read model: collection `automations`, the AutomationView under `id/<automation>`
/// and `user/<user>/<automation>` (ids are time-ordered: a user's list is oldest first).
struct AutomationsProjection: Projection {
    static let name = "automations"
    static let collection = "automations"

    var name: String { Self.name }
    var collections: [String] { [Self.collection] }

    func handles(_ event: RecordedEvent) -> Bool { event.stream.type == Automation.streamType }

    func apply(_ event: RecordedEvent, to models: any ReadModelWriter) throws {
        let change = try event.domainEvent(AutomationEvent.self)
        let version = UInt64(event.version)
        let view: AutomationView
        if case .created(let created) = change {
            view = AutomationView(
                automationID: created.automationID, userID: created.userID, config: created.config,
                status: created.status, webhookURL: created.webhookURL, createdAt: created.createdAt,
                updatedAt: created.createdAt, version: version)
        } else {
            guard
                var existing = try models.message(
                    AutomationView.self, in: Self.collection, key: "id/\(event.stream.id.key)")
            else { return }
            existing.version = version
            existing.updatedAt = event.metadata.time
            switch change {
            case .created: return
            case .updated(let updated): existing.config = updated.config
            case .activated: existing.status = .active
            case .deactivated: existing.status = .inactive
            case .deleted: existing.status = .deleted
            }
            view = existing
        }
        try models.put(
            view, in: Self.collection,
            keys: ["id/\(view.automationID.key)", "user/\(view.userID.key)/\(view.automationID.key)"])
    }
}

/// The broker connections read model: collection `broker_connections`, the BrokerConnectionView
/// under `id/<connection>` (a connection's id derives from its user, broker and environment, so
/// finding one by those is a lookup by id).
struct BrokerConnectionsProjection: Projection {
    static let name = "broker_connections"
    static let collection = "broker_connections"

    var name: String { Self.name }
    var collections: [String] { [Self.collection] }

    func handles(_ event: RecordedEvent) -> Bool { event.stream.type == BrokerConnection.streamType }

    func apply(_ event: RecordedEvent, to models: any ReadModelWriter) throws {
        let change = try event.domainEvent(BrokerConnectionEvent.self)
        let key = "id/\(event.stream.id.key)"
        var view: BrokerConnectionView
        if case .initiated(let initiated) = change {
            view = BrokerConnectionView(
                brokerConnectionID: initiated.brokerConnectionID, userID: initiated.userID,
                brokerID: initiated.brokerID,
                environment: initiated.environment, apiEndpointOverride: initiated.apiEndpointOverride,
                authMethod: initiated.authMethod, status: .pending, createdAt: initiated.initiatedAt,
                updatedAt: initiated.initiatedAt)
        } else {
            guard let existing = try models.message(BrokerConnectionView.self, in: Self.collection, key: key) else {
                return
            }
            view = existing
            view.updatedAt = event.metadata.time
            switch change {
            case .initiated: return
            case .reset:
                view.status = .pending
                view.statusReason = ""
            case .oauthStarted:
                view.authMethod = .oauth
                view.status = .awaitingOAuth
            case .credentialsStored(let stored):
                view.authMethod = stored.authMethod
            case .established(let established):
                view.status = .connected
                view.statusReason = ""
                view.connectedAt = established.connectedAt
            case .failed(let failed):
                view.status = .failed
                view.statusReason = failed.reason
            case .disconnected(let disconnected):
                view.status = .disconnected
                view.statusReason = disconnected.reason
            case .accountsSynced:
                break
            }
        }
        view.version = UInt64(event.version)
        try models.put(view, in: Self.collection, keys: [key])
    }
}

/// The broker accounts read model: collection `broker_accounts`, the BrokerAccountView under
/// `id/<account>`, `user/<user>/<account>` and `connection/<connection>/<account>`.
struct BrokerAccountsProjection: Projection {
    static let name = "broker_accounts"
    static let collection = "broker_accounts"

    var name: String { Self.name }
    var collections: [String] { [Self.collection] }

    func handles(_ event: RecordedEvent) -> Bool { event.stream.type == BrokerAccount.streamType }

    func apply(_ event: RecordedEvent, to models: any ReadModelWriter) throws {
        let change = try event.domainEvent(BrokerAccountEvent.self)
        let existing = try models.message(BrokerAccountView.self, in: Self.collection, key: "id/\(event.stream.id.key)")
        var view: BrokerAccountView
        switch (change, existing) {
        case (.linked(let linked), let existing):
            view = BrokerAccountView(
                accountID: linked.accountID, userID: linked.userID, brokerConnectionID: linked.brokerConnectionID,
                brokerID: linked.brokerID, brokerAccountNumber: linked.brokerAccountNumber,
                environment: linked.environment, accountType: linked.accountType, currency: linked.currency,
                status: .active, cash: existing?.cash, equity: existing?.equity, buyingPower: existing?.buyingPower,
                lastSyncedAt: existing?.lastSyncedAt ?? 0, createdAt: existing?.createdAt ?? linked.linkedAt,
                updatedAt: linked.linkedAt, positions: existing?.positions ?? [])
        case (_, nil):
            return
        case (.refreshed(let refreshed), let existing?):
            view = existing
            view.cash = refreshed.cash
            view.equity = refreshed.equity
            view.buyingPower = refreshed.buyingPower
            view.status = refreshed.status
            view.positions = refreshed.positions
            view.lastSyncedAt = refreshed.syncedAt
            view.lastRefreshError = ""
        case (.refreshFailed(let failed), let existing?):
            view = existing
            view.lastRefreshError = failed.error
        case (.unlinked, let existing?):
            view = existing
            view.status = .unlinked
        }
        view.updatedAt = event.metadata.time
        view.version = UInt64(event.version)
        try models.put(
            view, in: Self.collection,
            keys: [
                "id/\(view.accountID.key)", "user/\(view.userID.key)/\(view.accountID.key)",
                "connection/\(view.brokerConnectionID.key)/\(view.accountID.key)",
            ])
    }
}
