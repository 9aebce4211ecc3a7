//! The msgpack side of a listener: a zero-copy walker that classifies a server message and hands
//! each audio frame's `seq` and `captured_at` to a callback, skipping everything else (the Opus
//! bytes included) by length; and what the pool sends: `hello`, `join_space`, a speaker's `audio`.
//!
//! Per audio message the walker reads the map header, the keys, and per frame two integers: no
//! allocation, no copy, no tree. Field order carries no meaning in the protocol, so `frames` met
//! before `type` is walked after the map (msgspec writes `type` first: the usual path is one pass).

/// What kind of server message it was; the pool counts each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Audio,
    Welcome,
    Joined,
    Ok,
    Error,
    /// One of the space's events (`participant_joined`, `role_changed`, ...).
    Event,
    /// A type this listener does not know (ignored, as the protocol asks).
    Other,
}

fn kind_of(name: &[u8]) -> Kind {
    match name {
        b"audio" => Kind::Audio,
        b"welcome" => Kind::Welcome,
        b"joined" => Kind::Joined,
        b"ok" => Kind::Ok,
        b"error" => Kind::Error,
        b"participant_joined"
        | b"participant_left"
        | b"role_changed"
        | b"post_shared"
        | b"space_ended"
        | b"audience_changed"
        | b"lagging" => Kind::Event,
        _ => Kind::Other,
    }
}

/// What a listener needs from a message besides its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: Kind,
    /// `ref` of a reply; `None` if absent or nil.
    pub reference: Option<u64>,
    /// `code` of an `error` (raw UTF-8); empty if absent.
    pub code: &'a [u8],
}

/// Why a message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgError {
    Truncated,
    NotAMap,
    NoType,
    /// A value of the wrong msgpack type where the protocol fixes one (the marker byte).
    Unexpected {
        field: &'static str,
        marker: u8,
    },
    /// An audio frame without `seq` or `captured_at`.
    MissingField(&'static str),
}

impl std::fmt::Display for MsgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated msgpack"),
            Self::NotAMap => f.write_str("message is not a msgpack map"),
            Self::NoType => f.write_str("message has no string `type`"),
            Self::Unexpected { field, marker } => write!(f, "`{field}` has msgpack marker {marker:#04x}"),
            Self::MissingField(field) => write!(f, "audio frame without `{field}`"),
        }
    }
}

type Result<T> = std::result::Result<T, MsgError>;

