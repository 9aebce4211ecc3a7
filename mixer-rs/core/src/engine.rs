//! The tick itself: single-threaded state (the inputs, the shared encoder,
//! scratch buffers) that turns one 20 ms step of packets into a `TickOutput`,
//! mixing only the inputs that talk.
//! `Mixer` wraps it with the ingress and a lock.

use std::collections::{BTreeMap, HashSet};

use crate::codec::{Encoder, Pcm, check_encoder_settings};
use crate::gate::{LEVEL_FLOOR_DBFS, MAX_MIXED_LIMIT, is_loud, keep_loudest};
use crate::ingress::Arrived;
use crate::input::{Input, Voice};
use crate::mix::{Sum, accumulate, mix_all, mix_minus};
use crate::output::{Counters, RecordFrame, TickKind, TickOutput, bump};
use crate::queue::Frame;
use crate::{FRAME_SAMPLES, MixerConfig, MixerError};

mod apply;
mod record;

pub(crate) struct Engine {
    /// Ordered so that outputs list inputs in id order, tick after tick.
    inputs: BTreeMap<u64, Input>,
    /// The ids whose voice may enter a recording (`Mixer::set_consent`).
    consented: HashSet<u64>,
    /// Built at the first tick with a talker, dropped when the engine goes
    /// quiet: a silent space holds no encoder (about 20 KiB) and no buffers.
    work: Option<Box<Workspace>>,
    bitrate: i32,
    complexity: i32,
    /// This tick's talkers; kept to reuse its allocation.
    talkers: Vec<Talker>,
    /// The packets the last drain brought, emptied by `apply` and handed back to the ingress at the next
    /// (`Ingress::drain`): their queues are reused.
    arrived: Arrived,
    /// Each mixed talker's real packet this tick, in the order of `TickOutput::mixed` (None:
    /// concealed); kept to reuse its allocation.
    packets: Vec<Option<Vec<u8>>>,
    /// The input whose own stream the audience's decoders decoded last tick (its packet passed
    /// through, or a stand-in for it), if one voice's alone.
    shared_from: Option<u64>,
    /// The same for the recording's last frame.
    recorded_from: Option<u64>,
    next_seq: u64,
    hangover_ticks: u32,
    max_mixed: usize,
    silence_dbfs: i32,
    hold_ticks: u32,
}

struct Workspace {
    shared_encoder: Encoder,
    /// The recording's own mix, built the first tick it differs from the listeners'.
    record_encoder: Option<Encoder>,
    sum: Sum,
    scratch: Pcm,
}

/// An input that talks this tick, before the mix picks the loudest.
struct Talker {
    id: u64,
    rank: f32,
    /// The packet it played, if real: the pass-through candidate.
    frame: Option<Frame>,
}

impl Engine {
    pub(crate) fn new(config: &MixerConfig) -> Result<Self, MixerError> {
        check_encoder_settings(config.bitrate, config.complexity)?;
        Ok(Self {
            inputs: BTreeMap::new(),
            consented: HashSet::new(),
            work: None,
            bitrate: config.bitrate,
            complexity: config.complexity,
            talkers: Vec::with_capacity(MAX_MIXED_LIMIT + 1),
            arrived: Arrived::new(),
            packets: Vec::with_capacity(MAX_MIXED_LIMIT),
            shared_from: None,
            recorded_from: None,
            next_seq: 0,
            hangover_ticks: config.hangover_ticks,
            max_mixed: config.max_mixed,
            silence_dbfs: config.silence_dbfs,
            hold_ticks: config.hold_ticks,
        })
    }

    /// True while a tick would put any input in the mix.
    pub(crate) fn is_active(&self) -> bool {
        self.inputs.values().any(|input| input.is_active(self.hangover_ticks))
    }

    /// Drops what only a talking space needs (called once it is quiet).
    pub(crate) fn release(&mut self) {
        self.work = None;
        self.arrived = Arrived::new(); // its queues, kept for a talking space, go with the talk
        self.shared_from = None;
        self.recorded_from = None;
        for input in self.inputs.values_mut() {
            input.release();
        }
    }

