//! The read path of a connection, the hot one: one `recvmsg` into the connection's `Inbox` per
//! readiness event, then every complete frame in it handled in place: the msgpack walker reads
//! the payload where it lies, and per audio frame updates a few counters, the histograms and, on
//! a run's capture clock, the listener's bitmap of slots heard.
//!
//! Latency twice. A frame's latency is its arrival at the listener's socket (the kernel's stamp
//! of the read's last segment) minus its capture; the same frame's latency as the harness read it
//! goes to a second histogram. The difference is the harness's own delay: its threads share the
//! machine with the server, where a real listener's device would not.

use std::io;
use std::sync::atomic::Ordering::Relaxed;

use super::{Conn, Env, JOIN_REF, Phase};
use crate::clock::slot_of;
use crate::inbox::InboxError;
use crate::msg::{self, Kind};
use crate::stats::{ListenerState, bump};
use crate::sys;
use crate::ws::{self, FrameHeader, Upgrade};

/// Larger server messages end the listener (close 1009). The server's own are far smaller.
pub(crate) const MAX_MESSAGE_BYTES: u64 = 16 * 1024 * 1024;

impl Conn {
    pub(super) fn read(&mut self, env: &mut Env) {
        let Some(stream) = self.stream.as_ref() else { return };
        match sys::recv_stamped(stream, self.inbox.spare()) {
            Ok((0, _)) => self.on_dropped(env, "the server closed the connection without a close frame"),
            Ok((n, arrived_us)) => {
                bump(&env.shared.counters.bytes, n as u64);
                self.arrived_us = arrived_us.unwrap_or(0);
                self.inbox.commit(n);
                self.process(env);
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(e) => self.on_dropped(env, &format!("recv: {e}")),
        }
    }

    /// Handles every complete frame received (after the upgrade response, once).
    fn process(&mut self, env: &mut Env) {
        let mut inbox = std::mem::take(&mut self.inbox);
        if self.phase == Phase::Upgrading {
            match ws::read_upgrade_response(inbox.pending()) {
                Upgrade::Incomplete => {}
                Upgrade::Refused(why) => self.fail(env, &why, None),
                Upgrade::Accepted { head_len } => {
                    inbox.consume(head_len);
                    self.on_upgraded(env);
                }
            }
        }
        let mut data_frames = 0u64;
        while matches!(self.phase, Phase::Joining | Phase::Joined | Phase::Closing) {
            match inbox.next_frame() {
                Ok(Some((header, payload))) => {
                    data_frames += u64::from(matches!(header.opcode, ws::OP_BINARY | ws::OP_TEXT));
                    self.on_frame(env, header, inbox.payload(payload));
                }
                Ok(None) => break,
                Err(InboxError::Frame(e)) => {
                    self.fail(env, &format!("protocol error: {e}"), Some(1002));
                    break;
                }
                Err(InboxError::TooLarge(_)) => {
                    self.fail(env, "a message over 16 MiB", Some(1009));
                    break;
                }
            }
        }
        // All but the last message this read completed carry a later segment's stamp.
        bump(&env.shared.counters.restamped, data_frames.saturating_sub(1));
        if self.phase != Phase::Done {
            inbox.compact();
            self.inbox = inbox;
        }
    }

    fn on_frame(&mut self, env: &mut Env, header: FrameHeader, payload: &[u8]) {
        match (header.opcode, self.fragment_opcode) {
            (ws::OP_PING, _) if self.phase != Phase::Closing => self.send_frame(env, ws::OP_PONG, payload),
            (ws::OP_PING | ws::OP_PONG, _) => {}
            (ws::OP_CLOSE, _) => self.on_close_frame(env, ws::close_code(payload)),
            (ws::OP_BINARY | ws::OP_TEXT, None) if header.fin => self.on_message(env, header.opcode, payload),
            (ws::OP_BINARY | ws::OP_TEXT, None) => {
                self.fragments.clear();
                self.fragments.extend_from_slice(payload);
                self.fragment_opcode = Some(header.opcode);
            }
            (ws::OP_CONTINUATION, Some(opcode)) => {
                if (self.fragments.len() + payload.len()) as u64 > MAX_MESSAGE_BYTES {
                    return self.fail(env, "a message over 16 MiB", Some(1009));
                }
                self.fragments.extend_from_slice(payload);
                if header.fin {
                    self.fragment_opcode = None;
                    let message = std::mem::take(&mut self.fragments);
                    self.on_message(env, opcode, &message);
                    self.fragments = message;
                }
            }
            _ => self.fail(env, "protocol error: a continuation frame out of place", Some(1002)),
        }
    }

    /// One complete message: counted, and for audio each frame's seq and latency accounted. On a
    /// capture clock, a real frame marks its slot, and its latency is recorded only if that slot is
    /// in the measured window; a real frame off the clock is counted (`off_clock`), not measured.
    fn on_message(&mut self, env: &mut Env, opcode: u8, payload: &[u8]) {
        let shared = &*env.shared;
        let counters = &shared.counters;
        bump(&counters.messages, 1);
        if opcode == ws::OP_TEXT {
            return bump(&counters.malformed, 1);
        }
        let cell = &shared.cells[self.index];
        let (mut frames, mut lost, mut late, mut reordered, mut max_latency) = (0, 0, 0, 0, 0);
        let (mut now, mut arrived, mut last_seq, late_after_us) = (0, 0, self.last_seq, env.late_after_us);
        // A speaker hears its own mix-minus: counted, but its slots are the ones it sent.
        let (listening, (t0_us, slots)) = (env.speakers.is_empty(), shared.clock);
        let (mut off_clock, mut unstamped, mut last_real) = (0, 0, self.last_real);
        let read = msg::read_message(payload, |seq, captured_at| {
            frames += 1;
            match last_seq {
                Some(previous) if seq > previous => {
                    lost += seq - previous - 1;
                    last_seq = Some(seq);
                }
                Some(_) => reordered += 1,
                None => {
                    cell.first_seq.store(seq, Relaxed);
                    last_seq = Some(seq);
                }
            }
            if captured_at != 0 && listening {
                if t0_us != 0 {
                    match slot_of(captured_at, t0_us, slots) {
                        Some(slot) => {
                            cell.slots.set(slot);
                            // Consecutive ticks naming slots k and k + 2: slot k + 1 may have been in
                            // the first tick's mix, behind the earlier slot k it names (`clock`).
                            if last_real.is_some_and(|(s, k)| seq == s + 1 && slot == k + 2) {
                                cell.bridged.set(slot - 1);
                            }
                            last_real = Some((seq, slot));
                            if !shared.window.contains(slot) {
                                return;
                            }
                        }
                        None => {
                            off_clock += 1;
                            return;
                        }
                    }
                }
                if now == 0 {
                    now = sys::unix_us();
                    arrived = if self.arrived_us != 0 { self.arrived_us.min(now) } else { 0 };
                }
                // No stamp (0), or one before the capture (another clock): the read's time stands in.
                let stamped = arrived >= captured_at;
                unstamped += u64::from(!stamped);
                let latency = if stamped { arrived } else { now }.saturating_sub(captured_at);
                shared.latency.record(latency);
                shared.read_latency.record(now.saturating_sub(captured_at));
                late += u64::from(latency > late_after_us);
                max_latency = max_latency.max(latency);
            }
        });
        if frames > 0 {
            (self.last_seq, self.last_real) = (last_seq, last_real);
            for (pool, mine, n) in [
                (&counters.frames, &cell.frames, frames),
                (&counters.lost, &cell.lost, lost),
                (&counters.late, &cell.late, late),
                (&counters.reordered, &cell.reordered, reordered),
            ] {
                if n > 0 {
                    bump(pool, n);
                    bump(mine, n);
                }
            }
            if off_clock > 0 {
                bump(&counters.off_clock, off_clock);
            }
            if unstamped > 0 {
                bump(&counters.unstamped, unstamped);
            }
            if let Some(seq) = last_seq {
                cell.last_seq.store(seq, Relaxed);
            }
            cell.max_latency_us.fetch_max(max_latency, Relaxed);
        }
        let message = match read {
            Ok(message) => message,
            Err(_) => return bump(&counters.malformed, 1),
        };
        match message.kind {
            Kind::Event => bump(&counters.events, 1),
            Kind::Joined if self.phase == Phase::Joining && message.reference == Some(JOIN_REF) => {
                self.enter(Phase::Joined);
                env.shared.set_state(self.index, ListenerState::Joined);
            }
            Kind::Error
                if self.phase == Phase::Joining && matches!(message.reference, None | Some(JOIN_REF)) =>
            {
                let code = String::from_utf8_lossy(message.code).into_owned();
                self.fail(env, &format!("refused: {code}"), Some(1000));
            }
            _ => {}
        }
    }
}
