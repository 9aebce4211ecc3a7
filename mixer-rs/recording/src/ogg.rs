//! Ogg framing (RFC 3533) as a recording needs it: pages built from whole
//! packets, each with its CRC, and a reader that checks a page as a player
//! would (for the repair of a torn file, and for tests).
//!
//! No packet ever spans two pages: a recording's packets are at most 1,500
//! bytes (6 lacing values), so a page is closed before one would not fit.

use std::ops::Range;

/// Every page starts with these four bytes.
pub const CAPTURE: &[u8; 4] = b"OggS";
/// The fixed part of a page header, before its lacing values.
pub const HEADER_LEN: usize = 27;
/// Header type flags.
pub const FLAG_CONTINUED: u8 = 0x01;
pub const FLAG_BOS: u8 = 0x02;
pub const FLAG_EOS: u8 = 0x04;
/// The granule position of a page on which no packet ends (RFC 3533: -1).
pub const NO_GRANULE: u64 = u64::MAX;
/// Lacing values a page can hold.
const MAX_SEGMENTS: usize = 255;
/// Where the CRC sits in the header.
const CRC_AT: Range<usize> = 22..26;

const CRC_TABLE: [u32; 256] = crc_table();

/// The table of Ogg's CRC-32: polynomial 0x04C11DB7, most significant bit
/// first, initial value 0, no final XOR.
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 { (r << 1) ^ 0x04C1_1DB7 } else { r << 1 };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
}

/// Ogg's CRC-32 of `bytes`.
pub fn crc(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |crc, &b| (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)])
}

/// One logical stream's pages, built a packet at a time and numbered in order.
pub struct PageBuilder {
    serial: u32,
    sequence: u32,
    lacing: Vec<u8>,
    body: Vec<u8>,
    packets: usize,
}

impl PageBuilder {
    /// A stream whose first page will be page `sequence`.
    pub fn new(serial: u32, sequence: u32) -> Self {
        Self { serial, sequence, lacing: Vec::with_capacity(MAX_SEGMENTS), body: Vec::new(), packets: 0 }
    }

    /// Whole packets in the page being built.
    pub fn packets(&self) -> usize {
        self.packets
    }

    /// Whether one more packet of `len` bytes fits in the page being built.
    pub fn fits(&self, len: usize) -> bool {
        let segments = len / 255 + 1; // lacing: a 255 per full segment, then one under 255 (maybe 0)
        self.lacing.len() + segments <= MAX_SEGMENTS
    }

    /// Adds a whole packet; the caller has checked that it `fits`.
    pub fn add(&mut self, packet: &[u8]) {
        debug_assert!(self.fits(packet.len()));
        // A packet is as many 255s as it holds, then the rest (0 when it is a multiple of 255).
        self.lacing.extend(std::iter::repeat_n(255u8, packet.len() / 255));
        self.lacing.push((packet.len() % 255) as u8);
        self.body.extend_from_slice(packet);
        self.packets += 1;
    }

    /// Closes the page being built: its bytes, with `flags` and `granule`
    /// and its CRC; the next page starts empty.
    pub fn finish(&mut self, flags: u8, granule: u64) -> Vec<u8> {
        let mut page = Vec::with_capacity(HEADER_LEN + self.lacing.len() + self.body.len());
        page.extend_from_slice(CAPTURE);
        page.push(0); // stream structure version
        page.push(flags);
        page.extend_from_slice(&granule.to_le_bytes());
        page.extend_from_slice(&self.serial.to_le_bytes());
        page.extend_from_slice(&self.sequence.to_le_bytes());
        page.extend_from_slice(&[0; 4]); // the CRC, computed over the page with these zeros
        page.push(self.lacing.len() as u8);
        page.extend_from_slice(&self.lacing);
        page.extend_from_slice(&self.body);
        let sum = crc(&page);
        page[CRC_AT].copy_from_slice(&sum.to_le_bytes());
        self.sequence = self.sequence.wrapping_add(1);
        self.lacing.clear();
        self.body.clear();
        self.packets = 0;
        page
    }
}

/// Sets the end-of-stream flag of a whole page and updates its CRC.
pub fn set_eos(page: &mut [u8]) {
    page[5] |= FLAG_EOS;
    page[CRC_AT].fill(0);
    let sum = crc(page);
    page[CRC_AT].copy_from_slice(&sum.to_le_bytes());
}

/// A page read back and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<'a> {
    pub flags: u8,
    pub granule: u64,
    pub serial: u32,
    pub sequence: u32,
    /// The whole page, header included.
    pub bytes: &'a [u8],
    lacing: &'a [u8],
    body: &'a [u8],
}

