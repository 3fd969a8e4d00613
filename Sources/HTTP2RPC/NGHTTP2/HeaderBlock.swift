internal import CNGHTTP2

/// Header fields gathered into one byte buffer, to hand to nghttp2 as an `nghttp2_nv` array.
///
/// nghttp2 copies names and values during a submit call, so the pointers only need to live
/// for that call. A session keeps one block and one pair array and reuses them for every
/// submission, so sending headers allocates nothing once they have grown.
struct HeaderBlock {
    private var bytes: [UInt8] = []
    private var spans: [(nameStart: Int, nameLength: Int, valueLength: Int)] = []

    var count: Int { spans.count }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
    }

    mutating func add(_ name: StaticString, _ value: StaticString) {
        append(
            UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
            UnsafeBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    mutating func add(_ name: StaticString, _ value: String) {
        var value = value
        value.withUTF8 { append(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), $0) }
    }

    /// A field whose name is only known at run time (custom metadata).
    mutating func add(name: String, value: String) {
        var name = name
        var value = value
        name.withUTF8 { nameBytes in value.withUTF8 { append(nameBytes, $0) } }
    }

    private mutating func append(_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) {
        let start = bytes.count
        bytes.append(contentsOf: name)
        bytes.append(contentsOf: value)
        spans.append((start, name.count, value.count))
    }

    /// Calls `body` with an `nghttp2_nv` array pointing into this block, built in `pairs`.
    func withNameValuePairs<Result>(
        using pairs: inout [nghttp2_nv],
        _ body: (UnsafePointer<nghttp2_nv>?, Int) throws(NGHTTP2Error) -> Result
    ) throws(NGHTTP2Error) -> Result {
        pairs.removeAll(keepingCapacity: true)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(NGHTTP2Error) -> Result in
            // nghttp2 takes non-const pointers but only writes through them with the NO_COPY
            // flags, which we never set.
            if let base = buffer.baseAddress.map(UnsafeMutablePointer.init(mutating:)) {
                for span in spans {
                    pairs.append(
                        nghttp2_nv(
                            name: base + span.nameStart,
                            value: base + span.nameStart + span.nameLength,
                            namelen: span.nameLength,
                            valuelen: span.valueLength,
                            flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
                }
            }
            return try pairs.withUnsafeBufferPointer { (pairBuffer) throws(NGHTTP2Error) -> Result in
                try body(pairBuffer.baseAddress, pairBuffer.count)
            }
        }
    }
}
