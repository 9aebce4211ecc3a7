//! `Batching`: how many 20 ms frames a space puts in one message to its
//! audience, chosen from the audience's size.
//!
//! What a message costs. The fan-out writes each message to each listener
//! with one `sendmsg`; a system call on a loopback TCP socket costs several
//! microseconds (the kernel's TCP work included), the bytes of one more
//! 80-byte frame in it a few percent of that. So the fan-out's cost is its
//! sends: a space of L listeners at N frames per message costs 50 × L / N
//! sends a second, and N frames per message cost about 1/N of one (measured:
//! `examples/batching_cost.rs`, bench/results/batching.json). What batching
//! costs is delay: the first frame of a message waits (N − 1) × 20 ms for the
//! last.
//!
//! The rule. The server's sends stay under a budget: N frames per message
//! serve up to N × `listeners_per_frame` listeners (default 2,500: 125,000
//! sends a second, so that one space of 10,000 listeners and its speakers
//! stays at 5 frames per message, what was measured to hold its p99). The budget is the server's, not each space's, because one writer
//! thread sends for every space: 200 spaces of 50 listeners cost it what one
//! space of 10,000 does. So the audience a space's step is chosen for is the
//! larger of its own and the server's (the listeners of every talking space,
//! as their last messages reached them: `TickPool::audience`, a space's part
//! counted while it talks). A space takes the smallest of the steps 1, 2, 3,
//! 5, 10 (up to `max`) whose capacity holds that audience: one frame, the
//! lowest delay, while the server's talking spaces have at most 2,500
//! listeners in all; 5 frames (80 ms more for the first frame of each
//! message) at 10,000. Past the top step it stays there: the budget then no
//! longer holds, and the delay does not grow without bound.
//!
//! Hysteresis. A growing audience moves a space up as soon as it outgrows its
//! step; a shrinking one moves it down only once the audience fits within
//! `DOWN_PERCENT` of a lower step's capacity. So an audience wavering around
//! a threshold does not switch back and forth: going down from 2 frames to 1
//! takes 500 of 2,500 listeners leaving.
//!
//! Pressure. The audience tells what the sends cost, not what else the
//! server does on the same cores (mixing many conversations, reading their
//! speakers). When the fan-out's writers are saturated, each space also keeps
//! a floor a step above what it had (`pressure.rs`), lowered again only after
//! a long calm: the step is the larger of the audience's and the floor.
//!
//! When. The driver asks at a message boundary only (after a flush, with the
//! audience the flush just reached), so a switch never splits, reorders,
//! repeats or drops a frame: the next message simply holds more or fewer.

/// The frame counts a space moves between, smallest first.
pub const STEPS: [usize; 5] = [1, 2, 3, 5, 10];
/// Listeners one frame per message serves, by default (see the module's notes).
pub const LISTENERS_PER_FRAME: usize = 2_500;
/// A space moves down a step only when its audience fits within this share of the lower step's capacity.
pub const DOWN_PERCENT: usize = 80;

/// How a space chooses its frames per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Batching {
    /// Always this many (1 to `MAX_FRAMES_PER_MESSAGE`): load tests that need one size.
    Fixed(usize),
    /// From the audience, as the module's notes say, never above `max`.
    Auto { max: usize, listeners_per_frame: usize },
}

impl Default for Batching {
    fn default() -> Self {
        Self::Auto { max: crate::MAX_FRAMES_PER_MESSAGE, listeners_per_frame: LISTENERS_PER_FRAME }
    }
}

impl Batching {
    /// The same policy with every figure in range: frames 1 to `MAX_FRAMES_PER_MESSAGE`, at least one listener per frame.
    pub fn clamped(self) -> Self {
        let frames = |n: usize| n.clamp(1, crate::MAX_FRAMES_PER_MESSAGE);
        match self {
            Self::Fixed(n) => Self::Fixed(frames(n)),
            Self::Auto { max, listeners_per_frame } => {
                Self::Auto { max: frames(max), listeners_per_frame: listeners_per_frame.max(1) }
            }
        }
    }

    /// The most frames a message may hold: the fixed count, or `max`.
    pub fn max_frames(self) -> usize {
        match self.clamped() {
            Self::Fixed(n) => n,
            Self::Auto { max, .. } => max,
        }
    }

    /// Frames per message before anything is known of the audience: the fixed
    /// count, or one (the lowest delay; the first message tells the audience).
    pub fn initial(self) -> usize {
        match self.clamped() {
            Self::Fixed(n) => n,
            Self::Auto { .. } => 1,
        }
    }

    /// Frames per message for the next message as the audience alone would
    /// have it, given what it had for the last (`current`) and the audience to
    /// serve (`audience`: the larger of the listeners the last message reached
    /// and the server's, see the notes).
    pub fn next(self, current: usize, audience: usize) -> usize {
        let Self::Auto { max, listeners_per_frame: per } = self.clamped() else {
            return self.initial();
        };
        let holds = |step: usize, percent: usize| {
            audience.saturating_mul(100) <= step.saturating_mul(per).saturating_mul(percent)
        };
        let wanted = self.steps().find(|&s| holds(s, 100)).unwrap_or(max);
        if wanted >= current {
            // Growing (or a `current` this policy never chose): straight to the step that holds it.
            return wanted;
        }
        // Shrinking: the smallest step that holds it with room to spare, if that is below the current one.
        self.steps().find(|&s| holds(s, DOWN_PERCENT)).filter(|&s| s < current).unwrap_or(current.min(max))
    }

