//! The mixer's overhead over libopus: for 13 inputs with 1, 3 and 13 talking
//! (and with the rest as quiet open microphones), the cost of `Mixer::tick`
//! against the bare libopus calls such a tick needs, measured in the same run,
//! A and B alternating in short blocks so a noisy shared machine hits both
//! alike. A figure, not a test:
//! `CARGO_TARGET_DIR=target/cargo-test cargo run --release -p stoa-mixer-core --example mixer_bench [-- --ticks N --json PATH|-]`

use std::f64::consts::TAU;
use std::fmt::Write as _;
use std::time::Instant;

use mixer_core::mix::{Sum, accumulate, mix_all, mix_minus};
use mixer_core::{FRAME_SAMPLES, Frame, MAX_PACKET_BYTES, Mixer, MixerConfig, Pcm, SAMPLE_RATE, TickKind};

const INPUTS: usize = 13;
/// Distinct packets per sender (10 s); longer runs wrap around.
const STREAM_FRAMES: usize = 500;
const BITRATE: i32 = 32_000;
const COMPLEXITY: i32 = 5;
/// Ticks per A or B block; blocks alternate, and so does which goes first.
const BLOCK: usize = 25;
const WARMUP: usize = 50;

struct Case {
    name: &'static str,
    talking: usize,
    /// Inputs that send packets of low noise (an open microphone in a quiet room).
    quiet: usize,
    kind: TickKind,
}

const CASES: [Case; 5] = [
    Case { name: "1 talking", talking: 1, quiet: 0, kind: TickKind::Passthrough },
    Case { name: "3 talking", talking: 3, quiet: 0, kind: TickKind::Mixed },
    Case { name: "13 talking", talking: 13, quiet: 0, kind: TickKind::Mixed },
    Case { name: "1 talking + 12 quiet", talking: 1, quiet: 12, kind: TickKind::Passthrough },
    Case { name: "3 talking + 10 quiet", talking: 3, quiet: 10, kind: TickKind::Mixed },
];

/// A voice-like frame: a gliding pitch with 20 harmonics, a syllable-rate
/// envelope (never below -40 dBFS, so the speaker stays talking) and a little hiss.
fn voice_frame(speaker: usize, index: usize, noise: &mut u32) -> Pcm {
    std::array::from_fn(|i| {
        let t = (index * FRAME_SAMPLES + i) as f64 / f64::from(SAMPLE_RATE);
        let f0 = 100.0 + 9.0 * speaker as f64 + 15.0 * (TAU * 0.7 * t + speaker as f64).sin();
        let voiced: f64 = (1..=20).map(|h| (TAU * f0 * h as f64 * t).sin() / h as f64).sum();
        let envelope = 0.55 + 0.45 * (TAU * (3.5 + 0.2 * speaker as f64) * t).sin();
        *noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let hiss = f64::from(*noise >> 16) / 65_536.0 - 0.5;
        (4_000.0 * envelope * voiced + 600.0 * hiss) as i16
    })
}

/// White noise within ±20: about -70 dBFS.
fn quiet_frame(noise: &mut u32) -> Pcm {
    std::array::from_fn(|_| {
        *noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        ((*noise >> 16) % 41) as i16 - 20
    })
}

fn encoder() -> opus::Encoder {
    let mut enc = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip).unwrap();
    enc.set_bitrate(opus::Bitrate::Bits(BITRATE)).unwrap();
    enc.set_complexity(COMPLEXITY).unwrap();
    enc
}

fn decoder() -> opus::Decoder {
    opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).unwrap()
}

/// Each input's packets: talkers first, then quiet ones.
fn streams(case: &Case) -> Vec<Vec<Vec<u8>>> {
    let mut buf = [0u8; MAX_PACKET_BYTES];
    (0..case.talking + case.quiet)
        .map(|speaker| {
            let (mut enc, mut noise) = (encoder(), speaker as u32 + 1);
            (0..STREAM_FRAMES)
                .map(|i| {
                    let pcm = if speaker < case.talking {
                        voice_frame(speaker, i, &mut noise)
                    } else {
                        quiet_frame(&mut noise)
                    };
                    let len = enc.encode(&pcm, &mut buf).unwrap();
                    buf[..len].to_vec()
                })
                .collect()
        })
        .collect()
}

