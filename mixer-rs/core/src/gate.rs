//! Active-speaker gating: how loud each input's frame is, whether the input
//! counts as talking (a level threshold with a hold), and which talkers a tick
//! mixes when more of them talk than it may mix.

use crate::FRAME_SAMPLES;
use crate::codec::Pcm;

/// The lowest level reported, in dBFS: digital silence reads as this (the
/// floor of RFC 6464's audio-level header, which clients also speak).
pub const LEVEL_FLOOR_DBFS: i32 = -127;
/// An Opus packet this short carries no audio: a DTX or comfort-noise frame,
/// which is silence whatever its decoder makes of it.
pub const DTX_MAX_BYTES: usize = 2;
/// The most inputs one tick mixes: a space has at most 13 on the mic.
pub const MAX_MIXED_LIMIT: usize = 13;

/// Fraction of the way a falling level moves towards the frame's level each
/// tick (a rising one jumps at once): a talker is ranked by its recent peaks,
/// and a syllable's dip does not drop it from the ranking.
const RELEASE: f32 = 0.2;
/// Head start in the ranking for an input mixed last tick, so that two
/// talkers of about the same loudness do not take turns tick after tick.
const STICKY_DB: f32 = 3.0;

/// Level of one frame in dBFS: `20 log10(rms / 32768)`, from the floor up to 0.
///
/// A full-scale sine reads -3 dBFS. One pass of integer arithmetic (a square
/// fits in i32, 960 of them in u64) and one logarithm: about a microsecond.
pub fn level_dbfs(pcm: &Pcm) -> f32 {
    let energy: u64 = pcm.iter().map(|&s| u64::from((i32::from(s) * i32::from(s)).unsigned_abs())).sum();
    if energy == 0 {
        return LEVEL_FLOOR_DBFS as f32;
    }
    let mean_square = energy as f64 / (FRAME_SAMPLES as f64 * 32_768.0 * 32_768.0);
    (10.0 * mean_square.log10()).max(f64::from(LEVEL_FLOOR_DBFS)) as f32
}

/// One input's talking state, carried from tick to tick.
#[derive(Debug)]
pub(crate) struct Gate {
    /// Ticks since the last loud frame; `None` before the first.
    since_loud: Option<u32>,
    /// The level the ranking uses: instant attack, slow release.
    smoothed: f32,
    /// Whether the input was in the last tick's mix.
    pub(crate) in_mix: bool,
}

impl Gate {
    pub(crate) fn new() -> Self {
        Self { since_loud: None, smoothed: LEVEL_FLOOR_DBFS as f32, in_mix: false }
    }

    /// Takes this tick's frame level (the floor when the input played
    /// nothing) and whether the frame was loud: a real, non-DTX packet at or
    /// over the threshold. Returns whether the input is talking: loud now, or
    /// loud within the last `hold_ticks` ticks, so a gap between words does
    /// not cut the speech.
    pub(crate) fn update(&mut self, level: f32, loud: bool, hold_ticks: u32) -> bool {
        self.since_loud = if loud { Some(0) } else { self.since_loud.map(|n| n.saturating_add(1)) };
        self.smoothed =
            if level >= self.smoothed { level } else { self.smoothed + RELEASE * (level - self.smoothed) };
        self.since_loud.is_some_and(|n| n <= hold_ticks)
    }

    /// Where this input stands when more talk than are mixed: louder first,
    /// with a head start for those already in the mix.
    pub(crate) fn rank(&self) -> f32 {
        self.smoothed + if self.in_mix { STICKY_DB } else { 0.0 }
    }
}

/// Whether a frame counts as speech: a real packet longer than a DTX frame,
/// decoded to a level at or over `silence_dbfs`.
pub(crate) fn is_loud(packet_len: usize, level: f32, silence_dbfs: i32) -> bool {
    packet_len > DTX_MAX_BYTES && level >= silence_dbfs as f32
}

