//! The tick's work on the harness's turn-taking conversation (`loadtest/speech.py`), for two builds of
//! the mixer core in one process: `base` (a git revision) and `new` (the working tree). One space, its
//! three speakers sending each packet with its level, driven slot by slot on one thread with no clock
//! (each packet is pushed just before the tick that plays it). It counts, per cause, the decodes, the
//! concealments, the encodes and the allocations each tick does, checks that both builds send the same
//! bytes, and times the ticks on the thread's CPU clock, A and B alternating in short blocks so that a
//! busy shared machine slows both alike. Built and run by `bench/tick_ab.py`; prints a table and JSON.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

mod counting;
mod op_costs;
use counting::{ALLOCS, CODEC_ALLOCS, thread_cpu_ns};
use op_costs::op_costs;

/// One speaker's script, as `mixer.SpeakerPool` takes it: at slot `k` it sends `packets[plan[k]]`, with its level.
struct Script {
    packets: Vec<Vec<u8>>,
    levels: Vec<u8>,
    plan: Vec<i32>,
}

/// `bench/tick_ab.py`'s file: little-endian u32 counts, each packet as (u16 length, bytes, u8 level).
fn read_scripts(path: &str) -> Vec<Script> {
    let data = std::fs::read(path).expect("the scripts file");
    let mut at = 0;
    let mut take = |n: usize| {
        at += n;
        &data[at - n..at]
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap()) as usize;
    let speakers = u32_of(take(4));
    (0..speakers)
        .map(|_| {
            let n = u32_of(take(4));
            let (mut packets, mut levels) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for _ in 0..n {
                let len = u16::from_le_bytes(take(2).try_into().unwrap()) as usize;
                packets.push(take(len).to_vec());
                levels.push(take(1)[0]);
            }
            let slots = u32_of(take(4));
            let plan = (0..slots).map(|_| i32::from_le_bytes(take(4).try_into().unwrap())).collect();
            Script { packets, levels, plan }
        })
        .collect()
}

/// What the tick at a slot has to do, known from the scripts alone (so the same for both builds): who
/// sends a packet (real), who is within the hangover after their last one (concealed), and whether
/// that situation has just begun.
fn situation(real: usize, concealed: usize, first: bool) -> &'static str {
    match (real, concealed, first) {
        (1, 0, _) => "one talks (pass-through)",
        (r, 0, true) if r >= 2 => "overlap, first tick",
        (r, 0, false) if r >= 2 => "overlap, later ticks",
        (0, c, true) if c >= 1 => "turn's end, nobody else: first tick",
        (0, c, false) if c >= 1 => "turn's end, nobody else: later ticks",
        (_, _, true) => "turn's end beside a talker: first tick",
        (_, _, false) => "turn's end beside a talker: later ticks",
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    ticks: u64,
    decodes: u64,
    concealed: u64,
    encodes: u64,
    allocs: u64,
    codec_allocs: u64,
    cpu_ns: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.ticks += o.ticks;
        self.decodes += o.decodes;
        self.concealed += o.concealed;
        self.encodes += o.encodes;
        self.allocs += o.allocs;
        self.codec_allocs += o.codec_allocs;
        self.cpu_ns += o.cpu_ns;
    }
}

