//! Prints what the fan-out costs on loopback TCP, beside a plain `send()`
//! loop over the same sockets (the floor of ANCHORS.md, measured side by side):
//! the writer thread's CPU per message sent, with N = 1,000 and 5,000
//! connections drained by one reader thread, and the caller's time per
//! `broadcast_audio` with up to 10,000 members. A figure, not a test:
//! `CARGO_TARGET_DIR=target/cargo-test cargo run --release -p stoa-fanout --example fanout_cost`

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use fanout::{Fanout, FanoutConfig};

const ROUNDS: u64 = 200;
const WARMUP: u64 = 20;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a live local the kernel fills.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One thread that reads every client socket (epoll, level-triggered) and counts the bytes.
struct Reader {
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    fn spawn(mut clients: Vec<TcpStream>) -> Self {
        let (received, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let (count, halt) = (Arc::clone(&received), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            // SAFETY: no pointers; returns a new descriptor or -1 (checked below).
            let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            assert!(epoll >= 0, "epoll_create1");
            for (i, client) in clients.iter().enumerate() {
                client.set_nonblocking(true).unwrap();
                let mut event = libc::epoll_event { events: libc::EPOLLIN as u32, u64: i as u64 };
                // SAFETY: `event` is a live local the kernel copies; both fds are open.
                let ret =
                    unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, client.as_raw_fd(), &mut event) };
                assert_eq!(ret, 0, "epoll_ctl");
            }
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; 512];
            let mut buf = vec![0u8; 1 << 16];
            while !halt.load(Ordering::Relaxed) {
                // SAFETY: `events` is a live array of 512 entries the kernel may fill.
                let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 512, 50) };
                for event in &events[..n.max(0) as usize] {
                    let client = &mut clients[event.u64 as usize];
                    loop {
                        match client.read(&mut buf) {
                            Ok(0) => break,
                            Ok(got) => {
                                count.fetch_add(got as u64, Ordering::Relaxed);
                            }
                            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                            Err(err) => panic!("read: {err}"),
                        }
                    }
                }
            }
            // SAFETY: closes the descriptor epoll_create1 returned, once.
            unsafe { libc::close(epoll) };
        });
        Self { received, stop, thread: Some(thread) }
    }

    /// Waits until `total` bytes have arrived, sleeping (not spinning: two vCPUs).
    fn wait_for(&self, total: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.received.load(Ordering::Relaxed) < total {
            assert!(
                Instant::now() < deadline,
                "lost bytes: {} of {total}",
                self.received.load(Ordering::Relaxed)
            );
            thread::sleep(Duration::from_micros(50));
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

/// `n` loopback connections: (server ends, client ends).
fn connect(n: usize) -> (Vec<TcpStream>, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (0..n)
        .map(|_| {
            let client = TcpStream::connect(addr).unwrap();
            let (server, _) = listener.accept().unwrap();
            server.set_nodelay(true).unwrap();
            (server, client)
        })
        .unzip()
}

fn framed_len(payload: usize) -> u64 {
    fanout::binary_header(payload).1 as u64 + payload as u64
}

/// µs of CPU per send of a plain `send()` loop over the same sockets (after
/// the fan-out made them non-blocking), one message per socket per round.
fn plain_send_loop(servers: &mut [TcpStream], reader: &Reader, message: &[u8]) -> f64 {
    let base = reader.received.load(Ordering::Relaxed);
    let per_round = servers.len() as u64 * message.len() as u64;
    let mut cpu = 0;
    for round in 0..WARMUP + ROUNDS {
        let start = thread_cpu_ns();
        for server in servers.iter_mut() {
            // Each socket was drained before this round: a short write would be a bug of the bench.
            assert_eq!(server.write(message).unwrap(), message.len());
        }
        if round >= WARMUP {
            cpu += thread_cpu_ns() - start;
        }
        reader.wait_for(base + (round + 1) * per_round);
    }
    cpu as f64 / 1_000.0 / (ROUNDS * servers.len() as u64) as f64
}

struct Figures {
    writer_us_per_send: f64,
    calls_per_send: f64,
    /// Median CPU time of the calling thread per `broadcast_audio`.
    caller_us_per_broadcast: f64,
    pass_ms: f64,
}

/// One broadcast, then wait until every member has it: one message per connection per writer pass.
fn fanout_rounds(fanout: &Fanout, group: u64, reader: &Reader, n: usize, payload: &[u8]) -> Figures {
    let per_round = n as u64 * framed_len(payload.len());
    let mut expected = reader.received.load(Ordering::Relaxed);
    let (mut caller, mut wall) = (Vec::new(), Duration::ZERO);
    let mut before = fanout.stats();
    for round in 0..WARMUP + ROUNDS {
        if round == WARMUP {
            thread::sleep(Duration::from_millis(5)); // the writer publishes its counters as it sleeps
            before = fanout.stats();
            (caller, wall) = (Vec::new(), Duration::ZERO);
        }
        let (start, start_cpu) = (Instant::now(), thread_cpu_ns());
        assert_eq!(fanout.broadcast_audio(group, payload).unwrap(), n);
        caller.push(thread_cpu_ns() - start_cpu);
        expected += per_round;
        reader.wait_for(expected);
        wall += start.elapsed();
    }
    thread::sleep(Duration::from_millis(5));
    let after = fanout.stats();
    assert_eq!(after.audio_dropped, 0);
    let sends = (ROUNDS * n as u64) as f64;
    Figures {
        writer_us_per_send: (after.writer_cpu_ns - before.writer_cpu_ns) as f64 / 1_000.0 / sends,
        calls_per_send: (after.write_calls - before.write_calls) as f64 / sends,
        caller_us_per_broadcast: {
            caller.sort_unstable();
            caller[caller.len() / 2] as f64 / 1e3
        },
        pass_ms: wall.as_secs_f64() * 1e3 / ROUNDS as f64,
    }
}

/// Broadcasts every `period` for `ticks` ticks, as a space would; returns
/// (writer CPU share of the wall time, µs of writer CPU per message, write calls per message, drops).
fn paced(
    fanout: &Fanout,
    group: u64,
    n: usize,
    payload: &[u8],
    period: Duration,
    ticks: u32,
) -> (f64, f64, f64, u64) {
    let before = fanout.stats();
    let start = Instant::now();
    for tick in 0..ticks {
        fanout.broadcast_audio(group, payload).unwrap();
        let next = start + period * (tick + 1);
        thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    thread::sleep(Duration::from_millis(200)); // let the last pass finish
    let after = fanout.stats();
    let cpu = (after.writer_cpu_ns - before.writer_cpu_ns) as f64;
    let sends = f64::from(ticks) * n as f64;
    (
        cpu / start.elapsed().as_nanos() as f64,
        cpu / 1_000.0 / sends,
        (after.write_calls - before.write_calls) as f64 / sends,
        after.audio_dropped - before.audio_dropped,
    )
}

fn main() {
    println!("fan-out cost on loopback TCP, {ROUNDS} rounds after {WARMUP} of warm-up");
    println!("ANCHORS floor: one send() of 120 or 600 bytes costs 6.3-6.9 µs of the sender's CPU\n");
    for n in [1_000, 5_000] {
        let (mut servers, clients) = connect(n);
        let reader = Reader::spawn(clients);
        let fanout = Fanout::new(FanoutConfig::default()).unwrap();
        let group = fanout.new_group();
        for server in &servers {
            let conn = fanout.register(server.as_raw_fd()).unwrap();
            fanout.join_group(group, conn).unwrap();
        }
        for size in [120, 600] {
            let payload = vec![0x5a; size];
            let fan = fanout_rounds(&fanout, group, &reader, n, &payload);
            let plain = plain_send_loop(&mut servers, &reader, &fanout::frame_binary(&payload));
            println!(
                "N={n:>5} {size:>3} B: writer {:.2} µs CPU/send ({:.2} sendmsg/send), plain send() loop {plain:.2} µs/send; \
                 broadcast_audio {:.0} µs of the caller's CPU ({:.0} ns/member); a pass {:.1} ms",
                fan.writer_us_per_send,
                fan.calls_per_send,
                fan.caller_us_per_broadcast,
                fan.caller_us_per_broadcast * 1e3 / n as f64,
                fan.pass_ms,
            );
        }
        for (size, period_ms) in [(120, 20), (600, 100)] {
            let (busy, us, calls, drops) =
                paced(&fanout, group, n, &vec![0x5a; size], Duration::from_millis(period_ms), 100);
            println!(
                "N={n:>5} {size:>3} B every {period_ms:>3} ms: writer busy {:.0}% of one core, {us:.2} µs CPU/message, \
                 {calls:.2} sendmsg/message, {drops} audio dropped",
                busy * 100.0
            );
        }
        fanout.shutdown();
        drop(reader);
        println!();
    }
    caller_cost_at_10k();
}

/// 10,000 members (four registrations of each of 2,500 sockets, to stay under
/// the 20,000 open files): the caller's time per `broadcast_audio`.
fn caller_cost_at_10k() {
    let (servers, clients) = connect(2_500);
    let reader = Reader::spawn(clients);
    let fanout = Fanout::new(FanoutConfig::default()).unwrap();
    let group = fanout.new_group();
    for server in servers.iter().cycle().take(10_000) {
        fanout.join_group(group, fanout.register(server.as_raw_fd()).unwrap()).unwrap();
    }
    let payload = [0x5a; 120];
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let mut expected = 0;
    for round in 0..WARMUP + ROUNDS {
        let (start, start_cpu) = (Instant::now(), thread_cpu_ns());
        fanout.broadcast_audio(group, &payload).unwrap();
        if round >= WARMUP {
            wall.push(start.elapsed().as_nanos() as u64);
            cpu.push(thread_cpu_ns() - start_cpu);
        }
        expected += 10_000 * framed_len(payload.len());
        reader.wait_for(expected);
    }
    let median_p99 = |mut ns: Vec<u64>| {
        ns.sort_unstable();
        (ns[ns.len() / 2] as f64 / 1e3, ns[ns.len() * 99 / 100] as f64 / 1e3)
    };
    let ((wall_med, wall_p99), (cpu_med, cpu_p99)) = (median_p99(wall), median_p99(cpu));
    println!(
        "N=10000 120 B: broadcast_audio costs the caller {wall_med:.0} µs median, {wall_p99:.0} µs p99 of wall \
         time; {cpu_med:.0} µs median, {cpu_p99:.0} µs p99 of its CPU ({:.0} ns/member)",
        cpu_med * 1e3 / 10_000.0,
    );
    fanout.shutdown();
}
