//! The writer thread of one recording ("stoa-rec"): it takes finished pages
//! from the tick side through a bounded channel and appends them to the
//! file, syncing at least every 2 s of audio, so the tick threads never
//! touch the disk.
//!
//! Crash safety: a page is written whole as soon as it is handed over (one
//! a second), so a process killed at any moment leaves every page before the
//! one being built; the kernel keeps what was written even though the
//! process dies. The syncs are for the machine itself failing: then at most
//! the last 2 s of audio, plus whatever the disk had not made durable, are
//! lost. A torn last page (a write cut in the middle) is what `repair` drops.
//!
//! A failed write ends the file at its last whole page (the torn bytes are
//! cut off) and every later page is counted as a write error: a file with a
//! hole in the middle would play worse than one that ends early.

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

use crate::stats::{Counters, Counts};

/// Audio (20 ms packets) between two syncs, at most: 2 s.
pub const SYNC_FRAMES: u64 = 100;
/// Pages held for a disk that has fallen behind: 2 minutes of audio (about
/// 600 KB at 40 kbit/s); past that the recording stops growing (write errors).
const BACKLOG_PAGES: usize = 120;
/// The thread only writes and syncs.
const STACK_BYTES: usize = 128 * 1024;

/// A finished page on its way to the file.
pub(crate) struct PageOut {
    pub(crate) bytes: Vec<u8>,
    pub(crate) counts: Counts,
    /// The stream's last page: synced at once.
    pub(crate) last: bool,
}

pub(crate) struct Writer {
    pages: Option<SyncSender<PageOut>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread that appends to `file`, whose first `written` bytes are there already.
    pub(crate) fn start(file: File, written: u64, counters: Arc<Counters>) -> io::Result<Self> {
        let (pages, received) = sync_channel(BACKLOG_PAGES);
        let thread = thread::Builder::new()
            .name("stoa-rec".into())
            .stack_size(STACK_BYTES)
            .spawn(move || write_pages(file, written, &received, &counters))?;
        Ok(Self { pages: Some(pages), thread: Some(thread) })
    }

    /// Hands a page over without waiting (a tick thread calls this); false if
    /// the backlog is full or the thread is gone, and the page is dropped.
    pub(crate) fn try_send(&self, page: PageOut) -> bool {
        match &self.pages {
            Some(pages) => pages.try_send(page).is_ok(),
            None => false,
        }
    }

    /// Hands the last page over (waiting for room), and waits until the
    /// thread has written and synced everything and closed the file.
    pub(crate) fn finish(mut self, last: Option<PageOut>) {
        if let (Some(pages), Some(last)) = (self.pages.take(), last) {
            // An error means the thread is gone: its pages are lost either way.
            let _ = pages.send(last);
        }
        self.pages = None;
        if let Some(thread) = self.thread.take() {
            // A panic in the writer is a bug; the panic hook has reported it.
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.pages = None; // closes the channel: the thread writes what it has and ends
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_pages(mut file: File, mut written: u64, pages: &Receiver<PageOut>, counters: &Counters) {
    let mut unsynced = 0u64;
    let mut failed = false;
    // Ends when the tick side drops its sender (the recording finished or was dropped).
    for page in pages {
        if failed {
            counters.write_error();
            continue;
        }
        if file.write_all(&page.bytes).is_err() {
            counters.write_error();
            failed = true;
            // What a failed write left of the page goes; the file ends at its last whole page.
            let _ = file.set_len(written);
            continue;
        }
        written += page.bytes.len() as u64;
        counters.written(page.bytes.len(), page.counts);
        unsynced += page.counts.frames();
        if unsynced >= SYNC_FRAMES || page.last {
            if file.sync_data().is_err() {
                counters.write_error();
            }
            unsynced = 0;
        }
    }
    if unsynced > 0 && !failed && file.sync_data().is_err() {
        counters.write_error();
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{self, OpenOptions};

    use super::*;

    fn page(bytes: &[u8], silent: u64) -> PageOut {
        PageOut { bytes: bytes.to_vec(), counts: Counts { silent, ..Counts::default() }, last: false }
    }

    #[test]
    fn a_failed_write_is_counted_and_nothing_after_it_is_written() {
        let path = std::env::temp_dir().join(format!("stoa-writer-{}.bin", std::process::id()));
        fs::write(&path, b"headers").unwrap();
        // A descriptor that refuses writes: every write fails, as on a full or failing disk.
        let file = OpenOptions::new().read(true).open(&path).unwrap();
        let counters = Arc::new(Counters::default());
        let writer = Writer::start(file, 7, Arc::clone(&counters)).unwrap();
        assert!(writer.try_send(page(b"one", 50)));
        assert!(writer.try_send(page(b"two", 50)));
        writer.finish(Some(page(b"end", 1)));
        let stats = counters.snapshot();
        assert_eq!((stats.write_errors, stats.frames, stats.bytes), (3, 0, 0));
        assert_eq!(fs::read(&path).unwrap(), b"headers", "the file keeps what it had");
        fs::remove_file(&path).unwrap();
    }

    #[test]
    fn pages_are_appended_in_order_and_counted() {
        let path = std::env::temp_dir().join(format!("stoa-writer-ok-{}.bin", std::process::id()));
        fs::write(&path, b"h").unwrap();
        let file = OpenOptions::new().append(true).open(&path).unwrap();
        let counters = Arc::new(Counters::default());
        let writer = Writer::start(file, 1, Arc::clone(&counters)).unwrap();
        for p in [&b"ab"[..], b"cd", b"ef"] {
            assert!(writer.try_send(page(p, 50)));
        }
        writer.finish(Some(PageOut { last: true, ..page(b"g", 3) }));
        assert_eq!(fs::read(&path).unwrap(), b"habcdefg");
        let stats = counters.snapshot();
        assert_eq!((stats.frames, stats.frames_silent, stats.bytes, stats.write_errors), (153, 153, 7, 0));
        fs::remove_file(&path).unwrap();
    }
}
