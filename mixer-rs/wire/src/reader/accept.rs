//! The reader's new connections: accepted while there is room for one more handshake in progress
//! (`handshakes.rs`), each registered with the fan-out and the reader's epoll, and read at once.
//!
//! When the handshakes in progress are at `WireConfig::max_handshakes`, the oldest is ended for the newcomer
//! once it has lasted `WireConfig::handshake_grace`; until then the reader accepts no one more (`accept_paused`:
//! the one it accepted waits, `next_up`, the others in the listening socket's queue), and goes on as soon as
//! a handshake ends or the oldest's grace is over (`resume_accepting`, each pass). A connection its
//! address's cap refuses (`handshakes.rs`) ends no one. The listening sockets are edge-triggered: a
//! pause is ended by the reader, not by epoll.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use super::{Reader, bump};
use crate::conn::Conn;
use crate::parked::WATCHED;
use crate::sys;

/// Bytes a client's socket may hold unsent (TCP_NOTSENT_LOWAT): seconds of audio (a listener's stream is
/// about 5 KB a second), and a control message's few kilobytes; bigger ones go on as it drains.
const NOTSENT_LOWAT: i32 = 16 * 1024;

impl Reader {
    /// Accepts what `listener` (its index) has waiting, while there is room; the one accepted when there
    /// was none is kept (`next_up`), first in line when accepting resumes.
    pub(super) fn accept_all(&mut self, listener: usize) {
        let shared = Arc::clone(&self.shared);
        let Some(listener) = shared.listeners.get(listener) else { return };
        while self.accept_paused.is_none() {
            let (fd, peer) = match self.next_up.take() {
                Some(next) => next,
                None => match sys::accept(listener) {
                    Ok(Some(accepted)) => accepted,
                    Ok(None) => return,
                    // Out of descriptors, say: the next connection's edge brings the reader back. (Or
                    // stopped, `Wire::stop_listening`: EINVAL, after one edge, the hang-up's.)
                    Err(_) => return,
                },
            };
            if !self.handshakes.allows(peer) {
                bump(&self.shared.counters.handshakes_refused);
                continue; // dropped: closed before anything is read or written
            }
            if !self.room_for_one_more() {
                self.next_up = Some((fd, peer));
                return;
            }
            self.admit(fd, peer);
        }
    }

    /// Accepts again, on every listening socket, once a pause is over: a handshake has ended, or the
    /// oldest's grace is.
    pub(super) fn resume_accepting(&mut self) {
        let Some(until) = self.accept_paused else { return };
        if self.handshakes.full() && Instant::now() < until {
            return;
        }
        self.accept_paused = None;
        for listener in 0..self.shared.listeners.len() {
            self.accept_all(listener);
        }
    }

    /// Whether one more connection may be accepted now: the handshakes in progress are under their cap, or
    /// the oldest has had its grace and is ended for it. If not, accepting pauses until that one's grace
    /// is over.
    fn room_for_one_more(&mut self) -> bool {
        if !self.handshakes.full() {
            return true;
        }
        let conns = &self.conns;
        let in_handshake = |id| conns.get(&id).is_some_and(|conn: &Conn| conn.handshaking);
        let Some((oldest, since)) = self.handshakes.oldest(in_handshake) else {
            return true; // none found in its handshake: the count is the reader's own, and settles as they end
        };
        let grace_over = since + self.ctx.config.handshake_grace;
        if Instant::now() < grace_over {
            self.accept_paused = Some(grace_over);
            return false;
        }
        bump(&self.shared.counters.handshakes_evicted);
        if let Some(conn) = self.conns.get_mut(&oldest) {
            conn.finish(&mut self.ctx, crate::frames::ABNORMAL, "", false);
        }
        self.retire_if_done(oldest);
        true
    }

    fn admit(&mut self, fd: OwnedFd, peer: IpAddr) {
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
        let Ok(id) = self.ctx.fanout.register_borrowed(fd.as_raw_fd()) else { return };
        if self.epoll.add(fd.as_raw_fd(), WATCHED, id).is_err() {
            self.ctx.fanout.close(id);
            self.releasing.push((id, fd));
            return;
        }
        bump(&self.shared.counters.connections);
        let mut conn = Conn::new(id, fd, peer, &config);
        conn.handshaking = true;
        self.handshakes.started(id, peer, Instant::now());
        self.conns.insert(id, conn);
        // Edge-triggered: bytes that came before the registration are read now.
        self.read(id, true, None);
    }
}
