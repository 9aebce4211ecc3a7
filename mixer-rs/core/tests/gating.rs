//! Active-speaker gating: silence is never mixed or encoded, a short pause
//! keeps a talker in the mix, and at most `max_mixed` talkers (the loudest)
//! are mixed.

mod common;

use common::{db_ratio, decode_stream, frame, noise_packets, sine_frame, tone_packets, tone_packets_at};
use mixer_core::{Encoder, Mixer, MixerConfig, Pcm, TickKind, TickOutput};

fn mixer_with(inputs: &[u64], config: MixerConfig) -> Mixer {
    let mixer = Mixer::new(config).unwrap();
    for &id in inputs {
        mixer.add_input(id).unwrap();
    }
    mixer
}

/// Pushes packet `seq` of each stream, then ticks; for `ticks` ticks.
fn talk(mixer: &Mixer, streams: &[(u64, &[Vec<u8>])], ticks: usize) -> Vec<TickOutput> {
    (0..ticks)
        .map(|seq| {
            for &(id, packets) in streams {
                assert!(mixer.push(id, frame(seq as u64, &packets[seq])).unwrap());
            }
            mixer.tick().unwrap()
        })
        .collect()
}

/// One sender's packets for a sequence of frames (one encoder throughout).
fn encode(frames: impl IntoIterator<Item = Pcm>) -> Vec<Vec<u8>> {
    let mut encoder = Encoder::new(32_000, 5).unwrap();
    frames.into_iter().map(|pcm| encoder.encode(&pcm).unwrap()).collect()
}

fn level_of(out: &TickOutput, id: u64) -> Option<i8> {
    out.levels.iter().find(|(i, _)| *i == id).map(|&(_, level)| level)
}

#[test]
fn silent_inputs_are_not_mixed_and_cost_no_encode() {
    let mixer = mixer_with(&[1, 2], MixerConfig::default());
    let zeros = encode(std::iter::repeat_n([0; 960], 30));
    let hiss = noise_packets(20, 30);
    for out in talk(&mixer, &[(1, &zeros), (2, &hiss)], 30) {
        assert_eq!((out.kind, out.shared, out.minus, out.mixed), (TickKind::Silent, None, vec![], vec![]));
        assert_eq!(out.levels.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 2], "both were decoded");
        assert!(out.levels.iter().all(|&(_, level)| level < -55), "{:?}", out.levels);
    }
    assert_eq!(mixer.stats().encodes, 0);
    assert!(mixer.is_active(), "packets of silence still keep the mixer ticking, through the hangover");
}

#[test]
fn a_talker_beside_silent_inputs_is_passed_through() {
    let mixer = mixer_with(&[1, 2, 3], MixerConfig::default());
    let (tone, hiss, zeros) = (tone_packets(440.0, 20), noise_packets(30, 20), encode([[0; 960]; 20]));
    for (seq, out) in talk(&mixer, &[(1, &hiss), (2, &tone), (3, &zeros)], 20).into_iter().enumerate() {
        assert_eq!((out.kind, out.mixed), (TickKind::Passthrough, vec![2]));
        assert_eq!(out.shared.as_deref(), Some(tone[seq].as_slice()));
    }
    assert_eq!(mixer.stats().encodes, 0);
}

#[test]
fn dtx_packets_are_silence() {
    let mixer = mixer_with(&[1], MixerConfig::default());
    // A TOC byte alone (SILK wideband, 20 ms): what a sender in DTX sends.
    let dtx = vec![vec![0x48]; 10];
    for out in talk(&mixer, &[(1, &dtx)], 10) {
        assert_eq!((out.kind, out.mixed.len(), out.levels.len()), (TickKind::Silent, 0, 1));
    }
    let stats = mixer.stats();
    assert_eq!((stats.encodes, stats.decode_errors), (0, 0));
}

#[test]
fn levels_are_the_frames_dbfs_for_every_input_that_played() {
    let mixer = mixer_with(&[1, 2, 3], MixerConfig::default());
    let (tone, hiss) = (tone_packets(440.0, 20), noise_packets(30, 20));
    let outputs = talk(&mixer, &[(1, &tone), (2, &hiss)], 20);
    let last = outputs.last().unwrap();
    assert_eq!(last.levels.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 2], "3 played nothing");
    // An 8,000 amplitude sine: 20 log10(8000 / 32768 / sqrt 2) = -15.3 dBFS.
    assert!((-17..=-14).contains(&level_of(last, 1).unwrap()), "{:?}", last.levels);
    assert!(level_of(last, 2).unwrap() < -55, "{:?}", last.levels);
}

#[test]
fn a_talker_pausing_for_less_than_the_hold_stays_mixed() {
    let config = MixerConfig { hold_ticks: 10, ..MixerConfig::default() };
    let mixer = mixer_with(&[1, 2], config);
    // 1 talks for 20 ticks, pauses 9, talks 20 more, pauses 20.
    let tone =
        |range: std::ops::Range<usize>| range.map(|i| sine_frame(440.0, 8_000.0, i)).collect::<Vec<_>>();
    let pause = |n: usize| vec![[0i16; 960]; n];
    let a = encode([tone(0..20), pause(9), tone(29..49), pause(20)].concat());
    let b = tone_packets(1_000.0, 69);
    let outputs = talk(&mixer, &[(1, &a), (2, &b)], 69);
    for (tick, out) in outputs.iter().enumerate().take(49 + 10) {
        assert_eq!(out.mixed, vec![1, 2], "tick {tick}: a pause within the hold");
    }
    for (tick, out) in outputs.iter().enumerate().skip(49 + 11) {
        assert_eq!(
            (out.kind, &out.mixed),
            (TickKind::Passthrough, &vec![2]),
            "tick {tick}: the hold is over"
        );
    }
}

