//! What libopus' calls cost on the conversation's packets, for `main.rs` to read its counts as CPU.

use crate::Script;
use crate::counting::thread_cpu_ns;

/// What libopus' calls cost on this speech, on this machine now (the thread's CPU, median of 5 passes
/// over every packet): to read the counts above as CPU.
pub(crate) fn op_costs(scripts: &[Script]) -> Vec<(&'static str, f64)> {
    use new::{Decoder, Encoder, FRAME_SAMPLES};
    let packets: Vec<&Vec<u8>> = scripts.iter().flat_map(|s| &s.packets).collect();
    let n = packets.len() as f64;
    let median = |f: &mut dyn FnMut() -> u64| {
        let mut runs: Vec<u64> = (0..5).map(|_| f()).collect();
        runs.sort_unstable();
        runs[2] as f64 / n / 1e3
    };
    let mut pcm = vec![[0i16; FRAME_SAMPLES]; packets.len()];
    let decode = median(&mut || {
        let mut decoder = Decoder::new().unwrap();
        let start = thread_cpu_ns();
        for (p, out) in packets.iter().zip(pcm.iter_mut()) {
            decoder.decode(p, out).unwrap();
        }
        thread_cpu_ns() - start
    });
    let conceal = median(&mut || {
        let (mut decoder, mut out) = (Decoder::new().unwrap(), [0; FRAME_SAMPLES]);
        let mut spent = 0;
        for p in &packets {
            decoder.decode(p, &mut out).unwrap();
            let start = thread_cpu_ns();
            decoder.conceal(&mut out).unwrap();
            spent += thread_cpu_ns() - start;
        }
        spent
    });
    let encode = median(&mut || {
        let mut encoder = Encoder::new(32_000, 5).unwrap();
        let start = thread_cpu_ns();
        for frame in &pcm {
            std::hint::black_box(encoder.encode(frame).unwrap());
        }
        thread_cpu_ns() - start
    });
    let build_decoder = median(&mut || {
        let start = thread_cpu_ns();
        for _ in &packets {
            std::hint::black_box(Decoder::new().unwrap());
        }
        thread_cpu_ns() - start
    });
    let build_encoder = median(&mut || {
        let start = thread_cpu_ns();
        for _ in &packets {
            std::hint::black_box(Encoder::new(32_000, 5).unwrap());
        }
        thread_cpu_ns() - start
    });
    vec![
        ("decode", decode),
        ("conceal", conceal),
        ("encode", encode),
        ("build a decoder", build_decoder),
        ("build an encoder", build_encoder),
    ]
}
