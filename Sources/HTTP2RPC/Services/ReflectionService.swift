import WireFormat

/// The files of a `google.protobuf.FileDescriptorSet` and the symbols each declares: what server
/// reflection answers from.
public struct SchemaIndex: Sendable {
    struct File: Sendable {
        /// The serialized `FileDescriptorProto`, as protoc wrote it.
        let bytes: [UInt8]
        let dependencies: [String]
        /// Fully qualified names of the file's services.
        let services: [String]
    }

    private(set) var files: [String: File] = [:]
    /// Fully qualified message, enum, service and method names to the file declaring them.
    private(set) var fileBySymbol: [String: String] = [:]

    /// Reads `descriptorSet`, a serialized `FileDescriptorSet` (field 1: the files).
    public init(descriptorSet: [UInt8]) throws(ProtoDecodingError) {
        let files = try ProtoReader.withReader(over: descriptorSet) { reader throws(ProtoDecodingError) in
            var files: [[UInt8]] = []
            while let tag = try reader.nextTag() {
                if tag.fieldNumber == 1 { files.append(try reader.readBytes(tag)) } else { try reader.skip(tag) }
            }
            return files
        }
        for bytes in files { try add(bytes) }
    }

    /// Every service the set declares.
    public var services: [String] { files.values.flatMap(\.services).sorted() }

    /// The file named `name` first, then every file it imports, directly or not, each once.
    func fileWithDependencies(_ name: String) -> [[UInt8]]? {
        guard files[name] != nil else { return nil }
        var seen: Set<String> = []
        var pending = [name]
        var result: [[UInt8]] = []
        while let next = pending.popLast() {
            guard let file = files[next], seen.insert(next).inserted else { continue }
            result.append(file.bytes)
            pending.append(contentsOf: file.dependencies.reversed())
        }
        return result
    }

    /// The name of the file that declares `symbol`, a fully qualified message, enum, service or
    /// method name.
    public func file(declaring symbol: String) -> String? { fileBySymbol[symbol] }

    /// The names of the set's files.
    public var fileNames: [String] { files.keys.sorted() }

    // FileDescriptorProto: name 1, package 2, dependency 3, message_type 4, enum_type 5, service 6.
    private mutating func add(_ bytes: [UInt8]) throws(ProtoDecodingError) {
        var name = ""
        var package = ""
        var dependencies: [String] = []
        var symbols: [String] = []
        var services: [String] = []
        try ProtoReader.withReader(over: bytes) { reader throws(ProtoDecodingError) in
            var messages: [(name: String, nested: [String])] = []
            var enums: [String] = []
            var serviceMethods: [(name: String, methods: [String])] = []
            while let tag = try reader.nextTag() {
                switch tag.fieldNumber {
                case 1: name = try reader.readString(tag)
                case 2: package = try reader.readString(tag)
                case 3: dependencies.append(try reader.readString(tag))
                case 4:
                    try reader.expect(tag, .lengthDelimited)
                    messages.append(
                        try reader.readMessage { reader throws(ProtoDecodingError) in try Self.message(&reader) })
                case 5:
                    try reader.expect(tag, .lengthDelimited)
                    enums.append(try reader.readMessage { reader throws(ProtoDecodingError) in try Self.name(&reader) })
                case 6:
                    try reader.expect(tag, .lengthDelimited)
                    serviceMethods.append(
                        try reader.readMessage { reader throws(ProtoDecodingError) in try Self.service(&reader) })
                default: try reader.skip(tag)
                }
            }
            let prefix = package.isEmpty ? "" : package + "."
            for message in messages { symbols += ([message.name] + message.nested).map { prefix + $0 } }
            symbols += enums.map { prefix + $0 }
            for service in serviceMethods {
                services.append(prefix + service.name)
                symbols.append(prefix + service.name)
                symbols += service.methods.map { prefix + service.name + "." + $0 }
            }
        }
        files[name] = File(bytes: bytes, dependencies: dependencies, services: services)
        for symbol in symbols { fileBySymbol[symbol] = name }
    }

