//! One speaker as the mixer sees it: a jitter queue of its packets, its
//! decoder, whether it still sends (the hangover), whether it talks (its
//! gate), and the encoder of the mix it hears back (its mix-minus).
//!
//! The codecs are built at an input's first packet and dropped when it goes
//! idle: a speaker on the mic who does not talk holds about 1 KiB instead of
//! about 50 KiB of Opus state, which is what lets a server keep thousands of
//! live, silent spaces. A talk spurt's first tick pays for a decoder (a few
//! µs) and, once mixed with others, a mix-minus encoder.
//!
//! Decoding is lazy for packets that come with the sender's level (`Frame::level`):
//! such a packet is checked (`is_one_frame`), not decoded, when it plays, and
//! decoded only if the tick needs its samples (`samples`: it is mixed with
//! other voices). The packets not decoded since the last one that was are
//! kept, at most `WARM_UP` of them, and decoded first, so that the decoder's
//! state is what continuous decoding would have made of the recent past: a
//! decoder that missed more is reset and warmed up on the last `WARM_UP`. A
//! packet without a level is decoded at once, as every packet used to be.
//!
//! Concealment (the hangover after a spurt's last packet, a packet missing or
//! undecodable) is made here too, for the mix and for the gate's level; a
//! listener whose decoder has just decoded this speaker's own packets gets a
//! one-byte stand-in instead (`stand_in`), and conceals it itself.

use std::time::Duration;

use crate::backlog::Backlog;
use crate::codec::{Decoder, Encoder, Pcm, concealment_packet, is_one_frame};
use crate::gate::{DTX_MAX_BYTES, Gate, is_loud, level_dbfs};
use crate::output::{Counters, DropReason, bump};
use crate::queue::{Frame, JitterQueue, Offer};
use crate::{FRAME_SAMPLES, MixerError};

/// What an input contributed to one tick.
#[derive(Debug)]
pub(crate) enum Voice {
    /// A packet that decodes, at `level` dBFS (the sender's, or measured);
    /// the frame is handed back for pass-through.
    Real { frame: Frame, level: f32 },
    /// Loss concealment at `level` dBFS: no packet within the hangover, or one that failed to decode.
    Concealed { decode_error: bool, level: f32 },
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
    /// Whose own stream this speaker's connection heard last tick, when it was one voice's packets as
    /// they came (and stand-ins for them, `stand_in`): the mixer's to keep (`Engine::tick`).
    pub(crate) heard: Option<u64>,
    /// The first byte (TOC) of the last packet played: what a stand-in for the next is made of.
    last_toc: Option<u8>,
    /// False once `DISTRUST_AFTER` of its last 16 checked packets measured `DISTRUST_DB`
    /// quieter than their sender said: that sender's levels are ignored from then on.
    levels_trusted: bool,
    /// The last 16 checks, newest in the lowest bit: 1 for a packet quieter than said. Kept
    /// across talk spurts (the codecs are not), so going quiet does not clear the evidence.
    checks: u16,
    /// This talk spurt's first packet has waited its tick (`play`'s `prefill`).
    held: bool,
    /// Frames concealed since the last packet taken from the queue: a gap in the spurt once
    /// the next is taken (`Counters::concealed_gaps`); forgotten when the input goes idle.
    unplayed: u32,
}

/// A talk spurt's first packet that came this recently before its tick, while the mixer plays someone
/// else, waits a tick (`Input::play`): every packet of the spurt then has at least half a frame of
/// margin before its tick, and the queue no more than a frame more than it needs.
pub const PREFILL_WITHIN: Duration = Duration::from_millis(10);

/// Packets decoded, before one that is needed, after a run that was not (see the module's notes): a
/// reset decoder warmed up on 1, 2 or 3 packets is 16, 29 or 63 dB from continuous decoding (`tests/levels.rs`).
pub(crate) const WARM_UP: usize = 3;

