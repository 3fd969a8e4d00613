import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages
import WireFormat

// Read models keep views as their protobuf encoding, the bytes a query returns.

extension ReadModelReader {
    /// The message under `key`, or `nil`.
    func message<M: ProtoMessage>(_ type: M.Type, in collection: String, key: String) throws -> M? {
        guard let data = try value(in: collection, key: key) else { return nil }
        return try M(decoding: data)
    }

    /// The messages of the entries whose keys start with `prefix`, in key order, starting after
    /// `after`, at most `limit`.
    func messages<M: ProtoMessage>(
        _ type: M.Type, in collection: String, prefix: String, after: String? = nil, limit: Int = .max
    ) throws -> [M] {
        try entries(in: collection, prefix: prefix, after: after, limit: limit).map { try M(decoding: $0.value) }
    }
}

extension ReadModelWriter {
    /// Stores a message under each of `keys`.
    func put(_ message: some ProtoMessage, in collection: String, keys: [String]) throws {
        let data = Data(message.protoBytes)
        for key in keys { try put(data, in: collection, key: key) }
    }
}

extension ProtoMessage {
    init(decoding data: Data) throws {
        self = try data.withUnsafeBytes { bytes throws(ProtoDecodingError) in try Self(protoBuffer: bytes) }
    }
}

extension RecordedEvent {
    /// The domain event this is, decoded with the schema's one registry.
    func domainEvent<Event: DomainEvents>(_ type: Event.Type) throws -> Event {
        try ProtoEventCodec<Event>().decode(EncodedEvent(type: self.type, data: data))
    }
}

extension UUID {
    /// An id as read-model keys spell it.
    var key: String { lowercasedText }
}
