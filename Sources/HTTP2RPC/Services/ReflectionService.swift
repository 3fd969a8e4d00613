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
    /// Fully qualified names of everything a file declares (messages, fields, oneofs, enums, enum
    /// values, services, methods) to the file declaring them.
    private(set) var fileBySymbol: [String: String] = [:]
    /// Fully qualified names of the message types.
    private(set) var messageTypes: Set<String> = []

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

    /// The name of the file that declares `symbol`: a fully qualified message, field, oneof, enum,
    /// enum value, service or method name. An enum value is named in the enum's own scope, as
    /// protobuf scopes it (`tradecore.common.v1.ORDER_SIDE_BUY`).
    public func file(declaring symbol: String) -> String? { fileBySymbol[symbol] }

    /// Whether `name` is the fully qualified name of a message type.
    public func isMessageType(_ name: String) -> Bool { messageTypes.contains(name) }

    /// The names of the set's files.
    public var fileNames: [String] { files.keys.sorted() }

    /// Adds a copy of the file named `source` whose package `package` is renamed `newPackage`, in
    /// its package and in every type name that refers into it, under the name `newName`: the same
    /// protocol served under a second package (reflection's `v1alpha` beside `v1`).
    ///
    /// - Throws: when `source` is not in the set, or its bytes are not a file descriptor.
    public mutating func addRenamedCopy(
        of source: String, package: String, as newPackage: String, named newName: String
    ) throws(ProtoDecodingError) {
        guard let file = files[source] else {
            throw ProtoDecodingError(.invalidValue("no schema file named \"\(source)\""))
        }
        let renaming = PackageRenaming(from: package, to: newPackage, fileName: newName)
        try add(try renaming.file(file.bytes))
    }

    // FileDescriptorProto: name 1, package 2, dependency 3, message_type 4, enum_type 5, service 6.
    private mutating func add(_ bytes: [UInt8]) throws(ProtoDecodingError) {
        var name = ""
        var package = ""
        var dependencies: [String] = []
        var declared = Declared()
        var services: [String] = []
        try ProtoReader.withReader(over: bytes) { reader throws(ProtoDecodingError) in
            while let tag = try reader.nextTag() {
                switch tag.fieldNumber {
                case 1: name = try reader.readString(tag)
                case 2: package = try reader.readString(tag)
                case 3: dependencies.append(try reader.readString(tag))
                case 4:
                    try reader.expect(tag, .lengthDelimited)
                    declared.add(
                        try reader.readMessage { reader throws(ProtoDecodingError) in try Self.message(&reader) })
                case 5:
                    try reader.expect(tag, .lengthDelimited)
                    declared.add(
                        try reader.readMessage { reader throws(ProtoDecodingError) in try Self.enumeration(&reader) })
                case 6:
                    try reader.expect(tag, .lengthDelimited)
                    let service = try reader.readMessage { reader throws(ProtoDecodingError) in
                        try Self.service(&reader)
                    }
                    services.append(service.symbols[0])
                    declared.add(service)
                default: try reader.skip(tag)
                }
            }
        }
        let prefix = package.isEmpty ? "" : package + "."
        files[name] = File(bytes: bytes, dependencies: dependencies, services: services.map { prefix + $0 })
        for symbol in declared.symbols { fileBySymbol[prefix + symbol] = name }
        for message in declared.messages { messageTypes.insert(prefix + message) }
    }

    /// What a descriptor declares, named relative to the scope it sits in.
    private struct Declared {
        var symbols: [String] = []
        /// Those of `symbols` that name message types.
        var messages: [String] = []

        /// Takes in what a descriptor sitting in this one's scope declares.
        mutating func add(_ inner: Declared, scope: String = "") {
            symbols += inner.symbols.map { scope + $0 }
            messages += inner.messages.map { scope + $0 }
        }
    }

    /// A `DescriptorProto`: its name (1), and in its scope its fields (2), nested messages (3),
    /// enums (4) and oneofs (8).
    private static func message(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> Declared {
        var name = ""
        var inner = Declared()
        while let tag = try reader.nextTag() {
            switch tag.fieldNumber {
            case 1: name = try reader.readString(tag)
            case 2, 8:
                try reader.expect(tag, .lengthDelimited)
                inner.symbols.append(
                    try reader.readMessage { reader throws(ProtoDecodingError) in try Self.name(&reader) })
            case 3:
                try reader.expect(tag, .lengthDelimited)
                inner.add(try reader.readMessage { reader throws(ProtoDecodingError) in try message(&reader) })
            case 4:
                try reader.expect(tag, .lengthDelimited)
                inner.add(try reader.readMessage { reader throws(ProtoDecodingError) in try enumeration(&reader) })
            default: try reader.skip(tag)
            }
        }
        var declared = Declared(symbols: [name], messages: [name])
        declared.add(inner, scope: name + ".")
        return declared
    }

    /// An `EnumDescriptorProto`: its name (1) and its values (2), which protobuf scopes beside the
    /// enum, not inside it.
    private static func enumeration(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> Declared {
        var declared = Declared(symbols: [""])
        while let tag = try reader.nextTag() {
            switch tag.fieldNumber {
            case 1: declared.symbols[0] = try reader.readString(tag)
            case 2:
                try reader.expect(tag, .lengthDelimited)
                declared.symbols.append(
                    try reader.readMessage { reader throws(ProtoDecodingError) in try name(&reader) })
            default: try reader.skip(tag)
            }
        }
        return declared
    }

    /// A `ServiceDescriptorProto`: its name (1), first, and its methods (2).
    private static func service(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> Declared {
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
        return Declared(symbols: [name] + methods.map { name + "." + $0 })
    }

    /// The name (field 1) of a field, oneof, enum value or method descriptor.
    private static func name(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> String {
        var name = ""
        while let tag = try reader.nextTag() {
            if tag.fieldNumber == 1 { name = try reader.readString(tag) } else { try reader.skip(tag) }
        }
        return name
    }
}

/// Rewrites a `FileDescriptorProto` into the same file under another package: its name (1) and
/// package (2), and the type names that refer into the package — a field's type (6) and extendee
/// (2), a method's input (2) and output (3) types — in messages (4, nested 3), extensions (7, in
/// messages 6) and services (6). Every other field is copied as it is.
struct PackageRenaming {
    let from: String
    let to: String
    let fileName: String

    func file(_ bytes: [UInt8]) throws(ProtoDecodingError) -> [UInt8] {
        try rewrite(bytes) { number, value throws(ProtoDecodingError) in
            switch number {
            case 1: return Array(fileName.utf8)
            case 2:
                let package = String(decoding: value, as: UTF8.self)
                return Array((package == from ? to : package).utf8)
            case 4: return try message(value)
            case 6: return try service(value)
            case 7: return try field(value)
            default: return nil
            }
        }
    }

    private func message(_ bytes: [UInt8]) throws(ProtoDecodingError) -> [UInt8]? {
        try rewrite(bytes) { number, value throws(ProtoDecodingError) in
            switch number {
            case 2, 6: return try field(value)
            case 3: return try message(value)
            default: return nil
            }
        }
    }

    private func field(_ bytes: [UInt8]) throws(ProtoDecodingError) -> [UInt8]? {
        try rewrite(bytes) { number, value in number == 2 || number == 6 ? typeName(value) : nil }
    }

    private func service(_ bytes: [UInt8]) throws(ProtoDecodingError) -> [UInt8]? {
        try rewrite(bytes) { number, value throws(ProtoDecodingError) in
            guard number == 2 else { return nil }
            return try rewrite(value) { number, value in number == 2 || number == 3 ? typeName(value) : nil }
        }
    }

    /// `.from.Name` as `.to.Name`; another package's name as it is.
    private func typeName(_ value: [UInt8]) -> [UInt8] {
        let name = String(decoding: value, as: UTF8.self)
        let prefix = "." + from + "."
        guard name.hasPrefix(prefix) else { return value }
        return Array(("." + to + "." + name.dropFirst(prefix.count)).utf8)
    }

    /// Copies a message field by field; a length-delimited field for which `replace` returns bytes
    /// is written with those instead.
    private func rewrite(
        _ bytes: [UInt8], _ replace: (Int, [UInt8]) throws(ProtoDecodingError) -> [UInt8]?
    ) throws(ProtoDecodingError) -> [UInt8] {
        try ProtoReader.withReader(over: bytes) { reader throws(ProtoDecodingError) in
            var writer = ProtoWriter(reservingCapacity: bytes.count + 16)
            while let tag = try reader.nextTag() {
                writer.writeTag(fieldNumber: tag.fieldNumber, wireType: tag.wireType)
                switch tag.wireType {
                case .varint: writer.writeVarint(try reader.readVarint())
                case .fixed32: writer.writeFixed32(try reader.readFixed32())
                case .fixed64: writer.writeFixed64(try reader.readFixed64())
                case .lengthDelimited:
                    let value = try reader.readBytes()
                    writer.writeLengthDelimited(try replace(tag.fieldNumber, value) ?? value)
                default: throw ProtoDecodingError(.invalidValue("a group in a file descriptor"))
                }
            }
            return writer.bytes
        }
    }
}

/// `grpc.reflection.v1.ServerReflection` and the same protocol under `v1alpha`, which older
/// clients ask for (grpcio-reflection's Python client, grpcurl before 1.8.8): lists the services the
/// server routes and hands out the descriptors of the schemas, so that grpcurl, Postman or
/// grpcio-reflection need no `.proto` file.
///
/// `v1alpha` is listed and described like `v1`: its file is `Schemas/reflection.proto` with the
/// package renamed (the two protocols differ in nothing else).
///
/// It answers from the schemas alone, which are the public contract: no data, and no token asked.
public struct ReflectionService: RPCService {
    public static let serviceName = "grpc.reflection.v1.ServerReflection"
    public static let alphaServiceName = "grpc.reflection.v1alpha.ServerReflection"
    public static let path = "/\(serviceName)/ServerReflectionInfo"
    public static let alphaPath = "/\(alphaServiceName)/ServerReflectionInfo"
    /// The name under which the `v1alpha` file is served.
    public static let alphaFileName = "reflection_v1alpha.proto"

    private let index: SchemaIndex
    private let listed: [String]

    /// Serves `index`, listing those of its services that `router` routes, and reflection itself
    /// (registered into the router after this reads it). When `index` holds the `v1` reflection
    /// file, it gains the `v1alpha` copy.
    public init(index: SchemaIndex, routing router: RPCRouter) {
        var index = index
        if let file = index.file(declaring: Self.serviceName) {
            // The file was read into the index already, so its copy reads too; were it not, v1alpha
            // would be served without a description, as before.
            try? index.addRenamedCopy(
                of: file, package: "grpc.reflection.v1", as: "grpc.reflection.v1alpha", named: Self.alphaFileName)
        }
        self.index = index
        let routed = Set(
            router.methods.compactMap { path in
                path.split(separator: "/", omittingEmptySubsequences: true).first.map(String.init)
            })
        let reflection: Set = [Self.serviceName, Self.alphaServiceName]
        listed = index.services.filter { routed.contains($0) || reflection.contains($0) }
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
            if index.isMessageType(type) {
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