    /// A `DescriptorProto`'s name (1) and the names, relative to it, of the messages (3) and enums
    /// (4) nested in it at any depth.
    private static func message(
        _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> (
        name: String, nested: [String]
    ) {
        var name = ""
        var inner: [String] = []
        while let tag = try reader.nextTag() {
            switch tag.fieldNumber {
            case 1: name = try reader.readString(tag)
            case 3:
                try reader.expect(tag, .lengthDelimited)
                let nested = try reader.readMessage { reader throws(ProtoDecodingError) in try message(&reader) }
                inner += [nested.name] + nested.nested.map { nested.name + "." + $0 }
            case 4:
                try reader.expect(tag, .lengthDelimited)
                inner.append(try reader.readMessage { reader throws(ProtoDecodingError) in try Self.name(&reader) })
            default: try reader.skip(tag)
            }
        }
        return (name, inner.map { name + "." + $0 })
    }

    /// A `ServiceDescriptorProto`'s name (1) and its methods' names (2, each a name at 1).
    private static func service(
        _ reader: inout ProtoReader
    ) throws(ProtoDecodingError) -> (
        name: String, methods: [String]
    ) {
        var name = ""
        var methods: [String] = []
        while let tag = try reader.nextTag() {
            switch tag.fieldNumber {
            case 1: name = try reader.readString(tag)
            case 2:
                try reader.expect(tag, .lengthDelimited)
                methods.append(try reader.readMessage { reader throws(ProtoDecodingError) in try Self.name(&reader) })
            default: try reader.skip(tag)
            }
        }
        return (name, methods)
    }

    /// The name (field 1) of an enum or method descriptor.
    private static func name(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> String {
        var name = ""
        while let tag = try reader.nextTag() {
            if tag.fieldNumber == 1 { name = try reader.readString(tag) } else { try reader.skip(tag) }
        }
        return name
    }
}

/// `grpc.reflection.v1.ServerReflection` (and the same protocol under `v1alpha`, which older
/// clients ask for): lists the services the server routes and hands out the descriptors of the
/// schemas, so that grpcurl, Postman or grpcio-reflection need no `.proto` file.
///
/// It answers from the schemas alone, which are the public contract: no data, and no token asked.
public struct ReflectionService: RPCService {
    public static let serviceName = "grpc.reflection.v1.ServerReflection"
    public static let path = "/\(serviceName)/ServerReflectionInfo"
    public static let alphaPath = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"

    private let index: SchemaIndex
    private let listed: [String]

    /// Serves `index`, listing those of its services that `router` routes, and reflection itself
    /// (registered into the router after this reads it).
    public init(index: SchemaIndex, routing router: RPCRouter) {
        self.index = index
        let routed = Set(
            router.methods.compactMap { path in
                path.split(separator: "/", omittingEmptySubsequences: true).first.map(String.init)
            })
        listed = index.services.filter { routed.contains($0) || $0 == Self.serviceName }
    }

    public func register(into router: inout RPCRouter) throws(RPCRouter.DuplicateMethodError) {
        let answer = self.answer
        for path in [Self.path, Self.alphaPath] {
            try router.bidirectional(path) { requests, _, writer in
                for try await bytes in requests {
                    let request = try decode(ServerReflectionRequest.self, bytes)
                    try await writer.write(answer(request).protoBytes)
                }
                return RPCMetadata()
            }
        }
    }

    /// The response to one request; a symbol or file it does not know is an error response on
    /// the stream (NOT_FOUND), as the protocol has it, not the end of the call.
    public func answer(_ request: ServerReflectionRequest) -> ServerReflectionResponse {
        func files(_ found: [[UInt8]]?, _ missing: String) -> ServerReflectionResponse.Response {
            guard let found else { return .errorResponse(ErrorResponse(errorCode: 5, errorMessage: missing)) }
            return .fileDescriptorResponse(FileDescriptorResponse(fileDescriptorProto: found))
        }
        let response: ServerReflectionResponse.Response
        switch request.request {
        case .listServices:
            response = .listServicesResponse(ListServiceResponse(service: listed.map { ServiceResponse(name: $0) }))
        case .fileByFilename(let name):
            response = files(index.fileWithDependencies(name), "no schema file named \"\(name)\"")
        case .fileContainingSymbol(let symbol):
            let file = index.file(declaring: symbol)
            response = files(file.flatMap(index.fileWithDependencies), "no schema declares the symbol \"\(symbol)\"")
        case .fileContainingExtension(let wanted):
            response = .errorResponse(
                ErrorResponse(
                    errorCode: 5,
                    errorMessage: "no extension \(wanted.extensionNumber) of \"\(wanted.containingType)\": "
                        + "the schemas declare no extensions"))
        case .allExtensionNumbersOfType(let type):
            if index.file(declaring: type) != nil {
                response = .allExtensionNumbersResponse(ExtensionNumberResponse(baseTypeName: type))
            } else {
                response = .errorResponse(ErrorResponse(errorCode: 5, errorMessage: "no message type \"\(type)\""))
            }
        case nil:
            response = .errorResponse(
                ErrorResponse(errorCode: 3, errorMessage: "the request names none of the reflection questions"))
        }
        return ServerReflectionResponse(validHost: request.host, originalRequest: request, response: response)
    }
}
