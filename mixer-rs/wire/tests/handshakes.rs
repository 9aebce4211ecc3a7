//! Handshakes in progress on real sockets: clients that send half an upgrade
//! request and wait. From one address, past `MAX_HANDSHAKES_PER_ADDRESS`, each
//! is closed at accept while a client from another address gets in; past
//! `max_handshakes` in all, the oldest is ended for a newcomer whose request is
//! not whole, and for no one else; a connection that sends nothing is not
//! accepted until its deferral is over (TCP_DEFER_ACCEPT).
//!
//! The other address is IPv6 loopback: the wire serves `127.0.0.1` and `::1`,
//! as it serves every address of one host name. A third socket serves
//! `127.0.0.1` as a dual-stack IPv6 socket does, which reports its clients as
//! `::ffff:127.0.0.1`: the same client as `127.0.0.1` (`src/address.rs`).
//! Two addresses of one IPv6 /64 cannot be had here (loopback routes `::1`
//! alone): the unit tests of `address.rs` and `handshakes.rs` count those.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use driver::TickPool;
use fanout::{Fanout, FanoutConfig};
use wire::{Event, MAX_HANDSHAKES_PER_ADDRESS, Wire, WireConfig, WireStats};

mod common;
use common::{read_head, request_to};

const HALF_A_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";

struct TwoAddresses {
    wire: Wire,
    fanout: Arc<Fanout>,
    v4: SocketAddr,
    v6: SocketAddr,
    /// `127.0.0.1` again, on the dual-stack socket: its clients are `::ffff:127.0.0.1` to the wire.
    mapped: SocketAddr,
    _listeners: (TcpListener, TcpListener, TcpListener, TickPool),
}

fn server(config: WireConfig) -> TwoAddresses {
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let v6 = TcpListener::bind("[::1]:0").unwrap();
    // An IPv6 socket bound to a mapped address takes IPv4 clients (Linux's default, IPV6_V6ONLY off).
    let mapped = TcpListener::bind("[::ffff:127.0.0.1]:0").unwrap();
    let fanout = Arc::new(Fanout::new(FanoutConfig::default()).unwrap());
    let pool = TickPool::new(1, 2).unwrap();
    let fds = [v4.as_raw_fd(), v6.as_raw_fd(), mapped.as_raw_fd()];
    let wire = Wire::new(&fds, Arc::clone(&fanout), pool.speaker_routes(), config).unwrap();
    let (a4, a6) = (v4.local_addr().unwrap(), v6.local_addr().unwrap());
    let am = SocketAddr::from(([127, 0, 0, 1], mapped.local_addr().unwrap().port()));
    TwoAddresses { wire, fanout, v4: a4, v6: a6, mapped: am, _listeners: (v4, v6, mapped, pool) }
}

impl TwoAddresses {
    fn half_requests(&self, n: usize) -> Vec<TcpStream> {
        half_requests_to(self.v4, n)
    }

