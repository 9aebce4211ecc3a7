//! How a tick classifies and builds its output: silent, passthrough, mixed,
//! hangover, removal, and what each costs in encodes.

mod common;

use common::{arriving, db_ratio, decode_stream, frame, tone_packets};
use mixer_core::{FRAME_SAMPLES, Mixer, MixerConfig, TickKind};

fn mixer_with(inputs: &[u64], hangover_ticks: u32) -> Mixer {
    let mixer = Mixer::new(MixerConfig { hangover_ticks, ..MixerConfig::default() }).unwrap();
    for &id in inputs {
        mixer.add_input(id).unwrap();
    }
    mixer
}

#[test]
fn a_tick_with_no_voice_is_silent_and_costs_no_encode() {
    let mixer = mixer_with(&[1, 2], 5);
    for expected_seq in 0..3 {
        let out = mixer.tick().unwrap();
        assert_eq!((out.seq, out.kind), (expected_seq, TickKind::Silent));
        assert_eq!((out.shared, out.minus, out.mixed, out.captured_at), (None, vec![], vec![], 0));
    }
    assert_eq!(mixer.stats().encodes, 0);
    assert!(!mixer.is_active());
}

#[test]
fn a_lone_speaker_is_passed_through_byte_for_byte() {
    let mixer = mixer_with(&[1, 2], 5);
    let packets = tone_packets(440.0, 3);
    for (seq, packet) in packets.iter().enumerate() {
        assert!(mixer.push(2, frame(seq as u64, packet)).unwrap());
        let out = mixer.tick().unwrap();
        assert_eq!(out.kind, TickKind::Passthrough);
        assert_eq!(out.shared.as_deref(), Some(packet.as_slice()));
        assert_eq!((out.minus, out.mixed), (vec![], vec![2]));
        assert_eq!(out.captured_at, frame(seq as u64, packet).captured_at);
    }
    assert_eq!(mixer.stats().encodes, 0);
}

#[test]
fn two_speakers_are_mixed_with_one_minus_each() {
    let mixer = mixer_with(&[1, 2, 3], 5);
    let (a, b) = (tone_packets(440.0, 1), tone_packets(1_000.0, 1));
    mixer.push(3, frame(7, &a[0])).unwrap();
    mixer.push(1, frame(5, &b[0])).unwrap();
    let out = mixer.tick().unwrap();
    assert_eq!(out.kind, TickKind::Mixed);
    assert!(out.shared.is_some());
    assert_eq!(out.mixed, vec![1, 3]);
    assert_eq!(
        out.minus,
        vec![(1, a[0].clone()), (3, b[0].clone())],
        "each hears the other's packet as it came"
    );
    assert_eq!(out.captured_at, frame(5, &b[0]).captured_at, "the oldest capture in the mix");
    assert_eq!(mixer.stats().encodes, 1, "the shared mix alone is encoded");
}

#[test]
fn a_talker_who_starts_while_another_talks_waits_a_tick_and_so_rides_out_jitter() {
    // 2's packets each come just after the tick meant for them (a fraction of a millisecond of
    // jitter), the first excepted. Played at once, its first packet would leave the second no margin.
    let play = |prefilled: bool| {
        let mixer = mixer_with(&[1, 2], 5);
        let (a, b) = (tone_packets(440.0, 12), tone_packets(1_000.0, 8));
        let mut outs = Vec::new();
        for seq in 0..12u64 {
            if prefilled || seq >= 3 {
                mixer.push(1, frame(seq, &a[seq as usize])).unwrap();
            }
            if seq == 3 {
                mixer.push(2, arriving(0, &b[0])).unwrap(); // in time for tick 3
            }
            outs.push(mixer.tick().unwrap());
            if (4..11).contains(&seq) {
                mixer.push(2, frame(seq - 3, &b[seq as usize - 3])).unwrap(); // just after tick `seq`
            }
        }
        let stats = mixer.stats();
        assert_eq!(stats.concealed_gaps, stats.concealed, "no spurt ended: every concealed frame is a gap");
        (outs, stats.concealed)
    };
    let (outs, concealed) = play(true);
    assert_eq!(outs[3].mixed, vec![1], "2's first packet waits a tick");
    assert!(outs[3].levels.iter().all(|&(id, _)| id != 2), "and plays nothing meanwhile");
    for (tick, out) in outs.iter().enumerate().take(11).skip(4) {
        assert_eq!(out.mixed, vec![1, 2], "tick {tick}: from the next tick on, every packet of 2's in time");
    }
    assert_eq!(concealed, 0, "no frame of 2's was missing at its tick");
    // Alone in a quiet mixer, a talker's first packet plays at once (the tick a wake-up schedules
    // one frame later is its wait), and so, here, 2's too, with 1 starting beside it.
    let (outs, concealed) = play(false);
    assert_eq!(outs[3].mixed, vec![1, 2]);
    assert!(concealed > 0, "without the wait a packet just after its tick is concealed: {concealed}");
}

