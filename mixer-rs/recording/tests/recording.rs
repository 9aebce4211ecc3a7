//! A recording's file read back page by page with the crate's own checked
//! reader: the headers RFC 7845 asks for, a page a second, granules that
//! follow the packets, the end-of-stream flag on the last page only; and
//! the repair of every way a crash can cut a file. (`opusinfo` and
//! `opusdec`, independent readers, check real recordings in
//! tests/mixer/test_recording.py.)

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::scratch;
use recording::head::{FRAME_SAMPLES, PRE_SKIP, SILENCE, read_pre_skip};
use recording::ogg::{FLAG_BOS, FLAG_EOS, Page, pages};
use recording::{PAGE_FRAMES, Recorder, Source, repair};

/// A packet that names its index, so tests can tell packets apart.
fn packet(i: u64) -> Vec<u8> {
    let mut p = vec![0xFC]; // any bytes do: the container never reads a packet
    p.extend_from_slice(&i.to_le_bytes());
    p.resize(40 + (i % 7) as usize * 37, 0x55);
    p
}

fn record(path: &Path, frames: u64) -> recording::RecordingStats {
    let mut recorder = Recorder::create(path, 0x5704, "Stoa test").unwrap();
    for i in 0..frames {
        match i % 3 {
            0 => recorder.push(Source::Shared, &packet(i)),
            1 => recorder.push(Source::Own, &packet(i)),
            _ => recorder.push_silence(1),
        }
    }
    recorder.finish()
}

#[test]
fn a_finished_recording_has_rfc_7845s_structure() {
    let path = scratch("structure");
    let frames = 3 * PAGE_FRAMES as u64 + 17;
    let stats = record(&path, frames);
    let bytes = fs::read(&path).unwrap();
    let pages = pages(&bytes);
    let end = pages.last().map(|(at, page)| at + page.bytes.len()).unwrap();
    assert_eq!(end, bytes.len(), "every byte is in a valid page (capture, lengths, CRC)");

    let head = &pages[0].1;
    assert_eq!((head.flags, head.granule, head.serial), (FLAG_BOS, 0, 0x5704));
    assert_eq!(head.packets().len(), 1, "OpusHead alone on the first page");
    assert_eq!(read_pre_skip(head.packets()[0]), Some(PRE_SKIP));
    let tags = &pages[1].1;
    assert_eq!((tags.flags, tags.granule), (0, 0));
    assert!(tags.packets()[0].starts_with(b"OpusTags\x09\0\0\0Stoa test"));

    let audio = &pages[2..];
    assert_eq!(audio.len(), 4, "50 packets a page: 50, 50, 50, 17");
    let mut seen = 0u64;
    for (n, (_, page)) in audio.iter().enumerate() {
        assert_eq!(page.sequence, n as u32 + 2, "numbered in order");
        assert_eq!(page.serial, 0x5704);
        for p in page.packets() {
            let expected = if seen % 3 == 2 { SILENCE.to_vec() } else { packet(seen) };
            assert_eq!(p, &expected[..], "packet {seen} in order, whole");
            seen += 1;
        }
        assert_eq!(page.granule, seen * FRAME_SAMPLES, "granule: the samples up to the page's last packet");
        let last = n == audio.len() - 1;
        assert_eq!(page.flags, if last { FLAG_EOS } else { 0 });
    }
    assert_eq!(seen, frames);
    assert_eq!(stats.frames, frames);
    assert_eq!((stats.frames_shared, stats.frames_own, stats.frames_silent), (56, 56, 55));
    assert_eq!(stats.bytes, bytes.len() as u64);
    assert_eq!(stats.duration_ms, (frames * 960 - 312) / 48);
    assert_eq!(stats.write_errors, 0);
}

#[test]
fn a_recording_stopped_at_once_still_holds_one_packet_and_an_end() {
    let path = scratch("empty");
    let stats = record(&path, 0);
    let bytes = fs::read(&path).unwrap();
    let pages = pages(&bytes);
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[2].1.packets(), vec![&SILENCE[..]]);
    assert_eq!((pages[2].1.flags, pages[2].1.granule), (FLAG_EOS, FRAME_SAMPLES));
    assert_eq!((stats.frames, stats.frames_silent), (1, 1));
}

