//! Speakers read at their space's tick (the reader's parking, `reader.rs`): on real sockets, speakers
//! streaming into a ticking space are read with each other before its ticks, every packet still reaches
//! the mixer, and a speaker who stops is read as its bytes arrive again (its next message, its end).

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use driver::{Batching, Driver};
use mixer_core::{Mixer, MixerConfig};
use wire::frames::client_frame;
use wire::{Event, Parking, WireConfig};

mod common;
use common::*;

/// A 20 ms Opus packet of silence (CELT, fullband).
const OPUS: [u8; 3] = [0xf8, 0xff, 0xfe];
const SPEAKERS: u64 = 4;
const PACKETS: u64 = 100;

/// `SPEAKERS` connections routed to one space's mixer, each about to stream `PACKETS`.
fn space(s: &Server) -> (Arc<Mixer>, Driver, Vec<(TcpStream, u64)>) {
    let mixer = Arc::new(Mixer::new(MixerConfig::default()).unwrap());
    let group = s.fanout.new_group();
    let driver =
        Driver::start(&s.pool, Arc::clone(&mixer), Arc::clone(&s.fanout), group, Batching::Fixed(1), 0);
    let clients: Vec<_> = (1..=SPEAKERS)
        .map(|input| {
            let (c, conn) = s.client();
            mixer.add_input(input).unwrap();
            driver.route(input, conn);
            (c, conn)
        })
        .collect();
    (mixer, driver, clients)
}

/// Streams `PACKETS` on each client, a packet every 20 ms, their phases spread over the 20 ms (so that
/// some arrive well before the space's ticks, whatever their phase); with `message`, client `i` sends the
/// message `[0x80 + i]` just before its packet halfway. Returns the clients.
fn stream(clients: Vec<(TcpStream, u64)>, message: bool) -> Vec<(TcpStream, u64)> {
    let start = Instant::now();
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, (mut c, conn))| {
            thread::spawn(move || {
                let phase = Duration::from_millis(20) * i as u32 / SPEAKERS as u32;
                for seq in 1..=PACKETS {
                    let at = start + phase + Duration::from_millis(20) * seq as u32;
                    thread::sleep(at.saturating_duration_since(Instant::now()));
                    let mut bytes = Vec::new();
                    if message && seq == PACKETS / 2 {
                        bytes = client_frame(true, 2, &[0x80 + i as u8], MASK);
                    }
                    bytes.extend(client_frame(true, 2, &audio(seq, &OPUS), MASK));
                    c.write_all(&bytes).unwrap();
                }
                (c, conn)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// A wire that parks whatever its scheduling (tests run without real-time).
fn parking() -> WireConfig {
    WireConfig { parking: Parking::Always, ..WireConfig::default() }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn speakers_of_a_ticking_space_are_read_at_its_ticks_and_every_packet_reaches_the_mixer() {
    let s = server(parking());
    let (mixer, _driver, clients) = space(&s);
    let _clients = stream(clients, false);
    let sent = SPEAKERS * PACKETS;
    wait_for("every packet in the mixer", || mixer.stats().packets_in == sent);
    let stats = s.wire.stats();
    assert_eq!(stats.audio_routed, sent);
    // At least 3 of the 4 phases are well before the tick (a speaker within 2.5 ms of it is read as its
    // bytes arrive). Loose: a loaded machine delays some sends, and a late packet is read as it arrives.
    assert!(stats.audio_at_tick >= sent / 2, "{stats:?}");
}

#[test]
fn above_its_rate_the_reader_parks_no_one() {
    // 4 speakers send 200 packets a second: over the 100 allowed, from the first sweep (250 ms) on.
    let s = server(WireConfig { park_max_rate: 100, ..parking() });
    let (mixer, _driver, clients) = space(&s);
    let _clients = stream(clients, false);
    wait_for("every packet in the mixer", || mixer.stats().packets_in == SPEAKERS * PACKETS);
    let stats = s.wire.stats();
    assert!(stats.audio_at_tick <= SPEAKERS * 20, "parked for a sweep and a frame at most: {stats:?}");
}

#[test]
fn a_reader_not_run_first_parks_no_one_by_default() {
    let s = server(WireConfig::default()); // realtime: false
    let (mixer, _driver, clients) = space(&s);
    let _clients = stream(clients, false);
    wait_for("every packet in the mixer", || mixer.stats().packets_in == SPEAKERS * PACKETS);
    assert_eq!(s.wire.stats().audio_at_tick, 0);
}

#[test]
fn a_parked_speaker_who_stops_is_read_as_its_bytes_arrive_again() {
    let s = server(parking());
    let (mixer, _driver, clients) = space(&s);
    let mut clients = stream(clients, false);
    wait_for("every packet in the mixer", || mixer.stats().packets_in == SPEAKERS * PACKETS);
    assert!(s.wire.stats().audio_at_tick > 0);
    // The space goes quiet; each parked speaker's next read finds nothing and puts it back on epoll.
    wait_for("no one parked (counted every 250 ms)", || s.wire.stats().parked == 0);
    for (c, conn) in &mut clients {
        c.write_all(&client_frame(true, 2, b"\x80", MASK)).unwrap();
        assert_eq!(s.event(), Event::Message { conn: *conn, data: b"\x80".to_vec() });
        s.wire.taken(*conn);
    }
    // Its end is seen too.
    let (c, conn) = clients.remove(0);
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(matches!(s.event(), Event::Closed { conn: closed, .. } if closed == conn));
}

#[test]
fn a_parked_speakers_other_messages_are_read_with_its_audio() {
    let s = server(parking());
    let (mixer, _driver, clients) = space(&s);
    let clients = stream(clients, true);
    wait_for("every packet in the mixer", || mixer.stats().packets_in == SPEAKERS * PACKETS);
    let mut got = s.events(SPEAKERS as usize);
    got.sort_by_key(|e| match e {
        Event::Message { data, .. } => data[0],
        _ => 0,
    });
    let expected: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, (_, conn))| Event::Message { conn: *conn, data: vec![0x80 + i as u8] })
        .collect();
    assert_eq!(got, expected);
    assert!(s.wire.stats().audio_at_tick >= SPEAKERS * PACKETS / 2);
}
