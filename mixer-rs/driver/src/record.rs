//! A space's recording as its driver runs it: what each tick hands the
//! `Recorder` (the listeners' packet, the recording's own mix, or silence),
//! and the errors of starting one. The file itself is the `recording`
//! crate's; consent is the mixer's (`Mixer::set_consent`).

use std::fmt;
use std::io;
use std::time::Instant;

use mixer_core::{RecordFrame, TickOutput};
use recording::{Recorder, RecordingStats, Source};

use crate::FRAME;

/// A space's running recording, and when it started.
pub(crate) struct Running {
    pub(crate) recorder: Recorder,
    started: Instant,
}

impl Running {
    pub(crate) fn new(recorder: Recorder) -> Self {
        Self { recorder, started: Instant::now() }
    }

    /// Ends the recording (off the tick threads: this waits on the disk).
    ///
    /// A file is as long as its recording was: ticks a pool too busy to run
    /// them by now (late, not yet skipped) are owed, and written as silence.
    pub(crate) fn finish(mut self) -> RecordingStats {
        let due = u64::try_from(self.started.elapsed().as_micros() / FRAME.as_micros()).unwrap_or(u64::MAX);
        self.recorder.push_silence(due.saturating_sub(self.recorder.frames()));
        self.recorder.finish()
    }
}

/// Why a recording did not start.
#[derive(Debug)]
pub enum RecordError {
    /// One is running already: stop it first.
    AlreadyRecording,
    /// The driver was stopped: its space is over.
    Stopped,
    /// The file could not be created or its headers written (nothing is left behind).
    Io(io::Error),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyRecording => write!(f, "the space is recording already"),
            Self::Stopped => write!(f, "the space's driver is stopped"),
            Self::Io(err) => write!(f, "cannot create the recording: {err}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// What the `OpusTags` header names as the encoder.
pub(crate) fn vendor() -> String {
    format!("Stoa {} ({})", env!("CARGO_PKG_VERSION"), mixer_core::opus_version())
}

/// Hands `recorder` this tick's packet: from `out`, the tick's output when
/// the mixer ran with a recording frame, or silence (a tick where the mixer
/// did not run, or failed).
pub(crate) fn record(recorder: &mut Recorder, out: Option<&TickOutput>) {
    let Some(out) = out else { return recorder.push_silence(1) };
    match (&out.recording, &out.shared) {
        (Some(RecordFrame::Shared), Some(shared)) => recorder.push(Source::Shared, shared),
        (Some(RecordFrame::Own(own)), _) => recorder.push(Source::Own, own),
        _ => recorder.push_silence(1),
    }
}