/// FNV-1a over what a tick sends and reports, to compare the builds' outputs.
fn fnv(hash: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *hash = (*hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
}

const HANGOVER: u32 = 5;

/// What goes wrong on the way: `late_permille` of the packets come a slot late (after the tick that
/// should play them); with `jitter`, each comes at a random time within the 20 ms before its tick
/// (a talk spurt's first packet then sometimes waits a tick), else 15 ms before it.
#[derive(Clone, Copy)]
struct Impair {
    late_permille: u32,
    jitter: bool,
}
/// When a packet came: long enough before its tick that a talk spurt's first packet never waits a
/// tick (`Input::play`'s prefill), so every packet is played at the tick of its slot.
const ARRIVED_BEFORE: Duration = Duration::from_millis(15);

macro_rules! driver {
    ($module:ident, $krate:ident) => {
        mod $module {
            use super::*;
            use $krate::{Frame, Mixer, MixerConfig, TickKind};

            pub struct Space {
                mixer: Mixer,
                slot: usize,
                /// Impairments (`--late`, `--jitter`): a packet held back a slot, and the random state.
                late: Vec<(u64, Frame)>,
                rng: u32,
                /// Per speaker: ticks since its last packet, `None` past the hangover.
                since: Vec<Option<u32>>,
                last: &'static str,
                pub tally: BTreeMap<&'static str, Tally>,
                /// Per tick, a hash of its output.
                pub hashes: Vec<u64>,
                pub out_bytes: u64,
            }

            impl Space {
                pub fn new(speakers: usize) -> Self {
                    let mixer = Mixer::new(MixerConfig::default()).unwrap();
                    assert_eq!(mixer.config().hangover_ticks, HANGOVER);
                    for id in 0..speakers as u64 {
                        mixer.add_input(id).unwrap();
                    }
                    Self {
                        mixer,
                        slot: 0,
                        late: Vec::new(),
                        rng: 12_345,
                        since: vec![None; speakers],
                        last: "",
                        tally: BTreeMap::new(),
                        hashes: Vec::new(),
                        out_bytes: 0,
                    }
                }

                /// Pushes the next slot's packets and ticks, if the mixer is active.
                pub fn step(&mut self, scripts: &[Script], impair: Impair) {
                    let slots = scripts[0].plan.len();
                    let k = self.slot % slots;
                    let (mut real, mut concealed) = (0, 0);
                    for (id, frame) in std::mem::take(&mut self.late) {
                        self.mixer.push(id, frame).unwrap();
                    }
                    for (id, script) in scripts.iter().enumerate() {
                        let i = script.plan[k];
                        if i >= 0 {
                            let mut random = || {
                                self.rng = self.rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                                self.rng >> 8
                            };
                            let before = if impair.jitter {
                                Duration::from_micros(u64::from(random() % 20_000))
                            } else {
                                ARRIVED_BEFORE
                            };
                            let late = random() % 1_000 < impair.late_permille;
                            let frame = Frame {
                                seq: self.slot as u64,
                                captured_at: self.slot as u64 * 20_000,
                                packet: script.packets[i as usize].clone(),
                                level: Some(script.levels[i as usize]),
                                arrived_at: Instant::now().checked_sub(before),
                            };
                            if late {
                                self.late.push((id as u64, frame));
                            } else {
                                assert!(self.mixer.push(id as u64, frame).unwrap());
                            }
                            real += 1;
                            self.since[id] = Some(0);
                        } else if let Some(n) = self.since[id] {
                            if n < HANGOVER {
                                concealed += 1;
                            }
                            self.since[id] = (n < HANGOVER).then_some(n + 1);
                        }
                    }
                    self.slot += 1;
                    if !self.mixer.is_active() {
                        self.last = "";
                        return;
                    }
                    // The situation's name for its later ticks says which one it is.
                    let family = situation(real, concealed, false);
                    let name = situation(real, concealed, family != self.last);
                    self.last = family;
                    let before = self.mixer.stats();
                    let (allocs, codec_allocs) = (ALLOCS.load(Relaxed), CODEC_ALLOCS.load(Relaxed));
                    let start = thread_cpu_ns();
                    let out = self.mixer.tick().unwrap();
                    let cpu_ns = thread_cpu_ns() - start;
                    let allocs = ALLOCS.load(Relaxed) - allocs;
                    let codec_allocs = CODEC_ALLOCS.load(Relaxed) - codec_allocs;
                    let after = self.mixer.stats();
                    let tally = Tally {
                        ticks: 1,
                        decodes: after.decodes - before.decodes,
                        concealed: after.concealed - before.concealed,
                        encodes: after.encodes - before.encodes,
                        allocs,
                        codec_allocs,
                        cpu_ns,
                    };
                    self.tally.entry(name).or_default().add(&tally);
                    let mut hash = 0xcbf2_9ce4_8422_2325;
                    let kind = match out.kind {
                        TickKind::Silent => 0,
                        TickKind::Passthrough => 1,
                        TickKind::Mixed => 2,
                    };
                    fnv(&mut hash, &[kind]);
                    fnv(&mut hash, &out.captured_at.to_le_bytes());
                    for id in &out.mixed {
                        fnv(&mut hash, &id.to_le_bytes());
                    }
                    for (id, level) in &out.levels {
                        fnv(&mut hash, &id.to_le_bytes());
                        fnv(&mut hash, &level.to_le_bytes());
                    }
                    if let Some(shared) = &out.shared {
                        fnv(&mut hash, shared);
                        self.out_bytes += shared.len() as u64;
                    }
                    for (id, packet) in &out.minus {
                        fnv(&mut hash, &id.to_le_bytes());
                        fnv(&mut hash, packet);
                    }
                    self.hashes.push(hash);
                }
            }
        }
    };
}

driver!(base_driver, base);
driver!(new_driver, new);

fn total(tally: &BTreeMap<&'static str, Tally>) -> Tally {
    let mut t = Tally::default();
    tally.values().for_each(|v| t.add(v));
    t
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| {
        args.iter().position(|a| a == name).map_or(default, |i| args[i + 1].parse().unwrap())
    };
    let scripts_path = args.iter().position(|a| a == "--scripts").map(|i| args[i + 1].clone()).unwrap();
    let loops = arg("--loops", 20);
    let block = arg("--block", 100);
    let impair =
        Impair { late_permille: arg("--late", 0) as u32, jitter: args.iter().any(|a| a == "--jitter") };
    let scripts = read_scripts(&scripts_path);
    let slots = scripts[0].plan.len();
    let (mut a, mut b) = (base_driver::Space::new(scripts.len()), new_driver::Space::new(scripts.len()));
    // A loop first, not counted: codecs built, caches warm, both builds in their steady state.
    for _ in 0..slots {
        a.step(&scripts, impair);
        b.step(&scripts, impair);
    }
    a.tally.clear();
    b.tally.clear();
    let (a_first, b_first) = (a.hashes.len(), b.hashes.len());
    // Blocks of `block` slots, A then B, then B then A, and so on.
    let steps = loops * slots;
    let mut done = 0;
    let mut round = 0;
    while done < steps {
        let n = block.min(steps - done);
        let mut run_a = || (0..n).for_each(|_| a.step(&scripts, impair));
        let mut run_b = || (0..n).for_each(|_| b.step(&scripts, impair));
        if round % 2 == 0 {
            run_a();
            run_b();
        } else {
            run_b();
            run_a();
        }
        done += n;
        round += 1;
    }
    let costs = op_costs(&scripts);
    let same = a.hashes[a_first..] == b.hashes[b_first..];
    let differing = a.hashes[a_first..].iter().zip(&b.hashes[b_first..]).filter(|(x, y)| x != y).count();
    let (ta, tb) = (total(&a.tally), total(&b.tally));
    let per_k = |n: u64, t: &Tally| n as f64 * 1_000.0 / t.ticks.max(1) as f64;
    println!(
        "{} loops of {} slots ({:.1} s of conversation each), one space, 3 speakers with levels; {}‰ late{}",
        loops,
        slots,
        slots as f64 * 0.02,
        impair.late_permille,
        if impair.jitter { ", arrival jitter" } else { "" }
    );
    println!("per 1,000 ticks of all ticks run (A = base, B = new); CPU: the thread's, in the tick");
    println!(
        "{:<42} {:>7} {:>15} {:>13} {:>13} {:>15} {:>13} {:>15}",
        "situation",
        "ticks",
        "decodes A/B",
        "PLC A/B",
        "encodes A/B",
        "allocs A/B",
        "codecs A/B",
        "CPU ms A/B"
    );
    let mut rows = Vec::new();
    let names: Vec<_> = a
        .tally
        .keys()
        .chain(b.tally.keys())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for name in names.iter().copied().chain(["all"]) {
        let (x, y) = if name == "all" {
            (ta, tb)
        } else {
            (a.tally.get(name).copied().unwrap_or_default(), b.tally.get(name).copied().unwrap_or_default())
        };
        println!(
            "{:<42} {:>7.0} {:>7.1}/{:<7.1} {:>6.1}/{:<6.1} {:>6.1}/{:<6.1} {:>7.1}/{:<7.1} {:>6.1}/{:<6.1} {:>7.2}/{:<7.2}",
            name,
            per_k(x.ticks, &ta),
            per_k(x.decodes, &ta),
            per_k(y.decodes, &tb),
            per_k(x.concealed, &ta),
            per_k(y.concealed, &tb),
            per_k(x.encodes, &ta),
            per_k(y.encodes, &tb),
            per_k(x.allocs, &ta),
            per_k(y.allocs, &tb),
            per_k(x.codec_allocs, &ta),
            per_k(y.codec_allocs, &tb),
            x.cpu_ns as f64 / 1e6,
            y.cpu_ns as f64 / 1e6,
        );
        rows.push(format!(
            "{{\"situation\": \"{name}\", \"ticks\": [{}, {}], \"decodes\": [{}, {}], \"concealed\": [{}, {}], \"encodes\": [{}, {}], \"allocs\": [{}, {}], \"codec_allocs\": [{}, {}], \"cpu_ns\": [{}, {}]}}",
            x.ticks, y.ticks, x.decodes, y.decodes, x.concealed, y.concealed, x.encodes, y.encodes, x.allocs,
            y.allocs, x.codec_allocs, y.codec_allocs, x.cpu_ns, y.cpu_ns
        ));
    }
    let ratio = tb.cpu_ns as f64 / ta.cpu_ns.max(1) as f64;
    println!(
        "tick CPU: A {:.1} µs, B {:.1} µs a tick; B/A = {ratio:.3}; outputs {} ({differing} of {} ticks differ; shared bytes A {} B {})",
        ta.cpu_ns as f64 / 1e3 / ta.ticks.max(1) as f64,
        tb.cpu_ns as f64 / 1e3 / tb.ticks.max(1) as f64,
        if same { "identical" } else { "DIFFER" },
        a.hashes.len() - a_first,
        a.out_bytes,
        b.out_bytes,
    );
    let costs_text: Vec<String> = costs.iter().map(|(what, us)| format!("{what} {us:.1} µs")).collect();
    println!("libopus on this speech, one call (B's build): {}", costs_text.join(", "));
    let costs_json: Vec<String> = costs.iter().map(|(what, us)| format!("\"{what}\": {us:.2}")).collect();
    println!(
        "JSON {{\"op_costs_us\": {{{}}}, \"loops\": {loops}, \"slots\": {slots}, \"block\": {block}, \"ratio\": {ratio:.4}, \"identical\": {same}, \"differing_ticks\": {differing}, \"rows\": [{}]}}",
        costs_json.join(", "),
        rows.join(", ")
    );
}
