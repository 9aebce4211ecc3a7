//! A strict reader of one client message: `audio` (docs/protocol.md), the
//! msgpack map `{"type": "audio", "seq": u63, "captured_at": u63, "opus":
//! bin 1..=1500}`, with or without `"level": 0..=127 or nil`, in any key order. It
//! accepts only what the gateway's own decoder (`gateway.protocol.decode_client`)
//! accepts as the same `SendAudio`: exactly these keys once each, every integer
//! encoding of a value in range, and nothing after the map. Anything else, well-formed or not, is
//! not for this reader: the message goes to Python, which decodes it (or
//! refuses it with `bad_message`) exactly as for any other message.

/// The largest Opus packet: the protocol's `max_opus_bytes`, the mixer's limit.
pub const MAX_OPUS_BYTES: usize = mixer_core::MAX_PACKET_BYTES;
const MAX_U63: u64 = (1 << 63) - 1;
/// The quietest audio level (RFC 6464: −127 dBov or below).
pub const MAX_LEVEL: u8 = 127;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audio<'a> {
    pub seq: u64,
    pub captured_at: u64,
    pub opus: &'a [u8],
    /// RFC 6464's audio level (−dBov), when the sender gave one.
    pub level: Option<u8>,
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.data.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(self.take(n)?.iter().fold(0, |acc, &b| acc << 8 | u64::from(b)))
    }

    fn map_len(&mut self) -> Option<u64> {
        match self.byte()? {
            lead @ 0x80..=0x8F => Some(u64::from(lead & 0x0F)),
            0xDE => self.be(2),
            0xDF => self.be(4),
            _ => None,
        }
    }

    fn str(&mut self) -> Option<&'a [u8]> {
        let len = match self.byte()? {
            lead @ 0xA0..=0xBF => u64::from(lead & 0x1F),
            0xD9 => self.be(1)?,
            0xDA => self.be(2)?,
            0xDB => self.be(4)?,
            _ => return None,
        };
        self.take(usize::try_from(len).ok()?)
    }

    /// A non-negative integer in any of msgpack's encodings, at most 2^63 - 1.
    fn u63(&mut self) -> Option<u64> {
        let value = match self.byte()? {
            lead @ 0x00..=0x7F => u64::from(lead),
            0xCC => self.be(1)?,
            0xCD => self.be(2)?,
            0xCE => self.be(4)?,
            0xCF => self.be(8)?,
            0xD0 => sign(self.be(1)?, 8)?,
            0xD1 => sign(self.be(2)?, 16)?,
            0xD2 => sign(self.be(4)?, 32)?,
            0xD3 => sign(self.be(8)?, 64)?,
            _ => return None,
        };
        (value <= MAX_U63).then_some(value)
    }

    /// An audio level, 0..=`MAX_LEVEL`, or nil (`Some(None)`: no level given).
    fn level(&mut self) -> Option<Option<u8>> {
        if self.data.get(self.at) == Some(&0xC0) {
            self.at += 1;
            return Some(None);
        }
        let level = u8::try_from(self.u63()?).ok()?;
        (level <= MAX_LEVEL).then_some(Some(level))
    }

    fn bin(&mut self) -> Option<&'a [u8]> {
        let len = match self.byte()? {
            0xC4 => self.be(1)?,
            0xC5 => self.be(2)?,
            0xC6 => self.be(4)?,
            _ => return None,
        };
        self.take(usize::try_from(len).ok()?)
    }
}

/// A signed integer of `bits` as a u64, or `None` if it is negative.
fn sign(raw: u64, bits: u32) -> Option<u64> {
    let negative = raw >> (bits - 1) & 1 == 1;
    (!negative).then_some(raw)
}

/// The `audio` message `data` holds, or `None` for anything else.
pub fn parse(data: &[u8]) -> Option<Audio<'_>> {
    let mut r = Reader { data, at: 0 };
    let keys = r.map_len()?;
    if !(4..=5).contains(&keys) {
        return None;
    }
    let (mut kind, mut seq, mut captured_at, mut opus, mut level) = (false, None, None, None, None);
    for _ in 0..keys {
        match r.str()? {
            b"type" if !kind => {
                if r.str()? != b"audio" {
                    return None;
                }
                kind = true;
            }
            b"seq" if seq.is_none() => seq = Some(r.u63()?),
            b"captured_at" if captured_at.is_none() => captured_at = Some(r.u63()?),
            b"opus" if opus.is_none() => opus = Some(r.bin()?),
            b"level" if level.is_none() => level = Some(r.level()?),
            _ => return None, // another key, or one given twice
        }
    }
    let opus = opus?;
    if !kind || r.at != data.len() || opus.is_empty() || opus.len() > MAX_OPUS_BYTES {
        return None;
    }
    Some(Audio { seq: seq?, captured_at: captured_at?, opus, level: level.flatten() })
}
