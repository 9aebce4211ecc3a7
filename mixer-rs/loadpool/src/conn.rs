//! One listener's connection, driven by the pool thread's readiness events: connect, upgrade,
//! `hello` and `join_space` (sent together), then read forever (`read`), answering pings, and for a
//! speaker send audio when the pool's pacer says (`send_audio`); close on stop. Every way a listener ends goes through `fail` or `end`, which keep the counters in step.

mod read;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::clock::SLOT_US;
use crate::inbox::Inbox;
use crate::msg;
use crate::speech::Speaker;
use crate::stats::{ListenerState, Shared, bump, drop_one};
use crate::sys::{self, HANGUP, Poller, READABLE, WRITABLE};
use crate::ws;

/// `ref` of the listener's one request.
pub(crate) const JOIN_REF: u64 = 1;
/// From the connect to `joined`.
pub(crate) const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// From our close frame to the server's.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What every connection of the pool shares: the counters, the poller, the requests' fields.
pub(crate) struct Env {
    pub shared: Arc<Shared>,
    pub poller: Poller,
    pub host_header: String,
    pub space_id: String,
    /// For listeners of several spaces, each one's (else `space_id`).
    pub spaces: Vec<String>,
    /// For a pool of speakers, one per connection (its token, space and script); empty for listeners.
    pub speakers: Vec<Speaker>,
    pub late_after_us: u64,
    /// xorshift64 state for mask keys: RFC 6455 asks for unpredictable keys to protect proxies
    /// from a hostile page; a load generator on loopback needs them only to be present.
    pub rng: u64,
    pub scratch: Vec<u8>,
}

impl Env {
    fn mask(&mut self) -> [u8; 4] {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng as u32).to_ne_bytes()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Its turn in the ramp-up has not come.
    Waiting,
    Connecting,
    Upgrading,
    /// `hello` and `join_space` sent; waiting for `joined`.
    Joining,
    Joined,
    /// Our close frame sent; waiting for the server's.
    Closing,
    Done,
}

pub(crate) struct Conn {
    index: usize,
    stream: Option<TcpStream>,
    phase: Phase,
    since: Instant,
    ws_open: bool,
    interest: u32,
    inbox: Inbox,
    out: Vec<u8>,
    out_pos: usize,
    /// A fragmented message being put together (rare: servers send whole messages).
    fragments: Vec<u8>,
    fragment_opcode: Option<u8>,
    last_seq: Option<u64>,
    /// The last real frame on the capture clock: its `seq` and the slot it named.
    last_real: Option<(u64, u64)>,
    /// A speaker's packet counter (`seq` of its next `audio`).
    audio_seq: u64,
    /// When the bytes of the last read reached the socket (µs of unix time; 0: not stamped).
    arrived_us: u64,
}

