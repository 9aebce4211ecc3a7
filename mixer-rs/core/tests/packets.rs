//! What `push` accepts, and which packets a tick then plays: late,
//! duplicate, reordered, overflowing, oversized and unaddressed packets.

mod common;

use common::{frame, tone_packets};
use mixer_core::{Frame, MAX_PACKET_BYTES, Mixer, MixerConfig, MixerError, MixerStats, TickKind};

fn mixer(max_queue: usize) -> Mixer {
    let mixer = Mixer::new(MixerConfig { max_queue, ..MixerConfig::default() }).unwrap();
    mixer.add_input(1).unwrap();
    mixer
}

/// The packet each of the next `ticks` ticks passes through (None if it does not).
fn played(mixer: &Mixer, ticks: usize) -> Vec<Option<Vec<u8>>> {
    (0..ticks)
        .map(|_| mixer.tick().unwrap())
        .map(|out| if out.kind == TickKind::Passthrough { out.shared } else { None })
        .collect()
}

#[test]
fn reordered_packets_play_in_seq_order() {
    let mixer = mixer(6);
    let p = tone_packets(440.0, 3);
    for seq in [2, 0, 1] {
        mixer.push(1, frame(seq, &p[seq as usize])).unwrap();
    }
    assert_eq!(played(&mixer, 3), vec![Some(p[0].clone()), Some(p[1].clone()), Some(p[2].clone())]);
}

#[test]
fn a_packet_at_or_before_the_last_played_seq_is_late() {
    let mixer = mixer(6);
    let p = tone_packets(440.0, 3);
    mixer.push(1, frame(5, &p[0])).unwrap();
    mixer.tick().unwrap();
    assert!(mixer.push(1, frame(5, &p[1])).unwrap(), "accepted, then found late");
    assert!(mixer.push(1, frame(4, &p[1])).unwrap());
    mixer.push(1, frame(6, &p[2])).unwrap();
    assert_eq!(played(&mixer, 1), vec![Some(p[2].clone())]);
    let stats = mixer.stats();
    assert_eq!((stats.packets_in, stats.packets_late, stats.packets_dropped), (4, 2, 0));
}

#[test]
fn a_duplicate_of_a_queued_packet_is_late() {
    let mixer = mixer(6);
    let p = tone_packets(440.0, 2);
    mixer.push(1, frame(1, &p[0])).unwrap();
    mixer.push(1, frame(1, &p[1])).unwrap();
    assert_eq!(played(&mixer, 1), vec![Some(p[0].clone())], "the first copy wins");
    assert_eq!(mixer.stats().packets_late, 1);
    assert_eq!(mixer.tick().unwrap().captured_at, 0, "nothing real left to play");
}

#[test]
fn overflow_drops_the_oldest_packets_so_latency_stays_bounded() {
    let mixer = mixer(3);
    let p = tone_packets(440.0, 5);
    for seq in 0..5 {
        mixer.push(1, frame(seq, &p[seq as usize])).unwrap();
    }
    assert_eq!(played(&mixer, 3), vec![Some(p[2].clone()), Some(p[3].clone()), Some(p[4].clone())]);
    assert_eq!(mixer.stats().packets_dropped, 2);
}

/// A burst left 4 queued; the sender then keeps pace, so 4 stay waiting after each pop (more than the
/// one the queue keeps) for `ticks` ticks; the packet of seq `quiet` says it is quiet (level -100 dBov).
/// Returns the tick (from 1) of each packet that was never passed on, and the mixer's stats.
fn standing_delay(ticks: u64, quiet: u64) -> (Vec<u64>, MixerStats) {
    let mixer = mixer(6);
    let p = tone_packets(440.0, ticks as usize + 4);
    let packet = |seq: u64| {
        let level = if seq == quiet { Some(100) } else { None };
        Frame { level, ..frame(seq, &p[seq as usize]) }
    };
    for seq in 0..4 {
        mixer.push(1, packet(seq)).unwrap();
    }
    let mut heard = Vec::new();
    for seq in 4..4 + ticks {
        mixer.push(1, packet(seq)).unwrap();
        let out = played(&mixer, 1).remove(0).expect("a lone talker's packet is passed on");
        heard.push(p.iter().position(|packet| *packet == out).unwrap() as u64);
    }
    let missing = (0..heard[heard.len() - 1]).filter(|seq| !heard.contains(seq)).collect();
    (missing, mixer.stats())
}

#[test]
fn a_standing_delay_is_shed_at_a_quiet_packet_and_counted_as_dropped() {
    // Standing from the first tick: from tick 25 on, the first packet next to play that is quiet goes.
    let (missing, stats) = standing_delay(60, 40);
    assert_eq!(missing, vec![40]);
    assert_eq!((stats.dropped_skipped, stats.packets_dropped), (1, 1));
}

#[test]
fn through_continuous_speech_a_standing_delay_is_shed_after_2_s() {
    let (missing, stats) = standing_delay(60, u64::MAX);
    assert_eq!((missing.len(), stats.dropped_skipped), (0, 0), "no voiced packet skipped within 2 s");
    let (missing, stats) = standing_delay(110, u64::MAX);
    assert_eq!((missing, stats.dropped_skipped), (vec![99], 1));
}

#[test]
fn a_caller_that_stops_ticking_holds_a_bounded_backlog() {
    let mixer = mixer(2);
    let p = tone_packets(440.0, 1);
    for seq in 0..100 {
        assert!(mixer.push(1, frame(seq, &p[0])).unwrap());
    }
    let stats = mixer.stats();
    assert_eq!((stats.packets_in, stats.packets_dropped), (100, 96), "ingress keeps 2 x max_queue");
    mixer.tick().unwrap();
    assert_eq!(mixer.stats().packets_dropped, 98, "the jitter queue keeps max_queue");
}

#[test]
fn push_to_an_unknown_input_returns_false() {
    let mixer = mixer(6);
    assert!(!mixer.push(99, frame(0, &[1, 2, 3])).unwrap());
    assert_eq!(mixer.stats().packets_dropped, 1);
    assert_eq!(mixer.stats().packets_in, 0);
}

#[test]
fn an_oversized_packet_is_refused_before_anything_else() {
    let mixer = mixer(6);
    let big = vec![0u8; MAX_PACKET_BYTES + 1];
    for id in [1, 99] {
        let err = mixer.push(id, frame(0, &big)).unwrap_err();
        assert_eq!(err, MixerError::PacketTooLarge { len: MAX_PACKET_BYTES + 1 });
        assert_eq!(err.code(), "packet_too_large");
        assert!(err.is_sender_fault());
    }
    assert!(mixer.push(1, frame(0, &big[..MAX_PACKET_BYTES])).unwrap(), "exactly the limit is fine");
}

#[test]
fn bad_settings_are_refused_with_bad_argument() {
    for config in [
        MixerConfig { max_queue: 0, ..MixerConfig::default() },
        MixerConfig { bitrate: 0, ..MixerConfig::default() },
        MixerConfig { complexity: -1, ..MixerConfig::default() },
    ] {
        assert_eq!(Mixer::new(config).err().map(|e| e.code()), Some("bad_argument"));
    }
}
