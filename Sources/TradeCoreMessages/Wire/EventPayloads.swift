import WireFormat

extension TradeCoreSchema {
    /// Domain event types by the name an envelope's `event_type` carries: the message name
    /// without its package (`OrderCreated`).
    public static let domainEventTypesByName: [String: any ProtoSchemaMessage.Type] = Dictionary(
        domainEventTypes.map { type in (type.protoMessageName.split(separator: ".").last.map(String.init) ?? "", type)
        },
        uniquingKeysWith: { first, _ in first })

    private static let domainEventNamesByType: [ObjectIdentifier: String] = Dictionary(
        domainEventTypesByName.map { name, type in (ObjectIdentifier(type), name) },
        uniquingKeysWith: { first, _ in first })

    /// The `event_type` of a domain event's message (`OrderCreated`), or `nil` for a message that
    /// is not a domain event.
    public static func eventTypeName(of type: any ProtoSchemaMessage.Type) -> String? {
        domainEventNamesByType[ObjectIdentifier(type)]
    }
}

extension EventEnvelope {
    /// Decodes the payload as the domain event that ``eventType`` names.
    ///
    /// Throws when the type is not a domain event of this version of the schemas, or when the
    /// payload is not a valid encoding of it; the error's path starts at the envelope's field.
    public func decodedPayload() throws(ProtoDecodingError) -> any ProtoSchemaMessage {
        let envelope = Self.protoMessageName
        guard let type = TradeCoreSchema.domainEventTypesByName[eventType] else {
            throw ProtoDecodingError(.invalidValue("unknown event type \(eventType)"))
                .within(message: envelope, fieldNumber: 5, fieldName: "event_type")
        }
        do throws(ProtoDecodingError) {
            return try type.init(protoBytes: payload)
        } catch {
            throw error.within(message: envelope, fieldNumber: 9, fieldName: "payload")
        }
    }
}
