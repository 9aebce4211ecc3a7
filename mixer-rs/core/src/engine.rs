//! The tick itself: single-threaded state (the inputs, the shared encoder,
//! scratch buffers) that turns one 20 ms step of packets into a `TickOutput`.
//! `Mixer` wraps it with the ingress and a lock.

use std::collections::BTreeMap;

use crate::codec::{Encoder, Pcm};
use crate::ingress::Drained;
use crate::input::{Input, Voice};
use crate::mix::{Sum, accumulate, mix_all, mix_minus};
use crate::output::{Counters, TickKind, TickOutput, bump};
use crate::queue::{Frame, Offer};
use crate::{FRAME_SAMPLES, MixerConfig, MixerError};

pub(crate) struct Engine {
    /// Ordered so that outputs list inputs in id order, tick after tick.
    inputs: BTreeMap<u64, Input>,
    shared_encoder: Encoder,
    sum: Box<Sum>,
    scratch: Box<Pcm>,
    next_seq: u64,
    hangover_ticks: u32,
}

impl Engine {
    pub(crate) fn new(config: &MixerConfig) -> Result<Self, MixerError> {
        Ok(Self {
            inputs: BTreeMap::new(),
            shared_encoder: Encoder::new(config.bitrate, config.complexity)?,
            sum: Box::new([0; FRAME_SAMPLES]),
            scratch: Box::new([0; FRAME_SAMPLES]),
            next_seq: 0,
            hangover_ticks: config.hangover_ticks,
        })
    }

    /// Applies what arrived since the last tick, in the order that keeps the
    /// ingress' invariant: removals, additions, then packets.
    pub(crate) fn apply(&mut self, drained: Drained, counters: &Counters) {
        for id in drained.removals {
            if let Some(gone) = self.inputs.remove(&id) {
                bump(&counters.packets_dropped, gone.queued() as u64);
            }
        }
        self.inputs.extend(drained.additions);
        let (mut late, mut dropped) = (0, 0);
        for (id, frames) in drained.packets {
            let Some(input) = self.inputs.get_mut(&id) else {
                dropped += frames.len() as u64;
                continue;
            };
            for frame in frames {
                match input.offer(frame) {
                    Offer::Queued => {}
                    Offer::Late => late += 1,
                    Offer::QueuedDroppedOldest => dropped += 1,
                }
            }
        }
        bump(&counters.packets_late, late);
        bump(&counters.packets_dropped, dropped);
    }

    /// True while a tick would put any input in the mix.
    pub(crate) fn is_active(&self) -> bool {
        self.inputs.values().any(|input| input.is_active(self.hangover_ticks))
    }

    // One tick: decode, mix, mix-minus, encode.
    //
    // Constraints. A tick must finish well inside its 20 ms on a shared vCPU,
    // for a space with up to 13 speakers and any number of listeners, so the
    // cost may grow with the speakers in the mix but never with the audience:
    // there is one shared encode for everybody who is not speaking, and one
    // mix-minus encode per speaker in the mix (a speaker must not hear
    // themself, and each speaker's encoder keeps its own Opus state, so they
    // cannot share). Opus encodes dominate (about 160 µs each at complexity
    // 5); decodes cost a fifth of that and the arithmetic is noise.
    //
    // Pipeline, in a fixed order:
    //   1. Each input plays: its next queued packet, decoded (kept even when
    //      it will be passed through, so its decoder state stays continuous);
    //      or loss concealment while inside its hangover, or for a packet that
    //      fails to decode; or nothing, once idle. Every voice is summed into
    //      32-bit accumulators as it comes.
    //   2. The shared mix is the sum saturated to 16 bits, encoded once.
    //   3. Each speaker's mix-minus is the sum less its own samples, saturated
    //      only after the subtraction (saturating first would let one loud
    //      speaker wipe out what the others hear), then encoded with the
    //      speaker's own encoder.
    //
    // Fast paths, which are most ticks of a real space:
    //   - silent: nobody in the mix; no decode, no encode, nothing to send.
    //     The caller stops ticking altogether once `is_active` is false.
    //   - passthrough: one speaker with a real packet; that packet is the
    //     shared output as it came (no encode, no generation loss), and the
    //     speaker's own mix-minus would be silence, so none is made.
    //   - a lone speaker in concealment gets the shared encode but no
    //     mix-minus, for the same reason.
    pub(crate) fn tick(&mut self, counters: &Counters) -> Result<TickOutput, MixerError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        bump(&counters.ticks, 1);

        self.sum.fill(0);
        let mut mixed = Vec::new();
        let mut captured_at: Option<u64> = None;
        let mut lone_real: Option<Frame> = None;
        for (&id, input) in &mut self.inputs {
            match input.play(self.hangover_ticks) {
                Voice::Idle => continue,
                Voice::Real(frame) => {
                    captured_at = Some(captured_at.map_or(frame.captured_at, |t| t.min(frame.captured_at)));
                    lone_real = Some(frame);
                }
                Voice::Concealed { decode_error } => {
                    bump(&counters.concealed, 1);
                    bump(&counters.decode_errors, u64::from(decode_error));
                }
            }
            accumulate(&mut self.sum, input.pcm());
            mixed.push(id);
        }

        let mut out = TickOutput {
            seq,
            kind: TickKind::Silent,
            captured_at: captured_at.unwrap_or(0),
            shared: None,
            minus: Vec::new(),
            mixed,
        };
        match (out.mixed.len(), lone_real) {
            (0, _) => {}
            (1, Some(frame)) => {
                out.kind = TickKind::Passthrough;
                out.shared = Some(frame.packet);
            }
            (speakers, _) => {
                out.kind = TickKind::Mixed;
                mix_all(&self.sum, &mut self.scratch);
                out.shared = Some(self.shared_encoder.encode(&self.scratch[..])?);
                bump(&counters.encodes, 1);
                if speakers > 1 {
                    out.minus.reserve_exact(speakers);
                    // Both in id order: `mixed` was filled walking the same map.
                    let in_mix = self.inputs.iter_mut().filter(|(id, _)| out.mixed.binary_search(id).is_ok());
                    for (&id, input) in in_mix {
                        mix_minus(&self.sum, input.pcm(), &mut self.scratch);
                        out.minus.push((id, input.encode_minus(&self.scratch)?));
                        bump(&counters.encodes, 1);
                    }
                }
            }
        }
        Ok(out)
    }
}