    /// The frames per message a space sends: the audience's (`next`), or the
    /// pressure's `floor` (0 for none) if higher; a fixed count stays fixed.
    pub fn floored(self, frames: usize, floor: usize) -> usize {
        match self.clamped() {
            Self::Fixed(n) => n,
            Self::Auto { max, .. } => frames.max(floor.min(max)),
        }
    }

    /// The step above `frames` (the top one if none is): a floor raised by the pressure.
    pub fn step_above(self, frames: usize) -> usize {
        self.steps().find(|&s| s > frames).unwrap_or(self.max_frames())
    }

    /// The step below `floor`, or 0 (no floor): a floor lowered by the pressure.
    pub fn step_below(self, floor: usize) -> usize {
        self.steps().filter(|&s| s < floor).last().unwrap_or(0)
    }

    /// The steps up to `max`, smallest first (`max` a step of its own).
    fn steps(self) -> impl Iterator<Item = usize> {
        let max = self.max_frames();
        STEPS.iter().copied().filter(move |&s| s < max).chain(std::iter::once(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTO: Batching = Batching::Auto { max: 10, listeners_per_frame: 2_000 };

    /// The audience grows from `from` to `to` one listener at a time (or shrinks), starting at `frames`.
    fn walk(
        policy: Batching,
        mut frames: usize,
        audiences: impl Iterator<Item = usize>,
    ) -> Vec<(usize, usize)> {
        let mut switches = Vec::new();
        for audience in audiences {
            let next = policy.next(frames, audience);
            if next != frames {
                switches.push((audience, next));
            }
            frames = next;
        }
        switches
    }

    #[test]
    fn a_growing_audience_moves_up_as_each_step_fills() {
        let switches = walk(AUTO, 1, 0..=25_000);
        assert_eq!(switches, vec![(2_001, 2), (4_001, 3), (6_001, 5), (10_001, 10)]);
    }

    #[test]
    fn a_shrinking_audience_moves_down_only_well_inside_a_lower_step() {
        let switches = walk(AUTO, 10, (0..=25_000).rev());
        assert_eq!(switches, vec![(8_000, 5), (4_800, 3), (3_200, 2), (1_600, 1)]);
    }

    #[test]
    fn an_audience_wavering_at_a_threshold_switches_once() {
        let wavering = (0..100).map(|i| if i % 2 == 0 { 2_001 } else { 1_990 });
        assert_eq!(walk(AUTO, 1, wavering), vec![(2_001, 2)]);
    }

    #[test]
    fn the_table_at_the_sizes_the_docs_quote() {
        for (audience, frames) in
            [(0, 1), (1_000, 1), (2_000, 1), (3_000, 2), (5_000, 3), (10_000, 5), (50_000, 10)]
        {
            assert_eq!(AUTO.next(1, audience), frames, "{audience} listeners");
        }
    }

    #[test]
    fn the_ceiling_is_a_step_of_its_own_and_never_exceeded() {
        let four = Batching::Auto { max: 4, listeners_per_frame: 10 };
        assert_eq!(walk(four, 1, 0..=1_000), vec![(11, 2), (21, 3), (31, 4)]);
        assert_eq!(Batching::Auto { max: 1, listeners_per_frame: 1 }.next(1, 1_000_000), 1);
    }

    #[test]
    fn fixed_never_changes_and_out_of_range_figures_are_clamped() {
        assert_eq!(Batching::Fixed(5).next(1, 0), 5);
        assert_eq!(Batching::Fixed(0).initial(), 1);
        assert_eq!(Batching::Fixed(99).next(3, 1_000_000), 10);
        assert_eq!(Batching::Auto { max: 0, listeners_per_frame: 0 }.next(7, 5), 1);
        assert_eq!(AUTO.initial(), 1);
    }

    #[test]
    fn a_floor_holds_a_space_above_its_audiences_step_and_never_past_the_top() {
        assert_eq!(AUTO.floored(AUTO.next(5, 10_000), 10), 10, "200 spaces of 50 on saturated writers");
        assert_eq!(AUTO.floored(AUTO.next(1, 50), 2), 2, "a small space on a saturated server");
        assert_eq!(AUTO.floored(AUTO.next(10, 50_000), 5), 10, "the audience's step above the floor");
        assert_eq!(AUTO.floored(3, 0), 3, "no floor");
        assert_eq!(Batching::Auto { max: 4, listeners_per_frame: 10 }.floored(1, 10), 4);
        assert_eq!(Batching::Fixed(5).floored(5, 10), 5, "a fixed count is fixed");
        // Raised one step at a time from what a space has, lowered one step at a time to none.
        assert_eq!([1, 2, 3, 5, 10].map(|f| AUTO.step_above(f)), [2, 3, 5, 10, 10]);
        assert_eq!([10, 5, 3, 2, 1, 0].map(|f| AUTO.step_below(f)), [5, 3, 2, 1, 0, 0]);
        assert_eq!(Batching::Auto { max: 4, listeners_per_frame: 10 }.step_above(3), 4);
    }
}
