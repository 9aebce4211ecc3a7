//! The capture clock end to end, against a scripted server on loopback: speakers send their
//! scripts' packets on the clock (stamped with the slot's start, sent once its 20 ms are over) and
//! mark what they sent; listeners mark the slots that reached them and measure latency only for
//! the window's slots; coverage counts what a listener heard of what was produced.

mod common;

use std::sync::Arc;

use common::{FakeServer, Peer, Val, audio, int_field, joined, map, now_us, str_field, wait_until};
use loadpool::clock::SLOT_US;
use loadpool::{Pool, PoolConfig, Script, Speaker};

fn config(port: u16, users: &[&str], clock_t0_us: u64, speakers: Vec<Speaker>) -> PoolConfig {
    PoolConfig { clock_t0_us, clock_slots: 500, speakers, ..common::config(port, users) }
}

fn bin_field(msgpack: &[u8], name: &str) -> Vec<u8> {
    let mut rd = msgpack;
    let n = rmp::decode::read_map_len(&mut rd).unwrap();
    for _ in 0..n {
        let len = rmp::decode::read_str_len(&mut rd).unwrap() as usize;
        let (key, rest) = rd.split_at(len);
        rd = rest;
        let marker = rmp::decode::read_marker(&mut &rd[..]).unwrap();
        if key == name.as_bytes() {
            let len = rmp::decode::read_bin_len(&mut rd).unwrap() as usize;
            return rd[..len].to_vec();
        }
        match marker {
            rmp::Marker::FixStr(_) | rmp::Marker::Str8 => {
                let len = rmp::decode::read_str_len(&mut rd).unwrap() as usize;
                rd = &rd[len..];
            }
            _ => {
                rmp::decode::read_int::<u64, _>(&mut rd).unwrap();
            }
        }
    }
    panic!("no field {name}")
}

#[test]
fn a_speaker_sends_its_script_on_the_capture_clock_and_marks_what_it_sent() {
    let server = FakeServer::start();
    // Slot k plays packet plan[k % 3]: talking, quiet, talking.
    let script =
        Arc::new(Script { packets: vec![vec![0xA1; 40], vec![0xB2; 50]], plan: vec![0, -1, 1], levels: vec![40, 127] });
    let speaker = Speaker { token: "tok-ada".into(), space_id: "s9".into(), script };
    let pool = Pool::start(config(server.port, &["ada"], 0, vec![speaker])).unwrap();
    let mut peer = server.accept();
    peer.upgrade();
    let hello = peer.read_message();
    assert_eq!((str_field(&hello, "type"), str_field(&hello, "token")), ("hello".into(), "tok-ada".into()));
    let join = peer.read_message();
    assert_eq!(str_field(&join, "space_id"), "s9", "a speaker joins its own space");
    peer.send_message(&joined(1));
    wait_until("joined", || pool.stats().joined == 1);

    let t0 = now_us() + 50_000;
    pool.start_speaking(t0);
    let mut got = Vec::new();
    for _ in 0..4 {
        let message = peer.read_message();
        let arrived = now_us();
        assert_eq!(str_field(&message, "type"), "audio");
        let captured_at = int_field(&message, "captured_at");
        let slot = (captured_at - t0) / SLOT_US;
        assert_eq!((captured_at - t0) % SLOT_US, 0, "captured_at is a slot's start");
        assert!(arrived >= captured_at + SLOT_US, "sent only once its 20 ms were over");
        got.push((int_field(&message, "seq"), slot, bin_field(&message, "opus")[0], int_field(&message, "level")));
    }
    assert_eq!(
        got,
        [(0, 0, 0xA1, 40), (1, 2, 0xB2, 127), (2, 3, 0xA1, 40), (3, 5, 0xB2, 127)],
        "quiet slots send nothing; each packet with its level"
    );
    pool.stop_speaking();
    let [sent] = pool.slot_maps().try_into().unwrap();
    assert_eq!(sent[0] & 0b11_1111, 0b10_1101, "slots 0, 2, 3, 5 sent");
    assert!(pool.stats().sent >= 4);
    let lag = pool.send_lag_percentiles(&[100.0]).unwrap();
    assert_eq!(lag.count, pool.stats().sent);
    pool.stop();
}

