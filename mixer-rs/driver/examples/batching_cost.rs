//! What a listener-frame costs the fan-out at 1, 2, 3, 5 and 10 frames per
//! message: the measurement behind the batching table (`src/batching.rs`,
//! docs/operations.md, "Frames per message").
//!
//! The production `Fanout` (its writer thread, `sendmsg`, real loopback TCP
//! sockets) and the driver's own `encode_audio`: every 20 ms × N, one audio
//! message of N frames (80-byte Opus packets, 32 kbit/s) is broadcast to a
//! group of L listeners, as a space's tick thread does. Another thread reads
//! every client socket. Measured, per run: the writer thread's CPU (its own
//! clock, `FanoutStats::writer_cpu_ns`) and the broadcasting thread's
//! (`/proc/thread-self/schedstat`), per listener-frame delivered; `sendmsg`
//! calls per listener-frame; audio dropped (none, or the figure is void);
//! and each frame's delay, from the tick that made it (a message's first
//! frame waits N − 1 ticks for its last) to the read that got it. The reading
//! thread (epoll) shares the machine with the writer, as listeners on the
//! same machine do: its longest pass over the readable sockets is reported.
//! When the writer falls behind (too small a share of a busy machine, or
//! sockets full because the reader is behind), it packs the messages waiting
//! for a connection in one `sendmsg`: fewer than 1/N sends per listener-frame
//! is that sign, and the delay shows what it cost.
//!
//! ```sh
//! cargo run --release -p stoa-driver --example batching_cost -- 1000,5000 6 bench/results/batching.json
//! ```
//! (listener counts, seconds per run, where to write the JSON). Runs go
//! every N at one size, then the next size, so a machine shared with other
//! work disturbs neighbouring runs alike.

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use driver::{FRAME, WireFrame, encode_audio};
use fanout::{Fanout, FanoutConfig};

const STEPS: [usize; 5] = [1, 2, 3, 5, 10];
const OPUS_BYTES: usize = 80;

fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|ns| ns.parse().ok()).unwrap_or(0)
}

struct Run {
    listeners: usize,
    frames_per_message: usize,
    seconds: f64,
    listener_frames: u64,
    writer_ns_per_listener_frame: f64,
    broadcast_ns_per_listener_frame: f64,
    sends_per_listener_frame: f64,
    dropped: u64,
    drained_bytes: u64,
    /// Frame delay percentiles (50, 99), milliseconds.
    delay_ms: (f64, f64),
    longest_pass_ms: f64,
}

/// The reading side's epoll (level-triggered) over every client socket, by index.
struct Epoll(OwnedFd);

impl Epoll {
    fn new(ears: &[TcpStream]) -> Self {
        // SAFETY: epoll_create1 takes no pointer; a negative result is checked below.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(fd >= 0, "epoll_create1: {}", std::io::Error::last_os_error());
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let epoll = Self(unsafe { OwnedFd::from_raw_fd(fd) });
        for (at, ear) in ears.iter().enumerate() {
            let mut event = libc::epoll_event { events: libc::EPOLLIN as u32, u64: at as u64 };
            // SAFETY: both descriptors are open (`ears` outlives the epoll's use), and `event` is a valid epoll_event.
            let done = unsafe { libc::epoll_ctl(fd, libc::EPOLL_CTL_ADD, ear.as_raw_fd(), &mut event) };
            assert_eq!(done, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
        }
        epoll
    }

    /// Indexes of readable sockets, waiting at most 50 ms.
    fn wait(&self, ready: &mut Vec<usize>) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 1024];
        // SAFETY: `events` is writable for its whole length, which is what the call is told.
        let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), events.len() as i32, 50) };
        ready.clear();
        ready.extend(events.iter().take(usize::try_from(n).unwrap_or(0)).map(|e| e.u64 as usize));
    }
}

