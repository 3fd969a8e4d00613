import WireFormat

extension TradeCoreSchema {
    /// Domain event types by the name an envelope's `event_type` carries: the message name
    /// without its package (`OrderCreated`).
    public static let domainEventTypesByName: [String: any ProtoSchemaMessage.Type] = Dictionary(
        domainEventTypes.map { type in (type.protoMessageName.split(separator: ".").last.map(String.init) ?? "", type)
        },
        uniquingKeysWith: { first, _ in first })
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

extension ErrorDetails {
    /// The details of a request that could not be decoded, for its INVALID_ARGUMENT status:
    /// reason `MALFORMED_REQUEST` and a field violation naming the failing field by its path
    /// from the request (`stop_loss.value`), or, when no field is to blame (a truncated tag), the
    /// problem under `metadata["detail"]`.
    public init(decodingError error: ProtoDecodingError) {
        let fields = error.path.compactMap { element in element.fieldName ?? element.fieldNumber.map { "#\($0)" } }
        if fields.isEmpty {
            self.init(reason: "MALFORMED_REQUEST", metadata: ["detail": error.description])
        } else {
            self.init(
                reason: "MALFORMED_REQUEST",
                fieldViolations: [
                    FieldViolation(field: fields.joined(separator: "."), description: error.reason.description)
                ])
        }
    }
}
