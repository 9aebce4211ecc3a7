//! Opus encoder and decoder for the one format the mixer speaks (48 kHz mono,
//! 20 ms frames), with errors turned into `MixerError`. Also the s16le
//! conversions used at the Python boundary.

use crate::{FRAME_BYTES, FRAME_SAMPLES, MAX_PACKET_BYTES, MixerError, SAMPLE_RATE};

/// One frame of PCM: 960 signed 16-bit samples.
pub type Pcm = [i16; FRAME_SAMPLES];

/// Opus bitrates the encoder accepts, in bit/s (libopus' own range).
pub const BITRATE_RANGE: std::ops::RangeInclusive<i32> = 500..=512_000;
/// Opus complexity levels: 0 is cheapest, 10 best.
pub const COMPLEXITY_RANGE: std::ops::RangeInclusive<i32> = 0..=10;

/// A mono 48 kHz Opus encoder in VOIP mode producing one packet per 20 ms frame.
pub struct Encoder {
    inner: opus::Encoder,
}

impl Encoder {
    /// A new encoder; `bitrate` in bit/s, `complexity` 0-10.
    pub fn new(bitrate: i32, complexity: i32) -> Result<Self, MixerError> {
        check_encoder_settings(bitrate, complexity)?;
        let mut inner = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)?;
        inner.set_bitrate(opus::Bitrate::Bits(bitrate))?;
        inner.set_complexity(complexity)?;
        Ok(Self { inner })
    }

    /// Encodes exactly one frame (960 samples) into one Opus packet.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MixerError> {
        if pcm.len() != FRAME_SAMPLES {
            return Err(MixerError::BadPcmLength { got: pcm.len() * 2 });
        }
        let mut out = [0u8; MAX_PACKET_BYTES];
        let len = self.inner.encode(pcm, &mut out)?;
        Ok(out[..len].to_vec())
    }

    /// Samples of delay the encoder adds (its look-ahead): what a player
    /// skips at the start of a stream it began (Ogg Opus' pre-skip).
    pub fn lookahead(&mut self) -> Result<u32, MixerError> {
        let samples = self.inner.get_lookahead()?;
        u32::try_from(samples).map_err(|_| MixerError::Codec { function: "lookahead", reason: "negative" })
    }
}

/// The libopus in use, as it names itself (such as "libopus 1.3.1").
pub fn opus_version() -> &'static str {
    opus::version()
}

/// Refuses a bitrate or complexity that `Encoder::new` would refuse, without
/// building an encoder (a mixer builds its encoders only when it first mixes).
pub fn check_encoder_settings(bitrate: i32, complexity: i32) -> Result<(), MixerError> {
    if !BITRATE_RANGE.contains(&bitrate) {
        return Err(MixerError::BadArgument { name: "bitrate", reason: "must be 500..=512000 bit/s" });
    }
    if !COMPLEXITY_RANGE.contains(&complexity) {
        return Err(MixerError::BadArgument { name: "complexity", reason: "must be 0..=10" });
    }
    Ok(())
}

/// Whether `packet` is what `Decoder::decode` takes, checked without decoding
/// it: 1 to `MAX_PACKET_BYTES` bytes whose framing libopus parses and whose
/// frames last exactly 20 ms. Undecodable packets are framing errors, so one
/// that passes decodes (a packet forwarded undecoded is one listeners can decode).
pub fn is_one_frame(packet: &[u8]) -> bool {
    !packet.is_empty()
        && packet.len() <= MAX_PACKET_BYTES
        && opus::packet::parse(packet).is_ok()
        && opus::packet::get_nb_samples(packet, SAMPLE_RATE).is_ok_and(|n| n == FRAME_SAMPLES)
}

/// A packet of one byte, the TOC byte `toc` with its frame count code 0 and no frame data: a
/// decoder takes a frame of 0 or 1 byte for a lost frame (RFC 6716, 3.2.1: DTX) and conceals it,
/// libopus exactly as `Decoder::conceal`. `None` unless the TOC says 20 ms (the one frame size).
pub(crate) fn concealment_packet(toc: u8) -> Option<Vec<u8>> {
    let packet = vec![toc & !0x03];
    is_one_frame(&packet).then_some(packet)
}

/// A mono 48 kHz Opus decoder with loss concealment.
pub struct Decoder {
    inner: opus::Decoder,
}

impl Decoder {
    pub fn new() -> Result<Self, MixerError> {
        Ok(Self { inner: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono)? })
    }

    /// Decodes one packet holding exactly one 20 ms frame into `out`.
    ///
    /// An empty packet is refused (libopus would read it as a loss), and so is
    /// a packet of any other duration: the mixer's clock is one frame a tick.
    pub fn decode(&mut self, packet: &[u8], out: &mut Pcm) -> Result<(), MixerError> {
        if packet.len() > MAX_PACKET_BYTES {
            return Err(MixerError::PacketTooLarge { len: packet.len() });
        }
        if packet.is_empty() {
            return Err(MixerError::Codec { function: "decode", reason: "empty packet" });
        }
        let n = self.inner.decode(packet, out, false)?;
        if n != FRAME_SAMPLES {
            return Err(MixerError::Codec { function: "decode", reason: "packet is not one 20 ms frame" });
        }
        Ok(())
    }

    /// Forgets everything decoded so far, as a new decoder would.
    pub fn reset(&mut self) -> Result<(), MixerError> {
        Ok(self.inner.reset_state()?)
    }

    /// Writes one frame of loss concealment (what the lost packet probably held).
    pub fn conceal(&mut self, out: &mut Pcm) -> Result<(), MixerError> {
        let n = self.inner.decode(&[], out, false)?;
        if n != FRAME_SAMPLES {
            return Err(MixerError::Codec { function: "conceal", reason: "short concealment frame" });
        }
        Ok(())
    }
}

