// libFuzzer entry point for the transport's text parsers: `grpc-timeout`, base64 of `-bin`
// metadata, and the percent-encoding of `grpc-message`. Built by run_fuzz.sh together with
// their source files from Sources/HTTP2RPC/Core, which import nothing.
//
// Oracles, beyond "no crash, no hang": a parsed timeout is not negative and formats to a value
// that parses again; what base64 decodes re-encodes to text that decodes to the same bytes;
// percent-encoding any string and decoding the result gives the string back.

#if canImport(Glibc)
    import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)

    if let nanoseconds = GRPCTimeout.parse(Substring(text)) {
        require(nanoseconds >= 0, "a parsed timeout is negative")
        require(GRPCTimeout.parse(Substring(GRPCTimeout.format(nanoseconds: nanoseconds))) != nil, "timeout round trip")
    }

    if let decoded = Base64.decode(text) {
        require(Base64.decode(Base64.encode(decoded)) == decoded, "base64 round trip")
    }
    require(Base64.decode(Base64.encode(bytes)) == bytes, "base64 of arbitrary bytes")

    require(PercentEncoding.decode(PercentEncoding.encode(text)) == text, "percent-encoding round trip")
    _ = PercentEncoding.decode(text)
    return 0
}
