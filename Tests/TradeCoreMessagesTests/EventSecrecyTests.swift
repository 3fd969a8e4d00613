import Testing
import TradeCoreMessages
import WireFormat

/// Secrets (API keys, OAuth codes and tokens, webhook tokens) may travel in commands and results,
/// never in events: events are stored forever and shown to every subscriber.
@Suite struct EventSecrecyTests {
    static let secretFieldNames: Set<String> = [
        "api_key", "api_secret", "authorization_code", "webhook_token", "oauth_state", "state", "access_token",
        "refresh_token", "password", "secret", "token", "credentials", "api_key_credentials",
    ]

    /// Every field reachable from `messageName`, as dotted paths.
    func reachableFields(
        _ messageName: String, prefix: String = "", seen: Set<String> = []
    ) -> [(String, ProtoFieldDescriptor)] {
        guard !seen.contains(messageName),
            let type = TradeCoreSchema.messageTypes.first(where: { $0.protoMessageName == messageName })
        else { return [] }
        var fields: [(String, ProtoFieldDescriptor)] = []
        for field in type.protoFieldDescriptors {
            let path = prefix + field.name
            fields.append((path, field))
            if case .message(let nested) = field.type {
                fields += reachableFields(nested, prefix: path + ".", seen: seen.union([messageName]))
            }
        }
        return fields
    }

    @Test func theSecretsThisTestLooksForExistInCommands() {
        // Guards the test itself: if these names left the commands, the check below would be vacuous.
        let commandFields = Set(
            TradeCoreSchema.commandTypes.flatMap { reachableFields($0.protoMessageName).map(\.1.name) })
        #expect(commandFields.isSuperset(of: ["api_key", "api_secret", "authorization_code", "state"]))
        let results = reachableFields("tradecore.automation.v1.CreateAutomationResult").map(\.1.name)
        #expect(results.contains("webhook_token"))
    }

    @Test(
        arguments: TradeCoreSchema.domainEventTypes.map { $0.protoMessageName } + ["tradecore.events.v1.EventEnvelope"])
    func eventsCarryNoSecrets(_ eventName: String) {
        for (path, field) in reachableFields(eventName) {
            #expect(!Self.secretFieldNames.contains(field.name), "\(eventName).\(path) looks like a secret")
            #expect(field.type != .message("tradecore.broker.v1.ApiKeyCredentials"), "\(eventName).\(path)")
        }
    }

    @Test func domainEventsAreTheEventsOfTheFourAggregates() {
        let names = TradeCoreSchema.domainEventTypes.map { $0.protoMessageName }
        #expect(names.count == Set(names).count)
        #expect(names.count == 26)
        for name in names {
            #expect(!name.hasPrefix("tradecore.events.") && !name.hasPrefix("tradecore.common."), "\(name)")
        }
        #expect(names.contains("tradecore.order.v1.OrderCreated"))
        #expect(names.contains("tradecore.broker.v1.BrokerCredentialsStored"))
    }
}
