//! Any bytes as a speaker's Opus packet (a client sends what it likes): the
//! mixer refuses what is too large, conceals what does not decode, and never
//! panics; the next real packets are heard as before.

mod common;

use common::{frame, tone_packets};
use mixer_core::{MAX_PACKET_BYTES, Mixer, MixerConfig, TickKind};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_packet_is_refused_or_played_and_the_mix_goes_on(
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1600), 1..8),
    ) {
        let mixer = Mixer::new(MixerConfig::default()).unwrap();
        mixer.add_input(1).unwrap();
        mixer.add_input(2).unwrap();
        for (seq, packet) in packets.iter().enumerate() {
            let pushed = mixer.push(1, frame(seq as u64, packet));
            prop_assert_eq!(pushed.is_err(), packet.len() > MAX_PACKET_BYTES);
            mixer.tick().unwrap();
        }
        // The other speaker is still heard alone: the hostile input did not break the mixer.
        while mixer.is_active() {
            mixer.tick().unwrap();
        }
        let real = tone_packets(440.0, 1);
        mixer.push(2, frame(0, &real[0])).unwrap();
        let out = mixer.tick().unwrap();
        prop_assert_eq!(out.kind, TickKind::Passthrough);
        prop_assert_eq!(out.shared.as_deref(), Some(real[0].as_slice()));
    }
}
