//! `Conn`: one client connection as the reader sees it, and `Ctx`, what
//! handling its bytes may touch (the fan-out for its answers, the speakers'
//! routes, the events for the owner). A connection goes Handshake -> Pending
//! (the owner decides) -> Open -> Closing (our close frame sent) -> Done.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use driver::{Pushed, SpeakerRoutes};
use fanout::Fanout;
use mixer_core::Frame;

use crate::frames::{self, FrameReader, Item};
use crate::handshake::{self, Parsed};
use crate::pace::{AUDIO_TOO_FAST, AudioPace, Paced};
use crate::{Counters, Event, WireConfig, audio};

/// At most one `AudioUnrouted` event per connection per this long.
pub(crate) const UNROUTED_EVERY: Duration = Duration::from_secs(1);
/// A connection's buffer keeps at most this much capacity while empty.
const KEPT_CAPACITY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    Handshake,
    /// The owner has the upgrade request; `key` answers it.
    Pending {
        key: String,
    },
    Open,
    /// Our close frame is out; the client has until `deadline` to answer.
    Closing {
        deadline: Instant,
        code: u16,
        reason: String,
    },
    Done,
}

pub(crate) struct Conn {
    pub id: u64,
    pub fd: OwnedFd,
    pub peer: IpAddr,
    pub phase: Phase,
    /// Bytes read and not yet handled (at most one incomplete frame, or
    /// what arrived while the owner was behind).
    pub inbuf: Vec<u8>,
    frames: FrameReader,
    pub since: Instant,
    pub last_received: Instant,
    pub pinged_at: Option<Instant>,
    /// Messages handed to the owner and not yet taken.
    pub pending: u32,
    unrouted: u64,
    unrouted_told: Option<Instant>,
    pace: AudioPace,
    /// The owner was told of it (`Opened`) and not refused it: it hears `Closed`.
    pub told: bool,
    /// In the reader's `more`: its last turn ended with bytes left.
    pub carried: bool,
    /// The reader's pass of its last turn.
    pub last_turn: u64,
    /// The peer's FIN (or an error) was seen: read to the end.
    pub ending: bool,
    /// Counted among the handshakes in progress (`Handshakes`), until the reader sees it left its handshake.
    pub handshaking: bool,
    /// The tick of its space that audio accepted this turn plays at (the first from then): what the reader
    /// parks it for (`Reader::settle`).
    pub tick: Option<Instant>,
    /// Parked: read with its space's other speakers at this time, not when bytes arrive.
    pub parked: Option<Instant>,
    /// For tests of a fault: the next `handle` panics (`Wire::inject_panic`).
    pub panic_next: bool,
}

pub(crate) struct Ctx {
    pub fanout: Arc<Fanout>,
    pub speakers: Arc<SpeakerRoutes>,
    pub config: WireConfig,
    pub events: Vec<Event>,
    pub counters: Arc<crate::Shared>,
}

impl Ctx {
    fn counters(&self) -> &Counters {
        &self.counters.counters
    }
}

impl Conn {
    pub fn new(id: u64, fd: OwnedFd, peer: IpAddr, config: &WireConfig) -> Self {
        let now = Instant::now();
        Self {
            id,
            fd,
            peer,
            phase: Phase::Handshake,
            inbuf: Vec::new(),
            frames: FrameReader::new(config.max_message_bytes),
            since: now,
            last_received: now,
            pinged_at: None,
            pending: 0,
            unrouted: 0,
            unrouted_told: None,
            pace: AudioPace::new(config.audio_pace, now),
            told: false,
            carried: false,
            last_turn: 0,
            ending: false,
            handshaking: false,
            tick: None,
            parked: None,
            panic_next: false,
        }
    }

    /// Whether the reader should read this socket now.
    pub fn reading(&self, ctx: &Ctx) -> bool {
        match self.phase {
            Phase::Handshake | Phase::Closing { .. } => true,
            Phase::Open => self.pending < ctx.config.max_pending_messages,
            Phase::Pending { .. } | Phase::Done => false,
        }
    }

    /// Handles what `inbuf` holds, as far as the phase allows.
    /// Handles what `inbuf` holds, a panic there (a bug, on this client's bytes) contained: this connection
    /// alone is closed with 1011 and an incident id, which stderr pairs with the panic's message (Rust's
    /// report of the panic, with its place, comes just before), and the reader goes on with the others.
    pub fn handle(&mut self, ctx: &mut Ctx) {
        if let Err(what) = driver::contained(|| self.handle_bytes(ctx)) {
            let incident = RandomState::new().hash_one((self.id, Instant::now())) as u32;
            let id = self.id;
            eprintln!(
                "stoa-wire: incident {incident:08x}: handling connection {id}'s bytes panicked: {what}"
            );
            self.inbuf.clear();
            let reason = format!("internal error (incident {incident:08x})");
            self.close(ctx, frames::INTERNAL_ERROR, &reason); // the close frame, if it got that far
            self.finish(ctx, frames::INTERNAL_ERROR, &reason, true); // and nothing more read from it
        }
    }