/// A read position in one message.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Result<u8> {
        self.buf.get(self.pos).copied().ok_or(MsgError::Truncated)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len()).ok_or(MsgError::Truncated)?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    /// A big-endian unsigned integer of `n` (1, 2, 4 or 8) bytes.
    fn be(&mut self, n: usize) -> Result<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }

    fn map_len(&mut self) -> Result<Option<u64>> {
        Ok(match self.peek()? {
            m @ 0x80..=0x8f => {
                self.pos += 1;
                Some(u64::from(m & 0x0f))
            }
            0xde => {
                self.pos += 1;
                Some(self.be(2)?)
            }
            0xdf => {
                self.pos += 1;
                Some(self.be(4)?)
            }
            _ => None,
        })
    }

    fn array_len(&mut self) -> Result<Option<u64>> {
        Ok(match self.peek()? {
            m @ 0x90..=0x9f => {
                self.pos += 1;
                Some(u64::from(m & 0x0f))
            }
            0xdc => {
                self.pos += 1;
                Some(self.be(2)?)
            }
            0xdd => {
                self.pos += 1;
                Some(self.be(4)?)
            }
            _ => None,
        })
    }

    /// A str's bytes, or `None` (nothing consumed) if the next value is not a str.
    fn str(&mut self) -> Result<Option<&'a [u8]>> {
        let len = match self.peek()? {
            m @ 0xa0..=0xbf => {
                self.pos += 1;
                u64::from(m & 0x1f)
            }
            m @ 0xd9..=0xdb => {
                self.pos += 1;
                self.be(1 << (m - 0xd9))?
            }
            _ => return Ok(None),
        };
        self.take(usize::try_from(len).map_err(|_| MsgError::Truncated)?).map(Some)
    }

    /// A non-negative integer in any encoding, or `None` (nothing consumed) if the next value is not one.
    fn uint(&mut self) -> Result<Option<u64>> {
        let value = match self.peek()? {
            m @ 0x00..=0x7f => {
                self.pos += 1;
                u64::from(m)
            }
            m @ 0xcc..=0xcf => {
                self.pos += 1;
                self.be(1 << (m - 0xcc))?
            }
            m @ 0xd0..=0xd3 => {
                let start = self.pos;
                self.pos += 1;
                let width = 1usize << (m - 0xd0);
                let raw = self.be(width)?;
                let shift = 64 - 8 * width as u32;
                let signed = ((raw << shift) as i64) >> shift;
                match u64::try_from(signed) {
                    Ok(value) => value,
                    Err(_) => {
                        self.pos = start;
                        return Ok(None);
                    }
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(value))
    }

    /// Skips one complete value, nested ones included, without recursion: `pending` counts the
    /// values still to skip, and an array or map adds its elements to it.
    fn skip(&mut self) -> Result<()> {
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            let marker = self.byte()?;
            let (fixed, counted): (usize, u64) = match marker {
                0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => (0, 0),
                0x80..=0x8f => (0, 2 * u64::from(marker & 0x0f)),
                0x90..=0x9f => (0, u64::from(marker & 0x0f)),
                0xa0..=0xbf => (usize::from(marker & 0x1f), 0),
                0xc4 | 0xd9 => (self.be(1)? as usize, 0),
                0xc5 | 0xda => (self.be(2)? as usize, 0),
                0xc6 | 0xdb => (self.be(4)? as usize, 0),
                0xc7 => (self.be(1)? as usize + 1, 0),
                0xc8 => (self.be(2)? as usize + 1, 0),
                0xc9 => (self.be(4)? as usize + 1, 0),
                0xca => (4, 0),
                0xcb => (8, 0),
                0xcc..=0xcf => (1 << (marker - 0xcc), 0),
                0xd0..=0xd3 => (1 << (marker - 0xd0), 0),
                0xd4..=0xd8 => ((1 << (marker - 0xd4)) + 1, 0),
                0xdc => (0, self.be(2)?),
                0xdd => (0, self.be(4)?),
                0xde => (0, 2 * self.be(2)?),
                0xdf => (0, 2 * self.be(4)?),
                0xc1 => return Err(MsgError::Unexpected { field: "value", marker }),
            };
            self.take(fixed)?;
            pending += counted;
        }
        Ok(())
    }
}

/// Reads one server message. For an `audio` message, `on_frame(seq, captured_at)` is called for
/// each frame in order.
pub fn read_message<'a>(bytes: &'a [u8], mut on_frame: impl FnMut(u64, u64)) -> Result<Message<'a>> {
    let mut c = Cursor { buf: bytes, pos: 0 };
    let entries = c.map_len()?.ok_or(MsgError::NotAMap)?;
    let (mut kind, mut reference, mut code, mut frames_at) = (None, None, &[][..], None);
    for _ in 0..entries {
        let Some(key) = c.str()? else {
            c.skip()?;
            c.skip()?;
            continue;
        };
        match key {
            b"type" => {
                let name = c.str()?.ok_or(MsgError::NoType)?;
                kind = Some(kind_of(name));
            }
            b"frames" if kind == Some(Kind::Audio) => walk_frames(&mut c, &mut on_frame)?,
            b"frames" => {
                frames_at = Some(c.pos);
                c.skip()?;
            }
            b"ref" => match c.uint()? {
                Some(value) => reference = Some(value),
                None => c.skip()?,
            },
            b"code" => match c.str()? {
                Some(value) => code = value,
                None => c.skip()?,
            },
            _ => c.skip()?,
        }
    }
    let kind = kind.ok_or(MsgError::NoType)?;
    if let (Kind::Audio, Some(pos)) = (kind, frames_at) {
        walk_frames(&mut Cursor { buf: bytes, pos }, &mut on_frame)?;
    }
    Ok(Message { kind, reference, code })
}

