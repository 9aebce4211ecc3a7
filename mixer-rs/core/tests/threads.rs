//! `Mixer` shared between a network thread (push, membership) and a worker
//! thread (tick), as the server uses it.

mod common;

use std::sync::Barrier;
use std::thread;

use common::{frame, tone_packets};
use mixer_core::{Mixer, MixerConfig};

#[test]
fn pushes_from_one_thread_and_ticks_from_another_all_count() {
    let mixer = Mixer::new(MixerConfig { complexity: 0, ..MixerConfig::default() }).unwrap();
    for id in 1..=3 {
        mixer.add_input(id).unwrap();
    }
    let packets = tone_packets(440.0, 200);
    let start = Barrier::new(2);
    thread::scope(|scope| {
        scope.spawn(|| {
            start.wait();
            for _ in 0..200 {
                mixer.tick().unwrap();
            }
        });
        start.wait();
        for (seq, packet) in packets.iter().enumerate() {
            for id in 1..=3 {
                assert!(mixer.push(id, frame(seq as u64, packet)).unwrap());
            }
        }
    });
    while mixer.is_active() {
        mixer.tick().unwrap();
    }
    let stats = mixer.stats();
    assert_eq!(stats.packets_in, 600);
    assert_eq!(stats.packets_late, 0);
    assert!(stats.ticks >= 200);
}

#[test]
fn membership_changes_during_ticks_take_effect_by_the_next_tick() {
    let mixer = Mixer::new(MixerConfig::default()).unwrap();
    let packets = tone_packets(440.0, 100);
    thread::scope(|scope| {
        scope.spawn(|| {
            for seq in 0..100u64 {
                mixer.add_input(seq).unwrap();
                mixer.push(seq, frame(0, &packets[seq as usize])).unwrap();
                mixer.remove_input(seq);
            }
        });
        for _ in 0..100 {
            mixer.tick().unwrap();
        }
    });
    // Every input was removed: whatever the interleaving, the next tick is silent.
    let out = mixer.tick().unwrap();
    assert!(out.mixed.is_empty(), "{out:?}");
    assert!(!mixer.is_active());
}
