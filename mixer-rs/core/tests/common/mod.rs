//! Signal helpers shared by the core's integration tests: tones in, Opus
//! packets out, and measurements of what came back (no extra crates).

#![allow(dead_code)] // each test binary uses its own subset

use std::f64::consts::TAU;

use mixer_core::{Decoder, Encoder, FRAME_SAMPLES, Frame, Pcm, SAMPLE_RATE};

/// Frame `index` of a continuous sine at `freq` Hz.
pub fn sine_frame(freq: f64, amplitude: f64, index: usize) -> Pcm {
    let mut pcm = [0i16; FRAME_SAMPLES];
    for (i, sample) in pcm.iter_mut().enumerate() {
        let t = (index * FRAME_SAMPLES + i) as f64 / f64::from(SAMPLE_RATE);
        *sample = (amplitude * (TAU * freq * t).sin()).round() as i16;
    }
    pcm
}

/// `count` consecutive Opus packets of a sine, as one sender would produce them.
pub fn tone_packets(freq: f64, count: usize) -> Vec<Vec<u8>> {
    tone_packets_at(freq, 8_000.0, count)
}

/// The same at a chosen amplitude (8,000 is about -12 dBFS peak, -15 dBFS rms).
pub fn tone_packets_at(freq: f64, amplitude: f64, count: usize) -> Vec<Vec<u8>> {
    let mut encoder = Encoder::new(32_000, 5).unwrap();
    (0..count).map(|i| encoder.encode(&sine_frame(freq, amplitude, i)).unwrap()).collect()
}

/// `count` packets of digital silence, as an open microphone in a silent room sends them.
pub fn silence_packets(count: usize) -> Vec<Vec<u8>> {
    let mut encoder = Encoder::new(32_000, 5).unwrap();
    (0..count).map(|_| encoder.encode(&[0; FRAME_SAMPLES]).unwrap()).collect()
}

/// `count` packets of white noise within ±`amplitude`: a quiet open microphone.
pub fn noise_packets(amplitude: i16, count: usize) -> Vec<Vec<u8>> {
    let mut encoder = Encoder::new(32_000, 5).unwrap();
    let mut state = 12_345u32;
    let span = 2 * i32::from(amplitude) + 1;
    (0..count)
        .map(|_| {
            let pcm: Pcm = std::array::from_fn(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((state >> 8) as i32 % span - i32::from(amplitude)) as i16
            });
            encoder.encode(&pcm).unwrap()
        })
        .collect()
}

pub fn frame(seq: u64, packet: &[u8]) -> Frame {
    Frame::new(seq, 1_000_000 + seq * 20_000, packet.to_vec())
}

/// `frame`, as if it had come just before the next tick however slowly the test runs (stamped a minute
/// ahead: `Instant::elapsed` is then 0), so that a talk spurt's first packet waits for certain.
pub fn arriving(seq: u64, packet: &[u8]) -> Frame {
    Frame {
        arrived_at: Some(std::time::Instant::now() + std::time::Duration::from_secs(60)),
        ..frame(seq, packet)
    }
}

/// Decodes a stream as a listener would: one decoder, `None` for a missing packet.
pub fn decode_stream<'a>(packets: impl IntoIterator<Item = Option<&'a [u8]>>) -> Vec<i16> {
    let mut decoder = Decoder::new().unwrap();
    let mut out = Vec::new();
    for packet in packets {
        let mut pcm = [0i16; FRAME_SAMPLES];
        match packet {
            Some(p) => decoder.decode(p, &mut pcm).unwrap(),
            None => decoder.conceal(&mut pcm).unwrap(),
        }
        out.extend_from_slice(&pcm);
    }
    out
}

/// Power of `signal` at `freq` Hz (Goertzel), normalised by length.
pub fn power_at(signal: &[i16], freq: f64) -> f64 {
    let coeff = 2.0 * (TAU * freq / f64::from(SAMPLE_RATE)).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in signal {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (signal.len() as f64).powi(2)
}

/// Ratio of the power at `present` to the power at `absent`, in dB.
pub fn db_ratio(signal: &[i16], present: f64, absent: f64) -> f64 {
    10.0 * (power_at(signal, present) / power_at(signal, absent).max(1e-12)).log10()
}

/// Frequency estimated from upward zero crossings.
pub fn zero_crossing_hz(signal: &[i16]) -> f64 {
    let ups = signal.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
    ups as f64 * f64::from(SAMPLE_RATE) / signal.len() as f64
}