/// Reads one frame of s16le bytes (exactly `FRAME_BYTES`) into samples.
pub fn pcm_from_le_bytes(bytes: &[u8]) -> Result<Pcm, MixerError> {
    if bytes.len() != FRAME_BYTES {
        return Err(MixerError::BadPcmLength { got: bytes.len() });
    }
    let mut pcm = [0i16; FRAME_SAMPLES];
    for (sample, pair) in pcm.iter_mut().zip(bytes.chunks_exact(2)) {
        *sample = i16::from_le_bytes([pair[0], pair[1]]);
    }
    Ok(pcm)
}

/// Writes samples as s16le bytes.
pub fn pcm_to_le_bytes(pcm: &[i16]) -> Vec<u8> {
    pcm.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_bytes_round_trip_little_endian() {
        let mut pcm = [0i16; FRAME_SAMPLES];
        pcm[0] = 1;
        pcm[1] = -2;
        pcm[959] = i16::MIN;
        let bytes = pcm_to_le_bytes(&pcm);
        assert_eq!(&bytes[..4], &[1, 0, 0xfe, 0xff]);
        assert_eq!(pcm_from_le_bytes(&bytes).unwrap(), pcm);
    }

    #[test]
    fn wrong_pcm_length_is_refused_with_its_code() {
        let err = pcm_from_le_bytes(&[0; 100]).unwrap_err();
        assert_eq!(err, MixerError::BadPcmLength { got: 100 });
        assert_eq!(err.code(), "bad_pcm_length");
        let err = Encoder::new(32_000, 5).unwrap().encode(&[0; 480]).unwrap_err();
        assert_eq!(err.code(), "bad_pcm_length");
    }

    #[test]
    fn out_of_range_settings_are_bad_arguments() {
        assert_eq!(Encoder::new(10, 5).err().unwrap().code(), "bad_argument");
        assert_eq!(Encoder::new(32_000, 11).err().unwrap().code(), "bad_argument");
    }

    #[test]
    fn garbage_and_empty_packets_are_codec_errors() {
        let mut dec = Decoder::new().unwrap();
        let mut out = [0i16; FRAME_SAMPLES];
        assert_eq!(dec.decode(&[], &mut out).unwrap_err().code(), "codec_error");
        // TOC byte of code 3 (arbitrary frame count) with a truncated frame count.
        assert_eq!(dec.decode(&[0x03], &mut out).unwrap_err().code(), "codec_error");
        dec.conceal(&mut out).unwrap();
    }

    #[test]
    fn a_concealment_packet_decodes_as_the_concealment_of_a_loss() {
        let mut enc = Encoder::new(32_000, 5).unwrap();
        let packets: Vec<_> = (0..10)
            .map(|n| {
                enc.encode(&std::array::from_fn::<i16, FRAME_SAMPLES, _>(|i| {
                    (((n * FRAME_SAMPLES + i) as f64 * 0.06).sin() * 8_000.0) as i16
                }))
                .unwrap()
            })
            .collect();
        let (mut lost, mut stood_in) = (Decoder::new().unwrap(), Decoder::new().unwrap());
        let (mut a, mut b) = ([0; FRAME_SAMPLES], [0; FRAME_SAMPLES]);
        for p in &packets {
            lost.decode(p, &mut a).unwrap();
            stood_in.decode(p, &mut b).unwrap();
        }
        let stand_in = concealment_packet(packets[9][0]).unwrap();
        assert_eq!(stand_in.len(), 1);
        for n in 0..5 {
            lost.conceal(&mut a).unwrap();
            stood_in.decode(&stand_in, &mut b).unwrap();
            assert_eq!(a, b, "concealed frame {n}");
            assert!(a.iter().any(|&s| s != 0), "concealment of a tone is not silence");
        }
        // A TOC of 10 ms frames makes no stand-in: the mixer's clock is 20 ms a frame.
        let ten_ms = (packets[0][0] & !0xF8) | (packets[0][0] & 0xF8).wrapping_sub(8);
        assert_eq!(concealment_packet(ten_ms), None);
    }

    #[test]
    fn a_packet_passes_the_check_exactly_when_it_decodes() {
        let mut enc = Encoder::new(32_000, 5).unwrap();
        let pcm: Vec<i16> = (0..FRAME_SAMPLES).map(|i| ((i as f64 * 0.06).sin() * 8_000.0) as i16).collect();
        let good = enc.encode(&pcm).unwrap();
        let mut ten_ms = good.clone();
        ten_ms[0] = (ten_ms[0] & !0xF8) | (ten_ms[0] & 0xF8).wrapping_sub(8); // the TOC's config one step down: 10 ms
        let mut two_frames = vec![(good[0] & !0x03) | 0x01]; // code 1: two frames of equal size
        two_frames.extend_from_slice(&good[1..]);
        two_frames.extend_from_slice(&good[1..]);
        let odd = {
            let mut p = two_frames.clone();
            p.pop(); // code 1 with an odd payload: a framing error
            p
        };
        let cases: [(&str, &[u8]); 7] = [
            ("a 20 ms packet", &good),
            ("empty", &[]),
            ("a truncated frame count", &[0x03]),
            ("10 ms", &ten_ms),
            ("two 20 ms frames", &two_frames),
            ("a framing error", &odd),
            ("too large", &[0x78; MAX_PACKET_BYTES + 1]),
        ];
        for (what, packet) in cases {
            let decodes = Decoder::new().unwrap().decode(packet, &mut [0; FRAME_SAMPLES]).is_ok();
            assert_eq!(is_one_frame(packet), decodes, "{what}");
        }
        assert!(is_one_frame(&good));
    }
}
