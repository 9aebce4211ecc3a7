//! The close handshake on real sockets, either side first: the client's close echoed, the server's
//! awaited (and nothing sent after it), a connection that just ends, one idle both ways; and the end of
//! listening, a drain's last step.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wire::frames::client_frame;
use wire::{Event, WireConfig};

mod common;
use common::*;

#[test]
fn the_clients_close_is_echoed_and_reported_with_its_code_and_reason() {
    let s = server(WireConfig::default());
    let (mut c, conn) = s.client();
    let mut payload = 4321u16.to_be_bytes().to_vec();
    payload.extend(b"bye");
    c.write_all(&client_frame(true, 8, &payload, MASK)).unwrap();
    let (opcode, echoed) = read_frame(&mut c);
    assert_eq!((opcode, close_code(&echoed)), (8, 4321));
    assert_eq!(s.event(), Event::Closed { conn, code: 4321, reason: "bye".into(), by_server: false });
}

#[test]
fn the_servers_close_waits_for_the_answer_and_a_silent_client_is_dropped_after_the_timeout() {
    let config = WireConfig { close_timeout: Duration::from_millis(300), ..WireConfig::default() };
    let s = server(config);
    let (mut c, conn) = s.client();
    s.wire.close(conn, 4002, "replaced");
    let (opcode, payload) = read_frame(&mut c);
    assert_eq!((opcode, close_code(&payload), &payload[2..]), (8, 4002, &b"replaced"[..]));
    assert_eq!(s.no_event_for(Duration::from_millis(100)), vec![], "it waits for the answer");
    assert_eq!(s.event(), Event::Closed { conn, code: 4002, reason: "replaced".into(), by_server: true });
}

#[test]
fn nothing_follows_the_servers_close_frame_not_even_the_audio_of_its_space() {
    let s = server(WireConfig::default());
    let (mut c, conn) = s.client();
    let group = s.fanout.new_group();
    s.fanout.join_group(group, conn).unwrap();
    // The space goes on sending while the close is decided, and after.
    let (fanout, stop) = (Arc::clone(&s.fanout), Arc::new(AtomicBool::new(false)));
    let sending = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = fanout.broadcast_audio(group, b"shared");
                fanout.send_audio(conn, b"own");
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    s.wire.close(conn, 1001, "going away");
    loop {
        let (opcode, payload) = read_frame(&mut c);
        if opcode == 8 {
            assert_eq!(close_code(&payload), 1001);
            break;
        }
        assert_eq!(opcode, 2, "audio before the close frame");
    }
    assert_eq!(read_to_end(&mut c), b"", "the close frame, then FIN");
    stop.store(true, Ordering::Relaxed);
    sending.join().unwrap();
    c.write_all(&client_frame(true, 8, &1001u16.to_be_bytes(), MASK)).unwrap();
    assert_eq!(s.event(), Event::Closed { conn, code: 1001, reason: "going away".into(), by_server: true });
}

#[test]
fn a_client_that_ends_without_a_close_frame_is_reported_as_1006() {
    let s = server(WireConfig::default());
    let (c, conn) = s.client();
    drop(c);
    assert_eq!(s.event(), Event::Closed { conn, code: 1006, reason: String::new(), by_server: false });
}

#[test]
fn a_connection_idle_both_ways_is_pinged_and_closed_with_4001_if_it_never_answers() {
    let config = WireConfig {
        keepalive_interval: Duration::from_millis(300),
        keepalive_timeout: Duration::from_millis(300),
        ..WireConfig::default()
    };
    let s = server(config);
    let (mut answers, _) = s.client();
    let (mut silent, silent_conn) = s.client();
    assert_eq!(read_frame(&mut answers), (9, vec![]));
    answers.write_all(&client_frame(true, 10, b"", MASK)).unwrap();
    assert_eq!(read_frame(&mut silent), (9, vec![]));
    let (opcode, payload) = read_frame(&mut silent);
    assert_eq!((opcode, close_code(&payload)), (8, 4001));
    silent.write_all(&client_frame(true, 8, &payload, MASK)).unwrap();
    let Event::Closed { conn, code, by_server, .. } = s.event() else { panic!("not closed") };
    assert_eq!((conn, code, by_server), (silent_conn, 4001, true), "the one that answered stays");
}

#[test]
fn after_stop_listening_a_connect_is_refused_and_the_open_connections_go_on() {
    let s = server(WireConfig::default());
    let (mut open, conn) = s.client();
    s.wire.stop_listening().unwrap();
    s.wire.stop_listening().unwrap(); // idempotent
    let refused = TcpStream::connect(("127.0.0.1", s.port)).unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    // The open connection is still read and answered.
    open.write_all(&client_frame(true, 9, b"still here", MASK)).unwrap();
    assert_eq!(read_frame(&mut open), (0xA, b"still here".to_vec()));
    open.write_all(&client_frame(true, 2, b"\x80", MASK)).unwrap();
    assert_eq!(s.event(), Event::Message { conn, data: b"\x80".to_vec() });
}