    /// The wire's counters once `done` holds of them (within 5 s).
    fn stats_once(&self, done: impl Fn(&WireStats) -> bool) -> WireStats {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stats = self.wire.stats();
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "{stats:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A client that sends its whole request from `address`: admitted, and answered 101.
    fn client_gets_in(&self, address: SocketAddr) -> TcpStream {
        let mut stream = request_to(address, "");
        let deadline = Instant::now() + Duration::from_secs(5);
        let conn = loop {
            assert!(Instant::now() < deadline, "no upgrade reported from {address}");
            let opened = self.wire.take_events().into_iter().find_map(|event| match event {
                Event::Opened { conn, peer, .. } if peer == address.ip().to_string() => Some(conn),
                _ => None,
            });
            if let Some(conn) = opened {
                break conn;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        self.wire.accept(conn);
        let answer = read_head(&mut stream);
        assert!(answer.starts_with("HTTP/1.1 101 "), "{address}: {answer}");
        stream
    }
}

/// `n` connections to `address`, each with half an upgrade request sent.
fn half_requests_to(address: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            stream.write_all(HALF_A_REQUEST).unwrap();
            stream
        })
        .collect()
}

/// Whether the server has closed `stream` (FIN or reset), waiting at most `wait` to see it.
fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("the server answered a half request"),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn past_16_half_requests_from_one_address_each_is_closed_at_once_and_another_address_gets_in() {
    let s = server(WireConfig::default());
    let cap = MAX_HANDSHAKES_PER_ADDRESS as usize;
    // The tester's attack: 150 connections from one address, each with half an upgrade request.
    let mut attack = s.half_requests(150);
    let stats = s.stats_once(|st| st.connections + st.handshakes_refused == 150);
    assert_eq!((stats.connections, stats.handshakes_refused), (cap as u64, 150 - cap as u64));
    for (i, stream) in attack.iter_mut().enumerate().skip(cap) {
        assert!(closed_by_server(stream, Duration::from_secs(1)), "connection {i} is still open");
    }
    for (i, stream) in attack.iter_mut().enumerate().take(cap) {
        assert!(
            !closed_by_server(stream, Duration::from_millis(20)),
            "connection {i} (within the cap) closed"
        );
    }

    // Meanwhile a client from another address gets in; from the attacker's, no half request does, but a
    // whole one (a neighbour behind the same NAT) needs no slot and gets in.
    let _bystander = s.client_gets_in(s.v6);
    let mut more = s.half_requests(1);
    assert!(closed_by_server(&mut more[0], Duration::from_secs(1)));
    let _neighbour = s.client_gets_in(s.v4);

    // The control: once the address's handshakes are over, it gets in again.
    attack.clear();
    s.stats_once(|st| st.connections == 2);
    let _back = s.client_gets_in(s.v4);
    assert_eq!(s.wire.stats().handshakes_evicted, 0);
    s.fanout.shutdown();
    s.wire.shutdown();
}

#[test]
fn past_the_cap_in_all_a_newcomer_whose_request_is_whole_ends_no_one_and_one_whose_is_not_ends_the_oldest() {
    let s = server(WireConfig { max_handshakes: 8, ..WireConfig::default() });
    let mut first = s.half_requests(8);
    s.stats_once(|st| st.connections == 8);
    // Read as soon as it is accepted, a client whose request comes whole needs no slot: it gets in, from
    // any address, and ends no one.
    let _bystander = s.client_gets_in(s.v6);
    assert_eq!(s.wire.stats().handshakes_evicted, 0);
    for (i, stream) in first.iter_mut().enumerate() {
        assert!(!closed_by_server(stream, Duration::from_millis(20)), "connection {i} closed");
    }
    // One more half request ends the oldest, at once.
    let mut newer = s.half_requests(1);
    let stats = s.stats_once(|st| st.handshakes_evicted == 1 && st.connections == 9);
    assert_eq!(stats.handshakes_refused, 0, "{stats:?}");
    assert!(closed_by_server(&mut first[0], Duration::from_secs(1)), "the oldest was not ended");
    for (i, stream) in first.iter_mut().enumerate().skip(1) {
        assert!(!closed_by_server(stream, Duration::from_millis(20)), "connection {i} closed");
    }
    assert!(!closed_by_server(&mut newer[0], Duration::from_millis(20)), "the newcomer closed");
    s.fanout.shutdown();
    s.wire.shutdown();
}

#[test]
fn a_burst_past_the_cap_in_all_held_by_half_requests_gets_in_whole_and_ends_no_one() {
    // A popular host's notification while an attacker holds every slot with half requests: 40 connect at
    // once, each sending its request a little later. Until their bytes come the kernel holds them
    // unaccepted (TCP_DEFER_ACCEPT: 5 s here, about 7 as Linux counts it, so that a slow machine cannot end
    // the deferral); then each is read at once, whole, and needs no slot.
    let config = WireConfig {
        max_handshakes: 4,
        max_handshakes_per_address: 100,
        defer_accept: Duration::from_secs(5),
        ..WireConfig::default()
    };
    let s = server(config);
    let mut held = s.half_requests(4);
    s.stats_once(|st| st.connections == 4);
    let mut burst: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(s.v4).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.wire.stats().connections, 4, "accepted before sending anything");
    for stream in &mut burst {
        stream.write_all(common::upgrade_request("").as_bytes()).unwrap();
    }
    let mut opened = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while opened.len() < burst.len() {
        let (n, stats) = (opened.len(), s.wire.stats());
        assert!(Instant::now() < deadline, "{n} of 40 opened: {stats:?}");
        for event in s.wire.take_events() {
            if let Event::Opened { conn, .. } = event {
                s.wire.accept(conn);
                opened.push(conn);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    for (i, stream) in burst.iter_mut().enumerate() {
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let answer = read_head(stream);
        assert!(answer.starts_with("HTTP/1.1 101 "), "connection {i}: {answer}");
    }
    let st = s.wire.stats();
    assert_eq!((st.handshakes_evicted, st.handshakes_refused, st.connections), (0, 0, 44), "{st:?}");
    for (i, stream) in held.iter_mut().enumerate() {
        assert!(!closed_by_server(stream, Duration::from_millis(20)), "half request {i} closed");
    }
    s.fanout.shutdown();
    s.wire.shutdown();
}

#[test]
fn more_connections_waiting_than_one_turn_takes_all_get_in() {
    // A turn accepts at most 64 from one listening socket (edge-triggered: no edge tells of the rest); the
    // reader must come back for them. 300 whole requests, sent before any is read, fill its queue past that.
    let s = server(WireConfig::default());
    let mut clients: Vec<TcpStream> = (0..300).map(|_| request_to(s.v4, "")).collect();
    let mut opened = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while opened < clients.len() {
        assert!(Instant::now() < deadline, "{opened} of 300 opened: {:?}", s.wire.stats());
        for event in s.wire.take_events() {
            if let Event::Opened { conn, .. } = event {
                s.wire.accept(conn);
                opened += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    for (i, stream) in clients.iter_mut().enumerate() {
        let answer = read_head(stream);
        assert!(answer.starts_with("HTTP/1.1 101 "), "connection {i}: {answer}");
    }
    s.fanout.shutdown();
    s.wire.shutdown();
}

#[test]
fn a_connection_that_sends_nothing_is_accepted_only_once_its_deferral_is_over() {
    let s = server(WireConfig::default()); // TCP_DEFER_ACCEPT: 1 s
    let t0 = Instant::now();
    let _bare = TcpStream::connect(s.v4).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    if t0.elapsed() < Duration::from_millis(900) {
        assert_eq!(s.wire.stats().connections, 0, "accepted before sending anything");
    }
    // Meanwhile one whose request comes is accepted, and gets in, at once.
    let _talker = s.client_gets_in(s.v4);
    // The kernel gives the other up after the deferral (its SYN-ACK sent again, answered): a handshake in
    // progress then, ended by the handshake timeout as any.
    s.stats_once(|st| st.connections == 2);
    assert!(t0.elapsed() >= Duration::from_millis(900), "accepted after {:?}", t0.elapsed());
    s.fanout.shutdown();
    s.wire.shutdown();
}

#[test]
fn an_ipv4_client_a_dual_stack_socket_reports_as_mapped_is_counted_as_its_ipv4_address() {
    let s = server(WireConfig::default());
    let cap = MAX_HANDSHAKES_PER_ADDRESS as usize;
    // The cap's worth from 127.0.0.1 through the dual-stack socket: `::ffff:127.0.0.1` to the wire.
    let mut through_mapped = half_requests_to(s.mapped, cap);
    s.stats_once(|st| st.connections == cap as u64);
    for (i, stream) in through_mapped.iter_mut().enumerate() {
        assert!(
            !closed_by_server(stream, Duration::from_millis(20)),
            "connection {i} (within the cap) closed"
        );
    }
    // One more from 127.0.0.1 through the IPv4 socket is the same client: closed at accept.
    let mut more = s.half_requests(1);
    assert!(closed_by_server(&mut more[0], Duration::from_secs(1)), "127.0.0.1 was counted apart");
    assert_eq!(s.wire.stats().handshakes_refused, 1);
    // `::1` is another client (mapped addresses are not counted as IPv6, all in `::/64` with it).
    let _bystander = s.client_gets_in(s.v6);

    // The control: once those handshakes are over, 127.0.0.1 gets in again.
    through_mapped.clear();
    s.stats_once(|st| st.connections == 1);
    let _back = s.client_gets_in(s.v4);
    s.fanout.shutdown();
    s.wire.shutdown();
}
