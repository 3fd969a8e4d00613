import Testing
import TradeCoreMessages

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Logging a message that carries a secret must not print the secret.
@Suite struct RedactionTests {
    let id = UUID(uuid: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16))

    /// Every way a value is commonly turned into text.
    func renderings(_ value: Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        return [String(describing: value), String(reflecting: value), "\(value)", dumped]
    }

    @Test func apiCredentialsAreRedactedInsideTheirCommand() throws {
        let command = InitiateBrokerConnection(
            userID: id, brokerID: "alpaca", authMethod: .apiKey,
            apiKeyCredentials: ApiKeyCredentials(apiKey: "AKIA-SECRET-KEY", apiSecret: "s3cr3t-value"))
        for text in renderings(command) {
            #expect(!text.contains("AKIA-SECRET-KEY"), "\(text)")
            #expect(!text.contains("s3cr3t-value"), "\(text)")
            #expect(text.contains("alpaca"), "non-secret fields stay visible: \(text)")
        }
    }

    @Test func oauthCodeStateAndWebhookTokenAreRedacted() throws {
        let complete = CompleteOAuth(
            brokerConnectionID: id, userID: id, authorizationCode: "code-123456", state: "state-abcdef")
        let initiated = InitiateBrokerConnectionResult(
            brokerConnectionID: id, status: .awaitingOAuth, authorizationURL: "https://broker/auth?state=state-abcdef",
            oauthState: "state-abcdef")
        let created = CreateAutomationResult(
            automationID: id, webhookURL: "https://hooks/x", webhookToken: "whk-987654", status: .inactive)
        for text in renderings(complete) + renderings(initiated) + renderings(created) {
            for secret in ["code-123456", "state-abcdef", "whk-987654"] {
                #expect(!text.contains(secret), "\(text)")
            }
        }
    }
}