    fn handle_bytes(&mut self, ctx: &mut Ctx) {
        if std::mem::take(&mut self.panic_next) {
            panic!("a panic injected by a test (Wire::inject_panic)");
        }
        let mut buf = std::mem::take(&mut self.inbuf);
        let used = match self.phase {
            Phase::Handshake => self.handshake(&buf, ctx),
            Phase::Open | Phase::Closing { .. } => self.frames(&mut buf, ctx),
            Phase::Pending { .. } | Phase::Done => 0,
        };
        if self.phase == Phase::Done {
            return; // the rest is never read
        }
        buf.drain(..used);
        if buf.is_empty() && buf.capacity() > KEPT_CAPACITY {
            buf = Vec::new(); // 10,000 idle listeners must not each keep a read's worth
        }
        self.inbuf = buf;
    }

    fn handshake(&mut self, buf: &[u8], ctx: &mut Ctx) -> usize {
        match handshake::parse(buf) {
            Parsed::Partial => 0,
            Parsed::Bad(bad) => {
                ctx.fanout.send_raw(
                    self.id,
                    &handshake::refusal(bad.status, &[], format!("{}\n", bad.why).as_bytes()),
                );
                crate::reader::bump(&ctx.counters().bad_handshakes);
                self.finish(ctx, frames::ABNORMAL, "", false);
                0
            }
            Parsed::Upgrade(upgrade, used) => {
                self.phase = Phase::Pending { key: upgrade.key };
                self.told = true;
                ctx.events.push(Event::Opened {
                    conn: self.id,
                    peer: self.peer.to_string(),
                    path: upgrade.path,
                    origins: upgrade.origins,
                });
                used
            }
        }
    }

    /// The owner accepted: the 101 goes out, and frames are read from now on.
    pub fn accept(&mut self, ctx: &mut Ctx) {
        let Phase::Pending { key } = &self.phase else { return };
        if ctx.fanout.send_raw(self.id, &handshake::switching_protocols(key)) {
            self.phase = Phase::Open;
            crate::reader::bump(&ctx.counters().accepted);
        } else {
            self.finish(ctx, frames::ABNORMAL, "", false);
        }
    }

    /// The owner refused: its answer goes out, then the connection closes, unheard of again.
    pub fn refuse(&mut self, response: &[u8], ctx: &mut Ctx) {
        if matches!(self.phase, Phase::Pending { .. }) {
            ctx.fanout.send_raw(self.id, response);
            self.told = false;
            self.finish(ctx, frames::ABNORMAL, "", false);
        }
    }

    fn frames(&mut self, buf: &mut [u8], ctx: &mut Ctx) -> usize {
        let mut at = 0;
        while self.reading(ctx) && self.phase != Phase::Done {
            match self.frames.next(&mut buf[at..]) {
                Ok(None) => break,
                Ok(Some((item, used))) => {
                    if let Some(item) = item {
                        self.item(item, &buf[at..at + used], ctx);
                    }
                    at += used;
                }
                Err(violation) => {
                    if matches!(self.phase, Phase::Closing { .. }) {
                        self.finish_closing(ctx);
                    } else {
                        self.close(ctx, violation.code, &violation.reason);
                    }
                    return at;
                }
            }
        }
        at
    }

    fn item(&mut self, item: Item, frame: &[u8], ctx: &mut Ctx) {
        let closing = matches!(self.phase, Phase::Closing { .. });
        match item {
            Item::Binary { start, end } if !closing => self.message(&frame[start..end], ctx),
            Item::Assembled(data) if !closing => self.message(&data, ctx),
            Item::Ping(payload) if !closing => {
                ctx.fanout.send_raw(self.id, &frames::pong_frame(&payload));
            }
            Item::Close(code, reason) => {
                if closing {
                    self.finish_closing(ctx);
                } else if ctx.fanout.send_raw(self.id, &frames::close_frame(code, "")) {
                    // The client's close, its code echoed (RFC 6455 §5.5.1), then FIN.
                    self.finish(ctx, code, &reason, false);
                } else {
                    // No echo taken: the fan-out had closed the connection on its own, with its 4000 frame
                    // after an overflow (perhaps gone since), and this answers it: that close, the server's,
                    // is the connection's. (Its other close of its own, after a failed write, sends nothing:
                    // a client whose close then still arrives is taken for one that overflowed.)
                    self.finish(ctx, fanout::TOO_SLOW, fanout::TOO_SLOW_REASON, true);
                }
            }
            _ => {} // a pong, or data after our close frame
        }
    }

