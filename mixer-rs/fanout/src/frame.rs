//! WebSocket framing of the server's data messages: one unfragmented binary
//! message per payload, as a server sends it (RFC 6455 §5.2: no mask).

use std::sync::Arc;

/// FIN set, opcode 0x2 (binary).
const FIN_BINARY: u8 = 0x82;

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
}
