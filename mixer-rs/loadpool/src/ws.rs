//! The WebSocket side of a listener (RFC 6455), sans-IO: the upgrade request and the check of its
//! response, the header of a server frame, and masked client frames. No sockets here.

/// Opcodes of the frames a client sees or sends.
pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// The fixed `Sec-WebSocket-Key` every listener sends (the example key of RFC 6455 §1.3), and the
/// `Sec-WebSocket-Accept` a server must answer with (from the same section): checking the answer
/// needs no SHA-1 at run time.
pub const CLIENT_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const EXPECTED_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A response head larger than this is refused rather than buffered without end.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// The header of one frame from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub opcode: u8,
    /// Bytes of header before the payload: 2, 4 or 10 (servers never mask).
    pub header_len: usize,
    pub payload_len: u64,
}

impl FrameHeader {
    /// Header plus payload, the bytes the whole frame takes in the stream.
    pub fn frame_len(&self) -> u64 {
        self.header_len as u64 + self.payload_len
    }

    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// A frame no server may send; the client closes with 1002 (protocol error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// RSV bits set, but no extension was negotiated.
    ReservedBits,
    /// Server frames must not be masked (RFC 6455 §5.1).
    MaskedByServer,
    UnknownOpcode(u8),
    /// A control frame that is fragmented or longer than 125 bytes (§5.5).
    BadControlFrame,
    /// A 64-bit length with its top bit set (§5.2).
    LengthOverflow,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ReservedBits => f.write_str("frame with reserved bits set"),
            Self::MaskedByServer => f.write_str("masked frame from the server"),
            Self::UnknownOpcode(op) => write!(f, "unknown opcode {op:#x}"),
            Self::BadControlFrame => f.write_str("fragmented or oversized control frame"),
            Self::LengthOverflow => f.write_str("64-bit payload length with the top bit set"),
        }
    }
}

/// Reads a frame header from the start of `buf`; `Ok(None)` while it is incomplete. The payload need
/// not have arrived yet: the caller compares `frame_len()` with what it holds.
pub fn parse_header(buf: &[u8]) -> Result<Option<FrameHeader>, FrameError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b0 & 0x70 != 0 {
        return Err(FrameError::ReservedBits);
    }
    if b1 & 0x80 != 0 {
        return Err(FrameError::MaskedByServer);
    }
    let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
    if !matches!(opcode, OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG) {
        return Err(FrameError::UnknownOpcode(opcode));
    }
    let (header_len, payload_len) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (4, u64::from(u16::from_be_bytes([b[0], b[1]]))),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                if len >> 63 != 0 {
                    return Err(FrameError::LengthOverflow);
                }
                (10, len)
            }
            None => return Ok(None),
        },
        short => (2, u64::from(short)),
    };
    let header = FrameHeader { fin, opcode, header_len, payload_len };
    if header.is_control() && (!fin || payload_len > 125) {
        return Err(FrameError::BadControlFrame);
    }
    Ok(Some(header))
}

/// Appends one complete (FIN) client frame to `out`, its payload masked with `mask` as every
/// client frame must be (§5.3).
pub fn write_client_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(byte, key)| byte ^ key));
}

/// A close frame's payload: the status code, big-endian, and no reason.
pub fn close_payload(code: u16) -> [u8; 2] {
    code.to_be_bytes()
}

/// The status code in a close frame's payload; 1005 ("no status") when it has none.
pub fn close_code(payload: &[u8]) -> u16 {
    match payload {
        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 1005,
    }
}

/// The HTTP request that opens the WebSocket. `host` is the `Host` header value ("host:port").
pub fn upgrade_request(host: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {CLIENT_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// What the bytes received so far say about the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// The response head has not fully arrived.
    Incomplete,
    /// 101 with the right accept key; WebSocket frames start at `head_len`.
    Accepted { head_len: usize },
    /// Anything else; the text says what, for the listener's `error`.
    Refused(String),
}

/// Checks the server's answer to `upgrade_request`: status 101, `Upgrade: websocket`, and the
/// accept key that belongs to `CLIENT_KEY`.
pub fn read_upgrade_response(buf: &[u8]) -> Upgrade {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_RESPONSE_HEAD {
            Upgrade::Refused("HTTP response head too large".into())
        } else {
            Upgrade::Incomplete
        };
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if status.split(' ').nth(1) != Some("101") {
        return Upgrade::Refused(format!("upgrade refused: {}", status.chars().take(80).collect::<String>()));
    }
    let (mut upgrade, mut accept) = (false, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade = value.eq_ignore_ascii_case("websocket");
        } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
            accept = value == EXPECTED_ACCEPT;
        }
    }
    match (upgrade, accept) {
        (true, true) => Upgrade::Accepted { head_len: end + 4 },
        (false, _) => Upgrade::Refused("101 without Upgrade: websocket".into()),
        (true, false) => Upgrade::Refused("wrong Sec-WebSocket-Accept".into()),
    }
}
