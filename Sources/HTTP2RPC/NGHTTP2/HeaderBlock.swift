internal import CNGHTTP2

/// Header fields gathered into one byte buffer, to hand to nghttp2 as an `nghttp2_nv` array.
///
/// nghttp2 copies names and values during a submit call, so the pointers only need to live
/// for that call; keeping every field in one array makes that one allocation, not two per field.
struct HeaderBlock {
    private var bytes: [UInt8] = []
    private var spans: [(nameStart: Int, nameLength: Int, valueLength: Int)] = []

    init(capacity: Int = 8) {
        bytes.reserveCapacity(capacity * 32)
        spans.reserveCapacity(capacity)
    }

    var count: Int { spans.count }

    mutating func add(_ name: String, _ value: String) {
        let start = bytes.count
        bytes.append(contentsOf: name.utf8)
        let nameLength = bytes.count - start
        bytes.append(contentsOf: value.utf8)
        spans.append((start, nameLength, bytes.count - start - nameLength))
    }

    mutating func add(_ name: StaticString, _ value: StaticString) {
        let start = bytes.count
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(contentsOf: UnsafeBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
        spans.append((start, name.utf8CodeUnitCount, value.utf8CodeUnitCount))
    }

    /// Calls `body` with an `nghttp2_nv` array pointing into this block.
    func withNameValuePairs<Result>(
        _ body: (UnsafePointer<nghttp2_nv>, Int) throws(NGHTTP2Error) -> Result
    ) throws(NGHTTP2Error) -> Result {
        var pairs: [nghttp2_nv] = []
        pairs.reserveCapacity(spans.count)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(NGHTTP2Error) -> Result in
            // nghttp2 takes non-const pointers but does not write through them without the
            // NO_COPY flags, which we never set.
            let base = UnsafeMutablePointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            for span in spans {
                pairs.append(
                    nghttp2_nv(
                        name: base + span.nameStart,
                        value: base + span.nameStart + span.nameLength,
                        namelen: span.nameLength,
                        valuelen: span.valueLength,
                        flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            }
            return try pairs.withUnsafeBufferPointer { (pairBuffer) throws(NGHTTP2Error) -> Result in
                try body(pairBuffer.baseAddress ?? UnsafePointer(bitPattern: 8)!, pairBuffer.count)
            }
        }
    }
}
