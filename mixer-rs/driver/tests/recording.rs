//! A space's recording as the tick pool runs it, read back from its file:
//! the consenting speaker's voice in it and the other's not, the space's
//! time kept through silences (the space ticks while recording though
//! nobody talks), and the ways a recording starts and ends.

#[path = "../../recording/tests/common/mod.rs"]
mod files;
#[path = "../../core/tests/common/mod.rs"]
mod signal;

use std::fs;
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use driver::{Batching, Driver, MAX_BEHIND, RecordError, TickPool};
use fanout::{Fanout, FanoutConfig};
use files::scratch;
use mixer_core::{Decoder, Encoder, Frame, Mixer, MixerConfig};
use recording::head::{FRAME_SAMPLES, PRE_SKIP, SILENCE};
use recording::ogg::{FLAG_EOS, pages};
use signal::{db_ratio, sine_frame};

const CONSENTING: u64 = 1;
const DECLINING: u64 = 2;

struct Space {
    pool: TickPool,
    mixer: Arc<Mixer>,
    driver: Driver,
}

fn space() -> Space {
    let fanout = Arc::new(
        Fanout::new(FanoutConfig { max_queue_bytes: 1 << 20, max_audio_messages: 64, writers: 2 }).unwrap(),
    );
    let mixer = Arc::new(Mixer::new(MixerConfig::default()).unwrap());
    let pool = TickPool::new(2, 8).unwrap();
    let group = fanout.new_group(); // an audience of no one: this is about the file
    let driver = Driver::start(&pool, Arc::clone(&mixer), fanout, group, Batching::Fixed(1), 0);
    Space { pool, mixer, driver }
}

/// Every packet of the file's audio pages, decoded in order as a player would.
fn decode_file(bytes: &[u8]) -> Vec<i16> {
    let pages = pages(bytes);
    signal::decode_stream(pages[2..].iter().flat_map(|(_, page)| page.packets()).map(Some))
}

#[test]
fn the_recording_holds_the_consenting_voice_not_the_other_and_the_spaces_time() {
    let Space { pool, mixer, driver } = space();
    mixer.add_input(CONSENTING).unwrap();
    mixer.add_input(DECLINING).unwrap();
    driver.set_consent(CONSENTING, true);
    let path = scratch("consent");
    let started = Instant::now();
    driver.start_recording(&path, 0xC0FFEE).unwrap();
    sleep(Duration::from_millis(400)); // silence first: nobody talks, the space ticks all the same
    let (mut a, mut b) = (Encoder::new(32_000, 5).unwrap(), Encoder::new(32_000, 5).unwrap());
    let talk = Instant::now();
    for n in 0..75 {
        mixer
            .push(CONSENTING, Frame::new(n as u64, 1, a.encode(&sine_frame(440.0, 8_000.0, n)).unwrap()))
            .unwrap();
        mixer
            .push(DECLINING, Frame::new(n as u64, 1, b.encode(&sine_frame(1_000.0, 8_000.0, n)).unwrap()))
            .unwrap();
        driver.notify();
        sleep((talk + Duration::from_millis(20 * (n as u64 + 1))).saturating_duration_since(Instant::now()));
    }
    sleep(Duration::from_millis(600)); // and silence after
    assert_eq!(pool.talking(), 1, "a recording space ticks though nobody talks");
    let stats = driver.stop_recording().unwrap();
    let elapsed = started.elapsed();

    let bytes = fs::read(&path).unwrap();
    let read = pages(&bytes);
    let (at, last) = read.last().unwrap();
    assert_eq!(at + last.bytes.len(), bytes.len(), "every byte in a valid page");
    assert_eq!((last.flags & FLAG_EOS, last.granule), (FLAG_EOS, stats.frames * FRAME_SAMPLES));
    let wall_frames = elapsed.as_millis() as u64 / 20;
    // A tick up to `MAX_BEHIND` late catches up rather than skips: a stop while it is that late ends the
    // file short of the wall clock by as much (it failed once at 14 frames short on a busy machine).
    let slack = MAX_BEHIND.as_millis() as u64 / 20 + 5;
    assert!(
        stats.frames.abs_diff(wall_frames) <= slack,
        "{} frames in {elapsed:?}: the space's time",
        stats.frames
    );
    assert!(stats.frames_own >= 60, "the decliner talked beside the consenting speaker: {stats:?}");
    assert!(stats.frames_silent >= 40, "silences recorded as silence: {stats:?}");
    assert_eq!(stats.frames, stats.frames_shared + stats.frames_own + stats.frames_silent);
    assert_eq!((stats.bytes, stats.write_errors), (bytes.len() as u64, 0));

    let heard = decode_file(&bytes);
    assert_eq!(heard.len() as u64, stats.frames * 960);
    let ratio = db_ratio(&heard, 440.0, 1_000.0);
    assert!(ratio > 30.0, "over the whole file, 440 Hz is in and 1,000 Hz is not: {ratio:.1} dB");
    assert!(signal::power_at(&heard, 440.0) > 1e3, "and 440 Hz is really there");
    driver.stop();
}

