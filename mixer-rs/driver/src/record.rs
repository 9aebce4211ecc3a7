//! A space's recording as its driver runs it: the `Driver`'s recording
//! methods (start, consent, stop, figures), what each tick hands the
//! `Recorder` (the listeners' packet, the recording's own mix, or silence),
//! and the errors of starting one. The file itself is the `recording`
//! crate's; consent is the mixer's (`Mixer::set_consent`).

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mixer_core::{RecordFrame, TickOutput};
use recording::{Recorder, RecordingStats, Source, StatsReader};

use crate::space::Driver;
use crate::{FRAME, lock};

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

/// A space's recording, as its driver starts, consents to and stops it.
impl Driver {
    /// Starts recording the space into a new file at `path` (never over an
    /// existing one), an Ogg Opus stream with serial number `serial`, from the
    /// next tick on; from then the space ticks every 20 ms, talking or not.
    /// The file is created and its headers made durable here, on the
    /// caller's thread; the tick threads only hand pages to the recording's
    /// writer thread.
    pub fn start_recording(&self, path: &Path, serial: u32) -> Result<(), RecordError> {
        let slot = &self.slot;
        if slot.stopped.load(Ordering::SeqCst) {
            return Err(RecordError::Stopped);
        }
        if slot.recording.swap(true, Ordering::SeqCst) {
            return Err(RecordError::AlreadyRecording);
        }
        // The file is made without the tick's lock: a tick never waits on the disk.
        let recorder = match Recorder::create(path, serial, &vendor()) {
            Ok(recorder) => recorder,
            Err(err) => {
                slot.recording.store(false, Ordering::SeqCst);
                return Err(RecordError::Io(err));
            }
        };
        let stats = recorder.stats_reader();
        {
            let mut st = lock(&slot.state);
            // Checked under the lock that `stop` takes after setting it: no recorder outlives a stop.
            if slot.stopped.load(Ordering::SeqCst) {
                drop(st);
                recorder.finish();
                slot.recording.store(false, Ordering::SeqCst);
                return Err(RecordError::Stopped);
            }
            st.recording = Some(Running::new(recorder));
        }
        *lock(&slot.recording_stats) = Some(stats);
        slot.wake(&self.pool);
        Ok(())
    }

    /// Whether input `input`'s voice may enter the recording (default: it may
    /// not), from the next tick on; kept whether or not a recording runs, and
    /// forgotten when the input is removed from the mixer.
    pub fn set_consent(&self, input: u64, consent: bool) {
        self.slot.mixer.set_consent(input, consent);
    }

    /// Ends the recording: its last page goes out with the end-of-stream flag
    /// and is synced (after a tick under way ends; this waits on the disk).
    /// Ticks a busy pool still owed it are written as silence first, so the
    /// file is as long as the recording ran. `None` if none was running.
    pub fn stop_recording(&self) -> Option<RecordingStats> {
        let running = lock(&self.slot.state).recording.take()?;
        let stats = running.finish();
        *lock(&self.slot.recording_stats) = None;
        self.slot.recording.store(false, Ordering::SeqCst);
        Some(stats)
    }

    /// The running recording's figures so far (what its file holds now).
    pub fn recording_stats(&self) -> Option<RecordingStats> {
        lock(&self.slot.recording_stats).as_ref().map(StatsReader::get)
    }
}