    /// How many sets of Opus state it holds now (the shared encoder's, each
    /// playing input's): 0 for a quiet space.
    pub(crate) fn codecs_held(&self) -> usize {
        usize::from(self.work.is_some()) + self.inputs.values().filter(|input| input.has_codecs()).count()
    }

    // One tick: decode, gate, mix, mix-minus, encode.
    //
    // Constraints. A tick must finish well inside its 20 ms on a shared vCPU,
    // for a space with up to 13 speakers and any number of listeners, so the
    // cost may grow with the talkers in the mix but never with the audience:
    // there is one shared encode for everybody who is not in the mix, and one
    // mix-minus encode per talker in it (a talker must not hear themself, and
    // each talker's encoder keeps its own Opus state, so they cannot share).
    // Opus encodes dominate (about 160 µs each at complexity 5); decodes cost
    // a fifth of that, and the arithmetic and the gating are noise. So what
    // saves CPU is encoding less: never for silence, at most `max_mixed` + 1
    // times however many talk; then decoding less: a space where one person
    // talks at a time (most of them, most of the time) needs no samples at all
    // when its speakers say how loud each packet is.
    //
    // Pipeline, in a fixed order:
    //   1. Each input plays: its next queued packet; or loss concealment while
    //      inside its hangover, or for a packet that fails to decode; or
    //      nothing, once idle, or while a talk spurt's first packet, come just
    //      before this tick while others play, waits a tick (`Input::play`).
    //      A packet without the sender's level is decoded now (even when it
    //      is silent or left out, so its decoder's state
    //      stays continuous); one with a level is checked, and decoded in step
    //      3 only if it is mixed with other voices (`input.rs`: the packets not
    //      decoded before it are decoded first, so its decoder's state is as if
    //      it had been).
    //   2. Gate: each frame's level is the sender's, or measured (dBFS of its RMS). An input
    //      talks while its real, non-DTX packets reach `silence_dbfs`, and for
    //      `hold_ticks` after the last that did. If more than `max_mixed`
    //      talk, the loudest by a smoothed level are kept (those already in
    //      the mix get a small head start, so near-equals do not swap places
    //      every tick). The rest, and every silent input, stay out of the mix.
    //   3. The talkers kept are summed (their samples made, if not yet) into 32-bit accumulators; the shared
    //      mix is the sum saturated to 16 bits, encoded once.
    //   4. Each mixed talker's mix-minus is the sum less its own samples,
    //      saturated only after the subtraction (saturating first would let
    //      one loud talker wipe out what the others hear), then encoded with
    //      the talker's own encoder.
    //
    // Fast paths, which are most ticks of a real space:
    //   - silent: nobody talks (no packets, or packets of silence only);
    //     nothing to encode or send. The caller stops ticking altogether once
    //     `is_active` is false.
    //   - passthrough: one talker, with a real packet; that packet is the
    //     shared output as it came (no encode, no generation loss, and no
    //     decode when its sender gave its level), and the
    //     talker's own mix-minus would be silence, so none is made. Silent
    //     inputs beside it do not spoil this: they are not in the mix.
    //   - a lone talker in concealment gets no mix-minus, for the same
    //     reason, and, when the audience's decoders decoded its own packets
    //     last tick (passed through), no encode either: the shared output is
    //     a stand-in, a one-byte Opus frame of no data that each listener's
    //     decoder conceals (`Input::stand_in`), exactly as a decoder on the
    //     speaker's stream would, and without the encode's loss. Nearly every
    //     turn ends so: the 5 ticks of hangover after a speaker's last packet.
    //   - two talkers (a conversation's overlaps and turn changes): each
    //     one's mix-minus is the other's packet as it came, so a tick costs
    //     the shared encode alone. A talker in concealment has no packet to
    //     pass on: the other's mix-minus is a stand-in when that other's
    //     decoder decoded its packets last tick (the end of an overlap),
    //     else encoded as usual.
    //   Which stream each connection's decoder is on is kept from tick to
    //   tick (`remember_heard`): a listener's, or a speaker's out of the mix,
    //   is the shared output's; a mixed talker's, its mix-minus'.
    //
    // The recording (`record`), last: it may hold only the voices mixed for
    // listeners whose input consented. Most ticks that is all of them or none,
    // and the recording costs nothing here: the listeners' packet, or
    // silence. When they differ it gets its own mix: one consenting voice's
    // packet as it came, or the consenting talkers' sum, saturated, with its
    // own encode.
    pub(crate) fn tick(&mut self, counters: &Counters, record: bool) -> Result<TickOutput, MixerError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        bump(&counters.ticks, 1);