/// How a sender's levels are checked against its decoded packets. Only a packet said to be loud (one the
/// gate would mix, `is_loud`) is checked: a level said to be quiet buys nothing, and near silence is where a
/// decoder's output strays most. A decoder that starts mid-stream plays quieter at first, and so does one
/// just after a loss: measured on the harness's recorded speech (loadtest/speech) against continuous
/// decoding, a cold decoder's first packet read up to 34 dB quieter (1 of 2,253 voiced packets 30 dB or
/// more); after 4 packets, one packet in 2,000 read 10 dB quieter, never more than 2 of any 16 (765 cold
/// starts, 27,540 packets); with 2% of packets lost and concealed, at most 3 of 16; with 10% lost, 4 or
/// more in 3 starts of 320. So a packet counts against its sender when it measures `DISTRUST_DB` quieter
/// than said once its decoder has decoded `CHECKED_AFTER` since it was made or reset, and
/// `COLD_DISTRUST_DB` quieter before that (so a liar cannot hide in short bursts, each on a new decoder,
/// or behind skipped slots); the sender is disbelieved when `DISTRUST_AFTER` of its last 16 checked
/// packets count against it. Taking one such packet as a lie had honest speakers who came in during
/// someone else's words disbelieved, and every packet of theirs decoded from then on. A sender disbelieved
/// wrongly (on a very lossy link) costs the server decodes, not its voice: it is then measured.
pub(crate) const CHECKED_AFTER: usize = 4;
/// See `CHECKED_AFTER`: how many of the last 16 checked packets (`Input::checks`) disbelieve the sender.
pub(crate) const DISTRUST_AFTER: u32 = 4;
/// See `CHECKED_AFTER`: the margin for a packet decoded by a decoder that has not yet decoded 4.
pub(crate) const COLD_DISTRUST_DB: f32 = 40.0;

/// A decoded packet this many dB quieter than its sender's level counts
/// against the sender's levels (a client's level and the decoded one differ
/// by the codec's noise, about a dB, on a decoder that has run a while).
pub(crate) const DISTRUST_DB: f32 = 10.0;

/// What an input needs only while it plays.
struct Codecs {
    decoder: Decoder,
    /// Built the first time this input is mixed with someone else.
    minus_encoder: Option<Encoder>,
    pcm: Pcm,
    /// Packets played (or skipped) and not decoded, oldest first: at most `WARM_UP`, and after them
    /// this tick's while `pending`.
    behind: Backlog,
    /// More were not decoded than `behind` holds: reset the decoder before catching up.
    stale: bool,
    /// The level (dBFS) its sender gave this tick's packet, the newest in `behind`, while it is not
    /// decoded (`pcm` then holds an older frame).
    pending: Option<f32>,
    /// Packets decoded since `Input::take_decodes`, warm-up included.
    decodes: u64,
    /// Packets decoded since the decoder was made or reset (a concealment or a decode error does not restart
    /// the count): its output is held to the sender's level within `DISTRUST_DB` from `CHECKED_AFTER` on.
    run: usize,
}

/// What an idle input "plays": never mixed, but `samples()` needs something to return.
static SILENCE: Pcm = [0; FRAME_SAMPLES];

impl Input {
    /// `bitrate` and `complexity` must already be checked (`check_encoder_settings`).
    pub(crate) fn new(max_queue: usize, bitrate: i32, complexity: i32) -> Self {
        Self {
            queue: JitterQueue::new(max_queue),
            voice: None,
            bitrate,
            complexity,
            since_real: None,
            gate: Gate::new(),
            levels_trusted: true,
            checks: 0,
            held: false,
            unplayed: 0,
            heard: None,
            last_toc: None,
        }
    }