#[test]
fn with_six_talkers_the_four_loudest_are_mixed_and_the_others_inaudible() {
    // (id, Hz, amplitude): 3, 5, 1 and 6 are the loudest four.
    let talkers = [(1, 350.0, 4_000.0), (2, 520.0, 500.0), (3, 730.0, 8_000.0), (4, 1_130.0, 1_000.0)];
    let talkers = [&talkers[..], &[(5, 1_470.0, 6_000.0), (6, 1_910.0, 2_000.0)]].concat();
    let streams: Vec<(u64, Vec<Vec<u8>>)> =
        talkers.iter().map(|&(id, hz, amplitude)| (id, tone_packets_at(hz, amplitude, 50))).collect();
    let streams: Vec<(u64, &[Vec<u8>])> = streams.iter().map(|(id, p)| (*id, p.as_slice())).collect();

    let mixer = mixer_with(&[1, 2, 3, 4, 5, 6], MixerConfig { max_mixed: 4, ..MixerConfig::default() });
    let outputs = talk(&mixer, &streams, 50);
    for out in &outputs {
        assert_eq!(out.mixed, vec![1, 3, 5, 6]);
        assert_eq!(out.minus.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 3, 5, 6]);
        assert_eq!(out.levels.len(), 6, "every talker is measured, mixed or not");
    }
    assert_eq!(mixer.stats().encodes, 50 * 5, "the shared encode and four mix-minus per tick");

    let shared = decode_stream(outputs.iter().map(|o| o.shared.as_deref()))[9_600..].to_vec();
    let minus_3 = decode_stream(outputs.iter().map(|o| Some(o.minus[1].1.as_slice())))[9_600..].to_vec();
    for heard in [&shared, &minus_3] {
        // Against the quietest mixed tone (1,910 Hz at 2,000), the left-out
        // ones stand 33-40 dB under; mixed, they would be 6-12 dB under.
        assert!(db_ratio(heard, 1_910.0, 520.0) > 25.0, "{}", db_ratio(heard, 1_910.0, 520.0));
        assert!(db_ratio(heard, 1_910.0, 1_130.0) > 25.0, "{}", db_ratio(heard, 1_910.0, 1_130.0));
        assert!(db_ratio(heard, 350.0, 1_000.0) > 20.0 && db_ratio(heard, 1_470.0, 1_000.0) > 20.0);
    }
    assert!(db_ratio(&minus_3, 350.0, 730.0) > 20.0, "3 does not hear itself");
}

#[test]
fn the_mix_costs_at_most_max_mixed_plus_one_encodes_however_many_talk() {
    let ids: Vec<u64> = (1..=13).collect();
    let mixer = mixer_with(&ids, MixerConfig { max_mixed: 3, ..MixerConfig::default() });
    let packets = tone_packets(440.0, 10);
    let streams: Vec<(u64, &[Vec<u8>])> = ids.iter().map(|&id| (id, packets.as_slice())).collect();
    for out in talk(&mixer, &streams, 10) {
        assert_eq!(out.mixed, vec![1, 2, 3], "equal levels: the lower ids, and they stay");
    }
    assert_eq!(mixer.stats().encodes, 10 * 4);
}

#[test]
fn a_talker_must_be_clearly_louder_to_take_a_mixed_talkers_place() {
    let mixer = mixer_with(&[1, 2, 3], MixerConfig { max_mixed: 1, ..MixerConfig::default() });
    let first = tone_packets_at(440.0, 8_000.0, 40);
    let a_little_louder = tone_packets_at(1_000.0, 9_000.0, 40); // +1 dB
    let much_louder = tone_packets_at(700.0, 16_000.0, 40); // +6 dB
    let outputs = talk(&mixer, &[(1, &first)], 5);
    assert!(outputs.iter().all(|out| out.mixed == vec![1]));
    let outputs: Vec<_> = (5..20)
        .map(|seq| {
            mixer.push(1, frame(seq, &first[seq as usize])).unwrap();
            mixer.push(2, frame(seq, &a_little_louder[seq as usize])).unwrap();
            mixer.tick().unwrap()
        })
        .collect();
    assert!(outputs.iter().all(|out| out.mixed == vec![1]), "near-equals do not take turns");
    let outputs: Vec<_> = (20..30)
        .map(|seq| {
            for (id, stream) in [(1, &first), (2, &a_little_louder), (3, &much_louder)] {
                mixer.push(id, frame(seq, &stream[seq as usize])).unwrap();
            }
            mixer.tick().unwrap()
        })
        .collect();
    // 3's first packet waits a tick (1 was talking: `Input::play`'s prefill), and a fresh decoder
    // ramps up over its first frames (the codec's start-up).
    let taken = outputs.iter().position(|out| out.mixed == vec![3]).expect("6 dB louder takes the place");
    assert!(taken <= 4, "{:?}", outputs[taken].levels);
    assert!(outputs[taken..].iter().all(|out| out.mixed == vec![3]), "and keeps it");
}

#[test]
fn bad_gating_settings_are_refused_with_bad_argument() {
    for config in [
        MixerConfig { max_mixed: 0, ..MixerConfig::default() },
        MixerConfig { max_mixed: 14, ..MixerConfig::default() },
        MixerConfig { silence_dbfs: 1, ..MixerConfig::default() },
        MixerConfig { silence_dbfs: -128, ..MixerConfig::default() },
    ] {
        assert_eq!(Mixer::new(config).err().map(|e| e.code()), Some("bad_argument"), "{config:?}");
    }
    assert!(Mixer::new(MixerConfig { max_mixed: 13, silence_dbfs: -127, ..MixerConfig::default() }).is_ok());
}
