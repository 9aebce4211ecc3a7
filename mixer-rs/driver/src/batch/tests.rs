//! `Batch` against a recorder: what each publication holds, who hears what, and how the frames per
//! message follow the audience and the writers' pressure.

use std::cell::{Cell, RefCell};

use mixer_core::TickKind;
use proptest::prelude::*;

use super::*;
use crate::batching::STEPS;

const GROUP: u64 = 7;
const WINDOW_NS: u64 = crate::pressure::WINDOW.as_nanos() as u64;

/// Records every message; its audience is whatever the test sets.
#[derive(Default)]
struct Recorder {
    audience: Cell<usize>,
    /// The server's audience, as the pool would hold it (this space's part and `others`), and pressure.
    server: ServerLoad,
    /// What the writers' counters say.
    load: Cell<WritersLoad>,
    /// The seqs of each publication's frames; `pending` those appended since the last.
    shared: RefCell<Vec<Vec<u64>>>,
    pending: RefCell<Vec<u64>>,
    own: RefCell<Vec<(u64, Vec<u64>)>>,
}

/// A frame's `seq`, read by an independent msgpack reader.
fn seq_of(frame: &rmpv::Value) -> u64 {
    frame.as_map().unwrap().iter().find(|(k, _)| k.as_str() == Some("seq")).unwrap().1.as_u64().unwrap()
}

/// The seqs of an `audio` message.
fn seqs(message: &[u8]) -> Vec<u64> {
    let value = rmpv::decode::read_value(&mut &message[..]).unwrap();
    let frames = &value.as_map().unwrap().iter().find(|(k, _)| k.as_str() == Some("frames")).unwrap().1;
    frames.as_array().unwrap().iter().map(seq_of).collect()
}

impl Sink for Recorder {
    fn append(&self, item: &[u8]) {
        self.pending.borrow_mut().push(seq_of(&rmpv::decode::read_value(&mut &item[..]).unwrap()));
    }

    fn publish(&self, group: u64) -> Option<usize> {
        assert_eq!(group, GROUP);
        let message = std::mem::take(&mut *self.pending.borrow_mut());
        if !message.is_empty() {
            self.shared.borrow_mut().push(message);
        }
        Some(self.audience.get())
    }

    fn writers_load(&self) -> WritersLoad {
        self.load.get()
    }

    fn send_audio(&self, conn: u64, message: &[u8]) {
        self.own.borrow_mut().push((conn, seqs(message)));
    }
}

fn tick(shared: bool, mixed: &[u64]) -> TickOutput {
    TickOutput {
        seq: 0,
        kind: if shared { TickKind::Mixed } else { TickKind::Silent },
        captured_at: 1,
        shared: shared.then(|| vec![1, 2, 3]),
        minus: mixed.iter().map(|&id| (id, vec![9])).collect(),
        mixed: mixed.to_vec(),
        levels: Vec::new(),
        recording: None,
    }
}

#[test]
fn a_speakers_own_stream_goes_out_every_tick_whatever_the_audience() {
    let sink = Recorder::default();
    sink.audience.set(1_000_000);
    let mut batch = Batch::new(Batching::default());
    let routes = BTreeMap::from([(1, 11), (2, 12)]);
    for seq in 0..40 {
        batch.add(seq, &tick(true, &[1]), &routes, &sink, GROUP, &sink.server);
    }
    assert_eq!(batch.frames(), 10, "the audience is batched");
    let own = sink.own.borrow();
    assert_eq!(own.len(), 80, "one message a tick per speaker");
    assert!(own.iter().all(|(_, seqs)| seqs.len() == 1));
    let of = |conn| own.iter().filter(|(c, _)| *c == conn).flat_map(|(_, s)| s.clone()).collect::<Vec<_>>();
    assert_eq!(of(11), (0..40).collect::<Vec<_>>(), "the talker's mix-minus");
    assert_eq!(of(12), (0..40).collect::<Vec<_>>(), "a speaker out of the mix hears the shared mix");
}

#[test]
fn a_quiet_flush_sends_a_short_message_and_the_next_starts_afresh() {
    let sink = Recorder::default();
    let mut batch = Batch::new(Batching::Fixed(5));
    for seq in 0..7 {
        batch.add(seq, &tick(true, &[]), &BTreeMap::new(), &sink, GROUP, &sink.server);
    }
    batch.flush(&sink, GROUP, &sink.server);
    for seq in 20..25 {
        batch.add(seq, &tick(true, &[]), &BTreeMap::new(), &sink, GROUP, &sink.server);
    }
    assert_eq!(*sink.shared.borrow(), vec![vec![0, 1, 2, 3, 4], vec![5, 6], vec![20, 21, 22, 23, 24]]);
}

