import EventSourcing
import EventStore
import Foundation

/// What the domain's handlers use besides the event-sourcing core: the brokers, the vault, the
/// server's secrets and settings. Registered once in ``HandlerServices``.
public struct DomainServices: Sendable {
    public var brokers: BrokerRegistry
    public var vault: CredentialVault
    public var secrets: ServerSecrets
    /// Where automation webhooks are served: an automation's URL is this, then
    /// `/webhooks/automations/<id>`.
    public var webhookBaseURL: String

    public init(brokers: BrokerRegistry, vault: CredentialVault, secrets: ServerSecrets, webhookBaseURL: String) {
        self.brokers = brokers
        self.vault = vault
        self.secrets = secrets
        self.webhookBaseURL = webhookBaseURL.hasSuffix("/") ? String(webhookBaseURL.dropLast()) : webhookBaseURL
    }

    /// The webhook URL of an automation.
    public func webhookURL(for automationID: UUID) -> String {
        "\(webhookBaseURL)/webhooks/automations/\(automationID.lowercasedText)"
    }

    /// The adapter of a broker the domain already accepted (a connection or account names it).
    func adapter(for brokerID: String) throws(DomainError) -> any BrokerAdapter {
        guard let adapter = brokers.adapter(for: brokerID) else {
            throw .wrongState("UNKNOWN_BROKER", "this server no longer knows broker \"\(brokerID)\"")
        }
        return adapter
    }
}

extension CommandContext {
    /// The domain's services.
    var domain: DomainServices {
        get throws { try services.require(DomainServices.self) }
    }
}
