//! The Linux calls std does not offer, each behind a safe function: epoll, an eventfd to wake the
//! pool thread, a non-blocking TCP connect, reads stamped with the kernel's arrival time, the
//! thread's CPU clock and the open-files limit. The crate's only `unsafe` lives here. Sockets are
//! std `TcpStream`s once connected (std writes with `send(MSG_NOSIGNAL)`).

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

/// Asks the kernel to stamp every segment `stream` receives with the time it reached the socket
/// (SO_TIMESTAMPNS, CLOCK_REALTIME): `recv_stamped` hands the stamp back with the bytes.
pub fn stamp_arrivals(stream: &TcpStream) -> io::Result<()> {
    let on: libc::c_int = 1;
    let (fd, len) = (stream.as_raw_fd(), size_of::<libc::c_int>() as libc::socklen_t);
    // SAFETY: `on` is a valid c_int for the kernel to read, and `len` is its size.
    check(unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, (&raw const on).cast(), len)
    })?;
    Ok(())
}

/// Room for one SCM_TIMESTAMPNS control message (a timespec), aligned as a cmsghdr must be.
#[repr(C, align(8))]
struct Control([u8; 64]);

/// One `recvmsg` into `buf`: the bytes read (0: the peer closed), and when the last segment they
/// came in reached the socket (µs of unix time; `None` unless `stamp_arrivals` was asked, or the
/// kernel gave no stamp). For TCP the stamp is the latest segment's, so for bytes that came
/// earlier in the same read it is late, never early.
pub fn recv_stamped(stream: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, Option<u64>)> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut control = Control([0; 64]);
    // SAFETY: msghdr is plain integers and pointers; all zeros (no name, no buffers) is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    // SAFETY: `msg` points at `iov` (into `buf`, writable for its length) and at `control`, both
    // alive for the call.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &raw mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the kernel filled `msg`'s control part (msg_controllen says how much); the CMSG
    // macros walk it within those bounds, and a timestamp's data is one timespec, read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                stamp = Some(ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000);
            }
            cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
        }
    }
    Ok((n as usize, stamp))
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

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (sender, listener.accept().unwrap().0)
    }

    #[test]
    fn a_read_is_stamped_with_when_its_bytes_arrived_not_when_it_was_read() {
        let (mut sender, receiver) = pair();
        stamp_arrivals(&receiver).unwrap();
        // The kernel turns stamping on for the machine a moment after a first socket asks (its
        // switch is flipped by a deferred work item): until then reads come without a stamp.
        let (mut buf, deadline) = ([0; 64], Instant::now() + Duration::from_secs(2));
        loop {
            sender.write_all(b".").unwrap();
            std::thread::sleep(Duration::from_millis(5));
            if recv_stamped(&receiver, &mut buf).unwrap().1.is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "no read was stamped within 2 s");
        }
        let sent = unix_us();
        sender.write_all(b"twenty ms").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let (n, stamp) = recv_stamped(&receiver, &mut buf).unwrap();
        let read = unix_us();
        assert_eq!(&buf[..n], b"twenty ms");
        let stamp = stamp.expect("a stamp, once asked for");
        let after = |a: u64, b: u64| a as i64 - b as i64;
        let stamped = after(stamp, sent);
        assert!((-1_000..50_000).contains(&stamped), "stamped {stamped} µs after the send");
        assert!(after(read, stamp) >= 190_000, "read {} µs after the stamp", after(read, stamp));
    }

    #[test]
    fn a_socket_not_asked_reads_without_a_stamp() {
        let (mut sender, receiver) = pair();
        sender.write_all(b"x").unwrap();
        let mut buf = [0; 8];
        assert_eq!(recv_stamped(&receiver, &mut buf).unwrap(), (1, None));
    }
}
