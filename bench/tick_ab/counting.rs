//! What the tick costs, counted: every allocation while it runs (this program's `malloc` in front of the C
//! library's) and the thread's CPU time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counts the allocations (and reallocations) made while a tick runs, Rust's and libopus' alike: this
/// program's `malloc` stands in for the C library's (which does the work). One thread allocates meanwhile.
pub static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Those of 8 KiB or more: an Opus decoder's or encoder's state, nothing else the tick makes is as large.
pub static CODEC_ALLOCS: AtomicU64 = AtomicU64::new(0);
const CODEC_BYTES: usize = 8 << 10;

fn count(size: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    if size >= CODEC_BYTES {
        CODEC_ALLOCS.fetch_add(1, Relaxed);
    }
}

unsafe extern "C" {
    fn __libc_malloc(size: usize) -> *mut u8;
    fn __libc_calloc(n: usize, size: usize) -> *mut u8;
    fn __libc_realloc(ptr: *mut u8, size: usize) -> *mut u8;
}

/// # Safety
/// The C library's contract for `malloc`, passed on to glibc's own.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc(size: usize) -> *mut u8 {
    count(size);
    // SAFETY: as for the caller.
    unsafe { __libc_malloc(size) }
}

/// # Safety
/// The C library's contract for `calloc`, passed on to glibc's own.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut u8 {
    count(n.saturating_mul(size));
    // SAFETY: as for the caller.
    unsafe { __libc_calloc(n, size) }
}

/// # Safety
/// The C library's contract for `realloc`, passed on to glibc's own.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(ptr: *mut u8, size: usize) -> *mut u8 {
    count(size);
    // SAFETY: as for the caller.
    unsafe { __libc_realloc(ptr, size) }
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, out: *mut Timespec) -> i32;
}

/// This thread's CPU time, in ns (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid, writable timespec (two longs on x86_64 and aarch64 Linux), and 3 is
    // CLOCK_THREAD_CPUTIME_ID, which every Linux has.
    let rc = unsafe { clock_gettime(3, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    t.sec as u64 * 1_000_000_000 + t.nsec as u64
}
