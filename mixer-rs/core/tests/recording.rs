//! The recording's frame a tick makes (`Mixer::tick_recording`): the voices
//! mixed for listeners whose input consented, and no other; the listeners'
//! own packet when that is all of them (no encode), silence when none, and
//! an own mix otherwise; each consent change heard from the very next tick.

mod common;

use common::{db_ratio, decode_stream, frame, tone_packets};
use mixer_core::{Mixer, MixerConfig, RecordFrame, TickKind, TickOutput};

const A: u64 = 1;
const B: u64 = 2;

fn mixer_with(inputs: &[u64]) -> Mixer {
    let mixer = Mixer::new(MixerConfig::default()).unwrap();
    for &id in inputs {
        mixer.add_input(id).unwrap();
    }
    mixer
}

/// One recorded tick with A on 440 Hz and B on 1,000 Hz, packet `seq` of each.
fn both_talk(mixer: &Mixer, a: &[Vec<u8>], b: &[Vec<u8>], seq: usize) -> TickOutput {
    mixer.push(A, frame(seq as u64, &a[seq])).unwrap();
    mixer.push(B, frame(seq as u64, &b[seq])).unwrap();
    mixer.tick_recording().unwrap()
}

/// What the recording would hold: its packets in order, the listeners' where it reuses them.
fn recorded(out: &TickOutput) -> Option<Vec<u8>> {
    match out.recording.as_ref().unwrap() {
        RecordFrame::Shared => out.shared.clone(),
        RecordFrame::Own(packet) => Some(packet.clone()),
        RecordFrame::Silent => None,
    }
}

#[test]
fn a_plain_tick_makes_no_recording_frame() {
    let mixer = mixer_with(&[A]);
    mixer.set_consent(A, true);
    mixer.push(A, frame(0, &tone_packets(440.0, 1)[0])).unwrap();
    assert_eq!(mixer.tick().unwrap().recording, None);
}

#[test]
fn everyone_mixed_consenting_reuses_the_listeners_packet_with_no_encode() {
    let mixer = mixer_with(&[A, B]);
    mixer.set_consent(A, true);
    mixer.set_consent(B, true);
    let (a, b) = (tone_packets(440.0, 20), tone_packets(1_000.0, 20));
    for seq in 0..20 {
        let out = both_talk(&mixer, &a, &b, seq);
        assert_eq!((out.kind, out.recording), (TickKind::Mixed, Some(RecordFrame::Shared)));
    }
    assert_eq!(
        mixer.stats().encodes,
        20,
        "the shared mix alone (two talkers' mix-minus are each other's packets)"
    );
}

#[test]
fn a_lone_consenting_talker_is_recorded_byte_for_byte() {
    let mixer = mixer_with(&[A, B]);
    mixer.set_consent(A, true);
    for (seq, packet) in tone_packets(440.0, 5).into_iter().enumerate() {
        mixer.push(A, frame(seq as u64, &packet)).unwrap();
        let out = mixer.tick_recording().unwrap();
        assert_eq!((out.kind, out.recording.clone()), (TickKind::Passthrough, Some(RecordFrame::Shared)));
        assert_eq!(recorded(&out), Some(packet), "the talker's packet as it came, as listeners get it");
    }
    assert_eq!(mixer.stats().encodes, 0);
}

#[test]
fn nobody_consenting_records_silence_with_no_encode() {
    let mixer = mixer_with(&[A, B]);
    let (a, b) = (tone_packets(440.0, 10), tone_packets(1_000.0, 10));
    for seq in 0..10 {
        assert_eq!(both_talk(&mixer, &a, &b, seq).recording, Some(RecordFrame::Silent));
    }
    assert_eq!(mixer.stats().encodes, 10, "the shared mix alone: nothing for the recording");
    // And a tick where nobody talks is silence too.
    let quiet = mixer_with(&[A]);
    quiet.set_consent(A, true);
    let out = quiet.tick_recording().unwrap();
    assert_eq!((out.kind, out.recording), (TickKind::Silent, Some(RecordFrame::Silent)));
}

#[test]
fn beside_a_decliner_a_lone_consenting_voice_is_recorded_as_it_came() {
    let mixer = mixer_with(&[A, B]);
    mixer.set_consent(A, true);
    let (a, b) = (tone_packets(440.0, 20), tone_packets(1_000.0, 20));
    for seq in 0..20 {
        let out = both_talk(&mixer, &a, &b, seq);
        assert_eq!(
            out.recording,
            Some(RecordFrame::Own(a[seq].clone())),
            "A's packet, not a mix: tick {seq}"
        );
    }
    assert_eq!(
        mixer.stats().encodes,
        20,
        "the shared mix alone: two talkers' mix-minus are each other's packets"
    );
}