/// One listener joined, on a clock that started 100 slots ago.
fn joined_listener() -> (FakeServer, Pool, Peer, u64) {
    let server = FakeServer::start();
    let t0 = now_us() - 100 * SLOT_US;
    let pool = Pool::start(config(server.port, &["lena"], t0, Vec::new())).unwrap();
    let (mut peer, _, _) = server.accept_joining();
    peer.send_message(&joined(1));
    wait_until("joined", || pool.stats().joined == 1);
    (server, pool, peer, t0)
}

#[test]
fn a_listener_marks_the_slots_it_heard_and_measures_the_window_only() {
    let (_server, pool, mut peer, t0) = joined_listener();
    pool.set_window(4, 10);

    let slot = |k: u64| t0 + k * SLOT_US;
    // Slots 3 (before the window), 4 and 5; a concealment frame; one off the clock; slot 7 twice.
    peer.send_message(&audio(&[(1, slot(3)), (2, slot(4)), (3, slot(5)), (4, 0), (5, slot(6) + 1)]));
    peer.send_message(&audio(&[(6, slot(7)), (7, slot(7))]));
    peer.send_message(&map(&[("type", Val::S("participant_left")), ("seq", Val::U(9))]));
    wait_until("every frame counted", || pool.stats().frames == 7);
    assert_eq!(pool.stats().off_clock, 1);

    let [heard] = pool.slot_maps().try_into().unwrap();
    assert_eq!(heard[0], 0b1011_1000, "slots 3, 4, 5, 7");
    let latency = pool.latency_percentiles(&[50.0]).unwrap();
    assert_eq!(latency.count, 4, "slots 4, 5, 7, 7: in the window, real, on the clock");
    // Produced: slots 2 to 8. Heard in the window 4..10: 4, 5, 7.
    let produced = [0b1_1111_1100u64];
    assert_eq!(pool.coverage((4, 10), &produced, &[]), [3]);
    assert_eq!(pool.coverage((0, 500), &produced, &[]), [4]);
    let buckets: u64 = pool.latency_buckets().iter().map(|&(_, n)| n).sum();
    assert_eq!(buckets, 4);
    pool.stop();
}

#[test]
fn a_slot_between_consecutive_ticks_counts_only_after_an_overlap() {
    let (_server, pool, mut peer, t0) = joined_listener();
    let slot = |k: u64| t0 + k * SLOT_US;
    // Ticks 1 to 3 name slots 10, 12 (11 unnamed between consecutive ticks), 13; then tick 5 names
    // 16 (14 and 15 unnamed, but tick 4 is missing: not bridged), tick 6 names 18 (17 bridged).
    peer.send_message(&audio(&[(1, slot(10)), (2, slot(12)), (3, slot(13)), (5, slot(16)), (6, slot(18))]));
    wait_until("every frame counted", || pool.stats().frames == 5);
    let produced = [0b111_1111_1100_0000_0000u64]; // 10 to 18
    assert_eq!(pool.coverage((0, 500), &produced, &[]), [5], "10 12 13 16 18 were named");
    let after_two_speakers = [1u64 << 11];
    assert_eq!(pool.coverage((0, 500), &produced, &after_two_speakers), [6], "and 11 was behind 10's tick");
    let everywhere = [u64::MAX];
    assert_eq!(pool.coverage((0, 500), &produced, &everywhere), [7], "11 and 17, never 14 or 15");
    // The maps the report lists missed slots from are the same slots, bit by bit.
    let named = (1 << 10) | (1 << 12) | (1 << 13) | (1 << 16) | (1 << 18);
    let first_word = |after_overlap: &[u64]| -> Vec<u64> {
        let [map] = pool.heard_maps(after_overlap).try_into().unwrap();
        assert!(map[1..].iter().all(|&word| word == 0), "nothing heard past slot 63");
        vec![map[0]]
    };
    assert_eq!(first_word(&[]), [named]);
    assert_eq!(first_word(&after_two_speakers), [named | 1 << 11]);
    assert_eq!(first_word(&everywhere), [named | 1 << 11 | 1 << 17]);
    // Each listener with its own space's maps: the same, and none for a listener past their end.
    assert_eq!(pool.coverage_each((0, 500), &[&produced], &[&after_two_speakers]), [6]);
    assert_eq!(pool.heard_maps_each(&[&everywhere])[0][0], named | 1 << 11 | 1 << 17);
    assert_eq!(pool.coverage_each((0, 500), &[], &[]), [0]);
    assert_eq!(pool.heard_maps_each(&[])[0][0], named);
    pool.stop();
}

