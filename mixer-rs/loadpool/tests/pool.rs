//! The whole pool against a scripted server on loopback: the handshake and requests on the wire,
//! frames counted with their gaps and latency whatever the TCP segmentation, pings answered,
//! refusals and server closes reported, and `stop` closing politely.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{FakeServer, Val, audio, config, joined, map, now_us, server_frame, wait_until};
use loadpool::{ListenerState, Pool, PoolConfig, PoolError, ws};

#[test]
fn a_listener_counts_frames_gaps_and_latency_and_answers_pings() {
    let server = FakeServer::start();
    let pool = Pool::start(config(server.port, &["lena"])).unwrap();
    let (mut peer, user, space_id) = server.accept_joining();
    assert_eq!((user.as_str(), space_id.as_str()), ("lena", "q1w2e3r4t5y6"));
    peer.send_message(&joined(1));
    wait_until("joined", || pool.stats().joined == 1);

    let now = now_us();
    // Three frames in one message; then a gap of two (13, 14 lost); a concealment frame (no
    // latency); a late one; a duplicate.
    peer.send_message(&audio(&[(10, now - 5_000), (11, now - 4_000), (12, now - 3_000)]));
    peer.send_message(&audio(&[(15, now - 2_000)]));
    peer.send_message(&audio(&[(16, 0)]));
    peer.send_message(&audio(&[(17, now - 400_000)]));
    peer.send_message(&audio(&[(17, now - 1_000)]));
    // One message split across two writes (and TCP segments), then two messages in one write.
    let split = server_frame(ws::OP_BINARY, &audio(&[(18, now)]));
    peer.send(&split[..7]);
    thread::sleep(Duration::from_millis(30));
    peer.send(&split[7..]);
    let mut two = server_frame(ws::OP_BINARY, &audio(&[(19, now)]));
    two.extend(server_frame(ws::OP_BINARY, &audio(&[(20, now)])));
    peer.send(&two);
    peer.send_message(&map(&[
        ("type", Val::S("participant_joined")),
        ("seq", Val::U(5)),
        ("user", Val::S("x")),
    ]));
    peer.send_message(&map(&[
        ("type", Val::S("error")),
        ("ref", Val::Nil),
        ("code", Val::S("not_a_speaker")),
    ]));

    peer.send(&server_frame(ws::OP_PING, b"keepalive"));
    let (opcode, payload) = peer.read_frame();
    assert_eq!((opcode, payload.as_slice()), (ws::OP_PONG, &b"keepalive"[..]), "the pong echoes the ping");

    wait_until("every frame counted", || pool.stats().frames == 10);
    let stats = pool.stats();
    // welcome, joined, 8 audio, an event, an error.
    assert_eq!((stats.messages, stats.events, stats.malformed), (12, 1, 0), "{stats:?}");
    assert_eq!((stats.lost, stats.late, stats.reordered), (2, 1, 1), "{stats:?}");
    let [lena] = pool.listeners().try_into().unwrap();
    assert_eq!(lena.state, ListenerState::Joined);
    assert_eq!((lena.frames, lena.lost, lena.late, lena.reordered), (10, 2, 1, 1));
    assert_eq!((lena.first_seq, lena.last_seq), (Some(10), Some(20)));
    assert!((400_000..1_000_000).contains(&lena.max_latency_us), "{}", lena.max_latency_us);
    let latency = pool.latency_percentiles(&[0.0, 50.0, 100.0]).unwrap();
    assert_eq!(latency.count, 9, "the concealment frame has no latency");
    assert!(latency.values[1] < 100_000 && latency.values[2] >= 400_000, "{latency:?}");

    let closer = thread::spawn(move || (peer.expect_close(), peer));
    pool.stop();
    let (code, _peer) = closer.join().unwrap();
    assert_eq!(code, 1000);
    let [lena] = pool.listeners().try_into().unwrap();
    assert_eq!((lena.state, lena.close_code, lena.error.as_str()), (ListenerState::Closed, 1000, ""));
    let stats = pool.stats();
    assert_eq!((stats.joined, stats.connected, stats.closed, stats.closed_by_server), (0, 0, 1, 0));
    assert!(stats.cpu_us > 0);
}

