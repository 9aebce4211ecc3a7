//! A scripted WebSocket server for the pool's tests: plain blocking std sockets on loopback, one
//! `Peer` per accepted listener, reading client frames as RFC 6455 says a server must (masked).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use loadpool::{PoolConfig, ws};
use rmp::encode as enc;

/// A pool of listeners of one space, without a capture clock, joining at 1,000 a second.
pub fn config(port: u16, users: &[&str]) -> PoolConfig {
    PoolConfig {
        host: "127.0.0.1".into(),
        port,
        space_id: "q1w2e3r4t5y6".into(),
        users: users.iter().map(|u| u.to_string()).collect(),
        spaces: Vec::new(),
        connect_per_s: 1000.0,
        late_after_us: 250_000,
        clock_t0_us: 0,
        clock_slots: 0,
        speakers: Vec::new(),
        linger_us: 0,
    }
}

pub struct FakeServer {
    listener: TcpListener,
    pub port: u16,
}

impl FakeServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        Self { listener, port }
    }

    /// Accepts one connection and reads its upgrade request (not yet answered).
    pub fn accept(&self) -> Peer {
        let (stream, _) = self.listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut peer = Peer { stream, pending: Vec::new() };
        let head = peer.read_until(b"\r\n\r\n");
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("GET / HTTP/1.1\r\n"), "{head}");
        assert!(head.contains(&format!("Sec-WebSocket-Key: {}", ws::CLIENT_KEY)), "{head}");
        peer
    }

    /// Accepts one listener through its upgrade, `hello` and `join_space`; returns it with the
    /// guest name and space id it sent, `welcome` sent back and `joined` not yet.
    pub fn accept_joining(&self) -> (Peer, String, String) {
        let mut peer = self.accept();
        peer.upgrade();
        let hello = peer.read_message();
        assert_eq!(str_field(&hello, "type"), "hello");
        assert_eq!(int_field(&hello, "protocol"), 2);
        let user = str_field(&hello, "name");
        let join = peer.read_message();
        assert_eq!(str_field(&join, "type"), "join_space");
        let space_id = str_field(&join, "space_id");
        peer.send_message(&map(&[
            ("type", Val::S("welcome")),
            ("protocol", Val::U(2)),
            ("user", Val::S("g-000000000001")),
            ("name", Val::S(&user)),
        ]));
        (peer, user, space_id)
    }
}

pub struct Peer {
    pub stream: TcpStream,
    pending: Vec<u8>,
}

impl Peer {
    fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).expect("read from the listener");
        assert!(n > 0, "the listener closed the connection");
        self.pending.extend_from_slice(&chunk[..n]);
    }

    fn read_until(&mut self, end: &[u8]) -> Vec<u8> {
        loop {
            if let Some(at) = self.pending.windows(end.len()).position(|w| w == end) {
                return self.pending.drain(..at + end.len()).collect();
            }
            self.fill();
        }
    }

    fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.pending.len() < n {
            self.fill();
        }
        self.pending.drain(..n).collect()
    }

    pub fn upgrade(&mut self) {
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            ws::EXPECTED_ACCEPT
        );
        self.send(response.as_bytes());
    }

    /// One client frame: (opcode, unmasked payload). Asserts it is masked and final.
    pub fn read_frame(&mut self) -> (u8, Vec<u8>) {
        let head = self.read_exact(2);
        assert_eq!(head[0] & 0xF0, 0x80, "FIN, no RSV bits");
        assert_eq!(head[1] & 0x80, 0x80, "a client frame must be masked");
        let len = match head[1] & 0x7F {
            126 => u16::from_be_bytes(self.read_exact(2).try_into().unwrap()) as usize,
            127 => u64::from_be_bytes(self.read_exact(8).try_into().unwrap()) as usize,
            short => short as usize,
        };
        let key = self.read_exact(4);
        let payload = self.read_exact(len).iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
        (head[0] & 0x0F, payload)
    }

    pub fn read_message(&mut self) -> Vec<u8> {
        let (opcode, payload) = self.read_frame();
        assert_eq!(opcode, ws::OP_BINARY, "protocol messages are binary");
        payload
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn send_message(&mut self, msgpack: &[u8]) {
        self.send(&server_frame(ws::OP_BINARY, msgpack));
    }

    /// Reads the listener's close frame and answers it; returns its code.
    pub fn expect_close(&mut self) -> u16 {
        loop {
            let (opcode, payload) = self.read_frame();
            if opcode == ws::OP_CLOSE {
                self.send(&server_frame(ws::OP_CLOSE, &payload));
                return ws::close_code(&payload);
            }
        }
    }
}

pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

pub enum Val<'a> {
    S(&'a str),
    U(u64),
    Nil,
}

pub fn map(fields: &[(&str, Val<'_>)]) -> Vec<u8> {
    let mut out = Vec::new();
    enc::write_map_len(&mut out, fields.len() as u32).unwrap();
    for (key, value) in fields {
        enc::write_str(&mut out, key).unwrap();
        match value {
            Val::S(s) => enc::write_str(&mut out, s).unwrap(),
            Val::U(n) => {
                enc::write_uint(&mut out, *n).unwrap();
            }
            Val::Nil => enc::write_nil(&mut out).unwrap(),
        }
    }
    out
}

pub fn joined(reference: u64) -> Vec<u8> {
    map(&[("type", Val::S("joined")), ("ref", Val::U(reference)), ("role", Val::S("listener"))])
}

/// An `audio` message of (seq, captured_at) frames, each with 60 bytes of opus.
pub fn audio(frames: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::new();
    enc::write_map_len(&mut out, 2).unwrap();
    enc::write_str(&mut out, "type").unwrap();
    enc::write_str(&mut out, "audio").unwrap();
    enc::write_str(&mut out, "frames").unwrap();
    enc::write_array_len(&mut out, frames.len() as u32).unwrap();
    for &(seq, captured_at) in frames {
        enc::write_map_len(&mut out, 3).unwrap();
        enc::write_str(&mut out, "seq").unwrap();
        enc::write_uint(&mut out, seq).unwrap();
        enc::write_str(&mut out, "captured_at").unwrap();
        enc::write_uint(&mut out, captured_at).unwrap();
        enc::write_str(&mut out, "opus").unwrap();
        enc::write_bin(&mut out, &[0x5A; 60]).unwrap();
    }
    out
}

/// A field's value in a flat msgpack map of str keys and str or unsigned integer values.
enum Field {
    Str(String),
    Int(u64),
    Bin,
}

/// The field `name` of such a map (decoded with rmp, independently of the crate's walker).
fn field(msgpack: &[u8], name: &str) -> Field {
    let mut rd = msgpack;
    let n = rmp::decode::read_map_len(&mut rd).unwrap();
    for _ in 0..n {
        let key = read_str(&mut rd);
        let value = match rmp::decode::read_marker(&mut &rd[..]).unwrap() {
            rmp::Marker::FixStr(_) | rmp::Marker::Str8 | rmp::Marker::Str16 | rmp::Marker::Str32 => {
                Field::Str(read_str(&mut rd))
            }
            rmp::Marker::Bin8 | rmp::Marker::Bin16 | rmp::Marker::Bin32 => {
                let len = rmp::decode::read_bin_len(&mut rd).unwrap() as usize;
                rd = &rd[len..];
                Field::Bin
            }
            _ => Field::Int(rmp::decode::read_int::<u64, _>(&mut rd).unwrap()),
        };
        if key == name {
            return value;
        }
    }
    panic!("no field {name}")
}

/// A str field of a msgpack map.
pub fn str_field(msgpack: &[u8], name: &str) -> String {
    match field(msgpack, name) {
        Field::Str(value) => value,
        Field::Int(_) | Field::Bin => panic!("{name} is not a str"),
    }
}

/// An integer field of a msgpack map.
pub fn int_field(msgpack: &[u8], name: &str) -> u64 {
    match field(msgpack, name) {
        Field::Int(value) => value,
        Field::Str(_) | Field::Bin => panic!("{name} is not an integer"),
    }
}

fn read_str(rd: &mut &[u8]) -> String {
    let len = rmp::decode::read_str_len(rd).unwrap() as usize;
    let (s, rest) = rd.split_at(len);
    *rd = rest;
    String::from_utf8(s.to_vec()).unwrap()
}

pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// Polls `condition` every 5 ms for at most 10 s.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
