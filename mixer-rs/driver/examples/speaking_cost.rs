//! What telling who talks (`src/speaking.rs`) adds to a space's tick, beside
//! the tick itself: the figure behind "no measurable cost" in
//! docs/operations.md and the README.
//!
//! Measured in one run, in rounds that take turns, each a median over its
//! rounds, in this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so the
//! time other work on a shared machine takes the CPU away is not counted:
//! - the tick: `Mixer::tick` with one talker passed through (the cheapest
//!   tick that has a talker) and with four mixed (the default `max_mixed`),
//!   real Opus packets of a voice-like signal, one per tick;
//! - the speaking step as the driver runs it after every tick (its lock and
//!   `Speaking::observe` with that tick's `mixed`) while the set stays the
//!   same: nearly every tick of a real space;
//! - the same step when the set changed and a message is due (the msgpack
//!   written; the broadcast is the fan-out's, per member, as for any event).
//!
//! ```sh
//! cargo run --release -p stoa-driver --example speaking_cost -- bench/results/speaking.json
//! ```

use std::f64::consts::TAU;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use driver::{FRAME, SPEAKING_MIN_INTERVAL, Speaking};
use mixer_core::{Encoder, FRAME_SAMPLES, Frame, Mixer, MixerConfig, SAMPLE_RATE};

const ROUNDS: usize = 7;
const TICKS: usize = 500;
const WARMUP: usize = 50;
const STEPS: u32 = 200_000;

fn voice_packets(speaker: usize) -> Vec<Vec<u8>> {
    let mut encoder = Encoder::new(32_000, 5).unwrap();
    (0..TICKS)
        .map(|index| {
            let pcm: [i16; FRAME_SAMPLES] = std::array::from_fn(|i| {
                let t = (index * FRAME_SAMPLES + i) as f64 / f64::from(SAMPLE_RATE);
                let f0 = 110.0 + 12.0 * speaker as f64 + 20.0 * (TAU * 0.7 * t).sin();
                let voiced: f64 = (1..=20).map(|h| (TAU * f0 * f64::from(h) * t).sin() / f64::from(h)).sum();
                (4_000.0 * voiced) as i16
            });
            encoder.encode(&pcm).unwrap()
        })
        .collect()
}

