//! The `audio` message of protocol 1 in msgpack, written by hand: a map
//! `{"type": "audio", "frames": [{"seq", "captured_at", "opus"}, ...]}`,
//! byte for byte what the gateway's msgspec Structs would encode (integers as
//! uint64, which every msgpack reader accepts for any integer). The writers
//! below serve the `speaking` message too (`speaking.rs`).

/// One 20 ms frame of a mix as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    pub seq: u64,
    pub captured_at: u64,
    pub opus: Vec<u8>,
}

/// Encodes one `audio` message holding `frames` (at most 15: a fixarray).
pub fn encode_audio(frames: &[WireFrame]) -> Vec<u8> {
    assert!(frames.len() < 16, "at most 15 frames per message");
    let size: usize = 20 + frames.iter().map(|f| 40 + f.opus.len()).sum::<usize>();
    let mut out = audio_prefix();
    out.reserve(size);
    array_header(&mut out, frames.len());
    for frame in frames {
        encode_frame(&mut out, frame.seq, frame.captured_at, &frame.opus);
    }
    out
}

/// What every `audio` message starts with, before its array of frames: the
/// prefix of the audience's stream (`fanout::Stream`), whose items are frames.
pub fn audio_prefix() -> Vec<u8> {
    let mut out = vec![0x82]; // map of 2
    string(&mut out, "type");
    string(&mut out, "audio");
    string(&mut out, "frames");
    out
}

/// One frame of an `audio` message: a map of 3.
pub fn encode_frame(out: &mut Vec<u8>, seq: u64, captured_at: u64, opus: &[u8]) {
    out.push(0x83);
    string(out, "seq");
    uint64(out, seq);
    string(out, "captured_at");
    uint64(out, captured_at);
    string(out, "opus");
    bin(out, opus);
}

/// A msgpack string in its shortest form (fixstr, str8, str16 or str32).
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(len) = u8::try_from(len) {
        out.extend([0xd9, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xda);
        out.extend(len.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend((len as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// A msgpack array's header in its shortest form (fixarray, array16 or array32).
pub(crate) fn array_header(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xdc);
        out.extend(len.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend((len as u32).to_be_bytes());
    }
}

pub(crate) fn uint64(out: &mut Vec<u8>, n: u64) {
    out.push(0xcf);
    out.extend_from_slice(&n.to_be_bytes());
}

fn bin(out: &mut Vec<u8>, bytes: &[u8]) {
    match u8::try_from(bytes.len()) {
        Ok(len) => {
            out.push(0xc4);
            out.push(len);
        }
        Err(_) => {
            // Opus packets are at most 1,500 bytes: bin16 always suffices.
            out.push(0xc5);
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_encodes_to_the_exact_msgpack_bytes() {
        let msg = encode_audio(&[WireFrame { seq: 7, captured_at: 9, opus: vec![1, 2] }]);
        let mut expected = vec![0x82, 0xa4];
        expected.extend(b"type");
        expected.push(0xa5);
        expected.extend(b"audio");
        expected.push(0xa6);
        expected.extend(b"frames");
        expected.extend([0x91, 0x83, 0xa3]);
        expected.extend(b"seq");
        expected.extend([0xcf, 0, 0, 0, 0, 0, 0, 0, 7, 0xab]);
        expected.extend(b"captured_at");
        expected.extend([0xcf, 0, 0, 0, 0, 0, 0, 0, 9, 0xa4]);
        expected.extend(b"opus");
        expected.extend([0xc4, 2, 1, 2]);
        assert_eq!(msg, expected);
    }

    #[test]
    fn packets_over_255_bytes_use_bin16() {
        let msg = encode_audio(&[WireFrame { seq: 0, captured_at: 0, opus: vec![5; 300] }]);
        let at = msg.len() - 300 - 3;
        assert_eq!(&msg[at..at + 3], &[0xc5, 0x01, 0x2c]);
    }
}
