import Foundation
import Testing
import WireFormat

struct HexTests {
    @Test("every byte is written as printf's %02x writes it")
    func everyByteAsPrintfWritesIt() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(Hex.encode(bytes) == bytes.map { String(format: "%02x", $0) }.joined())
        #expect(Hex.encode([UInt8]()) == "")
    }

    @Test("decoding takes either case back to the bytes and refuses odd lengths and other characters")
    func decoding() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        #expect(Hex.decode(Hex.encode(bytes).uppercased()) == bytes)
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("0g") == nil)
        #expect(Hex.decode("é1") == nil)
    }
}