#[test]
fn a_first_packet_that_has_waited_half_a_frame_already_plays_at_once() {
    let mixer = mixer_with(&[1, 2], 5);
    let (a, b) = (tone_packets(440.0, 4), tone_packets(1_000.0, 4));
    for seq in 0..2u64 {
        mixer.push(1, frame(seq, &a[seq as usize])).unwrap();
        mixer.tick().unwrap();
    }
    mixer.push(1, frame(2, &a[2])).unwrap();
    mixer.push(2, frame(0, &b[0])).unwrap();
    std::thread::sleep(mixer_core::PREFILL_WITHIN);
    let out = mixer.tick().unwrap();
    assert_eq!(out.mixed, vec![1, 2], "it has the margin a wait would give");
}

#[test]
fn a_hangover_before_a_quiet_spell_is_not_a_gap_when_the_talker_comes_back() {
    let mixer = mixer_with(&[1], 5);
    let a = tone_packets(440.0, 4);
    for seq in 0..2u64 {
        mixer.push(1, frame(seq, &a[seq as usize])).unwrap();
        mixer.tick().unwrap();
    }
    for _ in 0..5 {
        mixer.tick().unwrap(); // the hangover; then the mixer is quiet, and its space stops ticking
    }
    assert!(!mixer.is_active());
    mixer.push(1, frame(2, &a[2])).unwrap(); // the same talker, a while later
    mixer.tick().unwrap();
    let stats = mixer.stats();
    assert_eq!((stats.concealed_gaps, stats.concealed), (0, 5));
}

#[test]
fn undecodable_packets_are_each_one_frame_of_a_gap() {
    let mixer = mixer_with(&[1], 5);
    let a = tone_packets(440.0, 4);
    mixer.push(1, frame(0, &a[0])).unwrap();
    mixer.tick().unwrap();
    for seq in [1u64, 2] {
        mixer.push(1, frame(seq, &[0x03])).unwrap();
        mixer.tick().unwrap();
    }
    mixer.push(1, frame(3, &a[3])).unwrap();
    mixer.tick().unwrap();
    let stats = mixer.stats();
    assert_eq!((stats.decode_errors, stats.concealed, stats.concealed_gaps), (2, 2, 2));
}

#[test]
fn a_gap_in_a_spurt_is_counted_apart_from_the_hangover_after_it() {
    let mixer = mixer_with(&[1], 5);
    let a = tone_packets(440.0, 10);
    for seq in [0u64, 1, 2, 5, 6] {
        mixer.push(1, frame(seq, &a[seq as usize])).unwrap();
        mixer.tick().unwrap();
        if seq == 2 {
            mixer.tick().unwrap(); // 3 and 4 missing: two frames concealed, then 5 plays
            mixer.tick().unwrap();
        }
    }
    for _ in 0..10 {
        mixer.tick().unwrap(); // the hangover: 5 frames concealed, then idle
    }
    let stats = mixer.stats();
    assert_eq!((stats.concealed_gaps, stats.concealed), (2, 2 + 5));
}

#[test]
fn of_two_talkers_one_in_concealment_the_other_hears_a_stand_in_and_it_hears_the_packet() {
    let mixer = mixer_with(&[1, 2], 5);
    let (a, b) = (tone_packets(440.0, 12), tone_packets(1_000.0, 12));
    for seq in 0..10 {
        mixer.push(1, frame(seq, &a[seq as usize])).unwrap();
        mixer.push(2, frame(seq, &b[seq as usize])).unwrap();
        mixer.tick().unwrap();
    }
    let before = mixer.stats().encodes;
    mixer.push(2, frame(10, &b[10])).unwrap(); // 1 sends nothing this tick: it is concealed, still talking
    let out = mixer.tick().unwrap();
    assert_eq!(out.mixed, vec![1, 2]);
    assert_eq!(out.minus[0], (1, b[10].clone()), "1 hears 2's packet");
    assert_eq!(out.minus[1].0, 2);
    // 2's decoder has decoded 1's packets (its mix-minus, two talking): it conceals 1 itself.
    assert_eq!(out.minus[1].1, vec![a[9][0] & !0x03], "2 hears 1's concealment, from a stand-in");
    assert_eq!(mixer.stats().encodes - before, 1, "the shared mix alone");
}

