//! What the socket tests share: a `Wire` with its `Fanout` and a `TickPool` on a loopback port, and a client
//! written here from RFC 6455.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use driver::TickPool;
use fanout::{Fanout, FanoutConfig};
use wire::{Event, Wire, WireConfig};

pub const MASK: [u8; 4] = [1, 2, 3, 4];
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

pub struct Server {
    pub wire: Wire,
    pub fanout: Arc<Fanout>,
    pub pool: TickPool,
    pub port: u16,
    _listener: TcpListener,
}

pub fn server(config: WireConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fanout = Arc::new(Fanout::new(FanoutConfig::default()).unwrap());
    let pool = TickPool::new(1, 2).unwrap();
    let wire =
        Wire::new(&[listener.as_raw_fd()], Arc::clone(&fanout), pool.speaker_routes(), config).unwrap();
    Server { wire, fanout, pool, port, _listener: listener }
}

impl Server {
    /// Waits for the next event (any kind).
    pub fn event(&self) -> Event {
        self.events(1).remove(0)
    }

    pub fn events(&self, n: usize) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < n {
            assert!(Instant::now() < deadline, "only {got:?}");
            got.extend(self.wire.take_events());
            std::thread::sleep(Duration::from_millis(2));
        }
        got
    }

    pub fn no_event_for(&self, wait: Duration) -> Vec<Event> {
        std::thread::sleep(wait);
        self.wire.take_events()
    }

    pub fn request(&self, extra: &str) -> TcpStream {
        request_to(("127.0.0.1", self.port), extra)
    }

    /// A client whose upgrade was accepted, and its connection id.
    pub fn client(&self) -> (TcpStream, u64) {
        let mut stream = self.request("");
        let Event::Opened { conn, .. } = self.event() else { panic!("not opened") };
        self.wire.accept(conn);
        let head = read_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        (stream, conn)
    }
}

/// A connection to `address` that has sent a whole upgrade request, with `extra` header lines.
pub fn request_to(address: impl ToSocketAddrs, extra: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(upgrade_request(extra).as_bytes()).unwrap();
    stream
}

/// A whole upgrade request, with `extra` header lines.
pub fn upgrade_request(extra: &str) -> String {
    format!(
        "GET /space?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

pub fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Reads one server frame: (opcode, payload). Server frames are never masked.
pub fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(head[1] & 0x80, 0, "a server frame is not masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).unwrap();
            usize::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            stream.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => usize::from(n),
    };
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).unwrap();
    (head[0] & 0x0f, payload)
}

pub fn close_code(payload: &[u8]) -> u16 {
    u16::from_be_bytes([payload[0], payload[1]])
}

pub fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    rest
}

pub fn audio(seq: u64, opus: &[u8]) -> Vec<u8> {
    let mut out = vec![0x84, 0xa4];
    out.extend(b"type");
    out.extend([0xa5]);
    out.extend(b"audio");
    out.extend([0xa3]);
    out.extend(b"seq");
    out.extend([0xcf]);
    out.extend(seq.to_be_bytes());
    out.extend([0xab]);
    out.extend(b"captured_at");
    out.extend([0x05, 0xa4]);
    out.extend(b"opus");
    out.extend([0xc4, opus.len() as u8]);
    out.extend(opus);
    out
}