/// The PCM a tick encodes, per frame index: nothing for a lone talker (passed
/// through); else the shared mix and each talker's mix-minus, as the mixer
/// makes them (with the same decoders' output, so libopus sees the same input).
fn mixes(case: &Case, streams: &[Vec<Vec<u8>>]) -> Vec<Vec<Pcm>> {
    let mut decoders: Vec<opus::Decoder> = (0..case.talking).map(|_| decoder()).collect();
    (0..STREAM_FRAMES)
        .map(|i| {
            let voices: Vec<Pcm> = decoders
                .iter_mut()
                .zip(streams)
                .map(|(dec, stream)| {
                    let mut pcm = [0i16; FRAME_SAMPLES];
                    dec.decode(&stream[i], &mut pcm, false).unwrap();
                    pcm
                })
                .collect();
            if case.talking < 2 {
                return Vec::new();
            }
            let mut sum: Sum = [0; FRAME_SAMPLES];
            voices.iter().for_each(|v| accumulate(&mut sum, v));
            let mut out = vec![[0i16; FRAME_SAMPLES]; case.talking + 1];
            mix_all(&sum, &mut out[0]);
            for (own, minus) in voices.iter().zip(&mut out[1..]) {
                mix_minus(&sum, own, minus);
            }
            out
        })
        .collect()
}

/// A: the mixer, fed one packet per input per tick; only `tick` is timed.
struct MixerSide<'a> {
    mixer: Mixer,
    streams: &'a [Vec<Vec<u8>>],
    seq: u64,
}

impl MixerSide<'_> {
    fn run(&mut self, ticks: usize, times: &mut Vec<f64>, kind: TickKind) {
        for _ in 0..ticks {
            let index = self.seq as usize % STREAM_FRAMES;
            for (id, stream) in self.streams.iter().enumerate() {
                let frame = Frame::new(self.seq, 0, stream[index].clone());
                self.mixer.push(id as u64, frame).unwrap();
            }
            let start = Instant::now();
            let out = self.mixer.tick().unwrap();
            times.push(start.elapsed().as_secs_f64() * 1e6);
            assert_eq!(out.kind, kind, "tick {}", self.seq);
            self.seq += 1;
        }
    }
}

/// B: the same decodes of the same packets and encodes of the same PCM,
/// straight into libopus through the `opus` crate.
struct BareSide<'a> {
    decoders: Vec<opus::Decoder>,
    encoders: Vec<opus::Encoder>,
    streams: &'a [Vec<Vec<u8>>],
    mixes: &'a [Vec<Pcm>],
    tick: usize,
}

impl BareSide<'_> {
    fn run(&mut self, ticks: usize, times: &mut Vec<f64>) {
        let mut pcm = [0i16; FRAME_SAMPLES];
        let mut packet = [0u8; MAX_PACKET_BYTES];
        for _ in 0..ticks {
            let index = self.tick % STREAM_FRAMES;
            let start = Instant::now();
            for (dec, stream) in self.decoders.iter_mut().zip(self.streams) {
                dec.decode(&stream[index], &mut pcm, false).unwrap();
            }
            for (enc, mix) in self.encoders.iter_mut().zip(&self.mixes[index]) {
                enc.encode(mix, &mut packet).unwrap();
            }
            times.push(start.elapsed().as_secs_f64() * 1e6);
            self.tick += 1;
        }
    }
}

struct Row {
    name: &'static str,
    kind: TickKind,
    decodes: usize,
    encodes: usize,
    tick: (f64, f64),
    bare: (f64, f64),
}

