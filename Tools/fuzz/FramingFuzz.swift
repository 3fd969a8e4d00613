// libFuzzer entry point for what a peer's bytes reach first inside a call: the gRPC message
// deframer and the received-metadata rules. Built by run_fuzz.sh together with their source files
// from Sources/HTTP2RPC/Core, which import nothing.
//
// The input's first byte chooses a message size limit and a chunk size; the rest is a request
// body. Oracles, beyond "no crash, no hang, no huge allocation":
// - the same bytes give the same messages, or the same error, whether they arrive at once or in
//   chunks, through `process` or through `append` and `next`;
// - no message is over the limit, and the messages and their prefixes never add up to more bytes
//   than arrived;
// - the body, read as NUL-separated name/value pairs of received headers, never yields a reserved
//   name as metadata, a binary value that does not re-encode to itself, or a sendable field that
//   `forEachWireField` loses.

#if canImport(Glibc)
    import Glibc
#endif

/// Messages until the first error, and the error's status code.
private struct Outcome: Equatable {
    var messages: [[UInt8]] = []
    var failure: RPCStatus.Code?
    var atBoundary = true
}

/// Feeds `bytes` through `process`; returns the status code of the error it ends with, if any.
private func feed(
    _ deframer: inout GRPCMessageDeframer, _ bytes: ArraySlice<UInt8>, into messages: inout [[UInt8]]
)
    -> RPCStatus.Code?
{
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { copy.deallocate() }
    copy.copyBytes(from: bytes)
    do {
        try deframer.process(UnsafeRawBufferPointer(copy)) { message, _ in
            messages.append(message)
            return true
        }
        return nil
    } catch {
        return error.code
    }
}

private func deframeAtOnce(_ body: [UInt8], limit: Int) -> Outcome {
    var deframer = GRPCMessageDeframer(maximumMessageSize: limit)
    var outcome = Outcome()
    outcome.failure = feed(&deframer, body[...], into: &outcome.messages)
    outcome.atBoundary = deframer.isAtMessageBoundary
    return outcome
}

private func deframeInChunks(_ body: [UInt8], limit: Int, chunk: Int, useNext: Bool) -> Outcome {
    var deframer = GRPCMessageDeframer(maximumMessageSize: limit)
    var outcome = Outcome()
    var start = 0
    while start < body.count, outcome.failure == nil {
        let end = min(start + chunk, body.count)
        if useNext {
            body[start..<end].withUnsafeBytes { deframer.append($0) }
            do {
                while let message = try deframer.next() { outcome.messages.append(message) }
            } catch {
                outcome.failure = error.code
            }
        } else {
            outcome.failure = feed(&deframer, body[start..<end], into: &outcome.messages)
        }
        start = end
    }
    outcome.atBoundary = deframer.isAtMessageBoundary
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let control = data[0]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let limit = [0, 1, 16, 300, 4096][Int(control & 0x07) % 5]
    let chunk = Int(control >> 3) + 1

    let whole = deframeAtOnce(body, limit: limit)
    require(whole.messages.allSatisfy { $0.count <= limit }, "a message over the limit")
    require(
        whole.messages.reduce(0) { $0 + $1.count + GRPCMessageDeframer.prefixLength } <= body.count,
        "more message bytes than arrived")
    for useNext in [false, true] {
        let chunked = deframeInChunks(body, limit: limit, chunk: chunk, useNext: useNext)
        require(chunked.messages == whole.messages, "chunking changed the messages")
        require(chunked.failure == whole.failure, "chunking changed the error")
        if whole.failure == nil {
            require(chunked.atBoundary == whole.atBoundary, "chunking changed the boundary")
        }
    }

    // The body as received header fields: name NUL value NUL ...
    let parts = body.split(separator: 0, omittingEmptySubsequences: false).map {
        String(decoding: $0, as: UTF8.self)
    }
    var metadata = RPCMetadata()
    var index = 0
    while index + 1 < parts.count {
        let (name, value) = (parts[index], parts[index + 1])
        let kept = metadata.addReceived(name: name, value: value)
        require(!(kept && RPCMetadata.isReserved(name)), "a reserved name kept as metadata")
        index += 2
    }
    for entry in metadata {
        if case .binary(let bytes) = entry.value {
            require(Base64.decode(Base64.encode(bytes)) == bytes, "a binary value does not re-encode")
        }
    }
    var sent = 0
    let rejected = metadata.forEachWireField { _, _ in sent += 1 }
    require(sent + rejected.count == metadata.map { _ in 1 }.count, "forEachWireField lost a field")
    return 0
}
