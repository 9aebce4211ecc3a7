//! Packets that come with the sender's level (RFC 6464, as `Frame::level`):
//! the mixer gates on that level, forwards a lone talker's packets without
//! decoding them, and decodes only what it mixes, warming the decoder up on
//! the packets it skipped so that the mix sounds as continuous decoding would.

mod common;

use common::{arriving, decode_stream, frame, power_at, sine_frame, tone_packets};
use mixer_core::{Decoder, Encoder, FRAME_SAMPLES, Frame, Mixer, MixerConfig, TickKind, TickOutput};

const A: u64 = 1;
const B: u64 = 2;

fn mixer() -> Mixer {
    let mixer = Mixer::new(MixerConfig::default()).unwrap();
    mixer.add_input(A).unwrap();
    mixer.add_input(B).unwrap();
    mixer
}

fn with_level(seq: u64, packet: &[u8], level: Option<u8>) -> Frame {
    Frame { level, ..frame(seq, packet) }
}

/// `with_level`, come just before the next tick (`common::arriving`).
fn arriving_with_level(seq: u64, packet: &[u8], level: Option<u8>) -> Frame {
    Frame { level, ..arriving(seq, packet) }
}

/// The RFC 6464 level of a packet, measured by decoding it on its own stream's decoder.
fn levels_of(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut decoder = Decoder::new().unwrap();
    packets
        .iter()
        .map(|p| {
            let mut pcm = [0i16; FRAME_SAMPLES];
            decoder.decode(p, &mut pcm).unwrap();
            (-mixer_core::gate::level_dbfs(&pcm)).round().clamp(0.0, 127.0) as u8
        })
        .collect()
}

/// A talks alone for `alone` ticks, then B joins for `together`; with levels or without. B's packets
/// come a tick ahead: a talk spurt's first packet waits a tick while someone else talks
/// (`Input::play`'s prefill), so B plays from tick `alone` on.
fn conversation(levels: bool, alone: usize, together: usize) -> (Vec<TickOutput>, mixer_core::MixerStats) {
    assert!(alone >= 2, "B must come while A plays");
    let a = tone_packets(440.0, alone + together);
    let b = tone_packets(1_000.0, together);
    let (la, lb) = (levels_of(&a), levels_of(&b));
    let mixer = mixer();
    let mut outs = Vec::new();
    for (tick, packet) in a.iter().enumerate() {
        let level = |l: &[u8], i: usize| levels.then(|| l[i]);
        mixer.push(A, with_level(tick as u64, packet, level(&la, tick))).unwrap();
        if tick + 1 >= alone && tick + 1 < alone + together {
            let i = tick + 1 - alone;
            let make = if i == 0 { arriving_with_level } else { with_level };
            mixer.push(B, make(i as u64, &b[i], level(&lb, i))).unwrap();
        }
        outs.push(mixer.tick().unwrap());
    }
    (outs, mixer.stats())
}

#[test]
fn a_lone_talker_with_levels_is_forwarded_without_a_decode() {
    let (outs, stats) = conversation(true, 50, 0);
    let a = tone_packets(440.0, 50);
    assert!(outs.iter().all(|o| o.kind == TickKind::Passthrough && o.mixed == [A]));
    let shared: Vec<_> = outs.iter().map(|o| o.shared.clone().unwrap()).collect();
    assert_eq!(shared, a, "the packets as they came");
    assert_eq!((stats.decodes, stats.packets_with_level, stats.encodes), (0, 50, 0));
    // The control: the same without levels decodes every packet.
    let (_, stats) = conversation(false, 50, 0);
    assert_eq!((stats.decodes, stats.packets_with_level), (50, 0));
}

#[test]
fn the_senders_level_decides_who_talks() {
    let loud = tone_packets(440.0, 20);
    let mixer = mixer();
    for (seq, packet) in loud.iter().enumerate() {
        // A loud tone that says it is silent (127: -127 dBov), beside B's that says it is loud.
        mixer.push(A, with_level(seq as u64, packet, Some(127))).unwrap();
        mixer.push(B, with_level(seq as u64, packet, Some(20))).unwrap();
        let out = mixer.tick().unwrap();
        assert_eq!(out.mixed, [B], "tick {seq}");
        assert_eq!(out.levels, [(A, -127), (B, -20)]);
    }
    assert_eq!(mixer.stats().decodes, 0);
}

/// Signal-to-error ratio, in dB, of `got` against `want`.
fn snr_db(want: &[i16], got: &[i16]) -> f64 {
    let signal: f64 = want.iter().map(|&s| f64::from(s).powi(2)).sum();
    let error: f64 = want.iter().zip(got).map(|(&w, &g)| (f64::from(w) - f64::from(g)).powi(2)).sum();
    10.0 * (signal / error.max(1.0)).log10()
}

