//! `Recorder`: one recording as its space's tick sees it. Each tick hands it
//! one 20 ms packet (the listeners' frame, the recording's own mix, or
//! silence); it lays them into Ogg pages of 1 s and hands each finished page
//! to the recording's writer thread (`writer.rs`): a tick never waits on the
//! disk, and pays a copy of ~100 bytes, plus the page's CRC once a second.
//!
//! A page is closed when the packet after its 50th arrives, not at the 50th
//! itself, so that whatever moment the recording stops, its last page is
//! still in hand to carry the end-of-stream flag.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::head::{FRAME_SAMPLES, INPUT_RATE, PRE_SKIP, SILENCE, opus_head, opus_tags};
use crate::ogg::{FLAG_BOS, FLAG_EOS, PageBuilder};
use crate::repair::repair;
use crate::stats::{Counters, Counts, RecordingStats, StatsReader};
use crate::writer::{PageOut, Writer};

/// Packets (20 ms each) in a page: a page a second.
pub const PAGE_FRAMES: usize = 50;

/// Where a tick's packet for the recording came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The listeners' frame, as it was: everyone mixed had consented.
    Shared,
    /// The recording's own mix: someone talking had not consented.
    Own,
    /// Silence: nobody who consented talked.
    Silent,
}

pub struct Recorder {
    path: PathBuf,
    pages: PageBuilder,
    /// Packets laid into pages so far (the page in hand included): the granule position.
    frames: u64,
    /// The page in hand's packets, by source.
    counts: Counts,
    writer: Option<Writer>,
    /// A page could not be handed over: no later page is, so the file has no hole.
    broken: bool,
    counters: Arc<Counters>,
}

impl Recorder {
    /// Creates the file at `path` (never over an existing one), writes the
    /// Ogg Opus headers (`OpusHead`, `OpusTags` naming `vendor`) with stream
    /// serial number `serial`, makes them durable (the file and its folder's
    /// entry), and starts the writer thread. Nothing is left behind on error.
    pub fn create(path: &Path, serial: u32, vendor: &str) -> io::Result<Self> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Self::start(path, file, serial, vendor).inspect_err(|_| {
            let _ = fs::remove_file(path);
        })
    }

    fn start(path: &Path, mut file: File, serial: u32, vendor: &str) -> io::Result<Self> {
        let mut pages = PageBuilder::new(serial, 0);
        pages.add(&opus_head(PRE_SKIP, INPUT_RATE));
        let head = pages.finish(FLAG_BOS, 0);
        pages.add(&opus_tags(vendor, &[]));
        let tags = pages.finish(0, 0);
        file.write_all(&head)?;
        file.write_all(&tags)?;
        file.sync_all()?;
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(folder)?.sync_all()?;
        let counters = Arc::new(Counters::default());
        let written = (head.len() + tags.len()) as u64;
        counters.written(head.len() + tags.len(), Counts::default());
        let writer = Writer::start(file, written, Arc::clone(&counters))?;
        Ok(Self {
            path: path.to_owned(),
            pages,
            frames: 0,
            counts: Counts::default(),
            writer: Some(writer),
            broken: false,
            counters,
        })
    }

    /// This tick's packet (one 20 ms Opus frame, at most 1,500 bytes).
    pub fn push(&mut self, source: Source, packet: &[u8]) {
        if self.pages.packets() >= PAGE_FRAMES || !self.pages.fits(packet.len()) {
            let page = self.take_page(0);
            self.hand_over(page);
        }
        self.pages.add(packet);
        self.frames += 1;
        match source {
            Source::Shared => self.counts.shared += 1,
            Source::Own => self.counts.own += 1,
            Source::Silent => self.counts.silent += 1,
        }
    }

    /// `ticks` of silence: ticks the space had nothing for the recording, or skipped.
    pub fn push_silence(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.push(Source::Silent, &SILENCE);
        }
    }

    /// Packets pushed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Reads this recording's figures from any thread.
    pub fn stats_reader(&self) -> StatsReader {
        StatsReader(Arc::clone(&self.counters))
    }

    /// Ends the stream: the page in hand goes out with the end-of-stream flag
    /// and the granule of its last sample, and this waits until the writer
    /// has synced it and closed the file. A recording with write errors is
    /// then repaired (`repair`), so its file ends well-formed wherever it
    /// stopped. Call it off the tick threads: it waits on the disk.
    pub fn finish(mut self) -> RecordingStats {
        self.end()
    }

    fn end(&mut self) -> RecordingStats {
        let Some(writer) = self.writer.take() else { return self.counters.snapshot() };
        if self.frames == 0 {
            self.push(Source::Silent, &SILENCE); // a stream holds at least one packet
        }
        let last = self.take_page(FLAG_EOS);
        if self.broken {
            self.counters.write_error();
        }
        writer.finish((!self.broken).then_some(last));
        if self.counters.snapshot().write_errors > 0 {
            // Best effort: a file that cannot be repaired now is repaired at the next start-up.
            let _ = repair(&self.path);
        }
        self.counters.snapshot()
    }

    fn take_page(&mut self, flags: u8) -> PageOut {
        let bytes = self.pages.finish(flags, self.frames * FRAME_SAMPLES);
        let counts = std::mem::take(&mut self.counts);
        PageOut { bytes, counts, last: flags & FLAG_EOS != 0 }
    }

    fn hand_over(&mut self, page: PageOut) {
        let handed = !self.broken && self.writer.as_ref().is_some_and(|writer| writer.try_send(page));
        if !handed {
            self.broken = true;
            self.counters.write_error();
        }
    }
}

impl Drop for Recorder {
    /// A recorder dropped without `finish` finishes now (on the dropping thread).
    fn drop(&mut self) {
        self.end();
    }
}