#[test]
fn encodes_per_tick_follow_the_speakers_in_the_mix_not_the_inputs() {
    let ids: Vec<u64> = (1..=13).collect();
    let mixer = mixer_with(&ids, 5);
    let packets = tone_packets(440.0, 10);
    for (seq, packet) in packets.iter().enumerate() {
        for id in [4, 9, 11] {
            mixer.push(id, frame(seq as u64, packet)).unwrap();
        }
        let out = mixer.tick().unwrap();
        assert_eq!(out.mixed, vec![4, 9, 11]);
        assert_eq!(out.minus.len(), 3);
    }
    assert_eq!(mixer.stats().encodes, 10 * 4, "one shared encode plus one per speaker");
}

#[test]
fn each_speaker_hears_the_others_but_not_themself() {
    let mixer = mixer_with(&[1, 2], 5);
    let (a, b) = (tone_packets(440.0, 50), tone_packets(1_000.0, 50));
    let (mut shared, mut minus_a, mut minus_b) = (vec![], vec![], vec![]);
    for seq in 0..50 {
        mixer.push(1, frame(seq as u64, &a[seq])).unwrap();
        mixer.push(2, frame(seq as u64, &b[seq])).unwrap();
        let out = mixer.tick().unwrap();
        shared.push(out.shared.unwrap());
        minus_a.push(out.minus[0].1.clone());
        minus_b.push(out.minus[1].1.clone());
    }
    let decode = |s: &[Vec<u8>]| decode_stream(s.iter().map(|p| Some(p.as_slice())))[9_600..].to_vec();
    let (shared, minus_a, minus_b) = (decode(&shared), decode(&minus_a), decode(&minus_b));
    assert!(db_ratio(&shared, 440.0, 700.0) > 20.0 && db_ratio(&shared, 1_000.0, 700.0) > 20.0);
    assert!(db_ratio(&minus_a, 1_000.0, 440.0) > 20.0, "A hears B, not A");
    assert!(db_ratio(&minus_b, 440.0, 1_000.0) > 20.0, "B hears A, not B");
}

#[test]
fn hangover_conceals_then_the_input_goes_idle_and_the_mixer_inactive() {
    let mixer = mixer_with(&[1], 3);
    let packets = tone_packets(440.0, 1);
    mixer.push(1, frame(0, &packets[0])).unwrap();
    assert!(mixer.is_active(), "a queued packet makes the mixer active before any tick");
    assert_eq!(mixer.tick().unwrap().kind, TickKind::Passthrough);
    for conceal in 1..=3 {
        assert!(mixer.is_active());
        let out = mixer.tick().unwrap();
        assert_eq!(out.kind, TickKind::Mixed, "concealment tick {conceal}");
        assert_eq!((out.mixed, out.minus, out.captured_at), (vec![1], vec![], 0));
        // Listeners decoded 1's packet: they conceal it themselves, from a stand-in (nothing encoded).
        assert_eq!(out.shared, Some(vec![packets[0][0] & !0x03]), "concealment tick {conceal}");
    }
    assert!(!mixer.is_active());
    assert_eq!(mixer.tick().unwrap().kind, TickKind::Silent);
    let stats = mixer.stats();
    assert_eq!((stats.concealed, stats.encodes, stats.ticks), (3, 0, 5));
}

#[test]
fn a_packet_that_fails_to_decode_is_concealed_never_passed_through() {
    let mixer = mixer_with(&[1], 5);
    let packets = tone_packets(440.0, 1);
    mixer.push(1, frame(0, &packets[0])).unwrap();
    mixer.tick().unwrap();
    mixer.push(1, frame(1, &[0x03])).unwrap();
    let out = mixer.tick().unwrap();
    assert_eq!((out.kind, out.mixed, out.captured_at), (TickKind::Mixed, vec![1], 0));
    assert_ne!(out.shared.as_deref(), Some(&[0x03][..]));
    // Listeners decoded the packet before it: a stand-in made of that packet's TOC, not of the one refused.
    assert_eq!(out.shared, Some(vec![packets[0][0] & !0x03]));
    let stats = mixer.stats();
    assert_eq!((stats.decode_errors, stats.concealed), (1, 1));
}

