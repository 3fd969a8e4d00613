internal import CNGHTTP2
import NIOCore

/// An error code returned by nghttp2, with the library's description of it.
struct NGHTTP2Error: Error, CustomStringConvertible {
    let code: Int32
    let operation: StaticString

    var description: String {
        let text = nghttp2_strerror(code).map { String(cString: $0) } ?? "unknown error"
        return "nghttp2 \(operation) failed: \(text) (\(code))"
    }

    /// The GOAWAY code that tells a peer why its input ended the connection: ENHANCE_YOUR_CALM
    /// for floods (of frames we would have to answer, of CONTINUATION frames), PROTOCOL_ERROR
    /// for anything else, a wrong connection preface included.
    var goawayCode: HTTP2ErrorCode {
        switch code {
        case NGHTTP2_ERR_FLOODED.rawValue, NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue: .enhanceYourCalm
        default: .protocolError
        }
    }
}

/// A frame nghttp2 has fully received, reduced to what the connection handlers act on.
struct NGHTTP2ReceivedFrame {
    enum Kind: Equatable {
        case data(length: Int)
        case requestHeaders
        case responseHeaders
        case trailers
        case pushResponseHeaders
        case priority
        case rstStream(errorCode: HTTP2ErrorCode)
        case settings(ack: Bool)
        case ping(ack: Bool)
        case goaway(lastStreamID: HTTP2StreamID, errorCode: HTTP2ErrorCode)
        case windowUpdate
        case other
    }

    var streamID: HTTP2StreamID
    var kind: Kind
    var endStream: Bool
}

/// The result of asking the delegate for response (or request) body bytes.
enum NGHTTP2DataSourceResult {
    /// `count` bytes were copied; more will follow.
    case bytes(Int)
    /// `count` bytes were copied and the body is complete. With `trailers`, the delegate has
    /// already submitted trailers and the stream ends with them; otherwise with this DATA.
    case end(count: Int, trailers: Bool)
    /// Nothing to send now; the delegate calls `resumeData` when there is.
    case deferred
}

/// Receives what a session reports. Every call happens on the connection's event loop,
/// synchronously inside a `receive` or `produce` call of the session.
protocol NGHTTP2SessionDelegate: AnyObject {
    func sessionBeginHeaders(streamID: HTTP2StreamID)
    /// Returns false to refuse the header block (the stream is reset).
    func sessionHeader(
        streamID: HTTP2StreamID, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>
    ) -> Bool
    func sessionDidReceive(_ frame: NGHTTP2ReceivedFrame)
    func sessionData(streamID: HTTP2StreamID, bytes: UnsafeRawBufferPointer)
    func sessionStreamClosed(streamID: HTTP2StreamID, errorCode: HTTP2ErrorCode)
    func sessionReadBody(
        streamID: HTTP2StreamID, into buffer: UnsafeMutableRawBufferPointer
    ) -> NGHTTP2DataSourceResult
    /// A HEADERS or DATA frame has been serialised; `endsStream` when it ends our side (END_STREAM).
    func sessionDidSendStreamFrame(streamID: HTTP2StreamID, endsStream: Bool)
    /// A GOAWAY has been serialised: one the delegate asked for, or one nghttp2 queued itself (a
    /// connection error it found, or one of its limits, such as the rapid reset budget).
    func sessionDidSendGoaway(lastStreamID: HTTP2StreamID, errorCode: HTTP2ErrorCode)
}

/// Settings and limits applied to a new session.
struct NGHTTP2SessionOptions {
    var maxConcurrentStreams: UInt32 = 256
    var initialWindowSize: UInt32 = 1 << 20
    var connectionWindowSize: Int32 = 16 << 20
    var maxFrameSize: UInt32 = 16_384
    var maxHeaderListSize: UInt32 = 16_384
    /// RST_STREAM received: token bucket burst and refill per second (rapid reset defence).
    var streamResetBurst: UInt64 = 1000
    var streamResetRate: UInt64 = 33
    /// CONTINUATION frames allowed after one HEADERS frame.
    var maxContinuations: Int = 8
    /// Entries allowed in one SETTINGS frame.
    var maxSettingsEntries: Int = 32
    /// Queued ACKs (PING/SETTINGS) before the peer is considered to be flooding.
    var maxOutboundAcks: Int = 1000
}

/// One nghttp2 session (client or server) and the only owner of its C pointer. It only consumes
/// received bytes and produces bytes to send; the channel I/O around it is
/// ``HTTP2ConnectionCore``'s.
///
/// Not thread-safe: it must only ever be used on the event loop of its connection.
final class NGHTTP2Session {
    enum Role { case server, client }

