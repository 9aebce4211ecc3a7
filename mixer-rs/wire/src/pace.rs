//! The pace of one connection's `audio` messages (docs/protocol.md, Rate limits and caps): a token
//! bucket that goes into debt for the messages over the pace and is repaid at the pace. The reader
//! keeps one per connection; the Python transport uses the same one through the binding.

use std::time::Instant;

/// Audio messages a connection may send at once by default (5 s of one stream)...
pub const AUDIO_BURST: u32 = 250;
/// ... and then a second (twice one stream's real pace); the messages beyond are dropped unread (a
/// backlog after a stall: stale by then, and more than the mixer's queue would keep). No one speaks
/// faster than real time, and every message costs the reader, which reads for every client.
pub const AUDIO_PER_SECOND: u32 = 100;
/// A connection this many messages over that pace (not since repaid by slower sending) is no stalled
/// speaker's: it is closed with `AUDIO_TOO_FAST`.
pub const AUDIO_OVER_PACE: u32 = 2_500;
/// The close code (policy violation) and reason of a connection that sent audio too fast.
pub const AUDIO_TOO_FAST: (u16, &str) = (1008, "audio faster than real time");

/// A pace's figures (`WireConfig::audio_pace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceLimits {
    /// Messages at once.
    pub burst: u32,
    /// Then messages a second.
    pub per_second: u32,
    /// Messages over the pace, not since repaid, that close the connection.
    pub over: u32,
}

impl Default for PaceLimits {
    fn default() -> Self {
        Self { burst: AUDIO_BURST, per_second: AUDIO_PER_SECOND, over: AUDIO_OVER_PACE }
    }
}

/// What `AudioPace::take` makes of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paced {
    Within,
    /// Over the pace: dropped.
    Over,
    /// So far over it that the connection is closed (`AUDIO_TOO_FAST`).
    TooFast,
}

impl Paced {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Within => "within",
            Self::Over => "over",
            Self::TooFast => "too_fast",
        }
    }
}

/// One connection's pace: it starts with the whole burst.
#[derive(Debug, Clone)]
pub struct AudioPace {
    limits: PaceLimits,
    /// Messages it may still send at once; below 0, its debt.
    tokens: f64,
    at: Instant,
}

impl AudioPace {
    pub fn new(limits: PaceLimits, now: Instant) -> Self {
        Self { limits, tokens: f64::from(limits.burst), at: now }
    }

    /// Spends one message at `now`.
    pub fn take(&mut self, now: Instant) -> Paced {
        let PaceLimits { burst, per_second, over } = self.limits;
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * f64::from(per_second);
        self.tokens = (self.tokens + refill).min(f64::from(burst)) - 1.0;
        self.at = now;
        if self.tokens >= 0.0 {
            Paced::Within
        } else if self.tokens >= -f64::from(over) {
            Paced::Over
        } else {
            Paced::TooFast
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_pace_then_debt_then_the_close() {
        let start = Instant::now();
        let mut pace = AudioPace::new(PaceLimits { burst: 3, per_second: 10, over: 2 }, start);
        let at_once: Vec<Paced> = (0..6).map(|_| pace.take(start)).collect();
        use Paced::*;
        assert_eq!(at_once, [Within, Within, Within, Over, Over, TooFast]);
        // 0.5 s at 10 a second repays the debt of 3 and refills 2.
        let later = start + Duration::from_millis(500);
        assert_eq!([pace.take(later), pace.take(later), pace.take(later)], [Within, Within, Over]);
    }
}
