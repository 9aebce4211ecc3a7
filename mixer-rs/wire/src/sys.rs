//! The system calls the reader makes that std does not offer, each wrapped
//! once with its SAFETY argument: dup, accept4 (with the peer's address),
//! recv, setsockopt, shutdown (of a listening socket), and the reader thread's
//! scheduling (sched_setscheduler, setpriority). Every descriptor made here is
//! close-on-exec and owned.

#![allow(unsafe_code)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// A descriptor this process just received from the kernel, now owned.
fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful dup/accept4 on this
    // thread, so it is open and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A non-blocking duplicate of the listening socket `fd` (the caller keeps
/// and closes its own).
pub fn dup_listener(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes an int and returns a new descriptor or -1.
    let dup = owned(check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?);
    let mut accepting: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `accepting` and `len` are live locals of the sizes `len` declares.
    check(unsafe {
        libc::getsockopt(
            dup.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&raw mut accepting).cast(),
            &mut len,
        )
    })?;
    if accepting == 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: F_GETFL/F_SETFL take and return ints; no pointers involved.
    let flags = check(unsafe { libc::fcntl(dup.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(dup.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(dup)
}

/// Stops `listener` listening, for good: a client's connect is refused from now on, and the connections
/// waiting in its accept queue are reset. Its descriptor stays open (and its number the wire's) until
/// dropped; accept on it then fails with EINVAL, and epoll reports it hung up (to the reader's
/// edge-triggered epoll, once).
pub fn stop_listening(listener: &OwnedFd) -> io::Result<()> {
    // SAFETY: shutdown takes a descriptor, open while `listener` is borrowed, and a constant.
    check(unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RD) }).map(|_| ())
}

/// The next connection waiting on `listener`, non-blocking, with its peer's
/// IP address; `None` when none waits.
pub fn accept(listener: &OwnedFd) -> io::Result<Option<(OwnedFd, IpAddr)>> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    loop {
        // SAFETY: `addr` is a live sockaddr_storage of `len` bytes the kernel fills.
        let ret = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                (&raw mut addr).cast(),
                &mut len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        match check(ret) {
            Ok(fd) => return Ok(Some((owned(fd), peer_ip(&addr)))),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            // The connection was reset while it waited: take the next.
            Err(err) if err.raw_os_error() == Some(libc::ECONNABORTED) => continue,
            Err(err) => return Err(err),
        }
    }
}

fn peer_ip(addr: &libc::sockaddr_storage) -> IpAddr {
    match i32::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is big enough for.
            let v4 = unsafe { &*(std::ptr::from_ref(addr).cast::<libc::sockaddr_in>()) };
            IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6, which it is big enough for.
            let v6 = unsafe { &*(std::ptr::from_ref(addr).cast::<libc::sockaddr_in6>()) };
            IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr))
        }
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

/// Reads what `fd` holds, up to `buf.len()` bytes: 0 is the end of the stream.
pub fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
        let ret =
            unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Sets an int socket option; errors are returned, not fatal.
pub fn set_int_option(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a live int and the length says so.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Asks the scheduler to run the calling thread as soon as it wakes: SCHED_FIFO at the lowest
/// real-time priority (with SCHED_RESET_ON_FORK) where the process may (CAP_SYS_NICE, or an
/// RLIMIT_RTPRIO of at least 1), else nice -10 (CAP_SYS_NICE, or an RLIMIT_NICE of at least 30),
/// else nothing. The load harness's speakers ask the same (`loadpool/src/sys.rs`, `prefer_this_thread`).
pub fn run_first() -> crate::Scheduling {
    let lowest = libc::sched_param { sched_priority: 1 };
    // SAFETY: `lowest` is a live sched_param; pid 0 is the calling thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &lowest) } == 0 {
        return crate::Scheduling::Realtime;
    }
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::gettid() };
    // SAFETY: plain integers; PRIO_PROCESS with a thread id sets that thread's nice value.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, -10) } == 0 {
        return crate::Scheduling::Nice;
    }
    crate::Scheduling::Normal
}