#[test]
fn a_forwarded_talker_joined_by_another_is_mixed_as_if_it_had_been_decoded_all_along() {
    let (alone, together) = (40, 20);
    let (lazy, lazy_stats) = conversation(true, alone, together);
    let (eager, eager_stats) = conversation(false, alone, together);
    for (l, e) in lazy.iter().zip(&eager).skip(alone) {
        assert_eq!((l.kind, &l.mixed), (TickKind::Mixed, &vec![A, B]));
        assert_eq!((e.kind, &e.mixed), (TickKind::Mixed, &vec![A, B]));
    }
    // What a listener hears of the overlap: within the codec's own noise of continuous decoding
    // (A's decoder, reset and caught up on the 3 packets before, is close to, not exactly, the
    // continuous one's state; the shared encoder turns a small difference into a small one).
    let listen = |outs: &[TickOutput]| decode_stream(outs.iter().map(|o| o.shared.as_deref()));
    let (heard_lazy, heard_eager) = (listen(&lazy), listen(&eager));
    let first = alone * FRAME_SAMPLES..(alone + 1) * FRAME_SAMPLES;
    let rest = (alone + 1) * FRAME_SAMPLES..;
    let first_snr = snr_db(&heard_eager[first.clone()], &heard_lazy[first]);
    let rest_snr = snr_db(&heard_eager[rest.clone()], &heard_lazy[rest.clone()]);
    assert!(first_snr > 25.0, "first mixed frame: {first_snr:.1} dB from continuous decoding");
    assert!(rest_snr > 25.0, "after it: {rest_snr:.1} dB");
    assert!(power_at(&heard_lazy[rest.clone()], 440.0) > 1e5 && power_at(&heard_lazy[rest], 1_000.0) > 1e5);
    // Decodes: the overlap's (2 a tick) and A's warm-up (3), against every packet.
    assert_eq!(lazy_stats.decodes, 2 * together as u64 + 3);
    assert_eq!(eager_stats.decodes, (alone + 2 * together) as u64);
}

#[test]
fn without_the_warm_up_the_first_mixed_frame_would_be_worse() {
    // Control for the test above: decoding A's first mixed packet on a fresh decoder
    // (what skipping without catching up amounts to) is further from continuous decoding.
    let a: Vec<_> = (0..41).map(|i| sine_frame(440.0, 8_000.0, i)).collect();
    let mut encoder = Encoder::new(32_000, 5).unwrap();
    let packets: Vec<_> = a.iter().map(|pcm| encoder.encode(pcm).unwrap()).collect();
    let decode = |from: usize| {
        let mut decoder = Decoder::new().unwrap();
        let mut pcm = [0i16; FRAME_SAMPLES];
        for p in &packets[from..] {
            decoder.decode(p, &mut pcm).unwrap();
        }
        pcm
    };
    let continuous = decode(0);
    let (cold, warmed) = (decode(40), decode(37));
    let (cold_snr, warm_snr) = (snr_db(&continuous, &cold), snr_db(&continuous, &warmed));
    // Measured: cold 4.9 dB from continuous decoding; warmed up on 1, 2, 3 packets: 16, 29, 63 dB.
    assert!(warm_snr > cold_snr + 30.0, "warmed up {warm_snr:.1} dB, cold {cold_snr:.1} dB");
}

#[test]
fn a_packet_with_a_level_that_does_not_decode_is_concealed_not_forwarded() {
    let good = tone_packets(440.0, 10);
    let mixer = mixer();
    for (seq, packet) in good.iter().enumerate() {
        let bad = seq == 5;
        let packet: &[u8] = if bad { &[0x03] } else { packet };
        mixer.push(A, with_level(seq as u64, packet, Some(20))).unwrap();
        let out = mixer.tick().unwrap();
        if bad {
            assert_eq!(out.kind, TickKind::Mixed, "concealment, encoded");
            assert_ne!(out.shared.as_deref(), Some(packet));
        } else {
            assert_eq!(out.shared.as_deref(), Some(good[seq].as_slice()));
        }
    }
    assert_eq!(mixer.stats().decode_errors, 1);
}

/// A talks honestly; B sends digital silence and says it is full scale, except where `honest(seq)` or
/// where `skips(seq)` (B sends nothing: the mixer conceals). What B's input is in each tick's mix.
fn against_a_liar(
    ticks: usize,
    honest: impl Fn(usize) -> bool,
    skips: impl Fn(usize) -> bool,
) -> Vec<TickOutput> {
    let (a, silence) = (tone_packets(440.0, ticks), common::silence_packets(ticks));
    let la = levels_of(&a);
    let mixer = mixer();
    (0..ticks)
        .map(|seq| {
            mixer.push(A, with_level(seq as u64, &a[seq], Some(la[seq]))).unwrap();
            if !skips(seq) {
                let said = if honest(seq) { 127 } else { 0 };
                mixer.push(B, with_level(seq as u64, &silence[seq], Some(said))).unwrap();
            }
            mixer.tick().unwrap()
        })
        .collect()
}

