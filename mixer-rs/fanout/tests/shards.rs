//! Several writer threads: each sends to its own share of the connections, so
//! what a client receives is the same with one writer or many; the number of
//! writers is bounded. (Every other behaviour test runs with `WRITERS`.)

mod common;

use common::{clients, numbered, seq_of, wait_for, with_writers};
use fanout::{Fanout, FanoutConfig, FanoutError, MAX_WRITERS};

#[test]
fn one_writer_or_many_every_member_gets_every_broadcast_in_order() {
    for writers in [1, 2, 5] {
        let fanout = with_writers(1 << 20, 1_000, writers);
        assert_eq!(fanout.stats().writers, writers as u64);
        // 23 connections: every writer gets some, and not all the same number.
        let mut members = clients(&fanout, 23);
        let group = fanout.new_group();
        for client in &members {
            fanout.join_group(group, client.conn).unwrap();
        }
        for seq in 0..200u32 {
            let payload = numbered(seq, 100 + (seq as usize * 37) % 3_000);
            if seq % 3 == 0 {
                assert_eq!(fanout.broadcast(group, &payload).unwrap(), Vec::<u64>::new());
            } else {
                assert_eq!(fanout.broadcast_audio(group, &payload).unwrap(), 23);
            }
            // Now and then a message to one connection, between the broadcasts.
            if seq % 50 == 7 {
                assert!(fanout.send(members[seq as usize % 23].conn, &numbered(1_000 + seq, 8)));
            }
        }
        for (at, client) in members.iter_mut().enumerate() {
            let mut got = Vec::new();
            while got.len() < 200 + (0..200u32).filter(|s| s % 50 == 7 && *s as usize % 23 == at).count() {
                got.push(seq_of(&client.read_message()));
            }
            let broadcasts: Vec<u32> = got.iter().copied().filter(|&s| s < 1_000).collect();
            assert_eq!(broadcasts, (0..200).collect::<Vec<_>>(), "{writers} writers, conn {}", client.conn);
            for own in got.iter().filter(|&&s| s >= 1_000) {
                let at = got.iter().position(|s| s == own).unwrap();
                assert_eq!(got[at - 1], own - 1_000, "a send leaves after the broadcast before it");
            }
        }
        wait_for("the writers to publish their counters", || fanout.stats().write_calls >= 23);
        let stats = fanout.stats();
        assert!(stats.writer_passes >= writers as u64 && stats.writer_cpu_ns > 0, "{stats:?}");
    }
}

#[test]
fn a_fanout_has_one_to_max_writers() {
    let config = |writers| FanoutConfig { writers, ..FanoutConfig::default() };
    for writers in [0, MAX_WRITERS + 1] {
        match Fanout::new(config(writers)) {
            Err(err @ FanoutError::BadConfig { name: "writers" }) => {
                assert_eq!(err.to_string(), format!("writers must be 1 to {MAX_WRITERS}"));
            }
            other => panic!("{writers} writers: {other:?}"),
        }
    }
    let most = Fanout::new(config(MAX_WRITERS)).unwrap();
    assert_eq!(most.stats().writers, MAX_WRITERS as u64);
    most.shutdown();
}
