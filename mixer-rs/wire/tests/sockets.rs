//! The wire on real sockets: a client written here from RFC 6455 talks to a
//! `Wire` (with its `Fanout`, and a `TickPool` whose routes lead to a real
//! mixer) over loopback TCP: handshakes, frames, speakers' audio, descriptors.
//! The close handshake is in `closing.rs`.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use driver::{Batching, Driver, TickPool};
use fanout::{Fanout, FanoutConfig};
use mixer_core::{Mixer, MixerConfig};
use wire::frames::client_frame;
use wire::{AUDIO_BURST, AUDIO_OVER_PACE, AUDIO_TOO_FAST, Event, PaceLimits, Wire, WireConfig};

mod common;
use common::*;

#[test]
fn an_accepted_upgrade_is_answered_with_the_rfc_accept_key_and_reported_with_its_origins() {
    let s = server(WireConfig::default());
    let mut stream = s.request("Origin: http://127.0.0.1:3000\r\n");
    let Event::Opened { conn, peer, path, origins } = s.event() else { panic!("not opened") };
    assert_eq!((peer.as_str(), path.as_str()), ("127.0.0.1", "/space?x=1"));
    assert_eq!(origins, vec!["http://127.0.0.1:3000".to_owned()]);
    s.wire.accept(conn);
    let head = read_head(&mut stream);
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{head}");
}

#[test]
fn a_refused_upgrade_gets_its_status_and_body_then_the_end_and_no_closed_event() {
    let s = server(WireConfig::default());
    let mut stream = s.request("Origin: null\r\n");
    let Event::Opened { conn, .. } = s.event() else { panic!("not opened") };
    s.wire.refuse(conn, 403, &[], b"origin not allowed\n");
    let answer = String::from_utf8(read_to_end(&mut stream)).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 403 Forbidden\r\n") && answer.ends_with("origin not allowed\n"),
        "{answer}"
    );
    assert_eq!(s.no_event_for(Duration::from_millis(100)), vec![]);
}