    private var session: OpaquePointer?
    unowned(unsafe) let delegate: any NGHTTP2SessionDelegate

    /// Creates a session. `delegate` must outlive it (the connection handler owns both).
    init(role: Role, options: NGHTTP2SessionOptions, delegate: any NGHTTP2SessionDelegate) throws(NGHTTP2Error) {
        self.delegate = delegate

        var callbacks: OpaquePointer?
        try Self.check(nghttp2_session_callbacks_new(&callbacks), "callbacks_new")
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSent)

        var option: OpaquePointer?
        try Self.check(nghttp2_option_new(&option), "option_new")
        defer { nghttp2_option_del(option) }
        // We return WINDOW_UPDATEs ourselves, when bytes leave our buffers: that is what
        // bounds the memory a peer can make us hold.
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_max_continuations(option, options.maxContinuations)
        nghttp2_option_set_max_settings(option, options.maxSettingsEntries)
        nghttp2_option_set_max_outbound_ack(option, options.maxOutboundAcks)
        if role == .server {
            nghttp2_option_set_stream_reset_rate_limit(option, options.streamResetBurst, options.streamResetRate)
            // Values with white space at either end reach the handler, which trims it, instead of
            // nghttp2 resetting the stream (grpc's servers accept them too).
            nghttp2_option_set_no_rfc9113_leading_and_trailing_ws_validation(option, 1)
            // A closed stream is forgotten at once instead of kept for the RFC 7540 priority tree,
            // which gRPC does not use. Kept, it made DATA that a client sends after its own
            // RST_STREAM a connection error (STREAM_CLOSED): grpc-java sends the message it had
            // queued after cancelling a call, and every other call on the connection failed with
            // it. RFC 9113 has such frames ignored (section 5.1, "closed"); nghttp2 does that,
            // crediting their bytes to the connection's window, for a stream it no longer has.
            nghttp2_option_set_no_closed_streams(option, 1)
        }

        let userData = Unmanaged.passUnretained(self).toOpaque()
        switch role {
        case .server:
            try Self.check(nghttp2_session_server_new2(&session, callbacks, userData, option), "server_new")
        case .client:
            try Self.check(nghttp2_session_client_new2(&session, callbacks, userData, option), "client_new")
        }

        var settings: [nghttp2_settings_entry] = [
            .init(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                value: options.maxConcurrentStreams),
            .init(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: options.initialWindowSize),
            .init(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: options.maxFrameSize),
            .init(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: options.maxHeaderListSize),
        ]
        if role == .client {
            settings.append(.init(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        try Self.check(
            nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), settings, settings.count),
            "submit_settings")
        try Self.check(
            nghttp2_session_set_local_window_size(
                session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, options.connectionWindowSize),
            "set_local_window_size")
    }

    deinit {
        nghttp2_session_del(session)
    }

    private static func check(_ result: Int32, _ operation: StaticString) throws(NGHTTP2Error) {
        if result < 0 { throw NGHTTP2Error(code: result, operation: operation) }
    }

    // MARK: Input and output

