//! `Batch`: a space's frames on their way to the fan-out. Each tick's frame
//! of the audience's shared mix is appended to the audience group's stream
//! (`fanout::Stream`: appended once, pulled by each listener's writer); every
//! `frames` ticks, `frames` chosen by the space's `Batching` from the audience
//! the last one reached, the stream is published: the writers then send each
//! listener what it has not had yet, as one message. Each routed speaker's own
//! stream goes out every tick.
//!
//! Why speakers' own streams are never batched: a space has at most 13 of
//! them, so batching would save at most 650 sends a second, a fraction of a
//! millisecond of the fan-out's time; and their delay is the conversation's.
//! Talkers answer one another through these streams, and 80 ms more each way
//! is what makes people talk over each other. The audience listens; it can
//! wait a little so that thousands of it cost the server less.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use fanout::{Fanout, Stream, WritersLoad};
use mixer_core::TickOutput;

use crate::batching::Batching;
use crate::pressure::ServerLoad;
use crate::wire::{WireFrame, encode_audio, encode_frame};

/// Where a batch's frames go: the fan-out, or a test's recorder.
pub(crate) trait Sink {
    /// Appends one frame of the shared mix (`wire::encode_frame`) to the audience's stream.
    fn append(&self, item: &[u8]);
    /// Has `group`'s members sent what the stream appended; the members, or
    /// `None` if the group is gone (the space is closing).
    fn publish(&self, group: u64) -> Option<usize>;
    fn send_audio(&self, conn: u64, message: &[u8]);
    /// How the fan-out's writers keep up, so far (`pressure.rs`).
    fn writers_load(&self) -> WritersLoad;
}

/// The fan-out, and the audience's stream (none once the group is gone).
pub(crate) struct Outlet<'a> {
    pub fanout: &'a Fanout,
    pub stream: Option<&'a Stream>,
}

impl Sink for Outlet<'_> {
    fn append(&self, item: &[u8]) {
        if let Some(stream) = self.stream {
            stream.push(item);
        }
    }

    fn publish(&self, group: u64) -> Option<usize> {
        self.fanout.publish(group).ok()
    }

    fn send_audio(&self, conn: u64, message: &[u8]) {
        self.fanout.send_audio(conn, message);
    }

    fn writers_load(&self) -> WritersLoad {
        self.fanout.writers_load()
    }
}

pub(crate) struct Batch {
    batching: Batching,
    /// Ticks per message of the shared stream now; changed only between messages.
    frames: usize,
    /// Ticks since the last message of the shared stream (with or without a frame).
    ticks: usize,
    /// Frames appended to the stream since it was last published.
    pending: usize,
    /// One frame's encoding (its buffer, reused).
    item: Vec<u8>,
    /// Times `frames` changed.
    pub(crate) switches: u64,
    /// This space's part of the server's audience (`withdraw` takes it out).
    counted: usize,
    /// Frames per message as the audience alone would have them (`Batching::next`, with its own
    /// hysteresis); `frames` is this or, if higher, `floor`.
    wanted: usize,
    /// The least frames per message while the pressure holds (0: none), and the pressure's
    /// (raised, lowered) counts when last looked at (`pressure.rs`).
    floor: usize,
    seen: Option<(u64, u64)>,
}

impl Batch {
    pub(crate) fn new(batching: Batching) -> Self {
        let batching = batching.clamped();
        let frames = batching.initial();
        Self {
            batching,
            frames,
            ticks: 0,
            pending: 0,
            item: Vec::new(),
            switches: 0,
            counted: 0,
            wanted: frames,
            floor: 0,
            seen: None,
        }
    }

    /// Frames per message of the shared stream now.
    pub(crate) fn frames(&self) -> usize {
        self.frames
    }

    /// One tick's frames: each routed speaker's own frame is sent now; the
    /// shared frame is appended to the stream, published once the batch spans
    /// `frames` ticks. Returns the messages queued (publications counted as one).
    pub(crate) fn add(
        &mut self,
        seq: u64,
        out: &TickOutput,
        routes: &BTreeMap<u64, u64>,
        sink: &impl Sink,
        audience_group: u64,
        server: &ServerLoad,
    ) -> u64 {
        let frame = |opus: &Vec<u8>| WireFrame { seq, captured_at: out.captured_at, opus: opus.clone() };
        let mut messages = 0;
        for (&input, &conn) in routes {
            let opus = if out.mixed.contains(&input) {
                out.minus.iter().find(|(id, _)| *id == input).map(|(_, opus)| opus)
            } else {
                out.shared.as_ref()
            };
            if let Some(opus) = opus {
                sink.send_audio(conn, &encode_audio(&[frame(opus)]));
                messages += 1;
            }
        }
        if let Some(shared) = &out.shared {
            self.item.clear();
            encode_frame(&mut self.item, seq, out.captured_at, shared);
            sink.append(&self.item);
            self.pending += 1;
        }
        self.ticks += 1;
        if self.ticks >= self.frames {
            messages += self.flush(sink, audience_group, server);
        }
        messages
    }

    /// Publishes the stream now (also when the mix goes quiet, so no frame
    /// waits for the next talk), then sets the frames per message of the next
    /// from the audience this one reached and the other talking spaces'
    /// (`server`, which this space's part joins), and the writers' pressure.
    /// Returns the messages queued (0 or 1).
    pub(crate) fn flush(&mut self, sink: &impl Sink, audience_group: u64, server: &ServerLoad) -> u64 {
        self.ticks = 0;
        if self.pending == 0 {
            return 0;
        }
        self.pending = 0;
        if let Some(audience) = sink.publish(audience_group) {
            let total = self.count(audience, &server.audience);
            if let Batching::Auto { .. } = self.batching {
                server.pressure.observe(Instant::now(), sink.writers_load());
                self.track_pressure(server.pressure.counts());
            }
            self.wanted = self.batching.next(self.wanted, audience.max(total));
            let next = self.batching.floored(self.wanted, self.floor);
            if next != self.frames {
                self.frames = next;
                self.switches += 1;
            }
        }
        1
    }

    /// Sets this space's part of the server's audience to `audience`; the server's total after.
    fn count(&mut self, audience: usize, server: &AtomicUsize) -> usize {
        let total = if audience >= self.counted {
            server.fetch_add(audience - self.counted, Ordering::Relaxed) + (audience - self.counted)
        } else {
            server.fetch_sub(self.counted - audience, Ordering::Relaxed) - (self.counted - audience)
        };
        self.counted = audience;
        total
    }

    /// Moves the floor as the pressure moved since this space last looked: a step above
    /// its frames per message when raised, a step down when lowered.
    /// What it moved while this space was quiet (or before it started) is not acted on: the space
    /// then keeps its floor while raises are left to undo, and drops it once none is.
    fn track_pressure(&mut self, (raised, lowered): (u64, u64)) {
        let seen = self.seen.replace((raised, lowered));
        if raised == lowered {
            self.floor = 0; // every raise undone
        }
        let Some((was_raised, was_lowered)) = seen else { return };
        if raised > was_raised {
            self.floor = self.batching.step_above(self.frames.max(self.floor));
        } else if lowered > was_lowered {
            self.floor = self.batching.step_below(self.floor);
        }
    }

    /// The space went quiet or stopped: its audience no longer counts in the server's.
    pub(crate) fn withdraw(&mut self, server: &ServerLoad) {
        server.audience.fetch_sub(self.counted, Ordering::Relaxed);
        self.counted = 0;
        self.seen = None; // what the pressure does meanwhile is not this space's to follow
    }
}

#[cfg(test)]
mod tests;