#[test]
fn a_refused_join_fails_the_listener_with_the_code() {
    let server = FakeServer::start();
    let pool = Pool::start(config(server.port, &["lena"])).unwrap();
    let (mut peer, _, _) = server.accept_joining();
    peer.send_message(&map(&[
        ("type", Val::S("error")),
        ("ref", Val::U(1)),
        ("code", Val::S("no_such_space")),
    ]));
    assert_eq!(peer.expect_close(), 1000, "the failed listener closes politely");
    wait_until("failed", || pool.stats().failed == 1);
    let [lena] = pool.listeners().try_into().unwrap();
    assert_eq!(lena.state, ListenerState::Failed);
    assert!(lena.error.contains("no_such_space"), "{}", lena.error);
    assert_eq!(pool.stats().connecting, 0);
}

#[test]
fn a_close_from_the_server_is_echoed_and_counted() {
    let server = FakeServer::start();
    let pool = Pool::start(config(server.port, &["lena"])).unwrap();
    let (mut peer, _, _) = server.accept_joining();
    peer.send_message(&joined(1));
    wait_until("joined", || pool.stats().joined == 1);
    peer.send(&server_frame(ws::OP_CLOSE, &ws::close_payload(4002)));
    let (opcode, payload) = peer.read_frame();
    assert_eq!((opcode, ws::close_code(&payload)), (ws::OP_CLOSE, 4002), "the close is echoed");
    wait_until("closed", || pool.stats().closed == 1);
    let stats = pool.stats();
    assert_eq!((stats.closed_by_server, stats.connected, stats.joined), (1, 0, 0));
    let [lena] = pool.listeners().try_into().unwrap();
    assert_eq!((lena.state, lena.close_code), (ListenerState::Closed, 4002));
    pool.stop();
}

#[test]
fn a_dropped_connection_is_an_abnormal_close() {
    let server = FakeServer::start();
    let pool = Pool::start(config(server.port, &["lena"])).unwrap();
    let (mut peer, _, _) = server.accept_joining();
    peer.send_message(&joined(1));
    wait_until("joined", || pool.stats().joined == 1);
    drop(peer);
    wait_until("closed", || pool.stats().closed == 1);
    let [lena] = pool.listeners().try_into().unwrap();
    assert_eq!((lena.state, lena.close_code), (ListenerState::Closed, 1006));
    assert_eq!(pool.stats().closed_by_server, 1);
}

#[test]
fn a_refused_upgrade_or_connect_fails_the_listener() {
    let server = FakeServer::start();
    let pool = Pool::start(config(server.port, &["lena"])).unwrap();
    let mut peer = server.accept();
    peer.send(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
    wait_until("failed", || pool.stats().failed == 1);
    assert!(pool.listeners()[0].error.contains("403"), "{}", pool.listeners()[0].error);

    let port = server.port;
    drop(server);
    let pool = Pool::start(config(port, &["a", "b"])).unwrap();
    wait_until("both failed", || pool.stats().failed == 2);
    assert!(pool.listeners()[1].error.starts_with("connect:"), "{}", pool.listeners()[1].error);
}

#[test]
fn connections_start_at_the_ramp_up_rate() {
    let server = FakeServer::start();
    let users: Vec<String> = (0..21).map(|i| format!("u{i}")).collect();
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    let pool = Pool::start(PoolConfig { connect_per_s: 100.0, ..config(server.port, &users) }).unwrap();
    let started = Instant::now();
    let peers: Vec<_> = (0..21).map(|_| server.accept()).collect();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(180), "21 connections at 100/s took {took:?}");
    assert_eq!(pool.stats().connecting, 21);
    drop(peers);
    wait_until("all failed", || pool.stats().failed == 21);
}

