import HTTP2RPC
import Testing
import TradeCoreMessages
import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// All of `Schemas/*.proto`, parsed, with names resolved.
struct Schemas {
    var files: [ProtoFile]
    /// Fully qualified message name to its declaration.
    var messages: [String: ProtoFile.Message] = [:]
    /// Fully qualified enum name to its declaration.
    var enums: [String: ProtoFile.Enum] = [:]

    static let directory: String = {
        // Tests/TradeCoreMessagesTests/<this file> -> the package root.
        var path = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        path.removeLast(3)
        return path.joined(separator: "/") + "/Schemas"
    }()

    static func load() throws -> Schemas {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".proto") }
            .sorted()
        var files: [ProtoFile] = []
        for name in names {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
                throw ProtoFile.ParseError(file: name, line: 0, message: "unreadable")
            }
            files.append(try ProtoFile(fileName: name, text: String(decoding: data, as: UTF8.self)))
        }
        var schemas = Schemas(files: files)
        for file in files {
            for message in file.messages { schemas.messages[file.package + "." + message.name] = message }
            for enumeration in file.enums { schemas.enums[file.package + "." + enumeration.name] = enumeration }
        }
        return schemas
    }

    /// The fully qualified name a type reference in `package` denotes.
    func qualify(_ name: String, in package: String) -> String {
        name.contains(".") ? name : package + "." + name
    }

    /// The codec-side type of a field declared in `message` of `package`, or nil when the name
    /// is unknown. Types nested in the message win over the package's.
    func fieldType(_ written: String, in package: String, message: String? = nil) -> ProtoFieldType? {
        if let message, !written.contains(".") {
            let nested = package + "." + message + "." + written
            if enums[nested] != nil { return .enumeration(nested) }
            if messages[nested] != nil { return .message(nested) }
        }
        let scalars: [String: ProtoFieldType] = [
            "double": .double, "float": .float, "int32": .int32, "int64": .int64, "uint32": .uint32,
            "uint64": .uint64, "sint32": .sint32, "sint64": .sint64, "fixed32": .fixed32, "fixed64": .fixed64,
            "sfixed32": .sfixed32, "sfixed64": .sfixed64, "bool": .bool, "string": .string, "bytes": .bytes,
        ]
        if let scalar = scalars[written] { return scalar }
        if written.hasPrefix("map<") {
            let inner = written.dropFirst(4).dropLast().split(separator: ",").map {
                String($0.filter { !$0.isWhitespace })
            }
            guard inner.count == 2, let key = fieldType(inner[0], in: package),
                let value = fieldType(inner[1], in: package)
            else { return nil }
            return .map(key: key, value: value)
        }
        let qualified = qualify(written, in: package)
        if enums[qualified] != nil { return .enumeration(qualified) }
        if messages[qualified] != nil { return .message(qualified) }
        return nil
    }
}

extension ProtoEnum {
    /// The Swift cases as (name, number).
    static var swiftCases: [(name: String, number: Int32)] { allCases.map { ("\($0)", $0.rawValue) } }
}

/// Joins snake_case words into a Swift name: lowerCamelCase, with acronyms in one case
/// (`user_id` -> `userID`, `account_ids` -> `accountIDs`, `awaiting_oauth` -> `awaitingOAuth`).
func swiftName(_ snakeCase: String) -> String {
    let acronyms = ["id": "ID", "ids": "IDs", "url": "URL", "uri": "URI", "sha256": "SHA256", "oauth": "OAuth"]
    let words = snakeCase.lowercased().split(separator: "_").map(String.init)
    guard let first = words.first else { return snakeCase }
    return first + words.dropFirst().map { acronyms[$0] ?? ($0.prefix(1).uppercased() + $0.dropFirst()) }.joined()
}

/// `ORDER_SIDE_BUY` in enum `OrderSide` -> `buy`; nil when the value lacks the enum's prefix.
func swiftCaseName(enumName: String, valueName: String) -> String? {
    var prefix = ""
    for character in enumName {
        if character.isUppercase && !prefix.isEmpty { prefix += "_" }
        prefix += character.uppercased()
    }
    prefix += "_"
    guard valueName.hasPrefix(prefix) else { return nil }
    return swiftName(String(valueName.dropFirst(prefix.count)))
}

@Suite struct SchemaDriftTests {
    let schemas: Schemas
    let codecs: [String: [ProtoFieldDescriptor]]

    init() throws {
        schemas = try Schemas.load()
        var codecs: [String: [ProtoFieldDescriptor]] = [:]
        for type in TradeCoreSchema.messageTypes + TransportSchema.messageTypes {
            codecs[type.protoMessageName] = type.protoFieldDescriptors
        }
        self.codecs = codecs
    }