/// Keeps the `max` best-ranked of `talkers` (id, rank), ties to the lower id,
/// and leaves them in id order. A no-op, allocation-free, when `max` are or
/// fewer talk, which is nearly every tick.
pub(crate) fn keep_loudest<T>(talkers: &mut Vec<T>, max: usize, key: impl Fn(&T) -> (u64, f32)) {
    if talkers.len() <= max {
        return;
    }
    talkers.sort_unstable_by(|a, b| {
        let ((id_a, rank_a), (id_b, rank_b)) = (key(a), key(b));
        rank_b.total_cmp(&rank_a).then(id_a.cmp(&id_b))
    });
    talkers.truncate(max);
    talkers.sort_unstable_by_key(|t| key(t).0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(amplitude: i16) -> Pcm {
        let mut pcm = [amplitude; FRAME_SAMPLES];
        pcm.iter_mut().skip(1).step_by(2).for_each(|s| *s = -amplitude);
        pcm
    }

    #[test]
    fn levels_are_dbfs_of_the_rms() {
        assert_eq!(level_dbfs(&[0; FRAME_SAMPLES]), -127.0, "digital silence is the floor");
        assert_eq!(level_dbfs(&[i16::MIN; FRAME_SAMPLES]), 0.0, "full scale is 0 dBFS");
        assert!((level_dbfs(&square(3_277)) - -20.0).abs() < 0.01, "a tenth of full scale is -20 dB");
        let sine: Pcm = std::array::from_fn(|i| (16_384.0 * (i as f64 * 0.1).sin()) as i16);
        assert!(
            (level_dbfs(&sine) - -9.03).abs() < 0.1,
            "a half-scale sine: -6 dB for the amplitude, -3 for rms"
        );
        assert!(level_dbfs(&square(1)) < -90.0);
    }

    #[test]
    fn a_talker_stays_talking_for_the_hold_after_its_last_loud_frame() {
        let mut gate = Gate::new();
        assert!(!gate.update(-80.0, false, 3), "never loud yet");
        assert!(gate.update(-20.0, true, 3));
        for tick in 1..=3 {
            assert!(gate.update(-80.0, false, 3), "quiet tick {tick} is within the hold");
        }
        assert!(!gate.update(-80.0, false, 3), "the hold is over");
        assert!(gate.update(-20.0, true, 0) && !gate.update(-80.0, false, 0), "no hold at all");
    }

    #[test]
    fn the_ranking_level_rises_at_once_and_falls_slowly() {
        let mut gate = Gate::new();
        gate.update(-20.0, true, 10);
        assert_eq!(gate.rank(), -20.0);
        gate.update(-60.0, false, 10);
        assert!((gate.rank() - -28.0).abs() < 1e-4, "a fifth of the way down");
        gate.in_mix = true;
        assert!((gate.rank() - -25.0).abs() < 1e-4, "the incumbent's head start");
    }

    #[test]
    fn dtx_and_quiet_frames_are_not_loud() {
        assert!(is_loud(60, -30.0, -50));
        assert!(is_loud(60, -50.0, -50), "the threshold itself counts as talking");
        assert!(!is_loud(60, -50.5, -50));
        assert!(!is_loud(DTX_MAX_BYTES, -10.0, -50), "a DTX packet is silence whatever it decodes to");
    }

    #[test]
    fn the_loudest_are_kept_in_id_order_with_ties_to_the_lower_id() {
        let mut talkers = vec![(1, -30.0), (2, -10.0), (3, -40.0), (4, -20.0), (5, -10.0)];
        keep_loudest(&mut talkers, 3, |&t| t);
        assert_eq!(talkers, vec![(2, -10.0), (4, -20.0), (5, -10.0)]);
        keep_loudest(&mut talkers, 2, |&t| t);
        assert_eq!(talkers, vec![(2, -10.0), (5, -10.0)]);
        let mut tie = vec![(9, -10.0), (3, -10.0)];
        keep_loudest(&mut tie, 1, |&t| t);
        assert_eq!(tie, vec![(3, -10.0)]);
    }
}