#[test]
fn a_request_that_is_no_upgrade_is_answered_400_and_never_reported() {
    let s = server(WireConfig::default());
    let mut stream = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let answer = String::from_utf8(read_to_end(&mut stream)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert_eq!(s.no_event_for(Duration::from_millis(100)), vec![]);
    assert_eq!(s.wire.stats().bad_handshakes, 1);
}

#[test]
fn a_fragmented_message_with_a_ping_between_is_delivered_whole_and_the_ping_answered() {
    let s = server(WireConfig::default());
    let (mut c, conn) = s.client();
    let mut bytes = client_frame(false, 2, b"\x81\xa4ty", MASK);
    bytes.extend(client_frame(true, 9, b"are you there", MASK));
    bytes.extend(client_frame(true, 0, b"pe", MASK));
    c.write_all(&bytes).unwrap();
    assert_eq!(read_frame(&mut c), (0xA, b"are you there".to_vec()));
    assert_eq!(s.event(), Event::Message { conn, data: b"\x81\xa4type".to_vec() });
}

#[test]
fn text_oversized_and_unmasked_frames_close_with_1003_1009_and_1002() {
    let config = WireConfig { max_message_bytes: 1000, ..WireConfig::default() };
    let mut unmasked = client_frame(true, 2, b"x", MASK);
    unmasked[1] &= 0x7f;
    for (bytes, code) in [
        (client_frame(true, 1, b"hi", MASK), 1003),
        (client_frame(true, 2, &[0; 1001], MASK), 1009),
        (unmasked, 1002),
    ] {
        let s = server(config);
        let (mut c, conn) = s.client();
        c.write_all(&bytes).unwrap();
        let (opcode, payload) = read_frame(&mut c);
        assert_eq!((opcode, close_code(&payload)), (8, code));
        c.write_all(&client_frame(true, 8, &code.to_be_bytes(), MASK)).unwrap();
        let Event::Closed { conn: closed, code: told, by_server, .. } = s.event() else {
            panic!("not closed")
        };
        assert_eq!((closed, told, by_server), (conn, code, true), "the server's code, not the client's echo");
        assert_eq!(read_to_end(&mut c), b"", "then FIN");
    }
}

#[test]
fn a_client_cannot_queue_more_messages_than_the_bound_until_they_are_taken() {
    let config = WireConfig { max_pending_messages: 2, ..WireConfig::default() };
    let s = server(config);
    let (mut c, conn) = s.client();
    for i in 0..5u8 {
        c.write_all(&client_frame(true, 2, &[i], MASK)).unwrap();
    }
    assert_eq!(s.events(2).len(), 2);
    assert_eq!(s.no_event_for(Duration::from_millis(200)), vec![], "the socket is not read meanwhile");
    s.wire.taken(conn);
    s.wire.taken(conn);
    let rest = s.events(2);
    assert_eq!(rest[0], Event::Message { conn, data: vec![2] });
    s.wire.taken(conn);
    s.wire.taken(conn);
    assert_eq!(s.event(), Event::Message { conn, data: vec![4] });
}

#[test]
fn a_routed_speakers_audio_reaches_the_mixer_and_unrouted_audio_is_counted_and_told() {
    let s = server(WireConfig::default());
    let mixer = Arc::new(Mixer::new(MixerConfig::default()).unwrap());
    let group = s.fanout.new_group();
    let driver =
        Driver::start(&s.pool, Arc::clone(&mixer), Arc::clone(&s.fanout), group, Batching::Fixed(1), 0);
    let (mut c, conn) = s.client();

    // No route: the first packet is told at once, the next ones within a second, together.
    c.write_all(&client_frame(true, 2, &audio(1, &[0xf8, 0xff, 0xfe]), MASK)).unwrap();
    assert_eq!(s.event(), Event::AudioUnrouted { conn, packets: 1 });
    for seq in 2..5 {
        c.write_all(&client_frame(true, 2, &audio(seq, &[0xf8, 0xff, 0xfe]), MASK)).unwrap();
    }
    assert_eq!(s.no_event_for(Duration::from_millis(300)), vec![], "at most once a second");
    assert_eq!(s.events(1), vec![Event::AudioUnrouted { conn, packets: 3 }]);
    assert_eq!(mixer.stats().packets_in, 0);

    // Routed: the packets go into the mixer; the next message reaches the owner.
    mixer.add_input(7).unwrap();
    driver.route(7, conn);
    for seq in 5..8 {
        c.write_all(&client_frame(true, 2, &audio(seq, &[0xf8, 0xff, 0xfe]), MASK)).unwrap();
    }
    c.write_all(&client_frame(true, 2, b"\x80", MASK)).unwrap();
    assert_eq!(s.event(), Event::Message { conn, data: b"\x80".to_vec() });
    assert_eq!(mixer.stats().packets_in, 3);
    assert_eq!(s.wire.stats().audio_routed, 3);

    // A malformed audio message is not the wire's: it goes to the owner to refuse.
    let mut extra_key = audio(8, &[1]);
    extra_key[0] = 0x85;
    extra_key.extend([0xa3, b'r', b'e', b'f', 0x01]);
    c.write_all(&client_frame(true, 2, &extra_key, MASK)).unwrap();
    assert!(matches!(s.event(), Event::Message { .. }));

    // Unrouted again: nothing more reaches the mixer.
    driver.unroute(7);
    c.write_all(&client_frame(true, 2, &audio(9, &[1]), MASK)).unwrap();
    assert_eq!(s.event(), Event::AudioUnrouted { conn, packets: 1 });
    assert_eq!(mixer.stats().packets_in, 3);

    // A stopped driver takes its routes with it.
    driver.route(7, conn);
    driver.stop();
    c.write_all(&client_frame(true, 2, &audio(10, &[1]), MASK)).unwrap();
    assert!(s.events(1).iter().all(|e| matches!(e, Event::AudioUnrouted { .. })));
    assert_eq!(mixer.stats().packets_in, 3);
}

#[test]
fn a_client_that_floods_the_reader_holds_up_no_one_else() {
    // Audio at any pace (the pace limit, tested below, would close this flood at once).
    let s = server(WireConfig {
        audio_pace: PaceLimits { burst: u32::MAX, per_second: u32::MAX, over: u32::MAX },
        ..WireConfig::default()
    });
    let (mut flooder, flooding_conn) = s.client();
    let (mut other, conn) = s.client();
    // A speaker's audio, routed into a mixer: the reader handles it all itself (nothing for the owner, so its
    // reading never pauses), and a client writes it faster than the reader can take it: the socket stays full.
    let mixer = Arc::new(Mixer::new(MixerConfig::default()).unwrap());
    let driver = Driver::start(
        &s.pool,
        Arc::clone(&mixer),
        Arc::clone(&s.fanout),
        s.fanout.new_group(),
        Batching::Fixed(1),
        0,
    );
    mixer.add_input(7).unwrap();
    driver.route(7, flooding_conn);
    let chunk: Vec<u8> =
        (0..2_000).flat_map(|seq| client_frame(true, 2, &audio(seq, &[0xf8, 0xff, 0xfe]), MASK)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let (stop, chunk) = (Arc::clone(&stop), chunk.clone());
        std::thread::spawn(move || {
            let (until, mut sent) = (Instant::now() + Duration::from_secs(10), 0);
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                flooder.write_all(&chunk).unwrap();
                sent += chunk.len();
            }
            sent
        })
    };
    std::thread::sleep(Duration::from_millis(200)); // the reader is deep in the flood by now
    let asked = Instant::now();
    other.write_all(&client_frame(true, 2, b"\x80", MASK)).unwrap();
    let waited = loop {
        let events = s.wire.take_events();
        if events.iter().any(|e| matches!(e, Event::Message { conn: c, .. } if *c == conn)) {
            break asked.elapsed();
        }
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "another client's message waited 5 s behind a flood"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    stop.store(true, Ordering::Relaxed);
    let sent = flooding.join().unwrap();
    assert!(waited < Duration::from_secs(1), "{waited:?}");
    assert!(sent > 20 * chunk.len(), "the flood went on meanwhile ({sent} bytes)");
}

#[test]
fn audio_over_its_pace_is_dropped_and_far_over_it_closes_the_connection_with_1008() {
    let s = server(WireConfig::default());
    let (mut c, _) = s.client();
    let send = |c: &mut TcpStream, count: u64| {
        let frame = client_frame(true, 2, &audio(1, &[0xf8, 0xff, 0xfe]), MASK);
        c.write_all(&frame.repeat(count as usize)).unwrap();
    };
    let handled = |s: &Server| s.wire.stats().audio_unrouted + s.wire.stats().audio_over_pace;
    // A backlog after a stall: the burst is taken, the rest (but what the pace refills meanwhile) dropped.
    send(&mut c, 400);
    let deadline = Instant::now() + Duration::from_secs(5);
    while handled(&s) < 400 {
        assert!(Instant::now() < deadline, "{:?}", s.wire.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = s.wire.stats();
    assert!(stats.audio_unrouted >= u64::from(AUDIO_BURST) && stats.audio_over_pace >= 100, "{stats:?}");
    c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut byte = [0u8; 1];
    assert!(std::io::Read::read(&mut c, &mut byte).is_err(), "no answer, no close: still open");
    // Thousands over the pace: no stalled speaker's; closed, as the docs say.
    send(&mut c, u64::from(AUDIO_OVER_PACE) + 500);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (opcode, payload) = read_frame(&mut c);
    assert_eq!((opcode, close_code(&payload)), (8, AUDIO_TOO_FAST.0));
    assert_eq!(&payload[2..], AUDIO_TOO_FAST.1.as_bytes());
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn every_ended_connections_descriptor_is_closed_once_the_writer_has_released_it() {
    let s = server(WireConfig::default());
    let (c, _) = s.client();
    drop(c);
    s.event();
    let before = open_descriptors();
    for _ in 0..20 {
        let (c, _) = s.client();
        drop(c);
        let Event::Closed { .. } = s.event() else { panic!("not closed") };
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_descriptors() > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(open_descriptors() <= before, "{} descriptors left open", open_descriptors() - before);
    assert_eq!(s.wire.stats().connections, 0);
    s.fanout.shutdown();
    s.wire.shutdown();
}

#[test]
fn one_wire_serves_every_listening_socket_it_is_given_and_refuses_none_or_too_many() {
    // Two addresses of one host name (IPv4 and IPv6 loopback), as `--host` may resolve to.
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let v6 = TcpListener::bind("[::1]:0").unwrap();
    let fanout = Arc::new(Fanout::new(FanoutConfig::default()).unwrap());
    let pool = TickPool::new(1, 2).unwrap();
    let fds = [v4.as_raw_fd(), v6.as_raw_fd()];
    let wire = Wire::new(&fds, Arc::clone(&fanout), pool.speaker_routes(), WireConfig::default()).unwrap();
    let mut open = Vec::new(); // each client stays connected: nothing but its upgrade is reported
    for address in [v4.local_addr().unwrap(), v6.local_addr().unwrap()] {
        let mut stream = request_to(address, "");
        let deadline = Instant::now() + Duration::from_secs(5);
        let conn = loop {
            assert!(Instant::now() < deadline, "no upgrade reported from {address}");
            if let Some(Event::Opened { conn, .. }) = wire.take_events().into_iter().next() {
                break conn;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        wire.accept(conn);
        let answer = read_head(&mut stream);
        assert!(answer.starts_with("HTTP/1.1 101 "), "{address}: {answer}");
        open.push(stream);
    }
    assert_eq!(wire.stats().connections, 2);
    fanout.shutdown();
    wire.shutdown();
    for wrong in [&[][..], &[v4.as_raw_fd(); 65][..]] {
        let refused = Wire::new(wrong, Arc::clone(&fanout), pool.speaker_routes(), WireConfig::default());
        assert_eq!(refused.err().map(|e| e.kind()), Some(std::io::ErrorKind::InvalidInput));
    }
}
