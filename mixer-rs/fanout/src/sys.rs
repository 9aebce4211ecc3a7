//! The system calls the fan-out makes, each wrapped once with its SAFETY
//! argument: dup, epoll, eventfd, sendmsg, shutdown and the thread CPU clock.
//! Linux only; every descriptor made here is close-on-exec and owned (`OwnedFd`);
//! a caller's descriptor that is only borrowed is a `Sock::Borrowed`, which no
//! path (drop, unwinding from a panic included) ever closes.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A client socket as the writer holds it: its own duplicate, or the caller's
/// descriptor borrowed. Dropping an `Owned` closes the duplicate; dropping a
/// `Borrowed` does nothing, so even a panicking writer can never close (and so
/// free for reuse) a descriptor that Python still owns.
#[derive(Debug)]
pub enum Sock {
    Owned(OwnedFd),
    Borrowed(RawFd),
}

impl AsRawFd for Sock {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Self::Owned(fd) => fd.as_raw_fd(),
            Self::Borrowed(fd) => *fd,
        }
    }
}

/// `-1` from a libc call becomes the thread's `errno` as an `io::Error`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// A descriptor this process just received from the kernel, now owned.
fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful dup/epoll_create1/eventfd
    // call on this thread, so it is open and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A duplicate of the stream socket `fd`, made non-blocking (a flag of the
/// socket itself, so the caller's descriptor becomes non-blocking too).
pub fn dup_stream_socket(fd: RawFd) -> io::Result<Sock> {
    check_stream_socket(fd)?;
    // SAFETY: F_DUPFD_CLOEXEC takes an int and returns a new descriptor or -1.
    let dup = owned(check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?);
    set_nonblocking(dup.as_raw_fd())?;
    Ok(Sock::Owned(dup))
}

/// The caller's own descriptor `fd`, borrowed: made non-blocking, never
/// closed here. The caller of `Fanout::register_borrowed` keeps it open until
/// `released()` says the writer is done with it.
pub fn borrow_stream_socket(fd: RawFd) -> io::Result<Sock> {
    check_stream_socket(fd)?;
    set_nonblocking(fd)?;
    Ok(Sock::Borrowed(fd))
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL take and return ints; no pointers involved. A
    // descriptor that is not open fails with EBADF.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    }
    Ok(())
}

fn check_stream_socket(fd: RawFd) -> io::Result<()> {
    let mut kind: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `kind` and `len` are live locals of the sizes `len` declares;
    // the kernel rejects a bad `fd` with EBADF or ENOTSOCK.
    check(unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, (&raw mut kind).cast(), &mut len)
    })?;
    if kind != libc::SOCK_STREAM {
        return Err(io::Error::from_raw_os_error(libc::EPROTOTYPE));
    }
    Ok(())
}

/// `epoll_pwait2` was refused once (an old kernel, a seccomp filter): `epoll_wait` from then on.
static NO_PWAIT2: AtomicBool = AtomicBool::new(false);