    pub(crate) fn offer(&mut self, frame: Frame) -> Offer {
        self.queue.offer(frame)
    }

    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// This tick's audio: the next queued packet, else concealment while
    /// inside the hangover, else nothing. A packet with a level is only
    /// checked, and its samples are made by `samples` if the tick needs them;
    /// any other voice is in `samples()` on return.
    ///
    /// `prefill`: the mixer already plays someone else, so this tick came at
    /// no particular time after a talk spurt's first packet, perhaps a fraction
    /// of a millisecond after it. Played at once, that packet would leave the
    /// next one no margin: a little jitter, and it misses its tick (a frame of
    /// concealment in the first words, and the spurt a frame late from there).
    /// So a first packet that came less than `PREFILL_WITHIN` (half a frame)
    /// ago waits one tick (unless the second is already here), as a quiet
    /// space's first talker waits for the tick a wake-up schedules one frame
    /// later. Waiting whatever the time would hold a packet that came just
    /// after the last tick a whole frame more: the queue then stands a frame
    /// deeper than it needs, as soon as ticks run a little late, until it is
    /// trimmed (a packet not heard).
    pub(crate) fn play(
        &mut self,
        hangover_ticks: u32,
        silence_dbfs: i32,
        prefill: bool,
        counters: &Counters,
    ) -> Voice {
        if !self.is_active(hangover_ticks) {
            self.since_real = None;
            self.voice = None; // idle: the codecs go until the next packet
            self.held = false;
            self.unplayed = 0; // a hangover, not a gap
            return Voice::Idle;
        }
        let recent = |f: &Frame| f.arrived_at.is_none_or(|at| at.elapsed() < PREFILL_WITHIN);
        if self.voice.is_none()
            && prefill
            && !self.held
            && self.queue.len() < 2
            && self.queue.front().is_some_and(recent)
        {
            self.held = true;
            return Voice::Idle;
        }
        if self.voice.is_none() {
            // A decoder fails to build only when libopus cannot allocate: the
            // packets then wait (and the queue's bounds apply) for a later tick.
            let Ok(decoder) = Decoder::new() else { return Voice::Idle };
            self.voice = Some(Box::new(Codecs {
                decoder,
                minus_encoder: None,
                pcm: [0; FRAME_SAMPLES],
                behind: Backlog::default(),
                stale: false,
                pending: None,
                decodes: 0,
                run: 0,
            }));
        }
        let Some(codecs) = self.voice.as_deref_mut() else { return Voice::Idle };
        if codecs.pending.take().is_some() {
            codecs.fall_behind(); // last tick's packet, never needed, is in `behind` already
        }
        // Quiet: a DTX packet, or one whose level says the gate would not let it through.
        let quiet = |f: &Frame| match f.level {
            Some(level) => !is_loud(f.packet.len(), -f32::from(level), silence_dbfs),
            None => f.packet.len() <= DTX_MAX_BYTES,
        };
        if let Some(skipped) = self.queue.trim(quiet) {
            counters.drop(DropReason::Skipped, 1);
            // Not played; decoded (now or when catching up) so the decoder's state stays continuous.
            codecs.behind.push(&skipped.packet);
            codecs.fall_behind();
        }
        if let Some(frame) = self.queue.pop() {
            // The frames concealed since the last packet taken were a gap in this spurt.
            bump(&counters.concealed_gaps, u64::from(std::mem::take(&mut self.unplayed)));
            if let Some(level) = frame.level.filter(|_| self.levels_trusted && is_one_frame(&frame.packet)) {
                let level = -f32::from(level);
                self.last_toc = frame.packet.first().copied();
                // Copied into a buffer `behind` reuses: the frame itself goes on, to be passed through.
                codecs.behind.push(&frame.packet);
                codecs.pending = Some(level);
                self.since_real = Some(0);
                return Voice::Real { frame, level };
            }
            codecs.catch_up();
            if codecs.decode(&frame.packet).is_ok() {
                self.since_real = Some(0);
                // A packet that fails to decode is never sent: a stand-in takes the TOC of one that was.
                self.last_toc = frame.packet.first().copied();
                return Voice::Real { level: level_dbfs(&codecs.pcm), frame };
            }
            self.since_real = self.since_real.map(|n| n.saturating_add(1));
            self.unplayed += 1;
            codecs.conceal();
            return Voice::Concealed { decode_error: true, level: level_dbfs(&codecs.pcm) };
        }
        // Inside the hangover (`is_active` above): conceal the missing packet.
        self.since_real = self.since_real.map(|n| n + 1);
        self.unplayed += 1;
        codecs.catch_up();
        codecs.conceal();
        Voice::Concealed { decode_error: false, level: level_dbfs(&codecs.pcm) }
    }

