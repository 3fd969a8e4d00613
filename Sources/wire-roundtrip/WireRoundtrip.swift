import HTTP2RPC
import TradeCoreMessages
import TradeCoreSamples
import WireFormat

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The Swift side of `Tools/interop/wire_crosscheck.py`, which drives it over pipes.
///
/// - `describe`: prints, one per line, `message <name>` and `field <message> <number> <name>
///   <label> <required 0|1> <format or ->` for every codec, and `enum <name> <numbers...>`.
/// - `reencode`: reads lines `<message name> <hex>`, decodes each with its codec and writes
///   `ok <hex of the re-encoding>` or `error <description>`, one line per input line.
/// - `samples <count> <seed>`: writes `<message name> <hex>` lines: `count` random samples of
///   every message, each decoded and then encoded by the Swift codec.
@main
enum WireRoundtrip {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        switch arguments.first {
        case "describe":
            describe()
        case "reencode":
            reencode()
        case "samples":
            let rest = Array(arguments.dropFirst())
            guard rest.count == 2, let count = Int(rest[0]), let seed = UInt64(rest[1]) else { usage() }
            samples(count: count, seed: seed)
        default:
            usage()
        }
    }

    static func usage() -> Never {
        print("usage: wire-roundtrip describe | reencode | samples <count> <seed>")
        exit(2)
    }

    /// Every message of `Schemas/*.proto`: the domain's and the transport's own.
    static let messageTypes = TradeCoreSchema.messageTypes + TransportSchema.messageTypes
    static let enumTypes = TradeCoreSchema.enumTypes + TransportSchema.enumTypes

    static var typesByName: [String: any ProtoSchemaMessage.Type] {
        Dictionary(messageTypes.map { ($0.protoMessageName, $0) }, uniquingKeysWith: { first, _ in first })
    }

    static func describe() {
        for type in messageTypes {
            print("message \(type.protoMessageName)")
            for field in type.protoFieldDescriptors {
                print(
                    "field \(type.protoMessageName) \(field.number) \(field.name) \(field.label.rawValue) \(field.isRequired ? 1 : 0) \(field.format ?? "-")"
                )
            }
        }
        for type in enumTypes {
            print("enum \(type.protoEnumName) " + type.protoNumbers.map(String.init).joined(separator: " "))
        }
    }

    static func reencode() {
        let types = typesByName
        while let line = readLine(strippingNewline: true) {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let type = types[String(parts[0])], let bytes = Hex.decode(parts[1]) else {
                print("error unreadable request")
                continue
            }
            do {
                let message = try type.init(protoBytes: bytes)
                print("ok " + Hex.encode(message.protoBytes))
            } catch {
                print("error \(error)")
            }
        }
    }

    static func samples(count: Int, seed: UInt64) {
        let encoder = SampleEncoder(messageTypes: messageTypes, enumTypes: enumTypes)
        var generator = SplitMix64(seed: seed)
        for type in messageTypes {
            for _ in 0..<count {
                let sample = encoder.sample(type.protoMessageName, using: &generator)
                do {
                    let message = try type.init(protoBytes: sample)
                    print("\(type.protoMessageName) " + Hex.encode(message.protoBytes))
                } catch {
                    // The sample encoder and the codec disagree: a bug the tests catch too.
                    print("error \(type.protoMessageName) \(error)")
                }
            }
        }
    }
}