/// An epoll instance whose entries carry a `u64` token.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Self> {
        // SAFETY: no pointers; returns a new descriptor or -1.
        Ok(Self { fd: owned(check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?) })
    }

    /// Watches `fd` edge-triggered for `events` (EPOLLOUT or EPOLLIN).
    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events: events | libc::EPOLLET as u32, u64: token };
        // SAFETY: `event` is a live, initialised local; the kernel copies it.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) })?;
        Ok(())
    }

    /// Watches `fd` (added before) for `events` instead (edge-triggered, as `add`): what is ready already
    /// is told at the next wait.
    pub fn modify(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events: events | libc::EPOLLET as u32, u64: token };
        // SAFETY: `event` is a live, initialised local; the kernel copies it.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut event) })?;
        Ok(())
    }

    /// Stops watching `fd`. Must come before closing a duplicate whose socket
    /// stays open elsewhere: epoll forgets an entry only when the socket itself closes.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: EPOLL_CTL_DEL ignores the event pointer (null is allowed since Linux 2.6.9).
        check(unsafe {
            libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut())
        })?;
        Ok(())
    }

    /// Waits up to `timeout_ms` (-1: forever) and appends the tokens of what
    /// is ready to `out` (which events does not matter to the writer: any
    /// edge means "try writing"). An interrupted wait returns nothing.
    pub fn wait(&self, out: &mut Vec<u64>, timeout_ms: i32) -> io::Result<()> {
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        self.wait_with(timeout, |token, _| out.push(token))
    }

    /// As `wait`, with each token's event bits (EPOLLIN, EPOLLRDHUP...).
    pub fn wait_events(&self, out: &mut Vec<(u64, u32)>, timeout: Duration) -> io::Result<()> {
        self.wait_with(Some(timeout), |token, events| out.push((token, events)))
    }

    /// Waits up to `timeout` (`None`: forever), to the nanosecond (`epoll_pwait2`, Linux 5.11; where the
    /// kernel or a seccomp filter refuses it, `epoll_wait` from then on, the timeout rounded up to a
    /// millisecond), and hands each ready entry's token and events to `each`.
    fn wait_with(&self, timeout: Option<Duration>, mut each: impl FnMut(u64, u32)) -> io::Result<()> {
        const BATCH: usize = 256;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        let mut ret = -1;
        if !NO_PWAIT2.load(Ordering::Relaxed) {
            let spec = timeout.map(|t| libc::timespec {
                tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: t.subsec_nanos() as libc::c_long, // under 10^9: fits any c_long
            });
            let spec_ptr = spec.as_ref().map_or(std::ptr::null(), |spec| spec as *const libc::timespec);
            // SAFETY: `events` is a live array of BATCH entries the kernel may fill; `spec_ptr` is null or
            // points at a live timespec; a null signal mask leaves the thread's as it is. The system call
            // itself, not glibc's wrapper (2.35 and later only).
            ret = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.fd.as_raw_fd(),
                    events.as_mut_ptr(),
                    BATCH as libc::c_int,
                    spec_ptr,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            } as libc::c_int;
            if ret < 0
                && matches!(io::Error::last_os_error().raw_os_error(), Some(libc::ENOSYS | libc::EPERM))
            {
                NO_PWAIT2.store(true, Ordering::Relaxed);
            }
        }
        if NO_PWAIT2.load(Ordering::Relaxed) {
            let millis =
                timeout.map_or(-1, |t| i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX));
            // SAFETY: `events` is a live array of BATCH entries the kernel may fill.
            ret = unsafe {
                libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), BATCH as libc::c_int, millis)
            };
        }
        match check(ret) {
            Ok(n) => {
                // Copies, not references: the struct is packed on x86-64.
                for event in &events[..n as usize] {
                    let (token, bits) = (event.u64, event.events);
                    each(token, bits);
                }
                Ok(())
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(err) => Err(err),
        }
    }
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A non-blocking eventfd: the way other threads wake the writer.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub fn new() -> io::Result<Self> {
        // SAFETY: no pointers; returns a new descriptor or -1.
        let fd = check(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        Ok(Self { fd: owned(fd) })
    }

    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes the 8 bytes of a live local. It can only fail with
        // EAGAIN when the counter is near u64::MAX, and then a wake is pending anyway.
        unsafe { libc::write(self.fd.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Resets the counter (after a wake).
    pub fn drain(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live local; EAGAIN (nothing to
        // drain) is the only expected failure and needs no handling.
        unsafe { libc::read(self.fd.as_raw_fd(), (&raw mut count).cast(), 8) };
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Writes the buffers `iov` describes, in order, without blocking and
/// without SIGPIPE; returns the bytes written (possibly fewer than asked).
///
/// # Safety
/// Every `iov` entry must point to `iov_len` readable bytes that stay alive
/// and unchanged until this returns.
pub unsafe fn send_vectored(fd: RawFd, iov: &[libc::iovec]) -> io::Result<usize> {
    // SAFETY: all-zero is a valid msghdr (no address, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr().cast_mut();
    msg.msg_iovlen = iov.len() as _;
    loop {
        // SAFETY: `msg` points to `iov`, whose buffers the caller vouches for;
        // sendmsg only reads them.
        let ret = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Sends FIN after whatever the socket still holds; errors (the peer is gone) are moot.
pub fn shutdown_write(fd: &Sock) {
    // SAFETY: no pointers; `fd` is open while the writer holds it (its own
    // duplicate, or a borrowed descriptor its owner keeps open until released).
    unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_WR) };
}

/// CPU time the calling thread has used, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a live local the kernel fills; this clock always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;

    use super::*;

    fn is_open(fd: RawFd) -> bool {
        // SAFETY: F_GETFD takes and returns ints; a closed descriptor gives -1 (EBADF).
        unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
    }

    #[test]
    fn a_borrowed_socket_stays_open_when_dropped_even_by_a_panic() {
        let (ours, _peer) = UnixStream::pair().unwrap();
        let fd = ours.as_raw_fd();
        let unwound = std::panic::catch_unwind(|| {
            let _sock = borrow_stream_socket(fd).unwrap();
            panic!("the writer dies holding the socket");
        });
        assert!(unwound.is_err());
        assert!(is_open(fd), "a borrowed descriptor was closed");
    }

    #[test]
    fn an_owned_duplicate_is_closed_when_dropped() {
        // The control: the same check does see a descriptor close.
        let (ours, _peer) = UnixStream::pair().unwrap();
        let dup = dup_stream_socket(ours.as_raw_fd()).unwrap();
        let fd = dup.as_raw_fd();
        assert!(is_open(fd));
        drop(dup);
        assert!(!is_open(fd));
    }
}
