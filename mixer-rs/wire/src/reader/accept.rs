//! The reader's new connections: each accepted, registered with the fan-out and the reader's epoll, and
//! read at once. One whose request came whole needs no slot; one whose request has not is counted in the
//! handshakes in progress: closed, ending no one, if its address has its cap's worth, and otherwise, past
//! `WireConfig::max_handshakes`, ending the oldest (`handshakes.rs` says why). The listening sockets are
//! edge-triggered: a turn takes at most `ACCEPTS_PER_TURN`, and a socket with more waiting has another
//! turn next pass.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use super::{Reader, bump};
use crate::conn::{Conn, Phase};
use crate::parked::WATCHED;
use crate::sys;

/// Bytes a client's socket may hold unsent (TCP_NOTSENT_LOWAT): seconds of audio (a listener's stream is
/// about 5 KB a second), and a control message's few kilobytes; bigger ones go on as it drains.
const NOTSENT_LOWAT: i32 = 16 * 1024;

/// Connections accepted from one listening socket in a turn: a flood of connects must not hold the reader
/// (parked speakers are read at their ticks, other sockets wait); the rest are taken next pass, at once.
const ACCEPTS_PER_TURN: usize = 64;

impl Reader {
    /// Accepts what `index`'s listening socket has waiting, up to `ACCEPTS_PER_TURN`.
    pub(super) fn accept_all(&mut self, index: usize) {
        let shared = Arc::clone(&self.shared);
        let Some(listener) = shared.listeners.get(index) else { return };
        for _ in 0..ACCEPTS_PER_TURN {
            match sys::accept(listener) {
                Ok(Some((fd, peer))) => self.take_in(fd, peer),
                Ok(None) => return,
                // Out of descriptors, say: the next connection's edge brings the reader back. (Or
                // stopped, `Wire::stop_listening`: EINVAL, after one edge, the hang-up's.)
                Err(_) => return,
            }
        }
        if !self.listeners_more.contains(&index) {
            self.listeners_more.push(index); // edge-triggered: no new edge will tell of the rest
        }
    }

    /// A connection just accepted, read at once: one whose request came whole needs no slot (and one that
    /// ended is gone); the others are counted in, or closed by their address's cap.
    fn take_in(&mut self, fd: OwnedFd, peer: IpAddr) {
        let Some(id) = self.admit(fd, peer) else { return };
        let Some(conn) = self.conns.get_mut(&id) else { return };
        if conn.phase != Phase::Handshake {
            return;
        }
        if !self.handshakes.allows(peer) {
            bump(&self.shared.counters.handshakes_refused);
            conn.finish(&mut self.ctx, crate::frames::ABNORMAL, "", false); // nothing written
            self.retire_if_done(id);
            return;
        }
        conn.handshaking = true;
        self.handshakes.started(id, peer);
        if self.handshakes.over_cap() {
            self.end_oldest_handshake(id);
        }
    }

    /// Ends the oldest handshake in progress, past the cap in all because of `newcomer`, whose own request
    /// has not come whole.
    fn end_oldest_handshake(&mut self, newcomer: u64) {
        let conns = &self.conns;
        let in_handshake = |id| conns.get(&id).is_some_and(|conn: &Conn| conn.handshaking);
        let Some(oldest) = self.handshakes.oldest(in_handshake).filter(|&id| id != newcomer) else {
            return; // none older in its handshake: the count is the reader's own, and settles as they end
        };
        bump(&self.shared.counters.handshakes_evicted);
        if let Some(conn) = self.conns.get_mut(&oldest) {
            conn.finish(&mut self.ctx, crate::frames::ABNORMAL, "", false);
        }
        self.retire_if_done(oldest);
    }

    /// Registers and reads a new connection (not yet counted in the handshakes in progress: `accept_all`
    /// counts it if its request has not come whole); its id, unless it could not be registered.
    fn admit(&mut self, fd: OwnedFd, peer: IpAddr) -> Option<u64> {
        let config = self.ctx.config;
        // Small messages go out at once, and a dead peer fails the writes.
        let _ = sys::set_int_option(&fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
        let _ = sys::set_int_option(
            &fd,
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            config.user_timeout_ms as i32,
        );
        // At most NOTSENT_LOWAT bytes wait unsent in the kernel; the rest waits in the fan-out's queue, where
        // a client that reads too slowly is seen (`lagging`, then 4000). Without it the send buffer grows to
        // megabytes for a slow reader (minutes of audio it would hear late, and nobody told).
        let _ = sys::set_int_option(&fd, libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT, NOTSENT_LOWAT);
        if let Some(sndbuf) = config.sndbuf {
            // A small kernel buffer bounds how much audio can wait in the kernel for a slow reader.
            let _ = sys::set_int_option(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, sndbuf);
        }
        let Ok(id) = self.ctx.fanout.register_borrowed(fd.as_raw_fd()) else { return None };
        if self.epoll.add(fd.as_raw_fd(), WATCHED, id).is_err() {
            self.ctx.fanout.close(id);
            self.releasing.push((id, fd));
            return None;
        }
        bump(&self.shared.counters.connections);
        self.conns.insert(id, Conn::new(id, fd, peer, &config));
        // Edge-triggered: bytes that came before the registration are read now.
        self.read(id, true, None);
        Some(id)
    }
}
