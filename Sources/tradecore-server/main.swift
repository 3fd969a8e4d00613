import HTTP2RPC
import Logging

var router = RPCRouter()
try router.unary("/tradecore.diagnostics.v1.Diagnostics/Echo") { request in
    RPCServerResponse(message: request.message)
}
try router.serverStreaming("/tradecore.diagnostics.v1.Diagnostics/Stream") { request, writer in
    for _ in 0..<10 { try await writer.write(request.message) }
    return [:]
}
var config = RPCServerConfiguration(host: "127.0.0.1", port: 50051)
let server = RPCServer(configuration: config, router: router)
try await server.run()
