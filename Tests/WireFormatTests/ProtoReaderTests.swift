import Testing
import WireFormat

/// Runs `body` with a reader over `bytes`.
func read<T>(
    _ bytes: [UInt8], maxDepth: Int = ProtoReader.defaultMaxDepth,
    _ body: (inout ProtoReader) throws(ProtoDecodingError) -> T
) throws(ProtoDecodingError) -> T {
    try ProtoReader.withReader(over: bytes, maxDepth: maxDepth, body)
}

/// The reason `body` failed with, or nil when it succeeded.
func failure<T>(
    _ bytes: [UInt8], maxDepth: Int = ProtoReader.defaultMaxDepth,
    _ body: (inout ProtoReader) throws(ProtoDecodingError) -> T
) -> ProtoDecodingError.Reason? {
    do {
        _ = try read(bytes, maxDepth: maxDepth, body)
        return nil
    } catch {
        return error.reason
    }
}

/// Reads every field of a message, skipping each one, until the end.
func skipAll(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> Int {
    var count = 0
    while let tag = try reader.nextTag() {
        try reader.skip(tag)
        count += 1
    }
    return count
}

@Suite struct ProtoReaderTests {
    @Test func varintsDecodeAtEveryLength() throws {
        var value: UInt64 = 1
        for _ in 0..<64 {
            for candidate in [value - 1, value, value | (value >> 1)] {
                var writer = ProtoWriter()
                writer.writeVarint(candidate)
                #expect(try read(writer.bytes) { r throws(ProtoDecodingError) in try r.readVarint() } == candidate)
            }
            value &<<= 1
        }
        #expect(
            try read([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) { r throws(ProtoDecodingError) in
                try r.readVarint()
            } == .max)
    }

    @Test func redundantVarintBytesAreAcceptedWithinTenBytes() throws {
        #expect(try read([0x80, 0x80, 0x00]) { r throws(ProtoDecodingError) in try r.readVarint() } == 0)
        #expect(
            try read([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]) { r throws(ProtoDecodingError) in
                try r.readVarint()
            } == 1)
    }

    @Test func varintLongerThanTenBytesIsRejected() {
        let eleven: [UInt8] = Array(repeating: 0x80, count: 10) + [0x00]
        #expect(failure(eleven) { r throws(ProtoDecodingError) in try r.readVarint() } == .varintTooLong)
    }

    @Test func varintOverflowingSixtyFourBitsIsRejected() {
        let overflow: [UInt8] = Array(repeating: 0xFF, count: 9) + [0x02]
        #expect(failure(overflow) { r throws(ProtoDecodingError) in try r.readVarint() } == .valueOutOfRange("uint64"))
    }

    @Test func truncatedVarintIsRejected() {
        #expect(failure([]) { r throws(ProtoDecodingError) in try r.readVarint() } == .truncated)
        #expect(failure([0x80]) { r throws(ProtoDecodingError) in try r.readVarint() } == .truncated)
        #expect(failure([0xFF, 0xFF, 0xFF]) { r throws(ProtoDecodingError) in try r.readVarint() } == .truncated)
    }

    @Test func narrowIntegersRejectValuesOutsideTheirWidth() throws {
        func varint(_ value: UInt64) -> [UInt8] {
            var writer = ProtoWriter()
            writer.writeVarint(value)
            return writer.bytes
        }
        #expect(try read(varint(UInt64(bitPattern: -1))) { r throws(ProtoDecodingError) in try r.readInt32() } == -1)
        #expect(
            try read(varint(UInt64(bitPattern: Int64(Int32.min)))) { r throws(ProtoDecodingError) in try r.readInt32() }
                == .min)
        #expect(
            failure(varint(UInt64(Int32.max) + 1)) { r throws(ProtoDecodingError) in try r.readInt32() }
                == .valueOutOfRange("int32"))
        #expect(
            failure(varint(UInt64(bitPattern: Int64(Int32.min) - 1))) { r throws(ProtoDecodingError) in
                try r.readInt32()
            } == .valueOutOfRange("int32"))
        #expect(try read(varint(UInt64(UInt32.max))) { r throws(ProtoDecodingError) in try r.readUInt32() } == .max)
        #expect(
            failure(varint(UInt64(UInt32.max) + 1)) { r throws(ProtoDecodingError) in try r.readUInt32() }
                == .valueOutOfRange("uint32"))
        #expect(try read(varint(UInt64(UInt32.max))) { r throws(ProtoDecodingError) in try r.readSInt32() } == .min)
        #expect(
            failure(varint(UInt64(UInt32.max) + 1)) { r throws(ProtoDecodingError) in try r.readSInt32() }
                == .valueOutOfRange("sint32"))
        #expect(try read(varint(.max)) { r throws(ProtoDecodingError) in try r.readSInt64() } == .min)
        #expect(try read(varint(.max)) { r throws(ProtoDecodingError) in try r.readInt64() } == -1)
        #expect(try read([1]) { r throws(ProtoDecodingError) in try r.readBool() } == true)
        #expect(try read([0]) { r throws(ProtoDecodingError) in try r.readBool() } == false)
        #expect(failure([2]) { r throws(ProtoDecodingError) in try r.readBool() } == .valueOutOfRange("bool"))
    }

    @Test func fixedWidthValuesNeedAllTheirBytes() throws {
        #expect(try read([1, 2, 3, 4]) { r throws(ProtoDecodingError) in try r.readFixed32() } == 0x0403_0201)
        #expect(
            try read([1, 2, 3, 4, 5, 6, 7, 8]) { r throws(ProtoDecodingError) in try r.readFixed64() }
                == 0x0807_0605_0403_0201)
        #expect(failure([1, 2, 3]) { r throws(ProtoDecodingError) in try r.readFixed32() } == .truncated)
        #expect(failure([1, 2, 3, 4, 5, 6, 7]) { r throws(ProtoDecodingError) in try r.readFixed64() } == .truncated)
    }

    @Test func tagsRejectFieldZeroHugeNumbersAndUnknownWireTypes() throws {
        #expect(failure([0x00]) { r throws(ProtoDecodingError) in try r.nextTag() } == .invalidFieldNumber)
        #expect(failure([0x02]) { r throws(ProtoDecodingError) in try r.nextTag() } == .invalidFieldNumber)
        #expect(failure([0x0E]) { r throws(ProtoDecodingError) in try r.nextTag() } == .invalidWireType(6))
        #expect(failure([0x0F]) { r throws(ProtoDecodingError) in try r.nextTag() } == .invalidWireType(7))

        var writer = ProtoWriter()
        writer.writeTag(fieldNumber: ProtoTag.fieldNumbers.upperBound, wireType: .fixed32)
        #expect(
            try read(writer.bytes) { r throws(ProtoDecodingError) in try r.nextTag() }
                == ProtoTag(fieldNumber: ProtoTag.fieldNumbers.upperBound, wireType: .fixed32))
        var tooBig = ProtoWriter()
        tooBig.writeVarint(UInt64(ProtoTag.fieldNumbers.upperBound + 1) << 3)
        #expect(failure(tooBig.bytes) { r throws(ProtoDecodingError) in try r.nextTag() } == .invalidFieldNumber)
        #expect(try read([]) { r throws(ProtoDecodingError) in try r.nextTag() } == nil)
    }

    @Test func lengthBeyondTheInputIsRejectedBeforeAnyAllocation() {
        // A length of 2^63 followed by nothing: must fail on the comparison, not on an allocation.
        var writer = ProtoWriter()
        writer.writeVarint(1 << 63)
        #expect(failure(writer.bytes) { r throws(ProtoDecodingError) in try r.readBytes() } == .truncated)
        #expect(failure(writer.bytes) { r throws(ProtoDecodingError) in try r.readString() } == .truncated)
        #expect(failure([0x05, 1, 2, 3, 4]) { r throws(ProtoDecodingError) in try r.readBytes() } == .truncated)
        #expect(
            failure([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) { r throws(ProtoDecodingError) in
                try r.readMessage { (n: inout ProtoReader) throws(ProtoDecodingError) in 0 }
            } == .truncated)
    }

    @Test func lengthDelimitedViewsTheInputInPlace() throws {
        let input: [UInt8] = [0x03, 0x0A, 0x0B, 0x0C, 0x99]
        try input.withUnsafeBytes { buffer in
            var reader = ProtoReader(buffer)
            let view = try reader.readLengthDelimited()
            #expect(Array(view) == [0x0A, 0x0B, 0x0C])
            #expect(view.baseAddress == buffer.baseAddress.map { $0 + 1 })
            #expect(reader.remainingCount == 1)
        }
    }

    @Test func stringsMustBeValidUTF8() throws {
        let valid: [UInt8] = [0x0A, 0x68, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, 0xE2, 0x82, 0xAC]
        #expect(try read(valid) { r throws(ProtoDecodingError) in try r.readString() } == "hé😀€")
        for invalid: [UInt8] in [
            [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF0, 0x9F, 0x98], [0xF4, 0x90, 0x80, 0x80],
        ] {
            #expect(
                failure([UInt8(invalid.count)] + invalid) { r throws(ProtoDecodingError) in try r.readString() }
                    == .invalidUTF8)
        }
    }

    @Test func nestedMessagesStopAtTheDepthLimit() throws {
        // Field 1 holding field 1 holding ... `levels` deep, innermost empty.
        func nested(_ levels: Int) -> [UInt8] {
            var body: [UInt8] = []
            for _ in 0..<levels {
                var writer = ProtoWriter()
                writer.writeBytesField(1, body)
                body = writer.bytes
            }
            return body
        }
        func descend(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> Int {
            var deepest = reader.depth
            while let tag = try reader.nextTag() {
                try reader.expect(tag, .lengthDelimited)
                deepest = max(
                    deepest,
                    try reader.readMessage { (n: inout ProtoReader) throws(ProtoDecodingError) in try descend(&n) })
            }
            return deepest
        }
        #expect(try read(nested(8), maxDepth: 8) { r throws(ProtoDecodingError) in try descend(&r) } == 8)
        #expect(
            failure(nested(9), maxDepth: 8) { r throws(ProtoDecodingError) in try descend(&r) }
                == .depthLimitExceeded(8))
        // The default limit holds against input far deeper than any stack should go.
        #expect(failure(nested(5_000)) { r throws(ProtoDecodingError) in try descend(&r) } == .depthLimitExceeded(100))
    }

    @Test func repeatedScalarsAreReadPackedAndUnpacked() throws {
        var writer = ProtoWriter()
        writer.writePackedField(4, [1, 300, 5] as [UInt64]) { $0.writeVarint($1) }
        writer.writeVarintField(4, 7)
        writer.writePackedField(4, [UInt64.max]) { $0.writeVarint($1) }
        let values = try read(writer.bytes) { r throws(ProtoDecodingError) -> [UInt64] in
            var values: [UInt64] = []
            while let tag = try r.nextTag() {
                try r.readRepeatedScalar(tag, elementWireType: .varint) { e throws(ProtoDecodingError) in
                    values.append(try e.readVarint())
                }
            }
            return values
        }
        #expect(values == [1, 300, 5, 7, .max])

        // A packed run that ends inside an element is truncated input, not a short read of the next field.
        #expect(
            failure([0x22, 0x02, 0x01, 0x80, 0x01]) { r throws(ProtoDecodingError) in
                while let tag = try r.nextTag() {
                    try r.readRepeatedScalar(tag, elementWireType: .varint) { e throws(ProtoDecodingError) in
                        _ = try e.readVarint()
                    }
                }
            } == .truncated)
        // An unpacked element with the wrong wire type.
        #expect(
            failure([0x25, 0, 0, 0, 0]) { r throws(ProtoDecodingError) in
                while let tag = try r.nextTag() {
                    try r.readRepeatedScalar(tag, elementWireType: .varint) { e throws(ProtoDecodingError) in
                        _ = try e.readVarint()
                    }
                }
            } == .wrongWireType(expected: .varint, found: .fixed32))
    }

    @Test func unknownFieldsOfEveryWireTypeAreSkipped() throws {
        var writer = ProtoWriter()
        writer.writeVarintField(1, .max)
        writer.writeFixed64Field(2, 1)
        writer.writeBytesField(3, [1, 2, 3])
        writer.writeFixed32Field(4, 1)
        // A group holding a varint, a nested group and a string: skipped as one field.
        writer.writeTag(fieldNumber: 5, wireType: .startGroup)
        writer.writeVarintField(1, 150)
        writer.writeTag(fieldNumber: 6, wireType: .startGroup)
        writer.writeStringField(2, "inner")
        writer.writeTag(fieldNumber: 6, wireType: .endGroup)
        writer.writeTag(fieldNumber: 5, wireType: .endGroup)
        writer.writeVarintField(7, 42)
        let (count, last) = try read(writer.bytes) { r throws(ProtoDecodingError) -> (Int, UInt64) in
            var count = 0
            var last: UInt64 = 0
            while let tag = try r.nextTag() {
                count += 1
                if tag.fieldNumber == 7 { last = try r.readVarint() } else { try r.skip(tag) }
            }
            return (count, last)
        }
        #expect(count == 6)
        #expect(last == 42)
    }

    @Test func malformedGroupsAreRejected() {
        // End-group with no start.
        #expect(failure([0x0C]) { r throws(ProtoDecodingError) in try skipAll(&r) } == .unmatchedEndGroup)
        // Start group 1 closed by end group 2.
        #expect(failure([0x0B, 0x14]) { r throws(ProtoDecodingError) in try skipAll(&r) } == .unmatchedEndGroup)
        // A group that never ends.
        #expect(failure([0x0B, 0x08, 0x01]) { r throws(ProtoDecodingError) in try skipAll(&r) } == .truncated)
        // Groups nested past the limit.
        let deep = [UInt8](repeating: 0x0B, count: 200)
        #expect(
            failure(deep, maxDepth: 50) { r throws(ProtoDecodingError) in try skipAll(&r) } == .depthLimitExceeded(50))
    }

    @Test func everyPrefixOfAValidMessageFailsCleanlyOrDecodes() throws {
        var writer = ProtoWriter()
        writer.writeStringField(1, "symbol ÄÖÜ")
        writer.writeInt64Field(2, .min)
        writer.writeFixed64Field(3, 99)
        writer.writeMessageField(4) { (n: inout ProtoWriter) in n.writeBytesField(1, [UInt8](repeating: 7, count: 200))
        }
        let bytes = writer.bytes
        for cut in 0...bytes.count {
            let prefix = Array(bytes[0..<cut])
            let reason = failure(prefix) { r throws(ProtoDecodingError) in try skipAll(&r) }
            // A prefix ending exactly at a field boundary is itself a valid message.
            #expect(reason == nil || reason == .truncated)
        }
        #expect(failure(bytes) { r throws(ProtoDecodingError) in try skipAll(&r) } == nil)
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...64, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Any outcome is acceptable except a trap, which would end the test process.
            _ = failure(bytes, maxDepth: 8) { r throws(ProtoDecodingError) in try skipAll(&r) }
        }
    }
}
