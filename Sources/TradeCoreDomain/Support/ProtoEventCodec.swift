import EventSourcing
import Foundation
import TradeCoreMessages
import WireFormat

/// The events of one aggregate: each is a message of the schema's one registry of domain events
/// (``TradeCoreSchema/domainEventTypes``), which also names them.
public protocol DomainEvents: Sendable {
    /// The event that `message` is, or `nil` when it is not one of this aggregate's.
    init?(message: any ProtoSchemaMessage)

    /// The event's message.
    var message: any ProtoSchemaMessage { get }
}

/// Stores an aggregate's events as their protobuf encoding under their message name
/// (`OrderCreated`): the bytes a subscriber finds in an envelope's payload.
public struct ProtoEventCodec<Event: DomainEvents>: EventCodec {
    public init() {}

    public func encode(_ event: Event) throws -> EncodedEvent {
        let message = event.message
        guard let name = TradeCoreSchema.eventTypeName(of: type(of: message)) else {
            throw EventCodecError.notADomainEvent(type(of: message).protoMessageName)
        }
        return EncodedEvent(type: name, data: Data(message.protoBytes))
    }

    public func decode(_ encoded: EncodedEvent) throws -> Event {
        guard let type = TradeCoreSchema.domainEventTypesByName[encoded.type] else {
            throw EventCodecError.unknownType(encoded.type)
        }
        let message = try encoded.data.withUnsafeBytes { bytes throws(ProtoDecodingError) in
            try type.init(protoBuffer: bytes)
        }
        guard let event = Event(message: message) else {
            throw EventCodecError.otherAggregate(encoded.type)
        }
        return event
    }
}

/// Why an event could not be encoded or decoded.
enum EventCodecError: Error, CustomStringConvertible {
    case notADomainEvent(String)
    case unknownType(String)
    case otherAggregate(String)

    var description: String {
        switch self {
        case .notADomainEvent(let name): "\(name) is not a domain event of the schema"
        case .unknownType(let type): "no domain event is named \(type)"
        case .otherAggregate(let type): "\(type) is an event of another aggregate"
        }
    }
}
