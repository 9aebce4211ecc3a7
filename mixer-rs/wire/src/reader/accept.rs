//! The reader's new connections: each accepted, registered with the fan-out and the reader's epoll, and
//! read at once; past `WireConfig::max_handshakes` in progress, one whose request has not come whole by
//! that first read ends the oldest (`handshakes.rs` says why). A connection its address's cap refuses is
//! closed unread and ends no one. The listening sockets are edge-triggered: each edge empties its queue.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use super::{Reader, bump};
use crate::conn::Conn;
use crate::parked::WATCHED;
use crate::sys;

/// Bytes a client's socket may hold unsent (TCP_NOTSENT_LOWAT): seconds of audio (a listener's stream is
/// about 5 KB a second), and a control message's few kilobytes; bigger ones go on as it drains.
const NOTSENT_LOWAT: i32 = 16 * 1024;

impl Reader {
    /// Accepts all `listener` (its index) has waiting.
    pub(super) fn accept_all(&mut self, listener: usize) {
        let shared = Arc::clone(&self.shared);
        let Some(listener) = shared.listeners.get(listener) else { return };
        loop {
            let (fd, peer) = match sys::accept(listener) {
                Ok(Some(accepted)) => accepted,
                Ok(None) => return,
                // Out of descriptors, say: the next connection's edge brings the reader back. (Or
                // stopped, `Wire::stop_listening`: EINVAL, after one edge, the hang-up's.)
                Err(_) => return,
            };
            if !self.handshakes.allows(peer) {
                bump(&self.shared.counters.handshakes_refused);
                continue; // dropped: closed before anything is read or written
            }
            if let Some(id) = self.admit(fd, peer)
                && self.handshakes.over_cap()
            {
                self.end_oldest_handshake(id);
            }
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

    /// Registers and reads a new connection, counted in the handshakes in progress until its request has
    /// been read whole (which may be now); its id, unless it could not be registered.
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
        let mut conn = Conn::new(id, fd, peer, &config);
        conn.handshaking = true;
        self.handshakes.started(id, peer);
        self.conns.insert(id, conn);
        // Edge-triggered: bytes that came before the registration are read now.
        self.read(id, true, None);
        Some(id)
    }
}