#[test]
fn each_listener_is_counted_against_its_own_spaces_maps() {
    let server = FakeServer::start();
    let t0 = now_us() - 100 * SLOT_US;
    let spaces = vec!["s1".to_string(), "s2".to_string()];
    let pool =
        Pool::start(PoolConfig { spaces, ..config(server.port, &["ann", "bob"], t0, Vec::new()) }).unwrap();
    let mut peers: Vec<(Peer, String)> = (0..2)
        .map(|_| {
            let (mut peer, user, _) = server.accept_joining();
            peer.send_message(&joined(1));
            (peer, user)
        })
        .collect();
    peers.sort_by(|a, b| a.1.cmp(&b.1));
    wait_until("joined", || pool.stats().joined == 2);
    let slot = |k: u64| t0 + k * SLOT_US;
    // Ann hears slots 1, 2 and 3; Bob 1 and 3 on consecutive ticks: slot 2 between them counts
    // only where the `after_overlap` he is given has it.
    peers[0].0.send_message(&audio(&[(1, slot(1)), (2, slot(2)), (3, slot(3))]));
    peers[1].0.send_message(&audio(&[(1, slot(1)), (2, slot(3))]));
    wait_until("every frame counted", || pool.stats().frames == 5);
    let (s1, s2) = ([0b0110u64], [0b1110u64]); // produced: s1 slots 1-2, s2 slots 1-3
    let (no_overlap, overlap_at_1) = ([0u64], [0b0100u64]);
    assert_eq!(pool.coverage_each((0, 500), &[&s1, &s2], &[&no_overlap, &no_overlap]), [2, 2]);
    assert_eq!(pool.coverage_each((0, 500), &[&s1, &s2], &[&no_overlap, &overlap_at_1]), [2, 3]);
    assert_eq!(pool.coverage_each((0, 500), &[&s2, &s1], &[&overlap_at_1, &no_overlap]), [3, 1]);
    let heard = pool.heard_maps_each(&[&no_overlap, &overlap_at_1]);
    assert_eq!((heard[0][0], heard[1][0]), (0b1110, 0b1110));
    pool.stop();
}

#[test]
fn a_listener_that_never_joined_heard_nothing() {
    let pool = Pool::start(config(1, &["gone"], now_us(), Vec::new())).unwrap();
    wait_until("failed", || pool.stats().failed == 1);
    assert_eq!(pool.coverage((0, 500), &[u64::MAX; 8], &[u64::MAX; 8]), [0]);
}

#[test]
fn speakers_are_one_per_user_with_scripts_that_name_real_packets() {
    let script = |plan| Arc::new(Script { packets: vec![vec![1]], plan, levels: vec![] });
    let speaker = |plan| Speaker { token: "t".into(), space_id: "s".into(), script: script(plan) };
    assert!(Pool::start(config(1, &["a", "b"], 0, vec![speaker(vec![0])])).is_err(), "one per user");
    assert!(Pool::start(config(1, &["a"], 0, vec![speaker(vec![0, 1])])).is_err(), "no packet 1");
}
