//! How the reader thread is scheduled, read back from the kernel. One test in a binary of its own,
//! so that its wires' threads are the only "stoa-wire" threads of the process.

use std::time::{Duration, Instant};

use wire::{Scheduling, WireConfig};

mod common;
use common::server;

/// <sched.h>'s policy number.
const SCHED_FIFO: u32 = 1;

/// (thread id, scheduling policy, real-time priority, nice value) of this process's threads named `name`.
fn threads(name: &str) -> Vec<(String, u32, u32, i32)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (head, tail) = stat.rsplit_once(')').unwrap();
        if !head.ends_with(&format!("({name}")) {
            continue;
        }
        // proc_pid_stat(5): after the name, field 3 first; nice is 19, rt_priority 40, policy 41.
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let field = |n: usize| fields[n - 3];
        let tid = task.file_name().to_string_lossy().into_owned();
        found.push((tid, field(41).parse().unwrap(), field(40).parse().unwrap(), field(19).parse().unwrap()));
    }
    found
}

/// The reader threads other than `old`, once exactly one is left (a joined thread may linger in /proc
/// for a moment): its (policy, real-time priority, nice).
fn the_reader(old: &[String]) -> (u32, u32, i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now: Vec<_> = threads("stoa-wire").into_iter().filter(|t| !old.contains(&t.0)).collect();
        if let [(_, policy, priority, nice)] = now.as_slice() {
            return (*policy, *priority, *nice);
        }
        assert!(Instant::now() < deadline, "{now:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether this process may put a thread on SCHED_FIFO at priority 1: asked of a scratch thread.
fn fifo_allowed() -> bool {
    std::thread::spawn(|| {
        let lowest = libc::sched_param { sched_priority: 1 };
        // SAFETY: `lowest` is a live sched_param; pid 0 is this scratch thread, which ends right after.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &lowest) == 0 }
    })
    .join()
    .unwrap()
}

#[test]
fn the_reader_runs_as_it_says_real_time_where_allowed_and_as_any_thread_unless_asked() {
    // A new thread starts at the process's nice value (whatever the tests run under).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let base: i32 = stat.rsplit_once(')').unwrap().1.split_whitespace().nth(19 - 3).unwrap().parse().unwrap();
    let asked = server(WireConfig { realtime: true, ..WireConfig::default() });
    let got = asked.wire.scheduling();
    assert_eq!(
        got == Scheduling::Realtime,
        fifo_allowed(),
        "asked for real time where it is (not) allowed: {got:?}"
    );
    let expected = match got {
        Scheduling::Realtime => (SCHED_FIFO, 1, base),
        Scheduling::Nice => (0, 0, -10),
        Scheduling::Normal => (0, 0, base),
    };
    let first: Vec<String> = threads("stoa-wire").into_iter().map(|t| t.0).collect();
    assert_eq!(the_reader(&[]), expected, "{got:?}");
    drop(asked); // its reader stopped and joined

    let plain = server(WireConfig::default());
    assert_eq!(plain.wire.scheduling(), Scheduling::Normal);
    assert_eq!(the_reader(&first), (0, 0, base));
}
