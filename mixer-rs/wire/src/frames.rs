//! Reading a client's WebSocket frames (RFC 6455 §5), sans I/O: complete
//! frames are taken from the front of a buffer and unmasked in place; binary
//! messages are reassembled from fragments; control frames may come between
//! them. Whatever breaks the protocol is a `Violation`, the close code and
//! reason the connection then ends with. Text messages are refused (1003) at
//! their first frame: this server speaks binary msgpack only. The server's own
//! frames are written here too.

/// The server's frames are the fan-out's: it sends a close frame of its own when it gives up on a slow client.
pub use fanout::{MAX_CONTROL_PAYLOAD, NO_STATUS, close_frame, server_frame};

pub const PROTOCOL_ERROR: u16 = 1002;
pub const UNSUPPORTED_DATA: u16 = 1003;
pub const ABNORMAL: u16 = 1006;
pub const INVALID_DATA: u16 = 1007;
pub const TOO_BIG: u16 = 1009;
pub const INTERNAL_ERROR: u16 = 1011;

/// Why a connection must close, as its close frame says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: String,
}

fn violation(code: u16, reason: &str) -> Violation {
    Violation { code, reason: reason.to_owned() }
}

/// One thing a client said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A whole binary message that came in one frame: its payload is
    /// `buf[start..end]` (unmasked) of the buffer given to `next`.
    Binary {
        start: usize,
        end: usize,
    },
    /// A whole binary message reassembled from fragments.
    Assembled(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    /// The client's close: its code (`NO_STATUS` if none) and reason.
    Close(u16, String),
}

/// One connection's frame reader: what it holds between frames is a
/// fragmented message's parts so far.
#[derive(Debug)]
pub struct FrameReader {
    max_message: usize,
    fragments: Option<Vec<u8>>,
}

struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    len: usize,
    size: usize,
}

impl FrameReader {
    /// Messages over `max_message` bytes (whole, fragments added up) are refused with 1009.
    pub fn new(max_message: usize) -> Self {
        Self { max_message, fragments: None }
    }

    /// Reads one frame from the front of `buf` (unmasking its payload in
    /// place). `Ok(None)`: the frame is not complete yet (its size was checked
    /// first, so a client can make the caller buffer at most one message).
    /// Otherwise the item, if the frame completed one (a fragment alone does
    /// not), and the bytes the frame took.
    pub fn next(&mut self, buf: &mut [u8]) -> Result<Option<(Option<Item>, usize)>, Violation> {
        let Some(header) = self.header(buf)? else { return Ok(None) };
        let end = header.size + header.len;
        if buf.len() < end {
            return Ok(None);
        }
        let payload = &mut buf[header.size..end];
        unmask(payload, header.mask);
        let item = match header.opcode {
            0x0 => {
                let parts = self.fragments.as_mut().expect("checked by header()");
                parts.extend_from_slice(payload);
                if header.fin { self.fragments.take().map(Item::Assembled) } else { None }
            }
            0x2 if header.fin => Some(Item::Binary { start: header.size, end }),
            0x2 => {
                self.fragments = Some(payload.to_vec());
                None
            }
            0x8 => Some(close_item(payload)?),
            0x9 => Some(Item::Ping(payload.to_vec())),
            _ => Some(Item::Pong), // 0xA; every other opcode was refused by header()
        };
        Ok(Some((item, end)))
    }

    fn header(&self, buf: &[u8]) -> Result<Option<Header>, Violation> {
        let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else { return Ok(None) };
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
        if b0 & 0x70 != 0 {
            return Err(violation(PROTOCOL_ERROR, "reserved bits set: no extension was agreed"));
        }
        if b1 & 0x80 == 0 {
            return Err(violation(PROTOCOL_ERROR, "a client's frames must be masked"));
        }
        match opcode {
            // Any new message, text too, inside a fragmented one breaks RFC 6455 (5.4) before it is text.
            0x1 | 0x2 if self.fragments.is_some() => {
                return Err(violation(PROTOCOL_ERROR, "a new message inside a fragmented one"));
            }
            0x1 => {
                return Err(violation(UNSUPPORTED_DATA, "text frames are not accepted: send binary msgpack"));
            }
            0x0 if self.fragments.is_none() => {
                return Err(violation(PROTOCOL_ERROR, "a continuation frame with no message to continue"));
            }
            0x0 | 0x2 | 0x8 | 0x9 | 0xA => {}
            _ => return Err(violation(PROTOCOL_ERROR, "unknown opcode")),
        }
        let (len, at) = match b1 & 0x7F {
            126 => {
                let Some(bytes) = buf.get(2..4) else { return Ok(None) };
                let len = u64::from(u16::from_be_bytes([bytes[0], bytes[1]]));
                if len < 126 {
                    return Err(violation(PROTOCOL_ERROR, "a frame length not in its shortest form"));
                }
                (len, 4)
            }
            127 => {
                let Some(bytes) = buf.get(2..10) else { return Ok(None) };
                let len = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
                if len >> 63 != 0 {
                    return Err(violation(PROTOCOL_ERROR, "a frame length with its top bit set"));
                }
                if len <= 0xFFFF {
                    return Err(violation(PROTOCOL_ERROR, "a frame length not in its shortest form"));
                }
                (len, 10)
            }
            short => (u64::from(short), 2),
        };
        if opcode >= 0x8 {
            if !fin {
                return Err(violation(PROTOCOL_ERROR, "a control frame must not be fragmented"));
            }
            if len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(violation(PROTOCOL_ERROR, "a control frame over 125 bytes"));
            }
        } else {
            let so_far = self.fragments.as_ref().map_or(0, Vec::len) as u64;
            if so_far + len > self.max_message as u64 {
                return Err(Violation {
                    code: TOO_BIG,
                    reason: format!("a message over {} bytes", self.max_message),
                });
            }
        }
        let Some(mask) = buf.get(at..at + 4) else { return Ok(None) };
        let mask = mask.try_into().expect("4 bytes");
        // `len` is at most max_message or 125 here, so it fits a usize.
        Ok(Some(Header { fin, opcode, mask, len: len as usize, size: at + 4 }))
    }
}

/// XORs `payload` with the client's 4-byte `mask` (RFC 6455 §5.3), 8 bytes at a time.
pub fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let [a, b, c, d] = mask;
    let wide = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(<[u8; 8]>::try_from(&*chunk).expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // What is left starts on a multiple of 8, so at the mask's first byte.
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

fn close_item(payload: &[u8]) -> Result<Item, Violation> {
    match payload {
        [] => Ok(Item::Close(NO_STATUS, String::new())),
        [_] => Err(violation(PROTOCOL_ERROR, "a close frame with a 1-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !valid_close_code(code) {
                return Err(violation(PROTOCOL_ERROR, "an invalid close code"));
            }
            let reason = std::str::from_utf8(reason)
                .map_err(|_| violation(INVALID_DATA, "a close reason that is not UTF-8"))?;
            Ok(Item::Close(code, reason.to_owned()))
        }
    }
}

/// The codes an endpoint may send (RFC 6455 §7.4, and the IANA registry).
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

pub fn pong_frame(payload: &[u8]) -> Vec<u8> {
    server_frame(0xA, payload)
}

pub const PING_FRAME: [u8; 2] = [0x89, 0x00];

/// A client's frame, masked with `mask` (for tests, and anyone writing a client).
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let (header, used) = fanout::binary_header(payload.len());
    let mut out = vec![(u8::from(fin) << 7) | opcode, header[1] | 0x80];
    out.extend_from_slice(&header[2..used]);
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}