/// Microseconds since `epoch`, the clock frames are stamped with.
fn micros(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Each frame's delay in what one read got: now minus its `captured_at` (the
/// bytes after `0xab "captured_at" 0xcf`, as the driver writes them).
fn delays(chunk: &[u8], now: u64, out: &mut Vec<u32>) {
    const KEY: &[u8] = b"\xabcaptured_at\xcf";
    let mut at = 0;
    while let Some(found) = chunk[at..].windows(KEY.len()).position(|w| w == KEY) {
        let start = at + found + KEY.len();
        let Some(bytes) = chunk.get(start..start + 8) else { break };
        let captured = u64::from_be_bytes(bytes.try_into().unwrap_or_default());
        out.push(u32::try_from(now.saturating_sub(captured)).unwrap_or(u32::MAX));
        at = start + 8;
    }
}

fn measure(listeners: usize, frames: usize, seconds: f64) -> Run {
    let fanout = Fanout::new(FanoutConfig::default()).expect("a fan-out");
    let server = TcpListener::bind("127.0.0.1:0").expect("a port");
    let group = fanout.new_group();
    let mut ears = Vec::with_capacity(listeners);
    let mut mouths = Vec::with_capacity(listeners);
    for _ in 0..listeners {
        let ear = TcpStream::connect(server.local_addr().unwrap()).expect("connect");
        ear.set_nonblocking(true).unwrap();
        let (mouth, _) = server.accept().expect("accept");
        let conn = fanout.register_borrowed(mouth.as_raw_fd()).expect("register");
        fanout.join_group(group, conn).expect("join");
        ears.push(ear);
        mouths.push((mouth, conn));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let drained = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    let reader = {
        let (stop, measuring, drained) = (Arc::clone(&stop), Arc::clone(&measuring), Arc::clone(&drained));
        thread::spawn(move || {
            let epoll = Epoll::new(&ears);
            let mut buf = vec![0u8; 64 * 1024];
            let mut ready = Vec::new();
            let (mut delay_us, mut longest_pass) = (Vec::new(), Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                epoll.wait(&mut ready);
                let pass = Instant::now();
                let measure = measuring.load(Ordering::Relaxed);
                for &at in &ready {
                    loop {
                        match ears[at].read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                drained.fetch_add(n as u64, Ordering::Relaxed);
                                if measure {
                                    delays(&buf[..n], micros(epoch), &mut delay_us);
                                }
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => panic!("read: {e}"),
                        }
                    }
                }
                if measure {
                    longest_pass = longest_pass.max(pass.elapsed());
                }
            }
            (delay_us, longest_pass)
        })
    };
    // Frame i of a message was made by the tick (frames - 1 - i) × 20 ms before the message is sent.
    let message = |seq: u64| {
        let now = micros(epoch);
        let frames: Vec<WireFrame> = (0..frames as u64)
            .map(|i| {
                let captured_at = now.saturating_sub((frames as u64 - 1 - i) * FRAME.as_micros() as u64);
                WireFrame { seq: seq + i, captured_at, opus: vec![0x55; OPUS_BYTES] }
            })
            .collect();
        encode_audio(&frames)
    };
    // Warm up one period, then measure.
    let period = FRAME * frames as u32;
    fanout.broadcast_audio(group, &message(0)).unwrap();
    thread::sleep(period + Duration::from_millis(50));
    measuring.store(true, Ordering::Relaxed);
    let before = fanout.stats();
    let cpu_before = thread_cpu_ns();
    let start = Instant::now();
    let mut next = start;
    let mut sent_messages = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        next += period;
        let payload = message(sent_messages * frames as u64);
        fanout.broadcast_audio(group, &payload).unwrap();
        sent_messages += 1;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
    }
    let broadcast_ns = thread_cpu_ns() - cpu_before;
    thread::sleep(Duration::from_millis(300)); // the writer finishes the last period
    let after = fanout.stats();
    stop.store(true, Ordering::Relaxed);
    let (mut delay_us, longest_pass) = reader.join().unwrap();
    delay_us.sort_unstable();
    let percentile = |p: f64| {
        let at = ((delay_us.len() as f64 * p) as usize).min(delay_us.len().saturating_sub(1));
        delay_us.get(at).map_or(0.0, |&us| f64::from(us) / 1000.0)
    };
    let listener_frames = sent_messages * frames as u64 * listeners as u64;
    let per = |x: u64| x as f64 / listener_frames as f64;
    let run = Run {
        listeners,
        frames_per_message: frames,
        seconds: start.elapsed().as_secs_f64(),
        listener_frames,
        writer_ns_per_listener_frame: per(after.writer_cpu_ns - before.writer_cpu_ns),
        broadcast_ns_per_listener_frame: per(broadcast_ns),
        sends_per_listener_frame: per(after.write_calls - before.write_calls),
        dropped: after.audio_dropped - before.audio_dropped,
        drained_bytes: drained.load(Ordering::Relaxed),
        delay_ms: (percentile(0.50), percentile(0.99)),
        longest_pass_ms: longest_pass.as_secs_f64() * 1000.0,
    };
    for (_, conn) in &mouths {
        fanout.close(*conn);
    }
    fanout.shutdown();
    drop(mouths);
    run
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> =
        args.get(1).map_or("1000,5000", String::as_str).split(',').map(|s| s.parse().expect("a listener count")).collect();
    let seconds: f64 = args.get(2).map_or(Ok(6.0), |s| s.parse()).expect("seconds per run");
    let out = args.get(3);
    let mut runs = Vec::new();
    println!(
        "| listeners | frames/message | writer ns per listener-frame | broadcast ns | total ns | sendmsg per listener-frame | delay p50 / p99 ms | reader's longest pass ms | audio dropped |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &listeners in &sizes {
        for frames in STEPS {
            let run = measure(listeners, frames, seconds);
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.3} | {:.1} / {:.1} | {:.1} | {} |",
                run.listeners,
                run.frames_per_message,
                run.writer_ns_per_listener_frame,
                run.broadcast_ns_per_listener_frame,
                run.writer_ns_per_listener_frame + run.broadcast_ns_per_listener_frame,
                run.sends_per_listener_frame,
                run.delay_ms.0,
                run.delay_ms.1,
                run.longest_pass_ms,
                run.dropped
            );
            runs.push(run);
        }
    }
    if let Some(out) = out {
        let rows: Vec<String> = runs
            .iter()
            .map(|r| {
                format!(
                    "    {{\"listeners\": {}, \"frames_per_message\": {}, \"seconds\": {:.2}, \"listener_frames\": {}, \
                     \"writer_ns_per_listener_frame\": {:.1}, \"broadcast_ns_per_listener_frame\": {:.1}, \
                     \"sendmsg_per_listener_frame\": {:.4}, \"delay_p50_ms\": {:.2}, \"delay_p99_ms\": {:.2}, \
                     \"reader_longest_pass_ms\": {:.2}, \"audio_dropped\": {}, \"drained_bytes\": {}}}",
                    r.listeners,
                    r.frames_per_message,
                    r.seconds,
                    r.listener_frames,
                    r.writer_ns_per_listener_frame,
                    r.broadcast_ns_per_listener_frame,
                    r.sends_per_listener_frame,
                    r.delay_ms.0,
                    r.delay_ms.1,
                    r.longest_pass_ms,
                    r.dropped,
                    r.drained_bytes
                )
            })
            .collect();
        let command = format!("cargo run --release -p stoa-driver --example batching_cost -- {}", args[1..].join(" "));
        let json = format!(
            "{{\n  \"command\": \"{command}\",\n  \"opus_bytes\": {OPUS_BYTES},\n  \"runs\": [\n{}\n  ]\n}}\n",
            rows.join(",\n")
        );
        std::fs::write(out, json).expect("write the results");
    }
}
