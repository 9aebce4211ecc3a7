//! What a tick allocates: for a talker passed through, only what the tick hands back (its `mixed` and
//! `levels`) and the opus crate's framing check, never a copy of the packet (each is kept for a
//! catch-up in a buffer reused from packet to packet). Counted on the test's own thread.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{frame, tone_packets};
use mixer_core::{Frame, Mixer, MixerConfig, TickKind};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn counted() {
    // `try_with`: an allocation while the thread's locals are torn down is not counted.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call goes to the system allocator unchanged; counting touches no memory it hands out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Ticks `mixer` once per element of `frames` (each pushed first: (input, frame)), and returns the
/// allocations the ticks made from `from` on, per tick, and the kinds of those ticks.
fn allocations_per_tick(mixer: &Mixer, frames: Vec<Vec<(u64, Frame)>>, from: usize) -> (f64, Vec<TickKind>) {
    let (mut allocations, mut kinds) = (0, Vec::new());
    for (tick, pushes) in frames.into_iter().enumerate() {
        for (id, frame) in pushes {
            mixer.push(id, frame).unwrap();
        }
        let before = ALLOCATIONS.with(Cell::get);
        let out = mixer.tick().unwrap();
        if tick >= from {
            allocations += ALLOCATIONS.with(Cell::get) - before;
            kinds.push(out.kind);
        }
    }
    (allocations as f64 / kinds.len() as f64, kinds)
}

fn with_level(seq: usize, packet: &[u8]) -> Frame {
    Frame { level: Some(15), ..frame(seq as u64, packet) }
}

#[test]
fn a_talker_passed_through_costs_no_allocation_per_packet() {
    let mixer = Mixer::new(MixerConfig::default()).unwrap();
    mixer.add_input(1).unwrap();
    let packets = tone_packets(440.0, 120);
    let frames = packets.iter().enumerate().map(|(seq, p)| vec![(1, with_level(seq, p))]).collect();
    let (per_tick, kinds) = allocations_per_tick(&mixer, frames, 20);
    assert!(kinds.iter().all(|&k| k == TickKind::Passthrough));
    // `mixed`, `levels`, and the framing check (`opus::packet::parse` returns a Vec of the frames).
    assert!(per_tick <= 3.0, "{per_tick} allocations a tick");
    // The control: the count sees what a tick allocates. Two talkers mixed: the shared encode's packet,
    // each one's mix-minus (the other's packet, moved), `mixed`, `levels`, two framing checks.
    let mixer = Mixer::new(MixerConfig::default()).unwrap();
    mixer.add_input(1).unwrap();
    mixer.add_input(2).unwrap();
    let other = tone_packets(1_000.0, 120);
    let frames = packets
        .iter()
        .zip(&other)
        .enumerate()
        .map(|(seq, (a, b))| vec![(1, with_level(seq, a)), (2, with_level(seq, b))])
        .collect();
    let (mixed_per_tick, kinds) = allocations_per_tick(&mixer, frames, 20);
    assert!(kinds.iter().all(|&k| k == TickKind::Mixed));
    assert!(mixed_per_tick >= 4.0, "{mixed_per_tick} allocations a mixed tick");
}