        // 1 and 2: play and gate every input.
        let mut levels = Vec::with_capacity(self.inputs.len());
        self.talkers.clear();
        // Someone played within their hangover: a talk spurt that starts now waits a tick (`Input::play`).
        let prefill = self.inputs.values().any(Input::has_codecs);
        for (&id, input) in &mut self.inputs {
            let (level, frame) = match input.play(self.hangover_ticks, self.silence_dbfs, prefill, counters) {
                Voice::Idle => {
                    // Keeps counting the hold, which is time since the last loud frame.
                    input.gate.update(LEVEL_FLOOR_DBFS as f32, false, self.hold_ticks);
                    input.gate.in_mix = false;
                    continue;
                }
                Voice::Real { frame, level } => (level, Some(frame)),
                Voice::Concealed { decode_error, level } => {
                    bump(&counters.concealed, 1);
                    bump(&counters.decode_errors, u64::from(decode_error));
                    (level, None)
                }
            };
            // The cast is exact: a level is a whole number of dB within -127..=0 once rounded.
            levels.push((id, level.round() as i8));
            let loud = frame.as_ref().is_some_and(|f| is_loud(f.packet.len(), level, self.silence_dbfs));
            let talking = input.gate.update(level, loud, self.hold_ticks);
            if talking {
                // Ranked with this frame, and with the head start of last tick's place in the mix.
                self.talkers.push(Talker { id, rank: input.gate.rank(), frame });
            }
            input.gate.in_mix = false;
        }
        keep_loudest(&mut self.talkers, self.max_mixed, |t| (t.id, t.rank));
        self.count_decodes(counters);

        // 3: sum the talkers kept.
        if self.talkers.is_empty() {
            self.remember_heard(&[], None, &[]);
            self.recorded_from = None;
            return Ok(TickOutput {
                seq,
                kind: TickKind::Silent,
                captured_at: 0,
                shared: None,
                minus: Vec::new(),
                mixed: Vec::new(),
                levels,
                recording: record.then_some(RecordFrame::Silent),
            });
        }
        let work = match &mut self.work {
            Some(work) => work,
            None => self.work.insert(Box::new(Workspace {
                shared_encoder: Encoder::new(self.bitrate, self.complexity)?,
                record_encoder: None,
                sum: [0; FRAME_SAMPLES],
                scratch: [0; FRAME_SAMPLES],
            })),
        };
        work.sum.fill(0);
        let mut mixed = Vec::with_capacity(self.talkers.len());
        let mut packets = std::mem::take(&mut self.packets);
        packets.clear();
        let mut captured_at: Option<u64> = None;
        // One talker with a real packet passes it on: nobody's samples are needed.
        let passthrough = matches!(self.talkers.as_slice(), [Talker { frame: Some(_), .. }]);
        for talker in self.talkers.drain(..) {
            let Some(input) = self.inputs.get_mut(&talker.id) else { continue };
            input.gate.in_mix = true;
            if !passthrough {
                accumulate(&mut work.sum, input.samples(self.silence_dbfs));
            }
            mixed.push(talker.id);
            if let Some(frame) = &talker.frame {
                captured_at = Some(captured_at.map_or(frame.captured_at, |t| t.min(frame.captured_at)));
            }
            packets.push(talker.frame.map(|frame| frame.packet));
        }