impl Conn {
    pub fn new(index: usize) -> Self {
        Self {
            index,
            stream: None,
            phase: Phase::Waiting,
            since: Instant::now(),
            ws_open: false,
            interest: 0,
            inbox: Inbox::default(),
            out: Vec::new(),
            out_pos: 0,
            fragments: Vec::new(),
            fragment_opcode: None,
            last_seq: None,
            last_real: None,
            audio_seq: 0,
            arrived_us: 0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.since = Instant::now();
    }

    pub fn start(&mut self, env: &mut Env, addr: &SocketAddr) {
        let (stream, connected) = match sys::connect_nonblocking(addr) {
            Ok(started) => started,
            Err(e) => return self.fail(env, &format!("connect: {e}"), None),
        };
        let _ = stream.set_nodelay(true);
        let _ = sys::stamp_arrivals(&stream); // without it, latency is taken when the harness reads
        let interest = if connected { READABLE } else { WRITABLE };
        if let Err(e) = env.poller.add(stream.as_raw_fd(), interest, self.index as u64) {
            return self.fail(env, &format!("epoll: {e}"), None);
        }
        self.stream = Some(stream);
        self.interest = interest;
        if connected {
            self.on_connected(env);
        } else {
            self.enter(Phase::Connecting);
        }
    }

    pub fn on_ready(&mut self, env: &mut Env, events: u32) {
        match self.phase {
            Phase::Waiting | Phase::Done => {}
            Phase::Connecting if events & (WRITABLE | HANGUP) != 0 => {
                match self.stream.as_ref().map(TcpStream::take_error) {
                    Some(Ok(None)) => self.on_connected(env),
                    Some(Ok(Some(e)) | Err(e)) => self.fail(env, &format!("connect: {e}"), None),
                    None => {}
                }
            }
            Phase::Connecting => {}
            _ => {
                if events & WRITABLE != 0 {
                    self.flush(env);
                }
                if events & (READABLE | HANGUP) != 0 && self.phase != Phase::Done {
                    self.read(env);
                }
            }
        }
    }

    /// `stop`: a polite close for an open WebSocket, a plain one for anything earlier.
    pub fn begin_close(&mut self, env: &mut Env) {
        match self.phase {
            Phase::Waiting => self.end(env, ListenerState::Closed, 0, "stopped before it connected"),
            Phase::Connecting | Phase::Upgrading => {
                self.end(env, ListenerState::Closed, 0, "stopped before it joined")
            }
            Phase::Joining | Phase::Joined => {
                if self.phase == Phase::Joining {
                    env.shared.cells[self.index].set_error("stopped before it joined");
                    env.shared.set_state(self.index, ListenerState::Closed);
                }
                self.send_close(env, 1000);
            }
            Phase::Closing | Phase::Done => {}
        }
    }

    /// Ends a connection that has waited too long for `joined` or for the server's close frame.
    pub fn check_timeout(&mut self, env: &mut Env, now: Instant) {
        let waited = now.saturating_duration_since(self.since);
        match self.phase {
            Phase::Connecting | Phase::Upgrading | Phase::Joining if waited > JOIN_TIMEOUT => {
                self.fail(env, "no `joined` within 60 s", Some(1000))
            }
            Phase::Closing if waited > CLOSE_TIMEOUT => {
                self.end(env, ListenerState::Closed, 1006, "no close frame from the server within 2 s")
            }
            _ => {}
        }
    }

    /// Ends the listener whatever its phase (the pool is going away).
    pub fn abandon(&mut self, env: &mut Env) {
        self.end(env, ListenerState::Closed, 1006, "no close frame from the server before the pool stopped");
    }

    fn on_connected(&mut self, env: &mut Env) {
        self.enter(Phase::Upgrading);
        self.inbox = Inbox::new(read::MAX_MESSAGE_BYTES);
        self.out.extend_from_slice(&ws::upgrade_request(&env.host_header));
        self.set_interest(env, READABLE);
        self.flush(env);
    }

    fn on_upgraded(&mut self, env: &mut Env) {
        self.ws_open = true;
        bump(&env.shared.counters.connected, 1);
        self.enter(Phase::Joining);
        let mut request = std::mem::take(&mut env.scratch);
        request.clear();
        let (hello_mask, join_mask) = (env.mask(), env.mask());
        let space_id = match env.speakers.get(self.index) {
            Some(speaker) => {
                msg::write_hello_token(&mut request, &speaker.token);
                speaker.space_id.as_str()
            }
            None => {
                msg::write_hello(&mut request, &env.shared.cells[self.index].user);
                env.spaces.get(self.index).unwrap_or(&env.space_id).as_str()
            }
        };
        ws::write_client_frame(&mut self.out, ws::OP_BINARY, &request, hello_mask);
        request.clear();
        msg::write_join_space(&mut request, JOIN_REF, space_id);
        ws::write_client_frame(&mut self.out, ws::OP_BINARY, &request, join_mask);
        env.scratch = request;
        self.flush(env);
    }

    /// A speaker's packet for `slot` of the clock started at `t0_us`, if it has joined and its
    /// script has one for that slot; true if it was sent (queued on the socket).
    pub fn send_audio(&mut self, env: &mut Env, t0_us: u64, slot: u64) -> bool {
        if self.phase != Phase::Joined {
            return false;
        }
        let mask = env.mask();
        let Some(speaker) = env.speakers.get(self.index) else { return false };
        let Some((packet, level)) = speaker.script.packet(slot) else { return false };
        let message = &mut env.scratch;
        message.clear();
        msg::write_audio(message, self.audio_seq, t0_us + slot * SLOT_US, packet, level);
        self.audio_seq += 1;
        ws::write_client_frame(&mut self.out, ws::OP_BINARY, message, mask);
        self.flush(env);
        self.phase == Phase::Joined
    }

    fn on_close_frame(&mut self, env: &mut Env, code: u16) {
        if self.phase == Phase::Closing {
            return self.end(env, ListenerState::Closed, code, "");
        }
        bump(&env.shared.counters.closed_by_server, 1);
        // 1005 means "no code": an empty close frame answers it.
        let echo = if code == 1005 { &[][..] } else { &ws::close_payload(code)[..] };
        self.send_frame(env, ws::OP_CLOSE, echo);
        let (state, why) = match self.phase {
            Phase::Joined => (ListenerState::Closed, String::new()),
            _ => (ListenerState::Failed, format!("closed by the server before joining (code {code})")),
        };
        self.end(env, state, code, &why);
    }

    /// The connection ended without a close frame (EOF or an error).
    fn on_dropped(&mut self, env: &mut Env, why: &str) {
        match self.phase {
            Phase::Closing => self.end(env, ListenerState::Closed, 1006, ""),
            Phase::Joined => {
                bump(&env.shared.counters.closed_by_server, 1);
                self.end(env, ListenerState::Closed, 1006, why);
            }
            _ => {
                if self.ws_open {
                    bump(&env.shared.counters.closed_by_server, 1);
                }
                self.end(env, ListenerState::Failed, if self.ws_open { 1006 } else { 0 }, why);
            }
        }
    }

    /// The listener cannot go on: before `joined` it failed, after it it is closed; `why` is kept.
    /// With `close_with`, an open WebSocket is closed politely with that code first.
    fn fail(&mut self, env: &mut Env, why: &str, close_with: Option<u16>) {
        let state = if self.phase == Phase::Joined { ListenerState::Closed } else { ListenerState::Failed };
        env.shared.cells[self.index].set_error(why);
        match close_with {
            Some(code) if self.ws_open && self.phase != Phase::Closing => {
                env.shared.set_state(self.index, state);
                self.send_close(env, code);
            }
            _ => self.end(env, state, 0, why),
        }
    }

    fn send_close(&mut self, env: &mut Env, code: u16) {
        self.enter(Phase::Closing);
        self.send_frame(env, ws::OP_CLOSE, &ws::close_payload(code));
    }

    fn end(&mut self, env: &mut Env, state: ListenerState, close_code: u16, why: &str) {
        if self.phase == Phase::Done {
            return;
        }
        self.phase = Phase::Done;
        self.stream = None;
        if std::mem::take(&mut self.ws_open) {
            drop_one(&env.shared.counters.connected);
        }
        let cell = &env.shared.cells[self.index];
        if close_code != 0 {
            let _ = cell.close_code.compare_exchange(0, u64::from(close_code), Relaxed, Relaxed);
        }
        if !why.is_empty() {
            cell.set_error(why);
        }
        env.shared.set_state(self.index, state);
        (self.inbox, self.out, self.fragments, self.out_pos) = Default::default();
    }

    fn send_frame(&mut self, env: &mut Env, opcode: u8, payload: &[u8]) {
        let mask = env.mask();
        ws::write_client_frame(&mut self.out, opcode, payload, mask);
        self.flush(env);
    }

    /// Writes what is queued; what the socket does not take waits for it to become writable.
    fn flush(&mut self, env: &mut Env) {
        while self.out_pos < self.out.len() {
            let Some(stream) = self.stream.as_mut() else { return };
            match stream.write(&self.out[self.out_pos..]) {
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.set_interest(env, READABLE | WRITABLE);
                }
                Err(e) => return self.on_dropped(env, &format!("send: {e}")),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        if self.phase != Phase::Connecting {
            self.set_interest(env, READABLE);
        }
    }

    fn set_interest(&mut self, env: &mut Env, interest: u32) {
        if interest == self.interest {
            return;
        }
        let Some(stream) = self.stream.as_ref() else { return };
        match env.poller.modify(stream.as_raw_fd(), interest, self.index as u64) {
            Ok(()) => self.interest = interest,
            Err(e) => self.on_dropped(env, &format!("epoll: {e}")),
        }
    }
}