#[test]
fn stop_closes_listeners_in_every_phase() {
    let server = FakeServer::start();
    let pool =
        Pool::start(PoolConfig { connect_per_s: 2.0, ..config(server.port, &["a", "b", "c"]) }).unwrap();
    let (mut joined_peer, _, _) = server.accept_joining();
    joined_peer.send_message(&joined(1));
    wait_until("joined", || pool.stats().joined == 1);
    let closer = thread::spawn(move || joined_peer.expect_close());
    let started = Instant::now();
    pool.stop();
    assert!(started.elapsed() < Duration::from_secs(1), "the close handshake was answered at once");
    assert_eq!(closer.join().unwrap(), 1000);
    let states: Vec<_> = pool.listeners().iter().map(|l| (l.state, l.error.clone())).collect();
    assert_eq!(states[0], (ListenerState::Closed, String::new()));
    assert_eq!(states[2], (ListenerState::Closed, "stopped before it connected".into()));
    let stats = pool.stats();
    assert_eq!((stats.connecting, stats.joined, stats.closed, stats.failed), (0, 0, 3, 0));
    pool.stop(); // idempotent
}

#[test]
fn listeners_of_several_spaces_each_join_their_own() {
    let server = FakeServer::start();
    let spaces = vec!["s1".to_string(), "s2".to_string(), "s1".to_string()];
    let pool = Pool::start(PoolConfig { spaces, ..config(server.port, &["a", "b", "c"]) }).unwrap();
    let mut joins: Vec<(String, String)> = (0..3)
        .map(|_| {
            let (_peer, user, space_id) = server.accept_joining();
            (user, space_id)
        })
        .collect();
    joins.sort();
    let pairs: Vec<(&str, &str)> = joins.iter().map(|(u, s)| (u.as_str(), s.as_str())).collect();
    assert_eq!(pairs, [("a", "s1"), ("b", "s2"), ("c", "s1")]);
    pool.stop();

    let one_short = PoolConfig { spaces: vec!["s1".into()], ..config(server.port, &["a", "b"]) };
    assert!(matches!(Pool::start(one_short), Err(PoolError::BadArgument(_))));
}

#[test]
fn a_lingering_pool_reads_together_what_arrived_while_it_slept() {
    // Lingering 50 ms after each wait that found work: the first message wakes the pool, the
    // next ones arrive while it sleeps and wait in the socket, read together after the linger.
    // They carry the kernel's arrival stamp of the last of them (counted as restamped).
    let server = FakeServer::start();
    let pool = Pool::start(PoolConfig { linger_us: 50_000, ..config(server.port, &["lena"]) }).unwrap();
    let (mut peer, _, _) = server.accept_joining();
    peer.send_message(&joined(1));
    wait_until("joined", || pool.stats().joined == 1);
    thread::sleep(Duration::from_millis(100)); // past the linger after the join: asleep in epoll_wait
    peer.send_message(&audio(&[(1, now_us())]));
    wait_until("the first frame read", || pool.stats().frames == 1); // the pool now lingers
    for seq in 2..=10 {
        peer.send_message(&audio(&[(seq, now_us())])); // back to back, while it sleeps
    }
    wait_until("every frame counted", || pool.stats().frames == 10);
    let highest = |buckets: Vec<(u64, u64)>| buckets.iter().map(|&(us, _)| us).max().unwrap_or(0);
    let (arrival, read) = (highest(pool.latency_buckets()), highest(pool.read_latency_buckets()));
    assert!(arrival < 15_000, "stamped as they arrived: {arrival} µs");
    assert!(read >= 20_000, "read after the linger: {read} µs");
    assert!(pool.stats().restamped >= 1, "messages read together are counted: {:?}", pool.stats());
    pool.stop();
}
