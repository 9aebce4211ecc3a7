//! WebSocket framing of the server's messages: one unfragmented binary
//! message per payload, as a server sends it (RFC 6455 §5.2: no mask), and
//! its close frames.

use std::sync::Arc;

/// FIN set, opcode 0x2 (binary).
const FIN_BINARY: u8 = 0x82;
/// The close frame's opcode.
const OP_CLOSE: u8 = 0x8;
/// The largest control frame payload (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// The code of a close frame with no code (§7.4.1): its payload is empty.
pub const NO_STATUS: u16 = 1005;
/// Stoa's close code for a connection whose replies and events overflowed its
/// queue (docs/protocol.md, *Close codes*), and the reason its frame gives.
pub const TOO_SLOW: u16 = 4000;
pub const TOO_SLOW_REASON: &str = "the client did not read its replies and events fast enough";

/// The frame header of a server-to-client binary message of `len` bytes:
/// 2, 4 or 10 bytes (7-, 16- or 64-bit length, big-endian).
pub fn binary_header(len: usize) -> ([u8; 10], usize) {
    let mut header = [0u8; 10];
    header[0] = FIN_BINARY;
    let used = if len < 126 {
        header[1] = len as u8;
        2
    } else if let Ok(short) = u16::try_from(len) {
        header[1] = 126;
        header[2..4].copy_from_slice(&short.to_be_bytes());
        4
    } else {
        header[1] = 127;
        header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (header, used)
}

/// `payload` framed as one binary message, in one shared allocation.
pub fn frame_binary(payload: &[u8]) -> Arc<[u8]> {
    let (header, used) = binary_header(payload.len());
    // A chain of two slice iterators has an exact length, so this allocates once.
    header[..used].iter().chain(payload).copied().collect()
}

/// A server frame (never masked, FIN set) with `opcode` and `payload`.
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let (header, used) = binary_header(payload.len());
    let mut out = Vec::with_capacity(used + payload.len());
    out.push(0x80 | opcode);
    out.extend_from_slice(&header[1..used]);
    out.extend_from_slice(payload);
    out
}

/// The server's close frame: `code` and `reason`, cut at a character boundary to fit 125 bytes.
pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    if code == NO_STATUS {
        return server_frame(OP_CLOSE, &[]);
    }
    let mut cut = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..cut]);
    server_frame(OP_CLOSE, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_length_form_starts_where_rfc_6455_says() {
        let cases: [(usize, &[u8]); 6] = [
            (0, &[0x82, 0]),
            (125, &[0x82, 125]),
            (126, &[0x82, 126, 0, 126]),
            (65_535, &[0x82, 126, 0xff, 0xff]),
            (65_536, &[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
            (1 << 32, &[0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]),
        ];
        for (len, expected) in cases {
            let (header, used) = binary_header(len);
            assert_eq!(&header[..used], expected, "length {len}");
        }
    }

    #[test]
    fn a_framed_message_is_header_then_payload() {
        let framed = frame_binary(b"abc");
        assert_eq!(&framed[..], &[0x82, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn a_close_frame_holds_its_code_and_a_reason_cut_to_fit() {
        assert_eq!(close_frame(TOO_SLOW, "slow"), [0x88, 6, 0x0f, 0xa0, b's', b'l', b'o', b'w']);
        assert_eq!(close_frame(NO_STATUS, "ignored"), [0x88, 0]);
        let long = close_frame(1000, &"é".repeat(100)); // 200 bytes: cut to 122, a whole character
        assert_eq!((long.len(), long[1]), (126, 124));
    }
}
