//! How a writer's connections end: retired (their duplicate descriptor
//! closed, after a FIN or not), flushed until a deadline after a close, and
//! all of them at once when the fan-out stops.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use super::{Retire, Writer};
use crate::conn::Conn;
use crate::report::{NoticeKind, bump};
use crate::shared::write;
use crate::sys;

impl Writer {
    /// Closes `conn`'s duplicate descriptor (once), forgets its queue and its
    /// registration, and leaves its groups.
    pub(super) fn retire(&self, conn: &Arc<Conn>, how: Retire) {
        let (fd, groups) = {
            let mut st = conn.lock();
            st.queue.clear();
            st.scheduled = false;
            (st.fd.take(), st.begin_close().unwrap_or_default())
        };
        let Some(fd) = fd else { return };
        // Before the close: the socket lives on in the caller's descriptor,
        // and so would this epoll entry.
        let _ = self.shard().epoll.delete(fd.as_raw_fd());
        if how == Retire::Shutdown {
            sys::shutdown_write(&fd);
        }
        drop(fd); // closes a duplicate; a borrowed descriptor stays open for its owner to close
        write(&self.shared.registry).conns.remove(&conn.id);
        self.shared.leave_groups(conn.id, &groups);
        if let Retire::Failed(errno) = how {
            self.shared.notice(conn.id, NoticeKind::Error, errno as u64);
            bump(&self.shared.counters.write_errors, 1);
        }
    }

    pub(super) fn expire_closes(&mut self) {
        let now = Instant::now();
        while self.draining.front().is_some_and(|(deadline, _)| *deadline <= now) {
            if let Some((_, conn)) = self.draining.pop_front() {
                self.retire(&conn, Retire::Shutdown);
            }
        }
    }

    /// Milliseconds until the next flush deadline, -1 (forever) if none.
    pub(super) fn close_timeout_ms(&self) -> i32 {
        match self.draining.front() {
            None => -1,
            Some((deadline, _)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Rounded up, so the wake-up finds the deadline passed.
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        }
    }

    /// On stop: one last non-blocking write for every connection of the
    /// shard, a FIN for those already closed, and every duplicate descriptor closed.
    pub(super) fn stop_all(&mut self) {
        let conns: Vec<Arc<Conn>> = {
            let mut registry = write(&self.shared.registry);
            registry.stopped = true;
            let mine = registry.conns.values().filter(|conn| self.shared.shard_index(conn.id) == self.index);
            mine.cloned().collect()
        };
        for conn in &conns {
            conn.lock().writable = true;
            self.write_once(conn);
            let closing = conn.lock().closing;
            self.retire(conn, if closing { Retire::Shutdown } else { Retire::Abandon });
        }
        self.pass.clear();
        self.next.clear();
        self.draining.clear();
    }
}
