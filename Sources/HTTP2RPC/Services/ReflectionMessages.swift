import WireFormat

// The messages of Schemas/reflection.proto (grpc.reflection.v1), which the transport serves.

/// `grpc.reflection.v1.ServerReflectionRequest`.
public struct ServerReflectionRequest: ProtoSchemaMessage, Hashable {
    /// The `message_request` oneof.
    public enum Request: Sendable, Hashable {
        case fileByFilename(String)
        case fileContainingSymbol(String)
        case fileContainingExtension(ExtensionRequest)
        case allExtensionNumbersOfType(String)
        case listServices(String)
    }

    public var host: String
    public var request: Request?

    public init(host: String = "", request: Request?) {
        self.host = host
        self.request = request
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init(request: nil) }

    public static let protoSchema = ProtoSchema<ServerReflectionRequest>(
        "grpc.reflection.v1.ServerReflectionRequest",
        [
            .field("host", 1, ProtoString.self, \.host),
            .oneof(
                "message_request", "file_by_filename", 3, ProtoString.self,
                get: { if case .fileByFilename(let value) = $0.request { value } else { nil } },
                set: { $0.request = .fileByFilename($1) }),
            .oneof(
                "message_request", "file_containing_symbol", 4, ProtoString.self,
                get: { if case .fileContainingSymbol(let value) = $0.request { value } else { nil } },
                set: { $0.request = .fileContainingSymbol($1) }),
            .oneof(
                "message_request", "file_containing_extension", 5, ProtoMessageCodec<ExtensionRequest>.self,
                get: { if case .fileContainingExtension(let value) = $0.request { value } else { nil } },
                set: { $0.request = .fileContainingExtension($1) }),
            .oneof(
                "message_request", "all_extension_numbers_of_type", 6, ProtoString.self,
                get: { if case .allExtensionNumbersOfType(let value) = $0.request { value } else { nil } },
                set: { $0.request = .allExtensionNumbersOfType($1) }),
            .oneof(
                "message_request", "list_services", 7, ProtoString.self,
                get: { if case .listServices(let value) = $0.request { value } else { nil } },
                set: { $0.request = .listServices($1) }),
        ])
}

/// `grpc.reflection.v1.ExtensionRequest`.
public struct ExtensionRequest: ProtoSchemaMessage, Hashable {
    public var containingType: String
    public var extensionNumber: Int32

    public init(containingType: String = "", extensionNumber: Int32 = 0) {
        self.containingType = containingType
        self.extensionNumber = extensionNumber
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<ExtensionRequest>(
        "grpc.reflection.v1.ExtensionRequest",
        [
            .field("containing_type", 1, ProtoString.self, \.containingType),
            .field("extension_number", 2, ProtoInt32.self, \.extensionNumber),
        ])
}

/// `grpc.reflection.v1.ServerReflectionResponse`.
public struct ServerReflectionResponse: ProtoSchemaMessage, Hashable {
    /// The `message_response` oneof.
    public enum Response: Sendable, Hashable {
        case fileDescriptorResponse(FileDescriptorResponse)
        case allExtensionNumbersResponse(ExtensionNumberResponse)
        case listServicesResponse(ListServiceResponse)
        case errorResponse(ErrorResponse)
    }

    public var validHost: String
    public var originalRequest: ServerReflectionRequest?
    public var response: Response?

    public init(validHost: String = "", originalRequest: ServerReflectionRequest?, response: Response?) {
        self.validHost = validHost
        self.originalRequest = originalRequest
        self.response = response
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init(originalRequest: nil, response: nil) }

    public static let protoSchema = ProtoSchema<ServerReflectionResponse>(
        "grpc.reflection.v1.ServerReflectionResponse",
        [
            .field("valid_host", 1, ProtoString.self, \.validHost),
            .field("original_request", 2, ProtoMessageCodec<ServerReflectionRequest>.self, \.originalRequest),
            .oneof(
                "message_response", "file_descriptor_response", 4, ProtoMessageCodec<FileDescriptorResponse>.self,
                get: { if case .fileDescriptorResponse(let value) = $0.response { value } else { nil } },
                set: { $0.response = .fileDescriptorResponse($1) }),
            .oneof(
                "message_response", "all_extension_numbers_response", 5,
                ProtoMessageCodec<ExtensionNumberResponse>.self,
                get: { if case .allExtensionNumbersResponse(let value) = $0.response { value } else { nil } },
                set: { $0.response = .allExtensionNumbersResponse($1) }),
            .oneof(
                "message_response", "list_services_response", 6, ProtoMessageCodec<ListServiceResponse>.self,
                get: { if case .listServicesResponse(let value) = $0.response { value } else { nil } },
                set: { $0.response = .listServicesResponse($1) }),
            .oneof(
                "message_response", "error_response", 7, ProtoMessageCodec<ErrorResponse>.self,
                get: { if case .errorResponse(let value) = $0.response { value } else { nil } },
                set: { $0.response = .errorResponse($1) }),
        ])
}

/// `grpc.reflection.v1.FileDescriptorResponse`.
public struct FileDescriptorResponse: ProtoSchemaMessage, Hashable {
    public var fileDescriptorProto: [[UInt8]]

    public init(fileDescriptorProto: [[UInt8]] = []) { self.fileDescriptorProto = fileDescriptorProto }
    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<FileDescriptorResponse>(
        "grpc.reflection.v1.FileDescriptorResponse",
        [.repeated("file_descriptor_proto", 1, ProtoBytes.self, \.fileDescriptorProto)])
}

/// `grpc.reflection.v1.ExtensionNumberResponse`.
public struct ExtensionNumberResponse: ProtoSchemaMessage, Hashable {
    public var baseTypeName: String
    public var extensionNumber: [Int32]

    public init(baseTypeName: String = "", extensionNumber: [Int32] = []) {
        self.baseTypeName = baseTypeName
        self.extensionNumber = extensionNumber
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<ExtensionNumberResponse>(
        "grpc.reflection.v1.ExtensionNumberResponse",
        [
            .field("base_type_name", 1, ProtoString.self, \.baseTypeName),
            .repeated("extension_number", 2, ProtoInt32.self, \.extensionNumber),
        ])
}

/// `grpc.reflection.v1.ListServiceResponse`.
public struct ListServiceResponse: ProtoSchemaMessage, Hashable {
    public var service: [ServiceResponse]

    public init(service: [ServiceResponse] = []) { self.service = service }
    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<ListServiceResponse>(
        "grpc.reflection.v1.ListServiceResponse",
        [.repeated("service", 1, ProtoMessageCodec<ServiceResponse>.self, \.service)])
}

/// `grpc.reflection.v1.ServiceResponse`.
public struct ServiceResponse: ProtoSchemaMessage, Hashable {
    public var name: String

    public init(name: String = "") { self.name = name }
    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<ServiceResponse>(
        "grpc.reflection.v1.ServiceResponse", [.field("name", 1, ProtoString.self, \.name)])
}

/// `grpc.reflection.v1.ErrorResponse`.
public struct ErrorResponse: ProtoSchemaMessage, Hashable {
    public var errorCode: Int32
    public var errorMessage: String

    public init(errorCode: Int32 = 0, errorMessage: String = "") {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }

    public init(protoPlaceholder: ProtoPlaceholder) { self.init() }

    public static let protoSchema = ProtoSchema<ErrorResponse>(
        "grpc.reflection.v1.ErrorResponse",
        [
            .field("error_code", 1, ProtoInt32.self, \.errorCode),
            .field("error_message", 2, ProtoString.self, \.errorMessage),
        ])
}
