//! The Linux calls std does not offer, each behind a safe function: epoll, an eventfd to wake the
//! pool thread, a non-blocking TCP connect, the thread's CPU clock and the open-files limit. The
//! crate's only `unsafe` lives here. Sockets are std `TcpStream`s once connected (std reads with
//! `recv` and writes with `send(MSG_NOSIGNAL)`).

#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::stats::Scheduling;

/// Turns a -1 return into the thread's errno.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// An epoll instance, level-triggered: a socket with unread bytes is reported again on the next
/// wait, so the pool reads each ready socket once per wait and stays fair.
pub struct Poller {
    fd: OwnedFd,
}

pub const READABLE: u32 = libc::EPOLLIN as u32;
pub const WRITABLE: u32 = libc::EPOLLOUT as u32;
pub const HANGUP: u32 = (libc::EPOLLHUP | libc::EPOLLERR) as u32;

pub type Event = libc::epoll_event;

pub fn empty_events(n: usize) -> Vec<Event> {
    vec![Event { events: 0, u64: 0 }; n]
}

impl Poller {
    pub fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new descriptor that
        // nothing else owns, so OwnedFd may take it.
        let fd = unsafe { OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        Ok(Self { fd })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = Event { events, u64: token };
        // SAFETY: `event` is a valid epoll_event that outlives the call; the kernel copies it.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) })?;
        Ok(())
    }

    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    pub fn modify(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }

    /// Waits at most `timeout_ms` and fills the front of `events`; returns how many. An
    /// interrupted wait reports none.
    pub fn wait(&self, events: &mut [Event], timeout_ms: i32) -> io::Result<usize> {
        let max = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: the kernel writes at most `max` entries into `events`, which has room for them.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        match check(n) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// An eventfd: `wake` from any thread makes the pool thread's `epoll_wait` return.
pub struct Waker {
    file: File,
}

impl Waker {
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor we own.
        let fd =
            unsafe { OwnedFd::from_raw_fd(check(libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC))?) };
        Ok(Self { file: File::from(fd) })
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    pub fn wake(&self) {
        // Fails only when the counter would overflow, and then a wake is pending anyway.
        let _ = (&self.file).write(&1u64.to_ne_bytes());
    }

    pub fn drain(&self) {
        let mut count = [0u8; 8];
        let _ = (&self.file).read(&mut count);
    }
}

/// Starts a non-blocking TCP connect. `Ok((stream, true))` if it completed at once; with `false`,
/// the socket becomes writable when it completes and `TcpStream::take_error` tells how.
pub fn connect_nonblocking(addr: &SocketAddr) -> io::Result<(TcpStream, bool)> {
    let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket takes no pointers; a non-negative result is a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(check(libc::socket(domain, kind, 0))?) };
    let ret = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_in is plain integers; all zeros is a valid value to fill in.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_port = a.port().to_be();
            sa.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) };
            let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            // SAFETY: `sa` is an initialised sockaddr_in and `len` is its size.
            unsafe { libc::connect(fd.as_raw_fd(), (&raw const sa).cast(), len) }
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_in6 is plain integers; all zeros is a valid value to fill in.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_port = a.port().to_be();
            sa.sin6_flowinfo = a.flowinfo();
            sa.sin6_addr = libc::in6_addr { s6_addr: a.ip().octets() };
            sa.sin6_scope_id = a.scope_id();
            let len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            // SAFETY: `sa` is an initialised sockaddr_in6 and `len` is its size.
            unsafe { libc::connect(fd.as_raw_fd(), (&raw const sa).cast(), len) }
        }
    };
    let stream = TcpStream::from(fd);
    match check(ret) {
        Ok(_) => Ok((stream, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok((stream, false)),
        Err(e) => Err(e),
    }
}

/// Now, in µs of unix time (CLOCK_REALTIME: the clock `captured_at` is on).
pub fn unix_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Asks the scheduler to run the calling thread as soon as it wakes: SCHED_FIFO where the process
/// may (root, CAP_SYS_NICE or an RLIMIT_RTPRIO), else nice -10 (CAP_SYS_NICE too, or RLIMIT_NICE).
/// The harness's speakers stand for people on other machines: on a machine shared with the server,
/// their pace should not wait behind its work. With nice -10 alone, on 2 cores saturated by 200
/// spaces, their packets still left up to 100 ms late, in bursts the server's jitter queues could
/// only partly absorb. Their thread sleeps until each slot is due, sends 20 ms of packets and reads
/// what the server sends its speakers (their mix-minus), so running it first takes little from
/// anyone (0.1 core for 600 speakers). Under SCHED_FIFO, with SCHED_RESET_ON_FORK: a child it starts
/// runs as any process (under nice -10, a child inherits it).
pub fn prefer_this_thread() -> Scheduling {
    let lowest = libc::sched_param { sched_priority: 1 };
    // SAFETY: `lowest` is a valid sched_param; pid 0 is the calling thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &lowest) } == 0 {
        return Scheduling::Realtime;
    }
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::gettid() };
    // SAFETY: setpriority takes plain integers; PRIO_PROCESS with a thread id sets that thread's nice.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, -10) } == 0 {
        return Scheduling::Nice;
    }
    Scheduling::Normal
}

/// CPU time the calling thread has used, in µs.
pub fn thread_cpu_us() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the kernel to fill in.
    let ret = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if ret != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

/// The process's soft limit on open files (RLIMIT_NOFILE).
pub fn open_files_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill in.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    Ok(limit.rlim_cur)
}
