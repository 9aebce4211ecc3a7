//! What a listener costs the pool: CPU µs of the pool thread per message received, with a
//! compiled fake server on the same machine writing one pre-built audio message to every
//! listener each period (like the C floor measurement of docs ANCHORS).
//!
//!     cargo run --release -p stoa-loadpool --example pool_cost -- [LISTENERS] [SECONDS] [FRAMES_PER_MESSAGE] [PERIOD_MS]
//!
//! Defaults: 5,000 listeners, 10 s, 5 frames a message, 100 ms (10 messages a second each). The
//! server and the pool share one process, so both its sockets and the pool's count against the
//! open-files limit: at most about 9,900 listeners here.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loadpool::{Pool, PoolConfig, ws};
use rmp::encode as enc;

fn arg(n: usize, default: u64) -> u64 {
    std::env::args().nth(n).map_or(default, |a| a.parse().expect("a number"))
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

fn server_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x82];
    if payload.len() < 126 {
        out.push(payload.len() as u8);
    } else {
        out.push(126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

fn audio_message(first_seq: u64, frames: u64) -> Vec<u8> {
    let mut m = Vec::new();
    enc::write_map_len(&mut m, 2).unwrap();
    enc::write_str(&mut m, "type").unwrap();
    enc::write_str(&mut m, "audio").unwrap();
    enc::write_str(&mut m, "frames").unwrap();
    enc::write_array_len(&mut m, frames as u32).unwrap();
    let now = now_us();
    for i in 0..frames {
        enc::write_map_len(&mut m, 3).unwrap();
        enc::write_str(&mut m, "seq").unwrap();
        enc::write_uint(&mut m, first_seq + i).unwrap();
        enc::write_str(&mut m, "captured_at").unwrap();
        enc::write_uint(&mut m, now - 20_000 * (frames - 1 - i)).unwrap();
        enc::write_str(&mut m, "opus").unwrap();
        enc::write_bin(&mut m, &[0x5A; 80]).unwrap();
    }
    server_frame(&m)
}

/// Accepts `n` listeners: answers each upgrade and sends `joined` at once.
fn accept_all(listener: &TcpListener, n: usize) -> Vec<TcpStream> {
    let upgrade = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        ws::EXPECTED_ACCEPT
    );
    let mut joined = Vec::new();
    enc::write_map_len(&mut joined, 2).unwrap();
    enc::write_str(&mut joined, "type").unwrap();
    enc::write_str(&mut joined, "joined").unwrap();
    enc::write_str(&mut joined, "ref").unwrap();
    enc::write_uint(&mut joined, 1).unwrap();
    let mut reply = upgrade.into_bytes();
    reply.extend(server_frame(&joined));
    (0..n)
        .map(|_| {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let got = stream.read(&mut chunk).unwrap();
                assert!(got > 0);
                head.extend_from_slice(&chunk[..got]);
            }
            stream.write_all(&reply).unwrap();
            stream
        })
        .collect()
}

fn main() {
    let listeners = arg(1, 5_000) as usize;
    let seconds = arg(2, 10);
    let frames = arg(3, 5);
    let period = Duration::from_millis(arg(4, 100));
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = PoolConfig {
        host: "127.0.0.1".into(),
        port: server.local_addr().unwrap().port(),
        space_id: "bench".into(),
        users: (0..listeners).map(|i| format!("l{i}")).collect(),
        spaces: Vec::new(),
        connect_per_s: 5_000.0,
        late_after_us: 250_000,
        clock_t0_us: 0,
        clock_slots: 0,
        speakers: Vec::new(),
        linger_us: 0,
    };
    let pool = Pool::start(config).unwrap();
    let ramp = Instant::now();
    let mut streams = accept_all(&server, listeners);
    while pool.stats().joined < listeners as u64 {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("{listeners} listeners joined in {:.2} s", ramp.elapsed().as_secs_f64());

    let before = pool.stats();
    let started = Instant::now();
    let mut seq = 0;
    let mut next = started;
    while started.elapsed() < Duration::from_secs(seconds) {
        let message = audio_message(seq, frames);
        seq += frames;
        for stream in &mut streams {
            stream.write_all(&message).unwrap();
        }
        next += period;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(300)); // the pool drains what is in flight
    let after = pool.stats();
    let elapsed = started.elapsed().as_secs_f64();
    let (messages, frames_in) = (after.messages - before.messages, after.frames - before.frames);
    let cpu_us = (after.cpu_us - before.cpu_us) as f64;
    let latency = pool.latency_percentiles(&[50.0, 99.0, 100.0]).unwrap().values;
    println!(
        "{messages} messages ({frames_in} frames) in {elapsed:.1} s: {:.0} messages/s; pool thread {:.1}% of a core",
        messages as f64 / elapsed,
        cpu_us / elapsed / 1e4
    );
    println!(
        "pool CPU per message {:.2} µs, per frame {:.2} µs; lost {}, reordered {}, latency p50/p99/max {:?} µs",
        cpu_us / messages as f64,
        cpu_us / frames_in as f64,
        after.lost,
        after.reordered,
        latency
    );
    drop(streams); // the pool sees the connections drop; stop() then has nothing to wait for
    pool.stop();
}
