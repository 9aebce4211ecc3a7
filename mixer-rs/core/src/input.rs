//! One speaker as the mixer sees it: a jitter queue of its packets, its
//! decoder, whether it still sends (the hangover), whether it talks (its
//! gate), and the encoder of the mix it hears back (its mix-minus).
//!
//! The codecs are built at an input's first packet and dropped when it goes
//! idle: a speaker on the mic who does not talk holds about 1 KiB instead of
//! about 50 KiB of Opus state, which is what lets a server keep thousands of
//! live, silent spaces. A talk spurt's first tick pays for a decoder (a few
//! µs) and, once mixed with others, a mix-minus encoder.

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
    /// `None` while idle.
    voice: Option<Box<Codecs>>,
    bitrate: i32,
    complexity: i32,
    /// Ticks since this input last played a real packet; `None` once idle.
    since_real: Option<u32>,
    pub(crate) gate: Gate,
}

/// What an input needs only while it plays.
struct Codecs {
    decoder: Decoder,
    /// Built the first time this input is mixed with someone else.
    minus_encoder: Option<Encoder>,
    pcm: Pcm,
}

/// What an idle input "plays": never mixed, but `pcm()` needs something to return.
static SILENCE: Pcm = [0; FRAME_SAMPLES];

impl Input {
    /// `bitrate` and `complexity` must already be checked (`check_encoder_settings`).
    pub(crate) fn new(max_queue: usize, bitrate: i32, complexity: i32) -> Self {
        Self { queue: JitterQueue::new(max_queue), voice: None, bitrate, complexity, since_real: None, gate: Gate::new() }
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
        if !self.is_active(hangover_ticks) {
            self.since_real = None;
            self.voice = None; // idle: the codecs go until the next packet
            return Voice::Idle;
        }
        if self.voice.is_none() {
            // A decoder fails to build only when libopus cannot allocate: the
            // packets then wait (and the queue's bounds apply) for a later tick.
            let Ok(decoder) = Decoder::new() else { return Voice::Idle };
            self.voice = Some(Box::new(Codecs { decoder, minus_encoder: None, pcm: [0; FRAME_SAMPLES] }));
        }
        let Some(codecs) = self.voice.as_deref_mut() else { return Voice::Idle };
        if let Some(skipped) = self.queue.trim() {
            // Decoded, not played: the decoder's state stays continuous across the skip.
            let _ = codecs.decoder.decode(&skipped.packet, &mut codecs.pcm);
        }
        if let Some(frame) = self.queue.pop() {
            if codecs.decoder.decode(&frame.packet, &mut codecs.pcm).is_ok() {
                self.since_real = Some(0);
                return Voice::Real(frame);
            }
            self.since_real = self.since_real.map(|n| n.saturating_add(1));
            codecs.conceal();
            return Voice::Concealed { decode_error: true };
        }
        // Inside the hangover (`is_active` above): conceal the missing packet.
        self.since_real = self.since_real.map(|n| n + 1);
        codecs.conceal();
        Voice::Concealed { decode_error: false }
    }

    /// True while the next tick would decode or conceal for this input.
    pub(crate) fn is_active(&self, hangover_ticks: u32) -> bool {
        !self.queue.is_empty() || self.since_real.is_some_and(|n| n < hangover_ticks)
    }

    pub(crate) fn pcm(&self) -> &Pcm {
        self.voice.as_ref().map_or(&SILENCE, |codecs| &codecs.pcm)
    }

    /// Drops its codecs (the mixer is quiet: this input is idle too).
    pub(crate) fn release(&mut self) {
        self.voice = None;
    }

    /// Whether it holds codec state (it played within its hangover).
    pub(crate) fn has_codecs(&self) -> bool {
        self.voice.is_some()
    }

    pub(crate) fn encode_minus(&mut self, pcm: &Pcm) -> Result<Vec<u8>, MixerError> {
        // Only an input that played this tick is mixed, so it has its codecs.
        let Some(codecs) = self.voice.as_deref_mut() else {
            return Err(MixerError::Codec { function: "encode", reason: "the input is idle" });
        };
        let encoder = match &mut codecs.minus_encoder {
            Some(encoder) => encoder,
            None => codecs.minus_encoder.insert(Encoder::new(self.bitrate, self.complexity)?),
        };
        encoder.encode(pcm)
    }
}

impl Codecs {
    fn conceal(&mut self) {
        // Concealment only fails on a broken decoder state; silence is the
        // honest fallback and keeps the tick going.
        if self.decoder.conceal(&mut self.pcm).is_err() {
            self.pcm.fill(0);
        }
    }
}