/// (median, p95) in µs, after dropping the warm-up.
fn summary(mut times: Vec<f64>) -> (f64, f64) {
    times.drain(..WARMUP.min(times.len()));
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

fn measure(case: &Case, ticks: usize) -> Row {
    let streams = streams(case);
    let mixes = mixes(case, &streams);
    let inputs = case.talking + case.quiet;
    let encodes = mixes[0].len();

    let config =
        MixerConfig { bitrate: BITRATE, complexity: COMPLEXITY, max_mixed: INPUTS, ..MixerConfig::default() };
    let mixer = Mixer::new(config).unwrap();
    for id in 0..INPUTS as u64 {
        mixer.add_input(id).unwrap();
    }
    let mut a = MixerSide { mixer, streams: &streams, seq: 0 };
    let mut b = BareSide {
        decoders: (0..inputs).map(|_| decoder()).collect(),
        encoders: (0..encodes).map(|_| encoder()).collect(),
        streams: &streams,
        mixes: &mixes,
        tick: 0,
    };
    let (mut a_times, mut b_times) = (Vec::with_capacity(ticks), Vec::with_capacity(ticks));
    for round in 0..ticks.div_ceil(BLOCK) {
        let n = BLOCK.min(ticks - round * BLOCK);
        if round % 2 == 0 {
            a.run(n, &mut a_times, case.kind);
            b.run(n, &mut b_times);
        } else {
            b.run(n, &mut b_times);
            a.run(n, &mut a_times, case.kind);
        }
    }
    let stats = a.mixer.stats();
    assert_eq!(stats.encodes, (ticks * encodes) as u64, "{}: the mixer encoded what B encodes", case.name);
    Row {
        name: case.name,
        kind: case.kind,
        decodes: inputs,
        encodes,
        tick: summary(a_times),
        bare: summary(b_times),
    }
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info.lines().find_map(|l| l.strip_prefix("model name")).and_then(|l| l.split(':').nth(1));
    model.map_or_else(|| "unknown".into(), |m| m.trim().to_string())
}

fn json(rows: &[Row], ticks: usize) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\"libopus\": \"{}\", \"cpu\": \"{}\", \"ticks_per_side\": {ticks}, \"bitrate\": {BITRATE}, \
         \"complexity\": {COMPLEXITY}, \"cases\": [",
        opus::version(),
        cpu_model()
    );
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(
            out,
            "{}{{\"case\": \"{}\", \"kind\": \"{}\", \"decodes\": {}, \"encodes\": {}, \
             \"tick_median_us\": {:.2}, \"tick_p95_us\": {:.2}, \"libopus_median_us\": {:.2}, \
             \"libopus_p95_us\": {:.2}, \"overhead\": {:.4}}}",
            if i == 0 { "" } else { ", " },
            r.name,
            r.kind.as_str(),
            r.decodes,
            r.encodes,
            r.tick.0,
            r.tick.1,
            r.bare.0,
            r.bare.1,
            r.tick.0 / r.bare.0
        );
    }
    out.push_str("]}\n");
    out
}

fn main() {
    let mut ticks = 2_000;
    let mut json_to: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ticks" => ticks = args.next().and_then(|n| n.parse().ok()).expect("--ticks N"),
            "--json" => json_to = Some(args.next().expect("--json PATH, or - for stdout")),
            other => panic!("unknown argument {other}; use --ticks N, --json PATH|-"),
        }
    }
    assert!(ticks > WARMUP * 2, "--ticks must be over {}", WARMUP * 2);
    let quiet = json_to.as_deref() == Some("-");
    if !quiet {
        println!(
            "Mixer::tick against the bare libopus calls it makes, same run, A/B in blocks of {BLOCK} ticks"
        );
        println!(
            "{INPUTS} inputs, max_mixed {INPUTS}, {BITRATE} bit/s, complexity {COMPLEXITY}, {}, {}",
            opus::version(),
            cpu_model()
        );
        println!("{ticks} ticks per side per case ({WARMUP} warm-up dropped); times in µs per tick\n");
        println!(
            "{:<22} {:>11} {:>4} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "case", "kind", "dec", "enc", "tick p50", "tick p95", "opus p50", "opus p95", "overhead"
        );
    }
    let mut rows = Vec::new();
    for case in &CASES {
        let r = measure(case, ticks);
        if !quiet {
            println!(
                "{:<22} {:>11} {:>4} {:>4} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.3}x",
                r.name,
                r.kind.as_str(),
                r.decodes,
                r.encodes,
                r.tick.0,
                r.tick.1,
                r.bare.0,
                r.bare.1,
                r.tick.0 / r.bare.0
            );
        }
        rows.push(r);
    }
    if !quiet {
        println!("\noverhead = median tick / median of the same libopus calls (target: at most 1.25x)");
    }
    match json_to.as_deref() {
        None => {}
        Some("-") => print!("{}", json(&rows, ticks)),
        Some(path) => std::fs::write(path, json(&rows, ticks)).expect("writing the JSON"),
    }
}