#[test]
fn the_own_mix_holds_the_consenting_voices_and_not_the_other() {
    const C: u64 = 3;
    let mixer = mixer_with(&[A, B, C]);
    mixer.set_consent(A, true);
    mixer.set_consent(C, true);
    let (a, b, c) = (tone_packets(440.0, 60), tone_packets(1_000.0, 60), tone_packets(660.0, 60));
    let (mut recording, mut shared) = (Vec::new(), Vec::new());
    for (seq, packet) in c.iter().enumerate() {
        mixer.push(C, frame(seq as u64, packet)).unwrap();
        let out = both_talk(&mixer, &a, &b, seq);
        assert!(matches!(out.recording, Some(RecordFrame::Own(_))), "tick {seq}");
        recording.push(recorded(&out).unwrap());
        shared.push(out.shared.unwrap());
    }
    assert_eq!(mixer.stats().encodes, 60 * 5, "shared, three mix-minus, and the recording's own");
    let heard = decode_stream(recording.iter().map(|p| Some(p.as_slice())));
    let settled = &heard[10 * 960..];
    for (present, absent) in [(440.0, 1_000.0), (660.0, 1_000.0)] {
        let ratio = db_ratio(settled, present, absent);
        assert!(ratio > 30.0, "{present} Hz in, {absent} Hz out: {ratio:.1} dB");
    }
    // The control: the listeners' mix of the same ticks holds all three.
    let room = decode_stream(shared.iter().map(|p| Some(p.as_slice())));
    assert!(db_ratio(&room[10 * 960..], 440.0, 1_000.0).abs() < 6.0, "listeners hear 440 and 1,000 Hz alike");
}

#[test]
fn each_consent_change_is_heard_from_the_next_tick() {
    let mixer = mixer_with(&[A, B]);
    let (a, b) = (tone_packets(440.0, 8), tone_packets(1_000.0, 8));
    let kind = |out: &TickOutput| match out.recording.as_ref().unwrap() {
        RecordFrame::Silent => "silent",
        RecordFrame::Shared => "shared",
        RecordFrame::Own(_) => "own",
    };
    let mut kinds = Vec::new();
    for (seq, change) in [None, Some((A, true)), Some((B, true)), Some((A, false)), None, Some((B, false))]
        .into_iter()
        .enumerate()
    {
        if let Some((id, consent)) = change {
            mixer.set_consent(id, consent);
        }
        kinds.push(kind(&both_talk(&mixer, &a, &b, seq)));
    }
    assert_eq!(kinds, ["silent", "own", "shared", "own", "own", "silent"]);
}

#[test]
fn consent_given_before_the_input_exists_is_kept_and_removal_forgets_it() {
    let mixer = mixer_with(&[]);
    mixer.set_consent(A, true);
    let packets = tone_packets(440.0, 20);
    mixer.tick_recording().unwrap();
    mixer.add_input(A).unwrap();
    mixer.push(A, frame(0, &packets[0])).unwrap();
    assert_eq!(mixer.tick_recording().unwrap().recording, Some(RecordFrame::Shared), "kept for the input");

    mixer.remove_input(A);
    mixer.add_input(A).unwrap(); // the same id again, before any tick: a new input
    mixer.push(A, frame(0, &packets[1])).unwrap();
    assert_eq!(
        mixer.tick_recording().unwrap().recording,
        Some(RecordFrame::Silent),
        "forgotten with the old input"
    );
}

#[test]
fn a_consent_given_in_a_hangover_records_the_concealment_not_a_stand_in() {
    // A talks alone, then stops: listeners get stand-ins for its concealment. A recording that held A's
    // packets takes them too; one that did not (A consents only now) cannot: its decoder is not on A's
    // stream, so it gets the concealment itself, encoded.
    let a = tone_packets(440.0, 10);
    for consent_from in [0, 10] {
        let mixer = mixer_with(&[A]);
        mixer.set_consent(A, consent_from == 0);
        for (seq, packet) in a.iter().enumerate() {
            mixer.push(A, frame(seq as u64, packet)).unwrap();
            mixer.tick_recording().unwrap();
        }
        mixer.set_consent(A, true);
        let out = mixer.tick_recording().unwrap();
        assert_eq!(out.shared.as_ref().map(Vec::len), Some(1), "listeners: a stand-in");
        match (consent_from, out.recording.unwrap()) {
            (0, RecordFrame::Shared) => {}
            (10, RecordFrame::Own(packet)) => assert!(packet.len() > 1, "the concealment, encoded"),
            (_, other) => panic!("consenting from {consent_from}: {other:?}"),
        }
    }
}
