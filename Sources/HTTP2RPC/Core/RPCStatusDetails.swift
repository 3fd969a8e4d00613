import WireFormat

// gRPC's standard rich error model: a `google.rpc.Status` in the `grpc-status-details-bin`
// trailer, its details packed as `google.protobuf.Any`. Stock helpers in every language read it
// (Python's grpc_status.rpc_status.from_call, Java's StatusProto, Go's status.FromError), and some
// check that its code and message equal `grpc-status` and `grpc-message`, so both are taken from
// the error itself.

/// `google.rpc.ErrorInfo`: why a call failed, as a stable reason in a domain, with facts.
public struct ErrorInfo: ProtoSchemaMessage, Hashable {
    /// Upper snake case, at most 63 characters: `ORDER_NOT_FOUND`.
    public var reason: String
    /// The service or library that chose the reason: `tradecore`.
    public var domain: String
    /// Facts by name: `expected_version`, `current_version`.
    public var metadata: [String: String]

    public init(reason: String, domain: String, metadata: [String: String] = [:]) {
        self.reason = reason
        self.domain = domain
        self.metadata = metadata
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init(reason: "", domain: "") }

    public static let typeURL = "type.googleapis.com/google.rpc.ErrorInfo"

    public static let protoSchema = ProtoSchema<ErrorInfo>(
        "google.rpc.ErrorInfo",
        [
            .field("reason", 1, ProtoString.self, \.reason),
            .field("domain", 2, ProtoString.self, \.domain),
            .map("metadata", 3, ProtoString.self, ProtoString.self, \.metadata),
        ])
}

/// `google.rpc.BadRequest`: the request fields at fault.
public struct BadRequest: ProtoSchemaMessage, Hashable {
    /// `google.rpc.BadRequest.FieldViolation`.
    public struct FieldViolation: ProtoSchemaMessage, Hashable {
        /// The field's path in the request: `stop_loss.value`.
        public var field: String
        /// What is wrong with it.
        public var description: String

        public init(field: String, description: String) {
            self.field = field
            self.description = description
        }

        public init(protoPlaceholder: ProtoPlaceholder) { self.init(field: "", description: "") }

        public static let protoSchema = ProtoSchema<FieldViolation>(
            "google.rpc.BadRequest.FieldViolation",
            [
                .field("field", 1, ProtoString.self, \.field),
                .field("description", 2, ProtoString.self, \.description),
            ])
    }

    public var fieldViolations: [FieldViolation]

    public init(fieldViolations: [FieldViolation]) {
        self.fieldViolations = fieldViolations
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init(fieldViolations: []) }

    public static let typeURL = "type.googleapis.com/google.rpc.BadRequest"

    public static let protoSchema = ProtoSchema<BadRequest>(
        "google.rpc.BadRequest",
        [.repeated("field_violations", 1, ProtoMessageCodec<FieldViolation>.self, \.fieldViolations)])
}

/// `google.protobuf.Any`: a message and the URL naming its type.
public struct ProtoAny: ProtoSchemaMessage, Hashable {
    public var typeURL: String
    public var value: [UInt8]

    public init(typeURL: String, value: [UInt8]) {
        self.typeURL = typeURL
        self.value = value
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init(typeURL: "", value: []) }

    public static let protoSchema = ProtoSchema<ProtoAny>(
        "google.protobuf.Any",
        [
            .field("type_url", 1, ProtoString.self, \.typeURL),
            .field("value", 2, ProtoBytes.self, \.value),
        ])
}

/// `google.rpc.Status`: the code, the message and the details of a failed call.
public struct RPCStatusDetails: ProtoSchemaMessage, Hashable {
    /// The trailer it travels in.
    public static let trailerKey = "grpc-status-details-bin"

    public var code: Int32
    public var message: String
    public var details: [ProtoAny]

    public init(code: Int32, message: String, details: [ProtoAny]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init(code: 0, message: "", details: []) }

    public static let protoSchema = ProtoSchema<RPCStatusDetails>(
        "google.rpc.Status",
        [
            .field("code", 1, ProtoInt32.self, \.code),
            .field("message", 2, ProtoString.self, \.message),
            .repeated("details", 3, ProtoMessageCodec<ProtoAny>.self, \.details),
        ])

    /// The ErrorInfo among the details, if any.
    public var errorInfo: ErrorInfo? { unpack(ErrorInfo.self, typeURL: ErrorInfo.typeURL) }

    /// The BadRequest among the details, if any.
    public var badRequest: BadRequest? { unpack(BadRequest.self, typeURL: BadRequest.typeURL) }

    private func unpack<M: ProtoMessage>(_ type: M.Type, typeURL: String) -> M? {
        // Receivers look only at the part after the last `/` of a type URL.
        let name = typeURL.split(separator: "/").last
        guard let any = details.first(where: { $0.typeURL.split(separator: "/").last == name }) else { return nil }
        return try? M(protoBytes: any.value)
    }
}

extension RPCError {
    /// The error with its details in the standard `grpc-status-details-bin` trailer: a
    /// `google.rpc.Status` of this error's code and message, with `errorInfo` and, when there are
    /// field violations, a `BadRequest`.
    public func withDetails(_ errorInfo: ErrorInfo, fieldViolations: [BadRequest.FieldViolation] = []) -> RPCError {
        var details = [ProtoAny(typeURL: ErrorInfo.typeURL, value: errorInfo.protoBytes)]
        if !fieldViolations.isEmpty {
            details.append(
                ProtoAny(typeURL: BadRequest.typeURL, value: BadRequest(fieldViolations: fieldViolations).protoBytes))
        }
        // The message as grpc-message carries it: stock helpers (grpc_status) refuse details whose
        // message differs from the trailer's.
        let status = RPCStatusDetails(
            code: Int32(code.rawValue), message: PercentEncoding.shortened(message), details: details)
        var error = self
        error.metadata.replace(RPCStatusDetails.trailerKey, .binary(status.protoBytes))
        return error
    }

    /// The `google.rpc.Status` the peer sent with this error, if it sent one that decodes.
    public var details: RPCStatusDetails? {
        metadata.firstBinary(RPCStatusDetails.trailerKey).flatMap { try? RPCStatusDetails(protoBytes: $0) }
    }
}
