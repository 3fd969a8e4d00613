import HTTP2RPC
import Testing
import TradeCoreMessages
import WireFormat

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
            list.service.map(\.name) == ["grpc.reflection.v1.ServerReflection", "tradecore.diagnostics.v1.Diagnostics"])
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
