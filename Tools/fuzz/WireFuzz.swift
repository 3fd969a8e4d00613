// libFuzzer entry point for the wire codecs.
//
// By default every input is decoded as every message of the schemas (the domain's, and the
// transport's own health and diagnostics messages). With WIRE_FUZZ_SELECT=1
// the first byte picks one message type and the rest is decoded as that type only: about 80
// times more inputs per second, for long runs.
//
// Oracle, beyond "no crash, no hang, no oversized allocation" (ASan and libFuzzer's
// -malloc_limit_mb): whatever decodes must re-encode to bytes that decode again and re-encode
// identically. Built by run_fuzz.sh with `swiftc -sanitize=fuzzer,address`.

import TradeCoreMessages
import TransportMessages
import WireFormat

#if canImport(Glibc)
    import Glibc
#endif

private let messageTypes = TradeCoreSchema.messageTypes + TransportSchema.messageTypes
private let selectOneType = getenv("WIRE_FUZZ_SELECT").map { String(cString: $0) == "1" } ?? false

private func check(_ type: any ProtoSchemaMessage.Type, _ input: UnsafeRawBufferPointer) {
    guard let message = try? type.init(protoBuffer: input) else { return }
    let encoded = message.protoBytes
    let again = try? type.init(protoBytes: encoded)
    require(again?.protoBytes == encoded, "re-encoding of \(type.protoMessageName) is not stable")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let types = messageTypes
    if selectOneType {
        guard let selector = input.first else { return 0 }
        check(types[Int(selector) % types.count], UnsafeRawBufferPointer(rebasing: input.dropFirst()))
    } else {
        for type in types { check(type, input) }
    }
    return 0
}
