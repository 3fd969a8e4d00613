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
}