#[test]
fn small_spaces_batch_when_the_servers_audience_together_outgrows_a_step() {
    // 200 spaces of 50 listeners: each alone would send one frame a message; together they
    // are the 10,000-listener audience of one writer, and each moves to that audience's step.
    let sink = Recorder::default();
    sink.audience.set(50);
    let mut spaces: Vec<Batch> = (0..200).map(|_| Batch::new(Batching::default())).collect();
    for batch in &mut spaces {
        batch.add(0, &tick(true, &[]), &BTreeMap::new(), &sink, GROUP, &sink.server);
    }
    assert_eq!(sink.server.audience.load(Ordering::Relaxed), 10_000);
    assert_eq!(spaces[0].frames(), 1, "the first space flushed before the others had counted");
    for seq in 1..20 {
        for batch in &mut spaces {
            batch.add(seq, &tick(true, &[]), &BTreeMap::new(), &sink, GROUP, &sink.server);
        }
    }
    assert!(
        spaces.iter().all(|b| b.frames() == 5),
        "{:?}",
        spaces.iter().map(Batch::frames).collect::<Vec<_>>()
    );
    // All but one go quiet: their audiences no longer count, and the last returns to one frame.
    for batch in &mut spaces[1..] {
        batch.flush(&sink, GROUP, &sink.server);
        batch.withdraw(&sink.server);
    }
    assert_eq!(sink.server.audience.load(Ordering::Relaxed), 50);
    for seq in 20..40 {
        spaces[0].add(seq, &tick(true, &[]), &BTreeMap::new(), &sink, GROUP, &sink.server);
    }
    assert_eq!(spaces[0].frames(), 1);
    spaces[0].withdraw(&sink.server);
    assert_eq!(sink.server.audience.load(Ordering::Relaxed), 0, "nothing left counted");
}

#[test]
fn saturated_writers_move_every_talking_space_a_step_up_and_a_fixed_one_not() {
    // 200 spaces of 50 at 5 frames (the audience's step); then a window in which the writers were
    // always in a pass: each space, at its next message, moves to 10 and stays there.
    let sink =
        Recorder { server: ServerLoad::new(Instant::now() - crate::pressure::WINDOW), ..Recorder::default() };
    sink.audience.set(50);
    sink.server.audience.store(10_000 - 100, Ordering::Relaxed); // the other 198 spaces' part
    let mut spaces = [Batch::new(Batching::default()), Batch::new(Batching::Fixed(5))];
    let talk = |spaces: &mut [Batch; 2], ticks: std::ops::Range<u64>| {
        for seq in ticks {
            for batch in spaces.iter_mut() {
                batch.add(seq, &tick(true, &[]), &BTreeMap::new(), &sink, GROUP, &sink.server);
            }
        }
    };
    talk(&mut spaces, 0..20);
    assert_eq!(spaces.each_ref().map(Batch::frames), [5, 5]);
    assert_eq!(sink.server.pressure.counts(), (0, 0), "a calm window: nothing moves");
    let mut saturated = WritersLoad { writers: 2, busy_ns: 0, visits: 0, late_visits: 0 };
    for _ in 0..crate::pressure::SATURATED_WINDOWS {
        std::thread::sleep(crate::pressure::WINDOW); // the next window, all of it in passes, half late
        saturated.busy_ns += 2 * WINDOW_NS * 2;
        saturated.visits += 100;
        saturated.late_visits += 50;
        sink.load.set(saturated);
        talk(&mut spaces, 20..40);
    }
    assert_eq!(sink.server.pressure.counts().0, 1, "saturated windows, as many as raise it");
    assert_eq!(spaces.each_ref().map(Batch::frames), [10, 5]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Across any number of switches, in any direction, with silent ticks and
    /// quiet flushes among them: every shared frame reaches the audience once,
    /// in order, each message holding frames of consecutive ticks, as many
    /// ticks as were chosen when the message began; and each choice is the
    /// policy's for the audience the message before it reached.
    #[test]
    fn switches_never_lose_repeat_or_reorder_a_frame(
        per in 1usize..50,
        max in 1usize..=10,
        // (audience from here on, ticks, whether they carry a frame, a quiet flush after)
        phases in proptest::collection::vec((0usize..600, 1usize..40, prop::bool::weighted(0.9), any::<bool>()), 1..40),
    ) {
        let batching = Batching::Auto { max, listeners_per_frame: per };
        let sink = Recorder::default();
        let mut batch = Batch::new(batching);
        let mut expected = Vec::new();
        let mut chosen = vec![batch.frames()]; // the frames per message each message began with
        let mut seq = 0u64;
        for (audience, ticks, talking, quiet) in phases {
            sink.audience.set(audience);
            for _ in 0..ticks {
                let before = sink.shared.borrow().len();
                batch.add(seq, &tick(talking, &[]), &BTreeMap::new(), &sink, GROUP, &sink.server);
                if talking {
                    expected.push(seq);
                }
                seq += 1;
                if sink.shared.borrow().len() > before {
                    prop_assert_eq!(batch.frames(), batching.next(*chosen.last().unwrap(), audience));
                    chosen.push(batch.frames());
                }
            }
            if quiet {
                let before = sink.shared.borrow().len();
                batch.flush(&sink, GROUP, &sink.server);
                if sink.shared.borrow().len() > before {
                    chosen.push(batch.frames());
                }
            }
        }
        batch.flush(&sink, GROUP, &sink.server);
        let messages = sink.shared.borrow();
        let heard: Vec<u64> = messages.iter().flatten().copied().collect();
        prop_assert_eq!(&heard, &expected, "every frame once, in order");
        for (message, frames) in messages.iter().zip(&chosen) {
            prop_assert!(!message.is_empty() && message.len() <= *frames);
            prop_assert!(message.last().unwrap() - message[0] < *frames as u64, "within one message's ticks");
            prop_assert!(STEPS.contains(frames) || *frames == max);
        }
    }
}