/// The first tick from which B is never in the mix again.
fn out_for_good(outs: &[TickOutput]) -> Option<usize> {
    let last_in = outs.iter().rposition(|o| o.mixed.contains(&B))?;
    (last_in + 1 < outs.len()).then_some(last_in + 1)
}

#[test]
fn a_sender_that_claims_to_be_loud_is_believed_only_until_its_packets_are_heard() {
    let outs = against_a_liar(40, |_| false, |_| false);
    // B's packets are decoded from the first (mixed with A's), each far quieter than said even for a cold
    // decoder (`COLD_DISTRUST_DB`): its 4th is the 4th against it, and from the next on it is measured,
    // silent; once its hold is over (10 ticks after its last packet believed loud) A talks alone again.
    let believed = &outs[..OUT];
    assert!(believed.iter().all(|o| o.mixed == [A, B]), "believed at first: both talk, so both are decoded");
    assert_eq!(out_for_good(&outs), Some(OUT));
    assert!(outs[OUT..].iter().all(|o| o.mixed == [A] && o.kind == TickKind::Passthrough));
    let (a, la) = (tone_packets(440.0, 40), levels_of(&tone_packets(440.0, 40)));
    let control = Mixer::new(MixerConfig::default()).unwrap();
    control.add_input(A).unwrap();
    for seq in 0..40 {
        control.push(A, with_level(seq as u64, &a[seq], Some(la[seq]))).unwrap();
        control.tick().unwrap();
    }
    assert_eq!(control.stats().decodes, 0, "an honest lone talker costs no decode");
}

/// The tick from which a liar over silence, caught on its 4th packet, is out of the mix: 4 + the hold (10).
const OUT: usize = 14;

#[test]
fn a_liar_that_skips_slots_or_tells_the_truth_now_and_then_is_still_caught() {
    // Skipping slots (a loss, concealed; or long enough to go idle, so each burst starts a new decoder)
    // does not hide the lies, and a true level now and then does not wipe out the lies before it: the
    // evidence is kept across talk spurts, and a level said to be quiet is not checked.
    for (name, honest, skips) in [
        // 7 off: past the hangover (5) even though a burst's first packet may wait a tick (`Input::play`).
        ("4 on, 7 off", (|_| false) as fn(usize) -> bool, (|seq| seq % 11 >= 4) as fn(usize) -> bool),
        ("2 on, 7 off", |_| false, |seq| seq % 9 >= 2),
        ("one lie in 10", |seq| seq % 10 != 0, |_| false),
        ("skips every 5th", (|_| false) as fn(usize) -> bool, (|seq| seq % 5 == 4) as fn(usize) -> bool),
        ("skips every 3rd", |_| false, |seq| seq % 3 == 2),
        ("true every 3rd", |seq| seq % 3 == 2, |_| false),
        ("true every other", |seq| seq % 2 == 1, |_| false),
    ] {
        let outs = against_a_liar(120, honest, skips);
        let out = out_for_good(&outs);
        assert!(out.is_some_and(|tick| tick < 60), "{name}: B out of the mix for good from tick {out:?}");
    }
}

#[test]
fn a_sender_that_says_it_is_louder_than_it_is_is_measured_once_its_decoder_has_run() {
    // B talks (a tone at -15 dBFS rms) and says each packet is 25 dB louder: within a cold decoder's
    // margin, but not a warm one's. While A talks too, B is decoded; once A stops, a B still believed
    // would be passed on undecoded, and a B disbelieved is decoded every tick.
    let decodes_alone = |claimed_louder_by: u8| {
        let (a, b) = (tone_packets(440.0, 20), tone_packets(660.0, 40));
        let (la, lb) = (levels_of(&a), levels_of(&b));
        let mixer = mixer();
        for seq in 0..40 {
            if seq < 20 {
                mixer.push(A, with_level(seq as u64, &a[seq], Some(la[seq]))).unwrap();
            }
            let said = lb[seq].saturating_sub(claimed_louder_by);
            mixer.push(B, with_level(seq as u64, &b[seq], Some(said))).unwrap();
            mixer.tick().unwrap();
            if seq == 29 {
                return mixer.stats().decodes;
            }
        }
        unreachable!()
    };
    let (honest, liar) = (decodes_alone(0), decodes_alone(25));
    // Past A's hangover and B's 10 ticks of hold (seq 20 to 29), with warm-up and concealment around.
    assert!(liar >= honest + 5, "a liar by 25 dB: {liar} decodes, an honest B {honest}");
}
