//! `Batch`: a space's frames waiting to be sent (the audience's shared
//! stream, and each routed speaker's own), encoded once per message and
//! handed to the fan-out every `frames_per_message` ticks.

use std::collections::BTreeMap;

use fanout::Fanout;
use mixer_core::TickOutput;

use crate::wire::{WireFrame, encode_audio};

#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) ticks: usize,
    shared: Vec<WireFrame>,
    own: BTreeMap<u64, (u64, Vec<WireFrame>)>, // input -> (conn, frames)
}

impl Batch {
    pub(crate) fn add(&mut self, seq: u64, out: &TickOutput, routes: &BTreeMap<u64, u64>) {
        self.ticks += 1;
        let frame = |opus: &Vec<u8>| WireFrame { seq, captured_at: out.captured_at, opus: opus.clone() };
        if let Some(shared) = &out.shared {
            self.shared.push(frame(shared));
        }
        for (&input, &conn) in routes {
            let opus = if out.mixed.contains(&input) {
                out.minus.iter().find(|(id, _)| *id == input).map(|(_, opus)| opus)
            } else {
                out.shared.as_ref()
            };
            if let Some(opus) = opus {
                let entry = self.own.entry(input).or_insert_with(|| (conn, Vec::new()));
                entry.0 = conn;
                entry.1.push(frame(opus));
            }
        }
    }

    /// Sends what is batched; returns the messages queued.
    pub(crate) fn flush(&mut self, fanout: &Fanout, audience_group: u64) -> u64 {
        self.ticks = 0;
        let mut messages = 0;
        if !self.shared.is_empty() {
            let message = encode_audio(&self.shared);
            // An unknown group means the space is closing: nothing left to hear it.
            let _ = fanout.broadcast_audio(audience_group, &message);
            messages += 1;
            self.shared.clear();
        }
        for (_, (conn, frames)) in std::mem::take(&mut self.own) {
            if !frames.is_empty() {
                fanout.send_audio(conn, &encode_audio(&frames));
                messages += 1;
            }
        }
        messages
    }
}
