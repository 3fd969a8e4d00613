import Testing
import WireFormat

/// A hand-written codec of the kind the RPC layer writes for small protocol messages.
private struct Probe: ProtoMessage, Equatable {
    static let protoMessageName = "test.Probe"
    var name = ""
    var count: Int64 = 0
    var child: [Probe] = []

    init(name: String = "", count: Int64 = 0, child: [Probe] = []) {
        self.name = name
        self.count = count
        self.child = child
    }

    init(from reader: inout ProtoReader) throws(ProtoDecodingError) {
        while let tag = try reader.nextTag() {
            do throws(ProtoDecodingError) {
                switch tag.fieldNumber {
                case 1: name = try reader.readString(tag)
                case 2: count = try reader.readInt64(tag)
                case 3: child.append(try reader.readMessage(tag, as: Probe.self))
                default: try reader.skip(tag)
                }
            } catch {
                throw error.within(message: Self.protoMessageName, fieldNumber: tag.fieldNumber)
            }
        }
    }

    func encode(to writer: inout ProtoWriter) {
        if !name.isEmpty { writer.writeStringField(1, name) }
        if count != 0 { writer.writeInt64Field(2, count) }
        for element in child { writer.writeMessageField(3, element) }
    }
}

@Suite struct ProtoMessageTests {
    @Test func bytesRoundTripThroughTheProtocolEntryPoints() throws {
        let probe = Probe(name: "root", count: -5, child: [Probe(name: "a"), Probe(count: .max)])
        let bytes = probe.protoBytes
        #expect(try Probe(protoBytes: bytes) == probe)
        let again = try bytes.withUnsafeBytes { buffer in try Probe(protoBuffer: buffer) }
        #expect(again == probe)
    }

    @Test func errorsInNestedMessagesCarryTheirPath() {
        // Outer field 3 holds a Probe whose field 2 is a truncated varint.
        let bytes: [UInt8] = [0x1A, 0x02, 0x10, 0x80]
        #expect(throws: ProtoDecodingError.self) { try Probe(protoBytes: bytes) }
        do {
            _ = try Probe(protoBytes: bytes)
        } catch {
            #expect(error.reason == .truncated)
            #expect(error.path.map(\.fieldNumber) == [3, 2])
        }
    }

    @Test func depthLimitAppliesThroughTheEntryPoint() throws {
        var probe = Probe(name: "leaf")
        for _ in 0..<10 { probe = Probe(child: [probe]) }
        #expect(try Probe(protoBytes: probe.protoBytes, maxDepth: 10) == probe)
        #expect(throws: ProtoDecodingError.self) { try Probe(protoBytes: probe.protoBytes, maxDepth: 9) }
    }
}