/// The `frames` array of an audio message: per frame map, `seq` and `captured_at`; `opus` and any
/// other field skipped by length.
fn walk_frames(c: &mut Cursor<'_>, on_frame: &mut impl FnMut(u64, u64)) -> Result<()> {
    let unexpected = |c: &Cursor<'_>, field| MsgError::Unexpected { field, marker: c.peek().unwrap_or(0) };
    let frames = c.array_len()?.ok_or_else(|| unexpected(c, "frames"))?;
    for _ in 0..frames {
        let fields = c.map_len()?.ok_or_else(|| unexpected(c, "frames[]"))?;
        let (mut seq, mut captured_at) = (None, None);
        for _ in 0..fields {
            match c.str()? {
                Some(b"seq") => seq = Some(c.uint()?.ok_or_else(|| unexpected(c, "seq"))?),
                Some(b"captured_at") => {
                    captured_at = Some(c.uint()?.ok_or_else(|| unexpected(c, "captured_at"))?)
                }
                Some(_) => c.skip()?,
                None => {
                    c.skip()?;
                    c.skip()?;
                }
            }
        }
        let seq = seq.ok_or(MsgError::MissingField("seq"))?;
        on_frame(seq, captured_at.ok_or(MsgError::MissingField("captured_at"))?);
    }
    Ok(())
}

/// Appends `hello {type, protocol: 2, name}` as msgpack to `out`: a new guest shown as `name` (the
/// server issues its id; a listener needs no account).
pub fn write_hello(out: &mut Vec<u8>, name: &str) {
    write_map(
        out,
        &[("type", Value::Str("hello")), ("protocol", Value::Uint(2)), ("name", Value::Str(name))],
    );
}

/// Appends `hello {type, protocol: 2, token}` as msgpack to `out`: the account of a session token
/// (a speaker: only accounts speak).
pub fn write_hello_token(out: &mut Vec<u8>, token: &str) {
    write_map(
        out,
        &[("type", Value::Str("hello")), ("protocol", Value::Uint(2)), ("token", Value::Str(token))],
    );
}

/// Appends a speaker's `audio {type, seq, captured_at, opus[, level]}` as msgpack to `out`.
pub fn write_audio(out: &mut Vec<u8>, seq: u64, captured_at: u64, opus: &[u8], level: Option<u8>) {
    let entries = [
        ("type", Value::Str("audio")),
        ("seq", Value::Uint(seq)),
        ("captured_at", Value::Uint(captured_at)),
        ("opus", Value::Bin(opus)),
        ("level", Value::Uint(level.map_or(0, u64::from))),
    ];
    write_map(out, &entries[..if level.is_some() { 5 } else { 4 }]);
}

/// Appends `join_space {type, ref, space_id}` as msgpack to `out`.
pub fn write_join_space(out: &mut Vec<u8>, reference: u64, space_id: &str) {
    write_map(
        out,
        &[
            ("type", Value::Str("join_space")),
            ("ref", Value::Uint(reference)),
            ("space_id", Value::Str(space_id)),
        ],
    );
}

enum Value<'a> {
    Str(&'a str),
    Uint(u64),
    Bin(&'a [u8]),
}

fn write_map(out: &mut Vec<u8>, fields: &[(&str, Value<'_>)]) {
    // Writing into a Vec cannot fail, and no string here comes near 2^32 bytes.
    let written: std::result::Result<(), rmp::encode::ValueWriteError> = (|| {
        rmp::encode::write_map_len(out, fields.len() as u32)?;
        for (key, value) in fields {
            rmp::encode::write_str(out, key)?;
            match value {
                Value::Str(s) => rmp::encode::write_str(out, s)?,
                Value::Uint(n) => {
                    rmp::encode::write_uint(out, *n)?;
                }
                Value::Bin(bytes) => rmp::encode::write_bin(out, bytes)?,
            }
        }
        Ok(())
    })();
    written.expect("msgpack into a Vec");
}
