//! The two header packets of an Ogg Opus stream (RFC 7845, section 5), and
//! the constants of the one format Stoa records: mono, 48 kHz, 20 ms packets.

/// Samples per second of every Opus stream's granule positions.
pub const GRANULE_RATE: u64 = 48_000;
/// Samples in one 20 ms packet.
pub const FRAME_SAMPLES: u64 = 960;
/// The samples a player drops from the start: libopus' encoder delay at
/// 48 kHz in its VoIP and audio modes (2.5 ms of look-ahead and 4 ms of
/// delay compensation), which every packet of a recording comes from (the
/// speakers' encoders and the mixer's). Dropping it puts the sound where it
/// was said.
pub const PRE_SKIP: u16 = 312;
/// The input rate named in the header: the mixer's one rate.
pub const INPUT_RATE: u32 = 48_000;
/// One 20 ms packet of digital silence: a CELT-only, fullband, mono, code 0
/// packet whose frame has the silence flag set (2 bytes). It decodes to
/// zeros, so silence costs 150 bytes a second.
pub const SILENCE: [u8; 3] = [0xF8, 0xFF, 0xFE];

const HEAD_MAGIC: &[u8; 8] = b"OpusHead";
const TAGS_MAGIC: &[u8; 8] = b"OpusTags";

/// The identification header: version 1, one channel, `pre_skip`,
/// `input_rate`, no gain, channel mapping family 0.
pub fn opus_head(pre_skip: u16, input_rate: u32) -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(HEAD_MAGIC);
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&input_rate.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain (Q7.8 dB)
    head.push(0); // mapping family: mono or stereo, no table
    head
}

/// The comment header: `vendor` and the user comments (`KEY=value`).
pub fn opus_tags(vendor: &str, comments: &[&str]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut tags = Vec::new();
    tags.extend_from_slice(TAGS_MAGIC);
    string(&mut tags, vendor);
    tags.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for comment in comments {
        string(&mut tags, comment);
    }
    tags
}

/// The pre-skip of an identification header, if `packet` is one this
/// reader understands (the magic, a version 0.x, at least 19 bytes).
pub fn read_pre_skip(packet: &[u8]) -> Option<u16> {
    if packet.len() < 19 || &packet[..8] != HEAD_MAGIC || packet[8] >> 4 != 0 {
        return None;
    }
    Some(u16::from_le_bytes([packet[10], packet[11]]))
}

/// Whether `packet` is a comment header.
pub fn is_tags(packet: &[u8]) -> bool {
    packet.len() >= 16 && &packet[..8] == TAGS_MAGIC
}

/// Milliseconds a stream plays whose last granule position is `granule`.
pub fn duration_ms(granule: u64, pre_skip: u16) -> u64 {
    granule.saturating_sub(u64::from(pre_skip)) * 1_000 / GRANULE_RATE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identification_header_has_rfc_7845s_layout() {
        let head = opus_head(312, 48_000);
        assert_eq!(head.len(), 19);
        assert_eq!(&head[..8], b"OpusHead");
        assert_eq!((head[8], head[9]), (1, 1), "version 1, mono");
        assert_eq!(&head[10..12], &[0x38, 0x01], "pre-skip 312, little-endian");
        assert_eq!(&head[12..16], &48_000u32.to_le_bytes());
        assert_eq!(&head[16..19], &[0, 0, 0], "no gain, family 0");
        assert_eq!(read_pre_skip(&head), Some(312));
        assert_eq!(read_pre_skip(&head[..18]), None);
    }

    #[test]
    fn the_comment_header_has_a_vendor_and_counted_comments() {
        let tags = opus_tags("Stoa", &["TITLE=x"]);
        assert_eq!(&tags[..8], b"OpusTags");
        assert_eq!(&tags[8..12], &4u32.to_le_bytes());
        assert_eq!(&tags[12..16], b"Stoa");
        assert_eq!(&tags[16..20], &1u32.to_le_bytes());
        assert_eq!(&tags[20..24], &7u32.to_le_bytes());
        assert_eq!(&tags[24..], b"TITLE=x");
        assert!(is_tags(&tags) && !is_tags(&opus_head(0, 48_000)));
    }

    #[test]
    fn duration_leaves_out_the_pre_skip() {
        assert_eq!(duration_ms(50 * FRAME_SAMPLES, PRE_SKIP), 993, "1 s of packets less 6.5 ms");
        assert_eq!(duration_ms(100, PRE_SKIP), 0);
    }
}