        let mut out = TickOutput {
            seq,
            kind: TickKind::Silent,
            captured_at: captured_at.unwrap_or(0),
            shared: None,
            minus: Vec::new(),
            mixed,
            levels,
            recording: None,
        };
        // A lone talker in concealment whose listeners decoded its own packets last tick (passed
        // through, or stood in for): they conceal it themselves, from a stand-in (`Input::stand_in`).
        let lone_stand_in = match (out.mixed.as_slice(), packets.as_slice()) {
            ([id], [None]) if self.shared_from == Some(*id) => self.inputs.get(id).and_then(Input::stand_in),
            _ => None,
        };
        // Whose own stream each of (at most two) talkers hears in its mix-minus this tick.
        let mut minus_from = [None; 2];
        let mut lone_stand_in_sent = false;
        match (out.mixed.len(), packets.as_mut_slice()) {
            (0, _) => {}
            (1, [Some(packet)]) => {
                out.kind = TickKind::Passthrough;
                out.shared = Some(std::mem::take(packet));
            }
            (1, _) if lone_stand_in.is_some() => {
                out.kind = TickKind::Mixed;
                out.shared = lone_stand_in;
                lone_stand_in_sent = true;
            }
            (talkers, _) => {
                out.kind = TickKind::Mixed;
                mix_all(&work.sum, &mut work.scratch);
                out.shared = Some(work.shared_encoder.encode(&work.scratch[..])?);
                bump(&counters.encodes, 1);
                // 4: one mix-minus per talker, when there is anyone else to hear.
                if talkers > 1 {
                    out.minus.reserve_exact(talkers);
                    for (i, &id) in out.mixed.iter().enumerate() {
                        // Two in the mix: each one's mix-minus is the other's voice alone, so the
                        // other's packet as it came, when it came, is that stream (no encode, no
                        // generation loss); a talker in concealment gets its encode as before.
                        if talkers == 2
                            && let Some(other) = &mut packets[1 - i]
                        {
                            // Moved, unless the recording may still need it (`record_frame`).
                            let other = if record { other.clone() } else { std::mem::take(other) };
                            out.minus.push((id, other));
                            minus_from[i] = Some((id, out.mixed[1 - i]));
                            continue;
                        }
                        // The other in concealment, and this talker's decoder on its stream: a stand-in.
                        if talkers == 2
                            && let other_id = out.mixed[1 - i]
                            && self.inputs.get(&id).is_some_and(|input| input.heard == Some(other_id))
                            && let Some(stand_in) = self.inputs.get(&other_id).and_then(Input::stand_in)
                        {
                            out.minus.push((id, stand_in));
                            minus_from[i] = Some((id, other_id));
                            continue;
                        }
                        let Some(input) = self.inputs.get_mut(&id) else { continue };
                        mix_minus(&work.sum, input.samples(self.silence_dbfs), &mut work.scratch);
                        out.minus.push((id, input.encode_minus(&work.scratch)?));
                        bump(&counters.encodes, 1);
                    }
                }
            }
        }
        let shared_from = match (out.mixed.as_slice(), packets.as_slice()) {
            ([id], [Some(_)]) => Some(*id),
            ([id], [None]) if lone_stand_in_sent => Some(*id),
            _ => None,
        };
        self.remember_heard(&out.mixed, shared_from, &minus_from);
        if record {
            out.recording = Some(self.record_frame(&out.mixed, &packets, lone_stand_in_sent, counters)?);
        } else {
            self.recorded_from = None;
        }
        self.packets = packets;
        self.count_decodes(counters);
        Ok(out)
    }

    /// What each connection's decoder decoded this tick, for the next tick's stand-ins: the audience's
    /// (and every speaker's out of the mix) one voice's own stream (`shared_from`) or not; each mixed
    /// talker's, its mix-minus's (`minus_from`: (talker, whose)), else not.
    fn remember_heard(&mut self, mixed: &[u64], shared_from: Option<u64>, minus_from: &[Option<(u64, u64)>]) {
        self.shared_from = shared_from;
        for (&id, input) in &mut self.inputs {
            input.heard = if mixed.contains(&id) {
                minus_from.iter().flatten().find(|(talker, _)| *talker == id).map(|&(_, whose)| whose)
            } else {
                shared_from
            };
        }
    }

    fn count_decodes(&mut self, counters: &Counters) {
        let decodes: u64 = self.inputs.values_mut().map(Input::take_decodes).sum();
        bump(&counters.decodes, decodes);
    }
}