    @Test func schemasParseAndDeclareEveryArea() {
        #expect(
            schemas.files.map(\.fileName) == [
                "api.proto", "automation.proto", "broker_account.proto", "broker_connection.proto", "common.proto",
                "diagnostics.proto", "events.proto", "health.proto", "order.proto", "reflection.proto",
            ])
        #expect(schemas.messages.count > 80)
        #expect(
            TradeCoreSchema.messageTypes.count + TransportSchema.messageTypes.count == codecs.count,
            "two codecs claim one message name")
    }

    @Test func everySchemaMessageHasACodecAndEveryCodecASchemaMessage() {
        let declared = Set(schemas.messages.keys)
        let coded = Set(codecs.keys)
        #expect(declared.subtracting(coded).sorted() == [], "messages without a codec")
        #expect(coded.subtracting(declared).sorted() == [], "codecs without a schema message")
    }

    @Test func everyFieldMatchesInNumberNameTypeLabelAndTags() {
        for file in schemas.files {
            for message in file.messages {
                let name = file.package + "." + message.name
                guard let descriptors = codecs[name] else { continue }
                let byNumber = Dictionary(descriptors.map { ($0.number, $0) }, uniquingKeysWith: { first, _ in first })
                #expect(byNumber.count == descriptors.count, "\(name): duplicate field numbers in the codec")
                for field in message.fields {
                    guard let codec = byNumber[field.number] else {
                        Issue.record("\(name).\(field.name) = \(field.number): no codec field")
                        continue
                    }
                    let expectedType = schemas.fieldType(field.type, in: file.package, message: message.name)
                    #expect(expectedType != nil, "\(name).\(field.name): unknown type \(field.type)")
                    #expect(codec.name == field.name, "\(name) field \(field.number)")
                    #expect(codec.type == expectedType, "\(name).\(field.name)")
                    #expect(codec.label.rawValue == field.label, "\(name).\(field.name)")
                    #expect(codec.oneof == field.oneof, "\(name).\(field.name)")
                    #expect(codec.isRequired == field.tags.contains("required"), "\(name).\(field.name) [required]")
                    let format = field.tags.contains("uuid") ? "uuid" : field.tags.contains("decimal") ? "decimal" : nil
                    #expect(codec.format == format, "\(name).\(field.name) format")
                    if field.oneof == nil {
                        // The key path the codec runs through names the property this field fills.
                        let property = codec.swiftBinding?.split(separator: ".").last.map(String.init)
                        #expect(property == swiftName(field.name), "\(name).\(field.name) binding")
                    }
                }
                let declaredNumbers = Set(message.fields.map(\.number))
                for extra in descriptors where !declaredNumbers.contains(extra.number) {
                    Issue.record("\(name): codec field \(extra.name) = \(extra.number) is not in the schema")
                }
                #expect(descriptors.count <= 64, "\(name): the required-field mask covers 64 fields")
            }
        }
    }

    @Test func tagsAgreeWithTheDeclaredTypes() {
        for file in schemas.files {
            for message in file.messages {
                for field in message.fields {
                    if field.tags.contains("uuid") { #expect(field.type == "bytes", "\(message.name).\(field.name)") }
                    if field.tags.contains("decimal") {
                        #expect(field.type == "string", "\(message.name).\(field.name)")
                    }
                }
            }
        }
    }

    @Test func everyEnumMatchesItsSwiftCases() {
        var swiftEnums: [String: [(name: String, number: Int32)]] = [:]
        for type in TradeCoreSchema.enumTypes + TransportSchema.enumTypes {
            swiftEnums[type.protoEnumName] = type.swiftCases
        }
        #expect(Set(swiftEnums.keys) == Set(schemas.enums.keys))
        for (name, declaration) in schemas.enums {
            let shortName = String(name.split(separator: ".").last ?? "")
            // Our enums start with <NAME>_UNSPECIFIED = 0 and prefix their values; the standard
            // grpc.* schemas we reproduce keep their own names (UNKNOWN = 0, SERVING ...).
            let isStandard = name.hasPrefix("grpc.")
            let zero = declaration.values.first { $0.number == 0 }
            #expect(
                isStandard || zero?.name.hasSuffix("_UNSPECIFIED") == true, "\(name) must start with UNSPECIFIED = 0")
            let expected = declaration.values.filter { $0.number != 0 }.map { value in
                let swift =
                    isStandard ? swiftName(value.name) : swiftCaseName(enumName: shortName, valueName: value.name)
                return (swift ?? "?\(value.name)", Int32(value.number))
            }
            let actual = swiftEnums[name] ?? []
            #expect(actual.map(\.name) == expected.map(\.0), "\(name) case names")
            #expect(actual.map(\.number) == expected.map(\.1), "\(name) case numbers")
        }
    }

    @Test func everyRPCUsesCodedMessages() {
        let services = schemas.files.flatMap { file in file.services.map { (file.package, $0) } }
        #expect(
            services.map(\.1.name).sorted() == [
                "CommandService", "Diagnostics", "EventStreamService", "Health", "QueryService", "ServerReflection",
            ])
        for (package, service) in services {
            for rpc in service.rpcs {
                #expect(codecs[schemas.qualify(rpc.request, in: package)] != nil, "\(service.name).\(rpc.name) request")
                #expect(
                    codecs[schemas.qualify(rpc.response, in: package)] != nil, "\(service.name).\(rpc.name) response")
            }
        }
        let streaming = services.flatMap { $0.1.rpcs }.filter(\.serverStreaming).map(\.name)
        #expect(streaming.sorted() == ["PingStream", "ServerReflectionInfo", "Subscribe", "Watch"])
        #expect(services.flatMap { $0.1.rpcs }.filter(\.clientStreaming).map(\.name) == ["ServerReflectionInfo"])
        // The command registry lists exactly the requests of CommandService.
        let commands = services.filter { $0.1.name == "CommandService" }.flatMap { package, service in
            service.rpcs.map { schemas.qualify($0.request, in: package) }
        }
        #expect(Set(commands) == Set(TradeCoreSchema.commandTypes.map { $0.protoMessageName }))
        #expect(commands.count == TradeCoreSchema.commandTypes.count)
    }
}
