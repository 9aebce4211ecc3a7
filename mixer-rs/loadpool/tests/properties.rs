//! Properties of the listener's readers, which read whatever a server (or
//! anything on the other end of a socket) sends: over any bytes they answer,
//! never panic, and never claim more than they were given; and over anything
//! the server's own writers produce (the fan-out's framing, the driver's
//! msgpack), they read back exactly what was written. Bounded cases, so they
//! run in every `cargo test`.

use driver::{WireFrame, encode_audio};
use loadpool::msg::{Kind, read_message};
use loadpool::ws::{OP_BINARY, Upgrade, parse_header, read_upgrade_response};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 128, ..ProptestConfig::default() }
}

fn wire_frame() -> impl Strategy<Value = WireFrame> {
    (any::<u64>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..1500))
        .prop_map(|(seq, captured_at, opus)| WireFrame { seq, captured_at, opus })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_frame_header_is_read_from_any_bytes_without_overreach(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
        if let Ok(Some(header)) = parse_header(&bytes) {
            prop_assert!(header.header_len <= bytes.len());
            prop_assert!(matches!(header.header_len, 2 | 4 | 10));
            prop_assert!(!header.is_control() || (header.fin && header.payload_len <= 125));
        }
    }

    #[test]
    fn every_frame_the_fanout_writes_reads_back_and_its_prefixes_wait(payload in proptest::collection::vec(any::<u8>(), 0..70_000)) {
        let frame = fanout::frame_binary(&payload);
        let header = parse_header(&frame).unwrap().unwrap();
        prop_assert!(header.fin);
        prop_assert_eq!(header.opcode, OP_BINARY);
        prop_assert_eq!(header.frame_len(), frame.len() as u64);
        prop_assert_eq!(&frame[header.header_len..], &payload[..]);
        for cut in 0..header.header_len {
            prop_assert_eq!(parse_header(&frame[..cut]), Ok(None), "an incomplete header is not an answer");
        }
    }

    #[test]
    fn a_message_is_read_from_any_bytes_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut frames = 0usize;
        let _ = read_message(&bytes, |_, _| frames += 1);
        // Each frame takes at least a fixmap marker and two keys' bytes.
        prop_assert!(frames <= bytes.len());
    }

    #[test]
    fn every_audio_message_the_driver_writes_reads_back_frame_by_frame(frames in proptest::collection::vec(wire_frame(), 0..15)) {
        let message = encode_audio(&frames);
        let mut seen = Vec::new();
        let read = read_message(&message, |seq, captured_at| seen.push((seq, captured_at))).unwrap();
        prop_assert_eq!(read.kind, Kind::Audio);
        let expected: Vec<(u64, u64)> = frames.iter().map(|f| (f.seq, f.captured_at)).collect();
        prop_assert_eq!(seen, expected);
    }

    #[test]
    fn a_cut_or_damaged_audio_message_is_refused_or_read_but_never_overread(
        frames in proptest::collection::vec(wire_frame(), 1..4),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bits in 1u8..=255,
    ) {
        let message = encode_audio(&frames);
        let short = &message[..cut.index(message.len())];
        prop_assert!(read_message(short, |_, _| ()).is_err(), "a truncated message must not read as whole");
        let mut damaged = message.clone();
        let at = flip.index(damaged.len());
        damaged[at] ^= bits;
        let _ = read_message(&damaged, |_, _| ());
    }

    #[test]
    fn an_upgrade_response_is_judged_from_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Upgrade::Accepted { head_len } = read_upgrade_response(&bytes) {
            prop_assert!(head_len <= bytes.len());
        }
    }
}
