import Testing
import TradeCoreMessages
import WireFormat

@testable import HTTP2RPC

/// Server reflection over the schema descriptors embedded in the build.
@Suite struct ReflectionTests {
    let index: SchemaIndex
    let service: ReflectionService

    init() throws {
        index = try SchemaIndex(descriptorSet: TradeCoreSchema.descriptorSet)
        var router = RPCRouter()
        try router.unary("/tradecore.diagnostics.v1.Diagnostics/Ping") { _ in RPCServerResponse(message: []) }
        service = ReflectionService(index: index, routing: router)
    }

    private func ask(_ request: ServerReflectionRequest.Request) -> ServerReflectionResponse.Response? {
        let response = service.answer(ServerReflectionRequest(host: "h", request: request))
        #expect(response.validHost == "h")
        #expect(response.originalRequest?.request == request)
        return response.response
    }

    /// The names of the files in a file descriptor response, in order.
    private func fileNames(_ response: ServerReflectionResponse.Response?) throws -> [String] {
        guard case .fileDescriptorResponse(let files) = response else {
            Issue.record("expected files, got \(String(describing: response))")
            return []
        }
        return try files.fileDescriptorProto.map { bytes in
            try ProtoReader.withReader(over: bytes) { reader throws(ProtoDecodingError) in
                var name = ""
                while let tag = try reader.nextTag() {
                    if tag.fieldNumber == 1 { name = try reader.readString(tag) } else { try reader.skip(tag) }
                }
                return name
            }
        }
    }