    /// Processes received bytes; the delegate hears about every frame they complete.
    func receive(_ bytes: UnsafeRawBufferPointer) throws(NGHTTP2Error) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return }
        let result = nghttp2_session_mem_recv(session, base, bytes.count)
        if result < 0 { throw NGHTTP2Error(code: Int32(truncatingIfNeeded: result), operation: "mem_recv") }
    }

    /// Serialises pending frames into `buffer`, up to about `limit` bytes.
    /// Returns the number of bytes written.
    @discardableResult
    func produce(into buffer: inout ByteBuffer, limit: Int) throws(NGHTTP2Error) -> Int {
        var written = 0
        while written < limit {
            var chunk: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &chunk)
            if count < 0 { throw NGHTTP2Error(code: Int32(truncatingIfNeeded: count), operation: "mem_send") }
            guard count > 0, let chunk else { break }
            buffer.writeBytes(UnsafeRawBufferPointer(start: chunk, count: count))
            written += count
        }
        return written
    }

    var wantsRead: Bool { nghttp2_session_want_read(session) != 0 }
    var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }
    var lastProcessedStreamID: HTTP2StreamID {
        HTTP2StreamID(rawValue: nghttp2_session_get_last_proc_stream_id(session))
    }

    // MARK: Submissions

    /// Reused for every header block this session sends (see ``HeaderBlock``).
    private var headerScratch = HeaderBlock()
    private var pairScratch: [nghttp2_nv] = []

    /// Collects a header block with `build` into the reusable scratch, then submits it.
    private func submitHeaders<Result>(
        _ build: (inout HeaderBlock) -> Void,
        _ submit: (UnsafePointer<nghttp2_nv>?, Int) throws(NGHTTP2Error) -> Result
    ) throws(NGHTTP2Error) -> Result {
        headerScratch.removeAll()
        build(&headerScratch)
        return try headerScratch.withNameValuePairs(using: &pairScratch, submit)
    }

    func submitResponse(
        streamID: HTTP2StreamID, hasBody: Bool, _ build: (inout HeaderBlock) -> Void
    ) throws(NGHTTP2Error) {
        try submitHeaders(build) { (pairs, count) throws(NGHTTP2Error) in
            if hasBody {
                var provider = Self.dataProvider
                try Self.check(
                    nghttp2_submit_response(session, streamID.rawValue, pairs, count, &provider), "submit_response")
            } else {
                try Self.check(
                    nghttp2_submit_response(session, streamID.rawValue, pairs, count, nil), "submit_response")
            }
        }
    }

    /// Opens a stream; returns its id.
    func submitRequest(_ build: (inout HeaderBlock) -> Void) throws(NGHTTP2Error) -> HTTP2StreamID {
        try submitHeaders(build) { (pairs, count) throws(NGHTTP2Error) -> HTTP2StreamID in
            var provider = Self.dataProvider
            let streamID = nghttp2_submit_request(session, nil, pairs, count, &provider, nil)
            try Self.check(streamID, "submit_request")
            return HTTP2StreamID(rawValue: streamID)
        }
    }

    func submitTrailer(streamID: HTTP2StreamID, _ build: (inout HeaderBlock) -> Void) throws(NGHTTP2Error) {
        try submitHeaders(build) { (pairs, count) throws(NGHTTP2Error) in
            try Self.check(nghttp2_submit_trailer(session, streamID.rawValue, pairs, count), "submit_trailer")
        }
    }

    func submitReset(streamID: HTTP2StreamID, errorCode: HTTP2ErrorCode) {
        // Fails only for stream id 0 or out of memory; a reset of a stream nghttp2 already
        // closed is a no-op, which is what we want.
        _ = nghttp2_submit_rst_stream(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID.rawValue, errorCode.rawValue)
    }

    func submitPing() {
        _ = nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
    }

    func submitShutdownNotice() {
        _ = nghttp2_submit_shutdown_notice(session)
    }

    func submitGoaway(lastStreamID: HTTP2StreamID, errorCode: HTTP2ErrorCode) {
        _ = nghttp2_submit_goaway(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), lastStreamID.rawValue, errorCode.rawValue, nil, 0)
    }

    /// Sends GOAWAY with `errorCode` and stops processing input.
    func terminate(errorCode: HTTP2ErrorCode) {
        _ = nghttp2_session_terminate_session(session, errorCode.rawValue)
    }

    /// Asks nghttp2 to call the data source of a deferred stream again.
    func resumeData(streamID: HTTP2StreamID) {
        _ = nghttp2_session_resume_data(session, streamID.rawValue)
    }

    /// Returns `count` received bytes of `streamID` to the peer's flow-control windows.
    /// For a stream nghttp2 has already closed, only the connection window is credited.
    func consume(streamID: HTTP2StreamID, count: Int) {
        guard count > 0 else { return }
        _ = nghttp2_session_consume(session, streamID.rawValue, count)
    }

    /// Returns `count` received bytes of `streamID` to the stream's window only, their connection
    /// window having been returned when they arrived.
    func consumeStream(streamID: HTTP2StreamID, count: Int) {
        guard count > 0 else { return }
        _ = nghttp2_session_consume_stream(session, streamID.rawValue, count)
    }

    /// Returns `count` bytes to the connection window only: for bytes of a stream that has
    /// closed before we consumed them (nghttp2 does not give those back on its own).
    func consumeConnection(count: Int) {
        guard count > 0 else { return }
        _ = nghttp2_session_consume_connection(session, count)
    }

    private static let dataProvider = nghttp2_data_provider(
        source: nghttp2_data_source(ptr: nil), read_callback: readBody)
}

// MARK: - C callbacks