    fn message(&mut self, data: &[u8], ctx: &mut Ctx) {
        if let Some(packet) = audio::parse(data) {
            match self.pace.take(Instant::now()) {
                Paced::Within => {}
                Paced::Over => {
                    crate::reader::bump(&ctx.counters().audio_over_pace);
                    return;
                }
                Paced::TooFast => {
                    let (code, reason) = AUDIO_TOO_FAST;
                    self.close(ctx, code, reason);
                    return;
                }
            }
            let frame = Frame {
                level: packet.level,
                ..Frame::new(packet.seq, packet.captured_at, packet.opus.to_vec())
            };
            match ctx.speakers.push(self.id, frame) {
                Pushed::Accepted { tick } => {
                    crate::reader::bump(&ctx.counters().audio_routed);
                    self.tick = tick;
                    return;
                }
                Pushed::NoInput => {
                    crate::reader::bump(&ctx.counters().audio_routed);
                    return;
                }
                Pushed::Unrouted => {
                    crate::reader::bump(&ctx.counters().audio_unrouted);
                    self.unrouted += 1;
                    self.tell_unrouted(ctx, Instant::now());
                    return;
                }
                Pushed::Refused => {} // counted by the owner's own path: it gets the message
            }
        }
        self.pending += 1;
        crate::reader::bump(&ctx.counters().messages);
        ctx.events.push(Event::Message { conn: self.id, data: data.to_vec() });
    }

    /// Tells the owner of unrouted audio: at once for the first, then at most once per `UNROUTED_EVERY`.
    pub fn tell_unrouted(&mut self, ctx: &mut Ctx, now: Instant) {
        if self.unrouted == 0 || self.unrouted_told.is_some_and(|told| now - told < UNROUTED_EVERY) {
            return;
        }
        ctx.events.push(Event::AudioUnrouted { conn: self.id, packets: self.unrouted });
        self.unrouted = 0;
        self.unrouted_told = Some(now);
    }

    /// The server closes: our close frame, then the client's answer is awaited. The close frame is
    /// the last thing the connection is sent (RFC 6455 §5.5.1): the fan-out takes nothing more for
    /// it, not even its spaces' audio, and sends FIN once the frame is written. Reading goes on
    /// until the answer.
    pub fn close(&mut self, ctx: &mut Ctx, code: u16, reason: &str) {
        match self.phase {
            Phase::Open => {
                // One step: no broadcast can slip audio in between the frame and the close.
                if ctx.fanout.close_with(self.id, &frames::close_frame(code, reason)) {
                    let deadline = Instant::now() + ctx.config.close_timeout;
                    self.phase = Phase::Closing { deadline, code, reason: reason.to_owned() };
                } else {
                    self.finish(ctx, code, reason, true); // its queue is gone: nothing more can be said
                }
            }
            Phase::Handshake | Phase::Pending { .. } => self.finish(ctx, code, reason, true),
            Phase::Closing { .. } | Phase::Done => {}
        }
    }

    /// The close handshake we started is over (answered, timed out, or the socket ended).
    pub fn finish_closing(&mut self, ctx: &mut Ctx) {
        if let Phase::Closing { code, reason, .. } = std::mem::replace(&mut self.phase, Phase::Open) {
            self.finish(ctx, code, &reason, true);
        }
    }

    /// The connection is over: the owner is told (if it knows it) with the
    /// close's code and reason, the server's own (`by_server`) or the client's
    /// (1006: none came); the fan-out drops its queued audio, flushes the rest
    /// and sends FIN; the reader retires it.
    pub fn finish(&mut self, ctx: &mut Ctx, code: u16, reason: &str, by_server: bool) {
        if self.phase == Phase::Done {
            return;
        }
        self.phase = Phase::Done;
        ctx.speakers.forget(self.id);
        if self.told {
            self.unrouted_told = None;
            self.tell_unrouted(ctx, Instant::now());
            ctx.events.push(Event::Closed { conn: self.id, code, reason: reason.to_owned(), by_server });
        }
        ctx.fanout.close(self.id);
    }

    /// The socket ended (EOF or an error) with no close handshake, or after ours.
    pub fn ended(&mut self, ctx: &mut Ctx) {
        if matches!(self.phase, Phase::Closing { .. }) {
            self.finish_closing(ctx);
        } else {
            self.finish(ctx, frames::ABNORMAL, "", false);
        }
    }

    /// The once-a-second look: timeouts, keepalive, unrouted audio not yet told.
    pub fn sweep(&mut self, ctx: &mut Ctx, now: Instant) {
        let config = ctx.config;
        match &self.phase {
            Phase::Handshake | Phase::Pending { .. } if now - self.since > config.handshake_timeout => {
                if self.phase == Phase::Handshake {
                    crate::reader::bump(&ctx.counters().bad_handshakes);
                }
                self.finish(ctx, frames::ABNORMAL, "", false);
            }
            Phase::Closing { deadline, .. } if now >= *deadline => self.finish_closing(ctx),
            Phase::Open => {
                self.tell_unrouted(ctx, now);
                match self.pinged_at {
                    Some(pinged) if self.last_received < pinged => {
                        if now - pinged > config.keepalive_timeout {
                            let reason = format!("no pong within {} s", config.keepalive_timeout.as_secs());
                            self.close(ctx, crate::KEEPALIVE_TIMEOUT, &reason);
                        }
                    }
                    _ => {
                        let interval = config.keepalive_interval;
                        let idle = |ms: u64| Duration::from_millis(ms) >= interval;
                        if now - self.last_received >= interval
                            && ctx.fanout.idle_ms(self.id).is_some_and(idle)
                        {
                            ctx.fanout.send_raw(self.id, &frames::PING_FRAME);
                            self.pinged_at = Some(now);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
