/// The percent-encoding of `grpc-message` (grpc's PROTOCOL-HTTP2.md).
///
/// Bytes outside printable ASCII, and `%` itself, are written as `%XX` over the UTF-8 form of
/// the message. Decoding is lenient, as the spec asks: a malformed escape is kept as is.
enum PercentEncoding {
    /// The most UTF-8 bytes of a message that `grpc-message` carries: a status message that quotes
    /// a long input would otherwise make a trailer larger than clients accept (gRPC's C core takes
    /// 8 KiB of metadata by default) or than a header block may be.
    static let maxMessageBytes = 1_024

    /// `message`, cut at the end of a character to at most ``maxMessageBytes`` UTF-8 bytes with
    /// "…" after the cut; a shorter message as it is.
    static func shortened(_ message: String) -> String {
        guard message.utf8.count > maxMessageBytes else { return message }
        let ellipsis = "…"
        var kept = Substring.UnicodeScalarView()
        var bytes = ellipsis.utf8.count
        for character in message {
            bytes += character.utf8.count
            if bytes > maxMessageBytes { break }
            kept.append(contentsOf: character.unicodeScalars)
        }
        return String(kept) + ellipsis
    }

    static func encode(_ message: String) -> String {
        let utf8 = message.utf8
        if utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: "%") }) {
            return message
        }
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count + 16)
        for byte in utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.contains(UInt8(ascii: "%")) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        // Invalid UTF-8 after unescaping is repaired with U+FFFD rather than rejected.
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
