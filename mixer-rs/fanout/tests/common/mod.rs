//! Loopback helpers shared by the fan-out's integration tests: real TCP
//! connections on 127.0.0.1 (port 0), a client that parses server WebSocket
//! frames, and polling with a ceiling so that no test can hang.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use fanout::{Fanout, FanoutConfig, Notice, NoticeKind};

/// The ceiling on any wait in these tests.
pub const CEILING: Duration = Duration::from_secs(10);

/// The client end of a registered connection. The server end is kept open
/// here (until a test takes it), as the Python server keeps its own descriptor.
pub struct Client {
    pub conn: u64,
    pub stream: TcpStream,
    pub server_side: Option<TcpStream>,
    buf: Vec<u8>,
}

/// Writers of the fan-outs the behaviour tests make: more than one, so that
/// every behaviour is tested on connections of several writers (ids 1, 2, 3...
/// go to writers 1, 2, 0...). `shards.rs` compares one writer with several.
pub const WRITERS: usize = 3;

pub fn fanout(max_queue_bytes: usize, max_audio_messages: usize) -> Fanout {
    with_writers(max_queue_bytes, max_audio_messages, WRITERS)
}

pub fn with_writers(max_queue_bytes: usize, max_audio_messages: usize, writers: usize) -> Fanout {
    Fanout::new(FanoutConfig { max_queue_bytes, max_audio_messages, writers }).unwrap()
}

/// `count` loopback connections, each registered with `fanout`.
pub fn clients(fanout: &Fanout, count: usize) -> Vec<Client> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (0..count)
        .map(|_| {
            let stream = TcpStream::connect(addr).unwrap();
            let (server_side, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(CEILING)).unwrap();
            let conn = fanout.register(server_side.as_raw_fd()).unwrap();
            Client { conn, stream, server_side: Some(server_side), buf: Vec::new() }
        })
        .collect()
}

impl Client {
    /// Reads until `len` bytes are buffered; panics on EOF or after the ceiling.
    fn fill(&mut self, len: usize) {
        let mut chunk = [0u8; 65_536];
        while self.buf.len() < len {
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("conn {}: EOF with {} of {len} bytes", self.conn, self.buf.len()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => panic!("conn {}: {err} with {} of {len} bytes", self.conn, self.buf.len()),
            }
        }
    }

    /// The next `len` bytes, exactly as sent.
    pub fn read_exact(&mut self, len: usize) -> Vec<u8> {
        self.fill(len);
        self.buf.drain(..len).collect()
    }

    /// The next server frame: (first header byte, payload). Checks it is unmasked.
    pub fn read_frame(&mut self) -> (u8, Vec<u8>) {
        self.fill(2);
        let (first, second) = (self.buf[0], self.buf[1]);
        assert_eq!(second & 0x80, 0, "server frames are not masked");
        let (header, len) = match second & 0x7f {
            126 => {
                self.fill(4);
                (4, u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize)
            }
            127 => {
                self.fill(10);
                (10, u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize)
            }
            short => (2, short as usize),
        };
        self.fill(header + len);
        let payload = self.buf[header..header + len].to_vec();
        self.buf.drain(..header + len);
        (first, payload)
    }

    /// The next binary message's payload.
    pub fn read_message(&mut self) -> Vec<u8> {
        let (first, payload) = self.read_frame();
        assert_eq!(first, 0x82, "FIN + binary");
        payload
    }

    /// Reads everything until EOF; panics if none comes within the ceiling.
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.buf);
        self.stream.read_to_end(&mut rest).unwrap();
        rest
    }
}

/// A numbered payload: seq (4 bytes, big-endian) then `len - 4` filler bytes.
pub fn numbered(seq: u32, len: usize) -> Vec<u8> {
    let mut payload = seq.to_be_bytes().to_vec();
    payload.extend((0..len.saturating_sub(4)).map(|i| (i as u32 ^ seq) as u8));
    payload
}

pub fn seq_of(payload: &[u8]) -> u32 {
    u32::from_be_bytes(payload[..4].try_into().unwrap())
}

/// Polls `cond` every millisecond; panics with `what` after the ceiling.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < CEILING, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Collects notices until one of `kind` for `conn` arrives; returns all collected.
pub fn wait_for_notice(fanout: &Fanout, conn: u64, kind: NoticeKind) -> Vec<Notice> {
    let mut seen = Vec::new();
    wait_for(&format!("a {} notice for conn {conn}", kind.as_str()), || {
        seen.extend(fanout.take_notices());
        seen.iter().any(|n| n.conn == conn && n.kind == kind)
    });
    seen
}
