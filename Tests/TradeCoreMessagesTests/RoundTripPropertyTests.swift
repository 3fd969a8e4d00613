import Testing
import TradeCoreMessages
import TradeCoreSamples
import WireFormat

@Suite struct RoundTripPropertyTests {
    static let encoder = SampleEncoder()
    static let typeNames = TradeCoreSchema.messageTypes.map { $0.protoMessageName }

    /// Decodes `bytes` as `type` and encodes the result again.
    func reencode(_ type: any ProtoSchemaMessage.Type, _ bytes: [UInt8]) throws -> [UInt8] {
        try type.init(protoBytes: bytes).protoBytes
    }

    @Test(arguments: typeNames)
    func randomSamplesDecodeAndReencodeToTheSameBytes(_ name: String) throws {
        let type = try #require(TradeCoreSchema.messageTypes.first { $0.protoMessageName == name })
        // A seed from the name that is the same in every run (Swift's hashValue is not), so a
        // failure can be reproduced.
        let seed = name.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        var generator = SplitMix64(seed: seed)
        for _ in 0..<200 {
            let bytes = Self.encoder.sample(name, using: &generator)
            let again = try reencode(type, bytes)
            #expect(again == bytes, "\(name): \(bytes)")
            #expect(try reencode(type, again) == again)
        }
    }

    @Test(arguments: typeNames)
    func damagedSamplesFailCleanly(_ name: String) throws {
        let type = try #require(TradeCoreSchema.messageTypes.first { $0.protoMessageName == name })
        var generator = SplitMix64(seed: 42)
        for _ in 0..<200 {
            var bytes = Self.encoder.sample(name, using: &generator)
            guard !bytes.isEmpty else { continue }
            switch Int.random(in: 0..<3, using: &generator) {
            case 0:
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(
                    in: 1...255, using: &generator)
            case 1: bytes.removeLast(Int.random(in: 1...bytes.count, using: &generator))
            default:
                bytes.insert(
                    UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...bytes.count, using: &generator)
                )
            }
            // Either outcome is fine: what decodes must re-encode to something that decodes again,
            // and what fails must fail with a decoding error that starts at this message.
            do {
                let again = try reencode(type, bytes)
                #expect(try reencode(type, again) == again)
            } catch let error as ProtoDecodingError {
                #expect(error.path.first?.message == name, "\(error)")
            }
        }
    }
}