#[test]
fn the_driver_leaves_the_queue_when_the_recording_stops_and_nobody_talks() {
    let Space { pool, driver, .. } = space();
    assert_eq!(pool.talking(), 0);
    let path = scratch("idle");
    driver.start_recording(&path, 1).unwrap();
    sleep(Duration::from_millis(1_300));
    assert_eq!(pool.talking(), 1);
    let live = driver.recording_stats().unwrap();
    assert!(live.frames >= 50, "a page a second reaches the file while recording: {live:?}");
    assert_eq!(live.frames, live.frames_silent);
    let stats = driver.stop_recording().unwrap();
    assert!(stats.frames >= 60);
    assert_eq!(driver.recording_stats(), None);
    sleep(Duration::from_millis(100));
    assert_eq!(pool.talking(), 0, "a quiet space that no longer records costs no tick");
    let heard = decode_file(&fs::read(&path).unwrap());
    assert!(heard.iter().all(|&s| s == 0), "silence is recorded as digital silence");
}

#[test]
fn a_second_start_is_refused_and_stop_finishes_the_file() {
    let Space { pool: _pool, driver, .. } = space();
    let path = scratch("twice");
    driver.start_recording(&path, 1).unwrap();
    assert!(matches!(driver.start_recording(&scratch("other"), 2), Err(RecordError::AlreadyRecording)));
    let taken = scratch("taken");
    fs::write(&taken, b"x").unwrap();
    sleep(Duration::from_millis(100));
    driver.stop(); // finishes the recording too
    assert!(matches!(driver.start_recording(&taken, 3), Err(RecordError::Stopped)));
    assert_eq!(driver.stop_recording(), None);
    let bytes = fs::read(&path).unwrap();
    let last = pages(&bytes).last().map(|(_, page)| page.flags).unwrap();
    assert_eq!(last & FLAG_EOS, FLAG_EOS);

    let Space { pool: _pool, driver, .. } = space();
    match driver.start_recording(&taken, 3) {
        Err(RecordError::Io(err)) => assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists),
        other => panic!("an existing file is never replaced: {other:?}"),
    }
    assert_eq!(fs::read(&taken).unwrap(), b"x");
    driver.start_recording(&path.with_extension("again.opus"), 4).unwrap(); // a failed start leaves none running
}

#[test]
fn the_pre_skip_is_the_encoders_delay_and_silence_decodes_to_zeros() {
    assert_eq!(Encoder::new(32_000, 5).unwrap().lookahead().unwrap(), u32::from(PRE_SKIP));
    let mut decoder = Decoder::new().unwrap();
    let mut pcm = [1i16; 960];
    decoder.decode(&SILENCE, &mut pcm).unwrap();
    assert!(pcm.iter().all(|&s| s == 0));
}

#[test]
fn a_recording_is_as_long_as_it_ran_even_when_no_tick_could_run() {
    // A pool with no threads left: the worst a busy machine can do is not to tick at all.
    let Space { pool, driver, .. } = space();
    drop(pool);
    let path = scratch("starved");
    // The recording's own start and end lie somewhere inside the calls (a busy machine can make them slow).
    let before_start = Instant::now();
    driver.start_recording(&path, 1).unwrap();
    let started = Instant::now();
    sleep(Duration::from_millis(500));
    let before_stop = Instant::now();
    let stats = driver.stop_recording().unwrap();
    let ticks = |from: Instant, to: Instant| to.duration_since(from).as_millis() as u64 / 20;
    let (least, most) = (ticks(started, before_stop), ticks(before_start, Instant::now()));
    assert!(
        (least.saturating_sub(1)..=most + 1).contains(&stats.frames),
        "{} frames after {least} to {most} ticks' time",
        stats.frames
    );
    assert_eq!(stats.frames, stats.frames_silent, "the ticks owed are silence");
}