impl<'a> Page<'a> {
    /// The page at the start of `bytes`, if a whole, valid one is there: the
    /// capture pattern, version 0, every byte its header announces, and a
    /// matching CRC. `None` for a torn or corrupt page.
    pub fn read(bytes: &'a [u8]) -> Option<Self> {
        if bytes.len() < HEADER_LEN || &bytes[..4] != CAPTURE || bytes[4] != 0 {
            return None;
        }
        let segments = usize::from(bytes[26]);
        let lacing = bytes.get(HEADER_LEN..HEADER_LEN + segments)?;
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let len = HEADER_LEN + segments + body_len;
        let page = bytes.get(..len)?;
        let stored = u32::from_le_bytes(page[CRC_AT].try_into().ok()?);
        let mut zeroed = [0u8; HEADER_LEN];
        zeroed.copy_from_slice(&page[..HEADER_LEN]);
        zeroed[CRC_AT].fill(0);
        let sum = page[HEADER_LEN..]
            .iter()
            .fold(crc(&zeroed), |crc, &b| (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)]);
        if sum != stored {
            return None;
        }
        let word = |at: usize| u32::from_le_bytes(page[at..at + 4].try_into().unwrap_or_default());
        Some(Self {
            flags: page[5],
            granule: u64::from_le_bytes(page[6..14].try_into().ok()?),
            serial: word(14),
            sequence: word(18),
            bytes: page,
            lacing,
            body: &page[HEADER_LEN + segments..],
        })
    }

    /// The packets that end on this page, in order (a packet continued from
    /// the page before is given from where this page takes it up).
    pub fn packets(&self) -> Vec<&'a [u8]> {
        let mut packets = Vec::new();
        let (mut start, mut at) = (0, 0);
        for &l in self.lacing {
            at += usize::from(l);
            if l < 255 {
                packets.push(&self.body[start..at]);
                start = at;
            }
        }
        packets
    }

    /// Whether the page's last packet ends on it (no packet runs on to the next page).
    pub fn ends_packet(&self) -> bool {
        self.lacing.last().is_none_or(|&l| l < 255)
    }
}

/// Every valid page from the start of `bytes`, in order, stopping at the
/// first that is torn or corrupt; with where each starts.
pub fn pages(bytes: &[u8]) -> Vec<(usize, Page<'_>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(page) = Page::read(&bytes[at..]) {
        let len = page.bytes.len();
        out.push((at, page));
        at += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ogg's CRC the slow way, a bit at a time: the table must agree with it.
    fn crc_bitwise(bytes: &[u8]) -> u32 {
        let mut crc = 0u32;
        for &b in bytes {
            crc ^= u32::from(b) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04C1_1DB7 } else { crc << 1 };
            }
        }
        crc
    }

    #[test]
    fn the_crc_table_agrees_with_the_bitwise_definition() {
        let data: Vec<u8> = (0..2_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert_eq!(crc(&data), crc_bitwise(&data));
        assert_eq!(crc(b""), 0, "initial value 0, no final XOR");
        // The CRC-32 with these parameters (MSB first, init 0, no reflection, no XOR out) of "123456789".
        assert_eq!(crc(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn a_page_reads_back_with_its_fields_and_packets() {
        let mut builder = PageBuilder::new(0xDEAD_BEEF, 7);
        let packets: Vec<Vec<u8>> = vec![vec![1; 3], vec![2; 255], vec![3; 600], vec![]];
        for p in &packets {
            assert!(builder.fits(p.len()));
            builder.add(p);
        }
        let page = builder.finish(FLAG_EOS, 123_456);
        assert_eq!(page[26], 1 + 2 + 3 + 1, "255 needs a terminating 0; 600 is 255, 255, 90");
        let read = Page::read(&page).unwrap();
        assert_eq!(
            (read.flags, read.granule, read.serial, read.sequence),
            (FLAG_EOS, 123_456, 0xDEAD_BEEF, 7)
        );
        assert_eq!(read.packets(), packets.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert!(read.ends_packet());
        let next = builder.finish(0, 0);
        assert_eq!(Page::read(&next).unwrap().sequence, 8, "numbered in order");
    }

    #[test]
    fn a_page_is_closed_before_its_lacing_would_overflow() {
        let mut builder = PageBuilder::new(1, 0);
        let mut added = 0;
        while builder.fits(1_500) {
            builder.add(&[0; 1_500]);
            added += 1;
        }
        assert_eq!(added, 42, "6 lacing values each: 42 * 6 = 252, a 43rd would need 258");
        assert!(builder.fits(10), "2 lacing values are still free... for a short packet");
    }

    #[test]
    fn any_flipped_bit_or_missing_byte_is_refused() {
        let mut builder = PageBuilder::new(1, 0);
        builder.add(b"hello");
        let page = builder.finish(0, 960);
        for at in 0..page.len() {
            let mut bad = page.clone();
            bad[at] ^= 0x10;
            assert!(Page::read(&bad).is_none(), "bit flipped at byte {at}");
            assert!(Page::read(&page[..at]).is_none(), "cut at byte {at}");
        }
    }

    #[test]
    fn setting_eos_keeps_the_page_valid() {
        let mut builder = PageBuilder::new(1, 0);
        builder.add(b"x");
        let mut page = builder.finish(0, 960);
        set_eos(&mut page);
        assert_eq!(Page::read(&page).unwrap().flags, FLAG_EOS);
    }
}
