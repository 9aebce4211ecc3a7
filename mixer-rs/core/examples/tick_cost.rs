//! Prints what one tick costs with 13, 3 and 1 speakers talking (and with one
//! speaker in concealment), at complexity 5 and 10. A figure, not a test:
//! `CARGO_TARGET_DIR=target/cargo-test cargo run --release -p stoa-mixer-core --example tick_cost`

use std::f64::consts::TAU;
use std::time::{Duration, Instant};

use mixer_core::{Encoder, FRAME_SAMPLES, Frame, Mixer, MixerConfig, SAMPLE_RATE, TickKind};

const FRAMES: usize = 500; // 10 s per speaker
const WARMUP: usize = 50;

/// A voice-like test signal: a gliding pitch with harmonics, plus a little noise.
fn voice_frame(speaker: usize, index: usize, noise: &mut u32) -> [i16; FRAME_SAMPLES] {
    let mut pcm = [0i16; FRAME_SAMPLES];
    for (i, sample) in pcm.iter_mut().enumerate() {
        let t = (index * FRAME_SAMPLES + i) as f64 / f64::from(SAMPLE_RATE);
        let f0 = 110.0 + 12.0 * speaker as f64 + 20.0 * (TAU * 0.7 * t).sin();
        let voiced: f64 = (1..=20).map(|h| (TAU * f0 * h as f64 * t).sin() / h as f64).sum();
        *noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let hiss = f64::from(*noise >> 16) / 65_536.0 - 0.5;
        *sample = (4_000.0 * voiced + 600.0 * hiss) as i16;
    }
    pcm
}

fn packets(speaker: usize) -> Vec<Vec<u8>> {
    let mut encoder = Encoder::new(32_000, 5).unwrap();
    let mut noise = speaker as u32 + 1;
    (0..FRAMES).map(|i| encoder.encode(&voice_frame(speaker, i, &mut noise)).unwrap()).collect()
}

/// Median and mean of one tick with `talking` speakers pushing every tick.
fn measure(
    streams: &[Vec<Vec<u8>>],
    talking: usize,
    complexity: i32,
    conceal: bool,
) -> (Duration, Duration, TickKind) {
    let mixer =
        Mixer::new(MixerConfig { complexity, hangover_ticks: u32::MAX, ..MixerConfig::default() }).unwrap();
    for id in 0..streams.len() as u64 {
        mixer.add_input(id).unwrap();
    }
    let mut times = Vec::with_capacity(FRAMES);
    let mut kind = TickKind::Silent;
    for seq in 0..FRAMES {
        // In concealment mode the speaker talks once, then the hangover carries it.
        if !conceal || seq == 0 {
            for (id, stream) in streams.iter().enumerate().take(talking) {
                let frame = Frame::new(seq as u64, 0, stream[seq].clone());
                mixer.push(id as u64, frame).unwrap();
            }
        }
        let start = Instant::now();
        let out = mixer.tick().unwrap();
        let elapsed = start.elapsed();
        if seq >= WARMUP {
            times.push(elapsed);
            kind = out.kind;
        }
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    (times[times.len() / 2], mean, kind)
}

fn main() {
    let streams: Vec<Vec<Vec<u8>>> = (0..13).map(packets).collect();
    println!("one tick, release build, {} ticks measured per row", FRAMES - WARMUP);
    println!("{:>10} {:>9} {:>12} {:>10} {:>10}", "complexity", "speakers", "kind", "median", "mean");
    for complexity in [5, 10] {
        for (talking, conceal) in [(13, false), (3, false), (1, false), (1, true), (0, false)] {
            let (median, mean, kind) = measure(&streams, talking, complexity, conceal);
            let label = if conceal { "1 (PLC)".to_string() } else { talking.to_string() };
            println!(
                "{complexity:>10} {label:>9} {:>12} {:>8.1}µs {:>8.1}µs",
                kind.as_str(),
                median.as_secs_f64() * 1e6,
                mean.as_secs_f64() * 1e6
            );
        }
    }
}
