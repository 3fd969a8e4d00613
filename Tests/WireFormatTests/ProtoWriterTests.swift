import Testing
import WireFormat

@Suite struct ProtoWriterTests {
    private func varintBytes(_ value: UInt64) -> [UInt8] {
        var writer = ProtoWriter()
        writer.writeVarint(value)
        return writer.bytes
    }

    @Test func varintsUseTheSpecifiedByteLayout() {
        #expect(varintBytes(0) == [0x00])
        #expect(varintBytes(1) == [0x01])
        #expect(varintBytes(127) == [0x7F])
        #expect(varintBytes(128) == [0x80, 0x01])
        #expect(varintBytes(300) == [0xAC, 0x02])
        #expect(varintBytes(UInt64(UInt32.max)) == [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        #expect(varintBytes(.max) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }

    @Test func varintSizeMatchesWhatIsWritten() {
        var value: UInt64 = 1
        for _ in 0..<64 {
            #expect(ProtoWriter.varintSize(value) == varintBytes(value).count)
            #expect(ProtoWriter.varintSize(value - 1) == varintBytes(value - 1).count)
            value &<<= 1
        }
        #expect(ProtoWriter.varintSize(.max) == 10)
    }

    @Test func negativeInt32IsSignExtendedToTenBytes() {
        var writer = ProtoWriter()
        writer.writeInt32Field(1, -1)
        #expect(writer.bytes == [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }

    @Test func zigzagMapsSmallMagnitudesToSmallNumbers() {
        #expect(ZigZag.encode(Int64(0)) == 0)
        #expect(ZigZag.encode(Int64(-1)) == 1)
        #expect(ZigZag.encode(Int64(1)) == 2)
        #expect(ZigZag.encode(Int64(-2)) == 3)
        #expect(ZigZag.encode(Int64.max) == UInt64.max - 1)
        #expect(ZigZag.encode(Int64.min) == UInt64.max)
        #expect(ZigZag.encode(Int32.min) == UInt32.max)
        #expect(ZigZag.encode(Int32.max) == UInt32.max - 1)
        for value: Int64 in [0, 1, -1, 12345, -12345, .max, .min] {
            #expect(ZigZag.decode(ZigZag.encode(value)) == value)
        }
        for value: Int32 in [0, 1, -1, 12345, -12345, .max, .min] {
            #expect(ZigZag.decode(ZigZag.encode(value)) == value)
        }
    }

    @Test func fixedWidthValuesAreLittleEndian() {
        var writer = ProtoWriter()
        writer.writeFixed32Field(1, 0x0403_0201)
        writer.writeFixed64Field(2, 0x0807_0605_0403_0201)
        #expect(writer.bytes == [0x0D, 1, 2, 3, 4, 0x11, 1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func stringAndBytesFieldsCarryTagAndLength() {
        var writer = ProtoWriter()
        writer.writeStringField(2, "héllo")
        writer.writeBytesField(3, [0xDE, 0xAD])
        #expect(writer.bytes == [0x12, 6, 0x68, 0xC3, 0xA9, 0x6C, 0x6C, 0x6F, 0x1A, 2, 0xDE, 0xAD])
    }

    @Test(arguments: [0, 1, 127, 128, 300, 16_383, 16_384, 70_000])
    func nestedMessageLengthIsWidenedInPlace(bodySize: Int) throws {
        var writer = ProtoWriter()
        writer.writeVarintField(1, 7)
        writer.writeMessageField(2) { (nested: inout ProtoWriter) in
            // The writer does not look into the body, so any bytes of the right count will do.
            for _ in 0..<bodySize { nested.writeVarint(0) }
        }
        writer.writeVarintField(4, 9)
        let bytes = writer.bytes
        #expect(bytes.count == 2 + 1 + ProtoWriter.varintSize(UInt64(bodySize)) + bodySize + 2)

        try bytes.withUnsafeBytes { buffer in
            var reader = ProtoReader(buffer)
            #expect(try reader.nextTag() == ProtoTag(fieldNumber: 1, wireType: .varint))
            #expect(try reader.readVarint() == 7)
            #expect(try reader.nextTag() == ProtoTag(fieldNumber: 2, wireType: .lengthDelimited))
            let body = try reader.readLengthDelimited()
            #expect(body.count == bodySize)
            #expect(try reader.nextTag() == ProtoTag(fieldNumber: 4, wireType: .varint))
            #expect(try reader.readVarint() == 9)
            #expect(try reader.nextTag() == nil)
        }
    }

    @Test func packedFieldWritesOneTagAndNothingWhenEmpty() {
        var writer = ProtoWriter()
        writer.writePackedField(4, [3, 270, 86_942] as [UInt64]) { $0.writeVarint($1) }
        #expect(writer.bytes == [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])

        var empty = ProtoWriter()
        empty.writePackedField(4, [] as [UInt64]) { $0.writeVarint($1) }
        #expect(empty.bytes.isEmpty)
    }
}