    @Test func theEmbeddedDescriptorsDeclareEverySchemaFileAndMessage() {
        #expect(
            index.fileNames == [
                "api.proto", "automation.proto", "broker_account.proto", "broker_connection.proto", "common.proto",
                "diagnostics.proto", "events.proto", "health.proto", "order.proto", "reflection.proto",
            ])
        // A message added to Schemas/ without regenerating the descriptors fails here.
        for type in TradeCoreSchema.messageTypes + TransportSchema.messageTypes {
            #expect(index.file(declaring: type.protoMessageName) != nil, "\(type.protoMessageName)")
        }
        for type in TradeCoreSchema.enumTypes + TransportSchema.enumTypes {
            #expect(index.file(declaring: type.protoEnumName) != nil, "\(type.protoEnumName)")
        }
        #expect(index.file(declaring: "tradecore.api.v1.CommandService.CreateOrder") == "api.proto")
    }

    @Test func listsTheRoutedServicesAndReflectionItself() {
        guard case .listServicesResponse(let list) = ask(.listServices("*")) else {
            Issue.record("no service list")
            return
        }
        #expect(
            list.service.map(\.name) == [
                "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
                "tradecore.diagnostics.v1.Diagnostics",
            ])
    }

    /// grpcurl and protobuf's descriptor pools ask for the file of a field, a oneof or an enum value
    /// as well as of a type; an enum value lives in the scope of its enum's parent.
    @Test func fieldsOneofsAndEnumValuesNameTheirFile() throws {
        for (symbol, file) in [
            ("tradecore.order.v1.CreateOrder.quantity", "order.proto"),
            ("tradecore.events.v1.SubscribeRequest.start", "events.proto"),
            ("tradecore.common.v1.ORDER_SIDE_BUY", "common.proto"),
            ("grpc.health.v1.HealthCheckResponse.SERVING", "health.proto"),
        ] {
            #expect(try fileNames(ask(.fileContainingSymbol(symbol))).first == file, "\(symbol)")
        }
        // Values are not members of their enum, and a field is not a message type.
        #expect(index.file(declaring: "tradecore.common.v1.OrderSide.ORDER_SIDE_BUY") == nil)
        #expect(!index.isMessageType("tradecore.order.v1.CreateOrder.quantity"))
        #expect(index.isMessageType("tradecore.order.v1.CreateOrder"))
    }

    /// v1alpha is the v1 file under another package: the service, its method and every type it
    /// names resolve to that copy, and nothing else in it differs.
    @Test func theV1alphaServiceIsDescribedByARenamedCopy() throws {
        let files = try fileNames(ask(.fileContainingSymbol("grpc.reflection.v1alpha.ServerReflection")))
        #expect(files == [ReflectionService.alphaFileName])
        #expect(
            try fileNames(ask(.fileContainingSymbol("grpc.reflection.v1alpha.ServerReflectionRequest")))
                == [ReflectionService.alphaFileName])
        guard case .fileDescriptorResponse(let alpha) = ask(.fileByFilename(ReflectionService.alphaFileName)),
            case .fileDescriptorResponse(let v1) = ask(.fileByFilename("reflection.proto"))
        else {
            Issue.record("a reflection file is missing")
            return
        }
        let copy = String(decoding: alpha.fileDescriptorProto[0], as: UTF8.self)
        let original = String(decoding: v1.fileDescriptorProto[0], as: UTF8.self)
        #expect(copy.contains(".grpc.reflection.v1alpha.ServerReflectionRequest"))
        #expect(!copy.contains(".grpc.reflection.v1."), "a type name still points into v1")
        // Renaming back gives the original bytes: only the names changed.
        let back = try PackageRenaming(
            from: "grpc.reflection.v1alpha", to: "grpc.reflection.v1", fileName: "reflection.proto"
        ).file(alpha.fileDescriptorProto[0])
        #expect(String(decoding: back, as: UTF8.self) == original)
        // Asking for a service is not asking for a message type's extensions.
        guard
            case .errorResponse(let error) = ask(.allExtensionNumbersOfType("grpc.reflection.v1alpha.ServerReflection"))
        else {
            Issue.record("a service was answered as a message type")
            return
        }
        #expect(error.errorCode == 5)
    }

    @Test func aFileComesWithEveryFileItImportsOnce() throws {
        let names = try fileNames(ask(.fileByFilename("api.proto")))
        #expect(names.first == "api.proto")
        #expect(
            Set(names)
                == Set([
                    "api.proto", "automation.proto", "broker_account.proto", "broker_connection.proto",
                    "common.proto", "events.proto", "order.proto",
                ]))
        #expect(names.count == Set(names).count, "each file once")
        #expect(try fileNames(ask(.fileContainingSymbol("tradecore.order.v1.CreateOrder"))).first == "order.proto")
        #expect(try fileNames(ask(.fileContainingSymbol("grpc.health.v1.Health.Check"))) == ["health.proto"])
        #expect(
            try fileNames(ask(.fileContainingSymbol("grpc.health.v1.HealthCheckResponse.ServingStatus")))
                == ["health.proto"])
    }

    /// The rules of the schemas are in their comments, which tools show from the descriptors.
    @Test func theDescriptorsCarryTheSchemasComments() throws {
        guard case .fileDescriptorResponse(let files) = ask(.fileContainingSymbol("tradecore.order.v1.CreateOrder"))
        else {
            Issue.record("no file for CreateOrder")
            return
        }
        let order = String(decoding: files.fileDescriptorProto[0], as: UTF8.self)
        #expect(order.contains("Creates an order in PENDING state. The server assigns the order id."))
    }

    @Test func unknownNamesAndExtensionsAreErrorsOnTheStream() {
        for request: ServerReflectionRequest.Request in [
            .fileByFilename("nothing.proto"), .fileContainingSymbol("tradecore.Nothing"),
            .fileContainingExtension(
                ExtensionRequest(containingType: "tradecore.order.v1.CreateOrder", extensionNumber: 100)),
            .allExtensionNumbersOfType("tradecore.Nothing"),
        ] {
            guard case .errorResponse(let error) = ask(request) else {
                Issue.record("\(request) was answered")
                continue
            }
            #expect(error.errorCode == 5, "\(request)")
            #expect(!error.errorMessage.isEmpty)
        }
        guard
            case .allExtensionNumbersResponse(let numbers) = ask(
                .allExtensionNumbersOfType("tradecore.order.v1.CreateOrder"))
        else {
            Issue.record("a known type has no extension list")
            return
        }
        #expect(numbers.baseTypeName == "tradecore.order.v1.CreateOrder" && numbers.extensionNumber.isEmpty)
        let empty = service.answer(ServerReflectionRequest(request: nil))
        guard case .errorResponse(let error) = empty.response else {
            Issue.record("an empty request was answered")
            return
        }
        #expect(error.errorCode == 3)
    }
}
