//! One speaker as the mixer sees it: a jitter queue of its packets, its
//! decoder, whether it still sends (the hangover), whether it talks (its
//! gate), and the encoder of the mix it hears back (its mix-minus).

use crate::codec::{Decoder, Encoder, Pcm};
use crate::gate::Gate;
use crate::queue::{Frame, JitterQueue, Offer};
use crate::{FRAME_SAMPLES, MixerError};

/// What an input contributed to one tick.
#[derive(Debug)]
pub(crate) enum Voice {
    /// A packet decoded cleanly; the frame is handed back for pass-through.
    Real(Frame),
    /// Loss concealment: no packet within the hangover, or one that failed to decode.
    Concealed { decode_error: bool },
    /// No packet for longer than the hangover: plays nothing, not in the mix.
    Idle,
}

pub(crate) struct Input {
    queue: JitterQueue,
    decoder: Decoder,
    minus_encoder: Encoder,
    pcm: Box<Pcm>,
    /// Ticks since this input last played a real packet; `None` once idle.
    since_real: Option<u32>,
    pub(crate) gate: Gate,
}

impl Input {
    pub(crate) fn new(max_queue: usize, bitrate: i32, complexity: i32) -> Result<Self, MixerError> {
        Ok(Self {
            queue: JitterQueue::new(max_queue),
            decoder: Decoder::new()?,
            minus_encoder: Encoder::new(bitrate, complexity)?,
            pcm: Box::new([0; FRAME_SAMPLES]),
            since_real: None,
            gate: Gate::new(),
        })
    }

    pub(crate) fn offer(&mut self, frame: Frame) -> Offer {
        self.queue.offer(frame)
    }

    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Produces this tick's audio into `self.pcm()`: the next queued packet,
    /// else concealment while inside the hangover, else nothing.
    pub(crate) fn play(&mut self, hangover_ticks: u32) -> Voice {
        if let Some(skipped) = self.queue.trim() {
            // Decoded, not played: the decoder's state stays continuous across the skip.
            let _ = self.decoder.decode(&skipped.packet, &mut self.pcm);
        }
        if let Some(frame) = self.queue.pop() {
            if self.decoder.decode(&frame.packet, &mut self.pcm).is_ok() {
                self.since_real = Some(0);
                return Voice::Real(frame);
            }
            self.since_real = self.since_real.map(|n| n.saturating_add(1));
            self.conceal();
            return Voice::Concealed { decode_error: true };
        }
        match self.since_real {
            Some(n) if n < hangover_ticks => {
                self.since_real = Some(n + 1);
                self.conceal();
                Voice::Concealed { decode_error: false }
            }
            _ => {
                self.since_real = None;
                Voice::Idle
            }
        }
    }

    /// True while the next tick would decode or conceal for this input.
    pub(crate) fn is_active(&self, hangover_ticks: u32) -> bool {
        !self.queue.is_empty() || self.since_real.is_some_and(|n| n < hangover_ticks)
    }

    pub(crate) fn pcm(&self) -> &Pcm {
        &self.pcm
    }

    pub(crate) fn encode_minus(&mut self, pcm: &Pcm) -> Result<Vec<u8>, MixerError> {
        self.minus_encoder.encode(pcm)
    }

    fn conceal(&mut self) {
        // Concealment only fails on a broken decoder state; silence is the
        // honest fallback and keeps the tick going.
        if self.decoder.conceal(&mut self.pcm).is_err() {
            self.pcm.fill(0);
        }
    }
}
