import Testing

@testable import HTTP2RPC

@Suite("Header encodings")
struct EncodingTests {
    @Test("base64 round-trips every length and decodes padded and unpadded input")
    func base64RoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = Base64.encode(bytes)
            #expect(!encoded.contains("="))
            #expect(Base64.decode(encoded) == bytes)
            let padded = encoded + String(repeating: "=", count: (4 - encoded.count % 4) % 4)
            #expect(Base64.decode(padded) == bytes)
        }
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8")
    }

    @Test(
        "base64 rejects what no encoder produces",
        arguments: ["a", "a===", "ab=c", "ab!d", "abd=", "aGVsbG9=x", "ab\n\n"])
    func base64Rejects(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test("grpc-message escapes non-printable bytes and percent, and decodes leniently")
    func percentEncoding() {
        #expect(PercentEncoding.encode("plain text") == "plain text")
        #expect(PercentEncoding.encode("50% off") == "50%25 off")
        #expect(PercentEncoding.encode("line\nbreak") == "line%0Abreak")
        #expect(PercentEncoding.encode("caf\u{e9}") == "caf%C3%A9")
        for text in ["", "a%b", "\u{1F600} emoji", "tab\there", "%%%"] {
            #expect(PercentEncoding.decode(PercentEncoding.encode(text)) == text)
        }
        #expect(PercentEncoding.decode("bad %zz escape %4") == "bad %zz escape %4")
    }

    @Test("grpc-timeout parses every unit and rejects malformed values")
    func timeoutParsing() {
        #expect(GRPCTimeout.parse("1H") == 3_600_000_000_000)
        #expect(GRPCTimeout.parse("2M") == 120_000_000_000)
        #expect(GRPCTimeout.parse("3S") == 3_000_000_000)
        #expect(GRPCTimeout.parse("4m") == 4_000_000)
        #expect(GRPCTimeout.parse("5u") == 5_000)
        #expect(GRPCTimeout.parse("99999999n") == 99_999_999)
        #expect(GRPCTimeout.parse("99999999H") == Int64.max, "saturates instead of overflowing")
        for bad in ["", "S", "1", "123456789S", "1x", "-1S", "1.5S", " 1S"] {
            #expect(GRPCTimeout.parse(Substring(bad)) == nil, "\(bad)")
        }
    }

    @Test("grpc-timeout formatting keeps eight digits and never shortens the deadline")
    func timeoutFormatting() {
        #expect(GRPCTimeout.format(nanoseconds: 0) == "0n")
        #expect(GRPCTimeout.format(nanoseconds: 99_999_999) == "99999999n")
        #expect(GRPCTimeout.format(nanoseconds: 100_000_000) == "100000u")
        #expect(GRPCTimeout.format(nanoseconds: 100_000_001) == "100001u")
        for nanos: Int64 in [1, 999, 1_234_567_891, 3_600_000_000_000 * 5, Int64.max] {
            let formatted = GRPCTimeout.format(nanoseconds: nanos)
            #expect(formatted.count <= 9)
            let parsed = GRPCTimeout.parse(Substring(formatted)) ?? -1
            #expect(parsed >= nanos)
        }
    }

    @Test("metadata keeps order, encodes -bin values and refuses what cannot be sent")
    func metadataWireForm() {
        var metadata: RPCMetadata = ["x-one": .string("1")]
        metadata.add("X-Two", "2")
        metadata.add("trace-bin", binary: [0, 1, 2, 255])
        metadata.add("bad key", "x")
        metadata.add("x-newline", "a\nb")
        metadata.add("content-type", "text/plain")
        metadata.add("text-bin", "not binary")
        var fields: [(String, String)] = []
        let rejected = metadata.forEachWireField { fields.append(($0, $1)) }
        #expect(fields.map(\.0) == ["x-one", "x-two", "trace-bin"])
        #expect(fields[2].1 == "AAEC/w")
        #expect(rejected == ["bad key", "x-newline", "content-type", "text-bin"])
        #expect(metadata.unsendableKeys == rejected)

        var received = RPCMetadata()
        let keptBinary = received.addReceived(name: "trace-bin", value: "AAEC/w==")
        let keptBroken = received.addReceived(name: "broken-bin", value: "%%%")
        let keptReserved = received.addReceived(name: "grpc-timeout", value: "1S")
        #expect(keptBinary && !keptBroken && !keptReserved)
        #expect(received.count == 1)
        #expect(received.firstBinary("trace-bin") == [0, 1, 2, 255])
    }

    @Test("content types: application/grpc with optional +proto and parameters")
    func contentTypes() {
        for accepted in [
            "application/grpc", "application/grpc+proto", "Application/GRPC", "application/grpc; charset=utf-8",
        ] {
            #expect(RequestHead.isGRPCProtoContentType(accepted), "\(accepted)")
        }
        for refused in ["application/json", "application/grpc+json", "text/plain", "application/grpcx", ""] {
            #expect(!RequestHead.isGRPCProtoContentType(refused), "\(refused)")
        }
    }
}
