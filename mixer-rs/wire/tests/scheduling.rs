//! How the reader thread is scheduled, read back from the kernel. One test in a binary of its own,
//! so that its wires' threads are the only "stoa-wire" threads of the process.

use wire::{Scheduling, WireConfig};

mod common;
use common::server;

/// <sched.h>'s policy number.
const SCHED_FIFO: u32 = 1;

/// The scheduling policy, real-time priority and nice value of this process's "stoa-wire" threads.
fn reader_threads() -> Vec<(u32, u32, i32)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (head, tail) = stat.rsplit_once(')').unwrap();
        if !head.ends_with("(stoa-wire") {
            continue;
        }
        // proc_pid_stat(5): after the name, field 3 first; nice is 19, rt_priority 40, policy 41.
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let field = |n: usize| fields[n - 3];
        found.push((field(41).parse().unwrap(), field(40).parse().unwrap(), field(19).parse().unwrap()));
    }
    found
}

#[test]
fn the_reader_runs_as_it_says_real_time_where_allowed_and_as_any_thread_unless_asked() {
    let asked = server(WireConfig { realtime: true, ..WireConfig::default() });
    let expected = match asked.wire.scheduling() {
        Scheduling::Realtime => (SCHED_FIFO, 1, 0),
        Scheduling::Nice => (0, 0, -10),
        Scheduling::Normal => (0, 0, 0),
    };
    assert_eq!(reader_threads(), vec![expected], "{:?}", asked.wire.scheduling());
    drop(asked); // its reader stopped and joined

    let plain = server(WireConfig::default());
    assert_eq!(plain.wire.scheduling(), Scheduling::Normal);
    assert_eq!(reader_threads(), vec![(0, 0, 0)]);
}