/// This thread's CPU time.
fn cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call to fill.
    let done = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(done, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Median ns of one tick with `talking` inputs pushing a packet every tick.
fn tick_ns(streams: &[Vec<Vec<u8>>], talking: usize) -> f64 {
    let mixer = Mixer::new(MixerConfig::default()).unwrap();
    for id in 0..talking as u64 {
        mixer.add_input(id).unwrap();
    }
    let mut times = Vec::with_capacity(TICKS);
    for seq in 0..TICKS {
        for (id, stream) in streams.iter().enumerate().take(talking) {
            mixer
                .push(id as u64, Frame::new(seq as u64, 0, stream[seq].clone()))
                .unwrap();
        }
        let start = cpu();
        let out = black_box(mixer.tick().unwrap());
        let elapsed = cpu() - start;
        if seq >= WARMUP {
            assert_eq!(out.mixed.len(), talking, "every input talks");
            times.push(elapsed);
        }
    }
    times.sort();
    times[times.len() / 2].as_nanos() as f64
}

fn named(talkers: u64) -> Mutex<Option<Speaking>> {
    let mut speaking = Speaking::new("sp-0123456789", 7);
    for id in 0..13 {
        speaking.name(id, &format!("u{}", 100_000 + id));
    }
    let cell = Mutex::new(Some(speaking));
    let mixed: Vec<u64> = (0..talkers).collect();
    step(&cell, &mixed, 0, Instant::now()); // told once; from here on the set stays
    cell
}

/// The driver's step after a tick (`Slot::speak` without the broadcast): returns the message, if any.
fn step(cell: &Mutex<Option<Speaking>>, mixed: &[u64], seq: u64, now: Instant) -> Option<Vec<u8>> {
    let mut speaking = cell.lock().unwrap();
    let speaking = speaking.as_mut()?;
    let message = speaking.observe(mixed, seq, now);
    black_box(speaking.pending());
    message
}

/// Mean ns of the step over `STEPS` ticks with the same `talkers` every tick.
fn steady_ns(talkers: u64) -> f64 {
    let cell = named(talkers);
    let mixed: Vec<u64> = (0..talkers).collect();
    let t0 = Instant::now();
    let start = cpu();
    for n in 1..STEPS {
        assert!(step(&cell, black_box(&mixed), u64::from(n), t0 + FRAME * n).is_none());
    }
    (cpu() - start).as_nanos() as f64 / f64::from(STEPS - 1)
}

/// Mean ns of the step when every tick changes the set and a message is due (4 talkers <-> 3).
fn change_ns() -> f64 {
    let cell = named(4);
    let (four, three): (Vec<u64>, Vec<u64>) = ((0..4).collect(), (0..3).collect());
    let t0 = Instant::now();
    let start = cpu();
    let mut bytes = 0;
    for n in 1..STEPS {
        let mixed = if n % 2 == 0 { &four } else { &three };
        let later = (SPEAKING_MIN_INTERVAL + Duration::from_millis(10)) * n;
        bytes += step(&cell, black_box(mixed), u64::from(n), t0 + later).expect("a change, and due").len();
    }
    black_box(bytes);
    (cpu() - start).as_nanos() as f64 / f64::from(STEPS - 1)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let out = std::env::args().nth(1);
    let streams: Vec<Vec<Vec<u8>>> = (0..4).map(voice_packets).collect();
    let mut rows: [Vec<f64>; 6] = Default::default();
    for _ in 0..ROUNDS {
        rows[0].push(tick_ns(&streams, 1));
        rows[1].push(tick_ns(&streams, 4));
        rows[2].push(steady_ns(1));
        rows[3].push(steady_ns(4));
        rows[4].push(steady_ns(0));
        rows[5].push(change_ns());
    }
    let [tick1, tick4, steady1, steady4, steady0, change] = rows.map(median);
    println!("release build; thread CPU time, medians of {ROUNDS} rounds taken in turn");
    println!("tick, 1 talker passed through      {:>10.0} ns", tick1);
    println!("tick, 4 talkers mixed              {:>10.0} ns", tick4);
    println!(
        "speaking step, same set (1 talker) {:>10.1} ns  ({:.2}% of the pass-through tick)",
        steady1,
        100.0 * steady1 / tick1
    );
    println!(
        "speaking step, same set (4)        {:>10.1} ns  ({:.3}% of the mixed tick)",
        steady4,
        100.0 * steady4 / tick4
    );
    println!("speaking step, nobody talking      {:>10.1} ns", steady0);
    println!("speaking step, a change told       {:>10.1} ns  (at most 4 a second per space)", change);
    if let Some(out) = out {
        let json = format!(
            "{{\n  \"command\": \"cargo run --release -p stoa-driver --example speaking_cost -- {out}\",\n  \
             \"rounds\": {ROUNDS},\n  \"tick_passthrough_1_ns\": {tick1:.0},\n  \"tick_mixed_4_ns\": {tick4:.0},\n  \
             \"step_same_set_1_ns\": {steady1:.1},\n  \"step_same_set_4_ns\": {steady4:.1},\n  \
             \"step_nobody_ns\": {steady0:.1},\n  \"step_change_told_ns\": {change:.1},\n  \
             \"step_share_of_passthrough_tick\": {:.5},\n  \"step_share_of_mixed_tick\": {:.6}\n}}\n",
            steady1 / tick1,
            steady4 / tick4,
        );
        std::fs::write(&out, json).expect("write the results");
        println!("wrote {out}");
    }
}