// Each callback recovers the session object from the user data nghttp2 hands back; the
// object outlives the C session because it owns it.
private func owner(_ userData: UnsafeMutableRawPointer?) -> NGHTTP2Session? {
    guard let userData else { return nil }
    return Unmanaged<NGHTTP2Session>.fromOpaque(userData).takeUnretainedValue()
}

private let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
    guard let frame, let session = owner(userData) else { return 0 }
    if frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) {
        session.delegate.sessionBeginHeaders(streamID: HTTP2StreamID(rawValue: frame.pointee.hd.stream_id))
    }
    return 0
}

private let onHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    guard let frame, let session = owner(userData) else { return 0 }
    let accepted = session.delegate.sessionHeader(
        streamID: HTTP2StreamID(rawValue: frame.pointee.hd.stream_id),
        name: UnsafeBufferPointer(start: name, count: nameLength),
        value: UnsafeBufferPointer(start: value, count: valueLength))
    return accepted ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
}

private let onFrameReceived: nghttp2_on_frame_recv_callback = { _, frame, userData in
    guard let frame, let session = owner(userData) else { return 0 }
    let header = frame.pointee.hd
    let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    let ack = header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0
    let kind: NGHTTP2ReceivedFrame.Kind
    switch UInt32(header.type) {
    case NGHTTP2_DATA.rawValue:
        kind = .data(length: header.length)
    case NGHTTP2_HEADERS.rawValue:
        switch frame.pointee.headers.cat {
        case NGHTTP2_HCAT_REQUEST: kind = .requestHeaders
        case NGHTTP2_HCAT_RESPONSE: kind = .responseHeaders
        case NGHTTP2_HCAT_PUSH_RESPONSE: kind = .pushResponseHeaders
        default: kind = .trailers
        }
    case NGHTTP2_PRIORITY.rawValue:
        kind = .priority
    case NGHTTP2_RST_STREAM.rawValue:
        kind = .rstStream(errorCode: HTTP2ErrorCode(rawValue: frame.pointee.rst_stream.error_code))
    case NGHTTP2_SETTINGS.rawValue:
        kind = .settings(ack: ack)
    case NGHTTP2_PING.rawValue:
        kind = .ping(ack: ack)
    case NGHTTP2_GOAWAY.rawValue:
        kind = .goaway(
            lastStreamID: HTTP2StreamID(rawValue: frame.pointee.goaway.last_stream_id),
            errorCode: HTTP2ErrorCode(rawValue: frame.pointee.goaway.error_code))
    case NGHTTP2_WINDOW_UPDATE.rawValue:
        kind = .windowUpdate
    default:
        kind = .other
    }
    session.delegate.sessionDidReceive(
        NGHTTP2ReceivedFrame(streamID: HTTP2StreamID(rawValue: header.stream_id), kind: kind, endStream: endStream))
    return 0
}

private let onDataChunk: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    guard let session = owner(userData) else { return 0 }
    session.delegate.sessionData(
        streamID: HTTP2StreamID(rawValue: streamID), bytes: UnsafeRawBufferPointer(start: data, count: length))
    return 0
}

private let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    guard let session = owner(userData) else { return 0 }
    session.delegate.sessionStreamClosed(
        streamID: HTTP2StreamID(rawValue: streamID), errorCode: HTTP2ErrorCode(rawValue: errorCode))
    return 0
}

private let onFrameSent: nghttp2_on_frame_send_callback = { _, frame, userData in
    guard let frame, let session = owner(userData) else { return 0 }
    let header = frame.pointee.hd
    let type = UInt32(header.type)
    if type == NGHTTP2_DATA.rawValue || type == NGHTTP2_HEADERS.rawValue {
        session.delegate.sessionDidSendStreamFrame(
            streamID: HTTP2StreamID(rawValue: header.stream_id),
            endsStream: header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0)
    } else if type == NGHTTP2_GOAWAY.rawValue {
        session.delegate.sessionDidSendGoaway(
            lastStreamID: HTTP2StreamID(rawValue: frame.pointee.goaway.last_stream_id),
            errorCode: HTTP2ErrorCode(rawValue: frame.pointee.goaway.error_code))
    }
    return 0
}

private let readBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
    guard let session = owner(userData), let buffer, let flags else {
        return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    switch session.delegate.sessionReadBody(
        streamID: HTTP2StreamID(rawValue: streamID), into: UnsafeMutableRawBufferPointer(start: buffer, count: length))
    {
    case .bytes(let count):
        return count
    case .end(let count, let trailers):
        flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
        if trailers { flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue }
        return count
    case .deferred:
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
    }
}