    /// This tick's samples, decoding its packet (after those not decoded
    /// before it) if `play` left it undecoded. A sender whose packets said to
    /// be loud turn out quieter than said too often (`CHECKED_AFTER`) is not
    /// believed again (its packets are decoded and measured from the next on):
    /// claiming to be loud cannot buy a place in the mix for long.
    /// `silence_dbfs` is the gate's: what is loud.
    pub(crate) fn samples(&mut self, silence_dbfs: i32) -> &Pcm {
        let Some(codecs) = self.voice.as_deref_mut() else { return &SILENCE };
        if let Some(claimed) = codecs.pending.take() {
            let packet = codecs.behind.pop_newest();
            codecs.catch_up();
            let margin = if codecs.run >= CHECKED_AFTER { DISTRUST_DB } else { COLD_DISTRUST_DB };
            let said_loud = is_loud(packet.len(), claimed, silence_dbfs);
            // Checked by `is_one_frame`; should libopus still refuse it, its concealment stands in.
            let decoded = codecs.decode(&packet);
            codecs.behind.give_back(packet);
            if decoded.is_err() {
                codecs.conceal();
            } else if said_loud {
                let quieter = level_dbfs(&codecs.pcm) < claimed - margin;
                self.checks = self.checks << 1 | u16::from(quieter);
                if self.checks.count_ones() >= DISTRUST_AFTER {
                    self.levels_trusted = false;
                }
            }
        }
        &codecs.pcm
    }

    /// Packets decoded since the last call (warm-up included).
    pub(crate) fn take_decodes(&mut self) -> u64 {
        self.voice.as_deref_mut().map_or(0, |codecs| std::mem::take(&mut codecs.decodes))
    }

    /// True while the next tick would decode or conceal for this input.
    pub(crate) fn is_active(&self, hangover_ticks: u32) -> bool {
        !self.queue.is_empty() || self.since_real.is_some_and(|n| n < hangover_ticks)
    }

    /// Drops its codecs (the mixer is quiet: this input is idle too).
    pub(crate) fn release(&mut self) {
        self.voice = None;
        self.since_real = None;
        self.held = false;
        self.unplayed = 0;
        self.heard = None;
    }

    /// A packet that stands in for this tick's concealment to a listener whose decoder has just decoded
    /// this input's own packets (`codec::concealment_packet`): the listener's decoder conceals, as this
    /// input's decoder did, from the state continuous decoding left (the mixer's was warmed up on at most
    /// `WARM_UP` packets), and nothing is encoded. `None` before a packet, or for one of an odd framing.
    pub(crate) fn stand_in(&self) -> Option<Vec<u8>> {
        concealment_packet(self.last_toc?)
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
    fn decode(&mut self, packet: &[u8]) -> Result<(), crate::MixerError> {
        self.decodes += 1;
        let decoded = self.decoder.decode(packet, &mut self.pcm);
        if decoded.is_ok() {
            self.run += 1;
        }
        decoded
    }

    /// The packets in `behind` are not decoded (none is pending): kept for a catch-up, the oldest
    /// forgotten past `WARM_UP`.
    fn fall_behind(&mut self) {
        if self.behind.len() > WARM_UP {
            self.behind.drop_oldest();
            self.stale = true;
        }
    }

    /// Decodes what fell behind, so that the next packet decodes as it would have in a continuous stream.
    fn catch_up(&mut self) {
        if self.stale {
            // Reset fails only on a broken decoder; decoding on from its old state is then the best left.
            let _ = self.decoder.reset();
            self.stale = false;
            self.run = 0;
        }
        while let Some(packet) = self.behind.pop_oldest() {
            let _ = self.decode(&packet); // warming up: its output is not played
            self.behind.give_back(packet);
        }
    }

    fn conceal(&mut self) {
        // Concealment only fails on a broken decoder state; silence is the
        // honest fallback and keeps the tick going.
        if self.decoder.conceal(&mut self.pcm).is_err() {
            self.pcm.fill(0);
        }
    }
}
