import EventSourcing
import Foundation
import TradeCoreMessages
import WireFormat

// The messages of `CommandService` are the bus's commands, registered under their message name
// without the package (`CreateOrder`): the one spelling of a command type, in the bus's records
// and in every event's metadata (`command_type`), as `event_type` names events. Each names the
// user it acts for, so the events it causes keep that user even when a saga sends it.

extension CommandResult where Self: ProtoMessage {
    public func encodeCommandResult() throws -> Data { Data(protoBytes) }

    public init(decodingCommandResult data: Data) throws {
        self = try data.withUnsafeBytes { bytes throws(ProtoDecodingError) in try Self(protoBuffer: bytes) }
    }
}

extension OrderResult: CommandResult {}
extension AutomationResult: CommandResult {}
extension InitiateBrokerConnectionResult: CommandResult {}
extension BrokerConnectionResult: CommandResult {}
extension BrokerAccountResult: CommandResult {}
extension RefreshAllAccountsResult: CommandResult {}

extension CreateOrder: Command {
    public typealias Result = OrderResult
    public static var commandType: String { "CreateOrder" }
    public var actingUserID: UUID? { userID }
}

extension PlaceOrder: Command {
    public typealias Result = OrderResult
    public static var commandType: String { "PlaceOrder" }
    public var actingUserID: UUID? { userID }
}

extension AddFill: Command {
    public typealias Result = OrderResult
    public static var commandType: String { "AddFill" }
    public var actingUserID: UUID? { userID }
}

extension UpdateOrder: Command {
    public typealias Result = OrderResult
    public static var commandType: String { "UpdateOrder" }
    public var actingUserID: UUID? { userID }
}

extension CancelOrder: Command {
    public typealias Result = OrderResult
    public static var commandType: String { "CancelOrder" }
    public var actingUserID: UUID? { userID }
}

extension RejectOrder: Command {
    public typealias Result = OrderResult
    public static var commandType: String { "RejectOrder" }
    public var actingUserID: UUID? { userID }
}

extension DeleteOrder: Command {
    public typealias Result = OrderResult
    public static var commandType: String { "DeleteOrder" }
    public var actingUserID: UUID? { userID }
}

/// The result carries no webhook token: the API derives it from the automation id (see
/// ``ServerSecrets/webhookToken(for:)``), so the outcome the bus records holds no secret.
extension CreateAutomation: Command {
    public typealias Result = AutomationResult
    public static var commandType: String { "CreateAutomation" }
    public var actingUserID: UUID? { userID }
}

extension UpdateAutomation: Command {
    public typealias Result = AutomationResult
    public static var commandType: String { "UpdateAutomation" }
    public var actingUserID: UUID? { userID }
}

extension ActivateAutomation: Command {
    public typealias Result = AutomationResult
    public static var commandType: String { "ActivateAutomation" }
    public var actingUserID: UUID? { userID }
}

extension DeactivateAutomation: Command {
    public typealias Result = AutomationResult
    public static var commandType: String { "DeactivateAutomation" }
    public var actingUserID: UUID? { userID }
}

extension DeleteAutomation: Command {
    public typealias Result = AutomationResult
    public static var commandType: String { "DeleteAutomation" }
    public var actingUserID: UUID? { userID }
}

/// The result the bus records has no authorization URL or OAuth state: the API derives both from
/// the connection and the command id (see ``OAuthChallenge``), so no secret is recorded.
extension InitiateBrokerConnection: Command {
    public typealias Result = InitiateBrokerConnectionResult
    public static var commandType: String { "InitiateBrokerConnection" }
    public var actingUserID: UUID? { userID }
}

extension CompleteOAuth: Command {
    public typealias Result = BrokerConnectionResult
    public static var commandType: String { "CompleteOAuth" }
    public var actingUserID: UUID? { userID }
}

extension DisconnectBroker: Command {
    public typealias Result = BrokerConnectionResult
    public static var commandType: String { "DisconnectBroker" }
    public var actingUserID: UUID? { userID }
}

extension RefreshAccountDataFromBroker: Command {
    public typealias Result = BrokerAccountResult
    public static var commandType: String { "RefreshAccountDataFromBroker" }
    public var actingUserID: UUID? { userID }
}

extension RefreshAllAccounts: Command {
    public typealias Result = RefreshAllAccountsResult
    public static var commandType: String { "RefreshAllAccounts" }
    public var actingUserID: UUID? { userID }
}