#[test]
fn a_recording_never_replaces_an_existing_file() {
    let path = scratch("exists");
    fs::write(&path, b"precious").unwrap();
    let err = Recorder::create(&path, 1, "x").err().unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(fs::read(&path).unwrap(), b"precious");
    let missing = scratch("dir").with_file_name("no-such-folder/part-0.opus");
    assert_eq!(Recorder::create(&missing, 1, "x").err().unwrap().kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn pages_reach_the_file_while_recording_so_a_kill_keeps_all_but_the_last_second() {
    let path = scratch("live");
    let mut recorder = Recorder::create(&path, 9, "x").unwrap();
    recorder.push_silence(3 * PAGE_FRAMES as u64 + 1); // the 151st packet closes page 3
    let reader = recorder.stats_reader();
    let deadline = Instant::now() + Duration::from_secs(10);
    while reader.get().frames < 3 * PAGE_FRAMES as u64 {
        assert!(Instant::now() < deadline, "the writer thread wrote nothing");
        std::thread::sleep(Duration::from_millis(5));
    }
    // What a SIGKILL now would leave: the file as it is.
    let copy = path.with_extension("killed.opus");
    fs::copy(&path, &copy).unwrap();
    assert_eq!(repair(&copy).unwrap(), (150 * 960 - 312) / 48, "3 s, less the pre-skip");
    let repaired = fs::read(&copy).unwrap();
    let last = pages(&repaired).last().map(|(_, p)| (p.flags, p.granule)).unwrap();
    assert_eq!(last, (FLAG_EOS, 150 * FRAME_SAMPLES));
    recorder.finish();
}

#[test]
fn repair_cuts_a_torn_page_at_any_byte_and_ends_the_stream() {
    let path = scratch("torn");
    record(&path, 2 * PAGE_FRAMES as u64 + 10);
    let whole = fs::read(&path).unwrap();
    let page_ends: Vec<usize> = pages(&whole).iter().map(|(at, page)| at + page.bytes.len()).collect();
    let second_audio = page_ends[2];
    // Every cut inside the second and third audio pages: the file keeps the whole pages before the cut.
    let boundaries = page_ends.iter().copied().filter(|&end| end > second_audio && end < whole.len());
    for cut in (second_audio + 1..whole.len()).step_by(19).chain(boundaries) {
        let torn = path.with_extension(format!("cut{cut}.opus"));
        fs::write(&torn, &whole[..cut]).unwrap();
        let whole_pages = page_ends.iter().filter(|&&end| end <= cut).count();
        let duration = repair(&torn).unwrap();
        let fixed = fs::read(&torn).unwrap();
        let read = pages(&fixed);
        assert_eq!(read.len(), whole_pages, "cut at {cut}");
        let (at, last) = read.last().unwrap();
        assert_eq!(at + last.bytes.len(), fixed.len(), "nothing after the last page");
        assert_eq!(last.flags & FLAG_EOS, FLAG_EOS);
        assert_eq!(duration, (last.granule - 312) * 1000 / 48_000);
        assert_eq!(repair(&torn).unwrap(), duration, "a second repair changes nothing");
        assert_eq!(fs::read(&torn).unwrap(), fixed);
        fs::remove_file(&torn).unwrap();
    }
}

#[test]
fn repair_leaves_a_finished_file_alone_and_refuses_what_is_no_recording() {
    let path = scratch("finished");
    record(&path, 75);
    let before = fs::read(&path).unwrap();
    assert_eq!(repair(&path).unwrap(), (75 * 960 - 312) / 48);
    assert_eq!(fs::read(&path).unwrap(), before);

    // Killed before the first audio page: headers only, so it gets one packet of silence and an end.
    let headers_only = path.with_extension("headers.opus");
    let tags_end = pages(&before)[1].0 + pages(&before)[1].1.bytes.len();
    fs::write(&headers_only, &before[..tags_end + 10]).unwrap();
    assert_eq!(repair(&headers_only).unwrap(), 13);
    let fixed = fs::read(&headers_only).unwrap();
    let last = Page::read(&fixed[tags_end..]).unwrap();
    assert_eq!((last.flags, last.granule, last.sequence), (FLAG_EOS, 960, 2));

    let junk = path.with_extension("junk.opus");
    fs::write(&junk, b"not an ogg file at all").unwrap();
    assert_eq!(repair(&junk).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    fs::write(&junk, &before[..30]).unwrap();
    assert_eq!(repair(&junk).unwrap_err().kind(), std::io::ErrorKind::InvalidData, "a torn OpusHead page");
}