#[test]
fn a_removed_input_is_absent_from_the_next_tick() {
    let mixer = mixer_with(&[1, 2], 5);
    let packets = tone_packets(440.0, 4);
    for (seq, packet) in packets[..2].iter().enumerate() {
        mixer.push(1, frame(seq as u64, packet)).unwrap();
        mixer.push(2, frame(seq as u64, packet)).unwrap();
    }
    assert_eq!(mixer.tick().unwrap().mixed, vec![1, 2]);
    mixer.remove_input(1);
    assert!(!mixer.has_input(1));
    assert!(!mixer.push(1, frame(2, &packets[2])).unwrap(), "push to a removed input is refused");
    let out = mixer.tick().unwrap();
    assert_eq!((out.kind, out.mixed), (TickKind::Passthrough, vec![2]));
    // 1's queued packet, then its refused push.
    assert_eq!(mixer.stats().packets_dropped, 2);
}

#[test]
fn an_input_added_again_starts_afresh() {
    let mixer = mixer_with(&[1], 5);
    let packets = tone_packets(440.0, 2);
    mixer.push(1, frame(10, &packets[0])).unwrap();
    mixer.tick().unwrap();
    mixer.remove_input(1);
    mixer.add_input(1).unwrap();
    assert!(mixer.push(1, frame(0, &packets[1])).unwrap());
    let out = mixer.tick().unwrap();
    assert_eq!(out.shared.as_deref(), Some(packets[1].as_slice()), "seq 0 is not late for a new input");
}

#[test]
fn a_space_holds_opus_state_only_while_someone_talks() {
    let mixer = mixer_with(&[1, 2], 5);
    assert_eq!(mixer.codecs_held(), 0, "speakers on the mic who never talked hold no codecs");
    let (a, b) = (tone_packets(440.0, 10), tone_packets(1000.0, 10));
    for seq in 0..10 {
        mixer.push(1, frame(seq, &a[seq as usize])).unwrap();
        mixer.push(2, frame(seq, &b[seq as usize])).unwrap();
        mixer.tick().unwrap();
    }
    // The control: while two talk, the shared encoder and both inputs' codecs exist.
    assert_eq!(mixer.codecs_held(), 3);
    while mixer.is_active() {
        mixer.tick().unwrap();
    }
    assert_eq!(mixer.codecs_held(), 0, "quiet again: every codec released");
    // And the next spurt is heard as before.
    mixer.push(1, frame(10, &a[0])).unwrap();
    assert_eq!(mixer.tick().unwrap().kind, TickKind::Passthrough);
}

#[test]
fn listeners_conceal_a_lone_talkers_last_packets_as_its_own_decoder_would() {
    let mixer = mixer_with(&[1], 5);
    let packets = tone_packets(440.0, 20);
    let mut heard = Vec::new();
    for (seq, packet) in packets.iter().enumerate() {
        mixer.push(1, frame(seq as u64, packet)).unwrap();
        heard.push(mixer.tick().unwrap().shared.unwrap());
    }
    while mixer.is_active() {
        heard.extend(mixer.tick().unwrap().shared);
    }
    assert_eq!(heard.len(), 25, "20 packets passed through, then 5 frames of concealment");
    assert!(heard[20..].iter().all(|p| p.len() == 1), "stand-ins: nothing encoded");
    assert_eq!(mixer.stats().encodes, 0);
    // What a listener decodes is, sample for sample, the talker's own stream with its losses concealed.
    let listener = decode_stream(heard.iter().map(|p| Some(p.as_slice())));
    let own = decode_stream(packets.iter().map(|p| Some(p.as_slice())).chain([None; 5]));
    assert_eq!(listener, own);
    let tail = &listener[20 * FRAME_SAMPLES..21 * FRAME_SAMPLES];
    assert!(db_ratio(tail, 440.0, 700.0) > 20.0, "the tone's concealment, not silence");
}
