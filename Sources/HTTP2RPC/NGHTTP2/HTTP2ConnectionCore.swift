import NIOCore

/// What the client's and the server's connection handlers share around their nghttp2 session:
/// feeding it received bytes, handing its frames to the channel (once at the end of a read, or
/// once per loop tick for output made outside a read), returning to the connection window what
/// closed streams still held, copying queued body bytes out for nghttp2, and counting header
/// list sizes.
///
/// Not thread-safe: it belongs to one connection and is used on that connection's event loop.
final class HTTP2ConnectionCore {
    let session: NGHTTP2Session
    private var flushTiming = FlushTiming()
    /// State of `write(to:)`, which a channel may re-enter.
    private var isWriting = false
    private var writeAgain = false
    /// Received bytes of streams that closed before we returned them to the connection window.
    private var closedStreamCredit = 0

    init(
        role: NGHTTP2Session.Role, options: NGHTTP2SessionOptions, delegate: any NGHTTP2SessionDelegate
    ) throws(NGHTTP2Error) {
        session = try NGHTTP2Session(role: role, options: options, delegate: delegate)
    }

    // MARK: Input

    /// Feeds received bytes to the session, whose delegate hears about every frame they complete;
    /// then gives the connection window back what closed streams held (also after an error).
    func receive(_ buffer: ByteBuffer) throws(NGHTTP2Error) {
        flushTiming.readStarted()
        defer { returnClosedStreamCredit() }
        var failure: NGHTTP2Error?
        buffer.withUnsafeReadableBytes { bytes in
            do throws(NGHTTP2Error) {
                try session.receive(bytes)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// The read is over: the handler writes now, which serves every flush asked for during it.
    func readCompleted() {
        flushTiming.readCompleted()
    }

    /// Counts `bytes` received on a stream that closed before they were consumed: nghttp2 does
    /// not give those back to the connection window on its own.
    func creditClosedStream(bytes: Int) {
        closedStreamCredit += bytes
    }

    private func returnClosedStreamCredit() {
        guard closedStreamCredit > 0 else { return }
        session.consumeConnection(count: closedStreamCredit)
        closedStreamCredit = 0
    }

    /// The size a header field counts against the header list limit (RFC 9113 section 6.5.2):
    /// its name, its value and 32 bytes.
    static func headerFieldSize(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Int {
        name.count + value.count + 32
    }

    // MARK: Output

    /// Asks for the session's frames to go out: at the end of the current read, or on the next
    /// loop tick, where `write` runs (the handler's own guarded write).
    func scheduleWrite(on eventLoop: any EventLoop, _ write: @escaping () -> Void) {
        guard flushTiming.request() else { return }
        eventLoop.assumeIsolated().execute { [self] in
            flushTiming.scheduledFlushRuns()
            write()
        }
    }

    /// Writes pending frames to `context` while its channel is writable, flushing each batch.
    ///
    /// Flushing can change writability synchronously, which calls the connection handler back,
    /// which calls this again: such a nested call only asks the outer one to go round once more,
    /// so frames are never written out of order and nothing recurses.
    func write(to context: ChannelHandlerContext) throws(NGHTTP2Error) {
        if isWriting {
            writeAgain = true
            return
        }
        isWriting = true
        defer { isWriting = false }
        repeat {
            writeAgain = false
            var wrote = false
            while context.channel.isWritable {
                var buffer = context.channel.allocator.buffer(capacity: 16_384)
                guard try session.produce(into: &buffer, limit: 1 << 20) > 0 else { break }
                context.write(NIOAny(buffer), promise: nil)
                wrote = true
            }
            if wrote { context.flush() }
        } while writeAgain
    }

    /// Whatever the session still has queued (a GOAWAY, typically), whatever the channel's
    /// writability, for a last write before closing.
    func remainingOutput(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        _ = try? session.produce(into: &buffer, limit: 1 << 16)
        return buffer
    }

    /// Moves up to `buffer.count` bytes of a stream's queued body into nghttp2's buffer; returns
    /// how many. The queue's storage is cleared once it is empty.
    static func copyBody(from outbound: inout ByteBuffer, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(buffer.count, outbound.readableBytes)
        if count > 0 {
            outbound.readWithUnsafeReadableBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<count]))
                return count
            }
        }
        if outbound.readableBytes == 0 { outbound.clear() }
        return count
    }
}
