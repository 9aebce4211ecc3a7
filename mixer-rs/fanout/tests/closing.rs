//! How connections end: a close drops its queued audio, flushes the rest,
//! then sends EOF (even after the owner closed its own descriptor), gives up
//! after the grace period, a reset peer is noticed and dropped alone, and a
//! shut-down fan-out refuses everything.

mod common;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::{clients, fanout, numbered, seq_of, wait_for};
use fanout::{CLOSE_GRACE, FanoutError, NoticeKind};

const BIG: usize = 8_000;

#[test]
fn close_flushes_what_is_queued_then_the_peer_sees_eof() {
    let fanout = fanout(16 << 20, 64);
    let mut client = clients(&fanout, 1).remove(0);
    // More than loopback buffers hold, so some of it is still queued at close.
    for seq in 0..1_500u32 {
        assert!(fanout.send(client.conn, &numbered(seq, BIG)));
    }
    assert!(fanout.queued_bytes(client.conn) > 0, "the kernel took it all: send more");
    fanout.close(client.conn);
    drop(client.server_side.take()); // the owner closes its descriptor at once, as the server does
    assert!(!fanout.send(client.conn, b"late"));
    for seq in 0..1_500u32 {
        assert_eq!(seq_of(&client.read_message()), seq);
    }
    assert_eq!(client.read_to_eof(), b"");
    wait_for("the writer to forget it", || fanout.stats().connections == 0);
    assert_eq!(fanout.queued_bytes(client.conn), 0);
}

#[test]
fn a_close_that_cannot_flush_gives_up_after_the_grace_period() {
    let fanout = fanout(16 << 20, 64);
    let mut client = clients(&fanout, 1).remove(0);
    for seq in 0..1_500u32 {
        fanout.send(client.conn, &numbered(seq, BIG));
    }
    let closed = Instant::now();
    fanout.close(client.conn);
    wait_for("the grace period to end", || fanout.stats().connections == 0);
    let waited = closed.elapsed();
    assert!(waited >= CLOSE_GRACE - Duration::from_millis(50), "gave up after {waited:?}");
    // The peer gets a prefix of the stream, in order, then EOF. The message
    // being written when time ran out may be cut: the connection is dead anyway.
    let bytes = client.read_to_eof();
    let framed = 4 + BIG;
    for (seq, message) in bytes.chunks(framed).enumerate() {
        let mut expected = vec![0x82, 126, (BIG >> 8) as u8, BIG as u8];
        expected.extend(numbered(seq as u32, BIG));
        assert_eq!(message, &expected[..message.len()], "message {seq}");
    }
    assert!(bytes.len() / framed < 1_500, "the unflushed part was abandoned");
}

#[test]
fn a_peer_that_resets_is_noticed_and_dropped_alone() {
    let fanout = fanout(1 << 20, 64);
    let mut clients = clients(&fanout, 2);
    let (gone, stays) = (clients[0].conn, clients[1].conn);
    let group = fanout.new_group();
    fanout.join_group(group, gone).unwrap();
    fanout.join_group(group, stays).unwrap();
    fanout.broadcast(group, b"unread").unwrap();
    assert_eq!(clients[1].read_message(), b"unread");
    // Closing a socket with unread data makes the kernel send a reset.
    let resetting = clients.remove(0);
    wait_for("the message to reach the peer", || fanout.queued_bytes(gone) == 0);
    std::thread::sleep(Duration::from_millis(20));
    drop(resetting.stream);
    let mut seq = 0u32;
    let notices = loop {
        fanout.broadcast_audio(group, &numbered(seq, 100)).unwrap();
        assert_eq!(seq_of(&clients[0].read_message()), seq, "the other member misses nothing");
        seq += 1;
        let notices = fanout.take_notices();
        if notices.iter().any(|n| n.kind == NoticeKind::Error) {
            break notices;
        }
        assert!(seq < 10_000, "the reset was never noticed");
    };
    let errors: Vec<_> = notices.iter().filter(|n| n.kind == NoticeKind::Error).collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].conn, gone);
    assert!([libc::ECONNRESET, libc::EPIPE].contains(&(errors[0].value as i32)), "{:?}", errors[0]);
    assert_eq!(fanout.stats().write_errors, 1);
    assert!(!fanout.send(gone, b"x"));
    assert_eq!(fanout.broadcast_audio(group, b"left").unwrap(), 1, "it left the group");
    assert!(fanout.send(stays, b"fine"));
    assert_eq!(clients[0].read_message(), b"left");
    assert_eq!(clients[0].read_message(), b"fine");
}

#[test]
fn a_shut_down_fanout_refuses_everything_and_closed_connections_get_eof() {
    let fanout = fanout(1 << 20, 64);
    let mut clients = clients(&fanout, 2);
    assert!(fanout.send(clients[0].conn, b"bye"));
    fanout.close(clients[0].conn);
    fanout.shutdown();
    fanout.shutdown(); // idempotent
    assert_eq!(clients[0].read_message(), b"bye");
    assert_eq!(clients[0].read_to_eof(), b"");
    assert!(!fanout.send(clients[1].conn, b"x"));
    assert!(matches!(
        fanout.register(clients[1].server_side.as_ref().unwrap().as_raw_fd()),
        Err(FanoutError::Stopped)
    ));
    assert_eq!(fanout.stats().connections, 0);
    assert_eq!(fanout.take_notices(), [], "a clean shutdown leaves no notice");
}

#[test]
fn register_refuses_what_is_not_a_stream_socket() {
    let fanout = fanout(1 << 20, 64);
    let err = fanout.register(-1).unwrap_err();
    assert_eq!(err.code(), "os_error");
    let file = std::fs::File::open("/dev/null").unwrap();
    assert!(fanout.register(file.as_raw_fd()).is_err());
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(fanout.register(udp.as_raw_fd()).is_err());
    assert_eq!(fanout.stats().connections, 0);
}

#[test]
fn a_borrowed_descriptor_is_flushed_shut_and_released_but_never_closed() {
    use std::net::{TcpListener, TcpStream};
    let fanout = fanout(16 << 20, 64);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    let conn = fanout.register_borrowed(server_side.as_raw_fd()).unwrap();
    assert!(fanout.send(conn, b"hello"));
    fanout.close(conn);
    wait_for("the writer to release it", || fanout.released(conn));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut peer, &mut bytes).unwrap();
    assert_eq!(bytes, [&[0x82, 5][..], b"hello"].concat(), "flushed, then EOF");
    // The owner's descriptor is still open: fcntl succeeds on it.
    // SAFETY: F_GETFD takes an int descriptor and no pointers.
    let flags = unsafe { libc::fcntl(server_side.as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0, "the fan-out closed a descriptor it had only borrowed");
    drop(server_side);
}

#[test]
fn a_stopped_writer_releases_borrowed_descriptors_and_leaves_them_open() {
    use std::net::{TcpListener, TcpStream};
    let fanout = fanout(1 << 20, 64);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    let conn = fanout.register_borrowed(server_side.as_raw_fd()).unwrap();
    assert!(!fanout.released(conn), "registered and open: not released");
    fanout.shutdown(); // never closed: the owner may close it once released
    assert!(fanout.released(conn));
    // SAFETY: F_GETFD takes an int descriptor and no pointers.
    let flags = unsafe { libc::fcntl(server_side.as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0, "the fan-out closed a descriptor it had only borrowed");
}

#[test]
fn a_close_drops_queued_audio_so_that_the_close_frame_goes_at_once() {
    let fanout = fanout(64 << 20, 4_000);
    let mut client = clients(&fanout, 1).remove(0);
    // More audio than loopback buffers hold: much of it is still queued at close.
    for seq in 0..3_000u32 {
        fanout.send_audio(client.conn, &numbered(seq, BIG));
    }
    assert!(fanout.queued_bytes(client.conn) > 0, "the kernel took it all: send more");
    // Already framed, as the wire's close frame is (here a binary message, for `read_message`).
    assert!(fanout.close_with(client.conn, &[0x82, 3, b'b', b'y', b'e']), "queued last");
    assert!(!fanout.send(client.conn, b"late"));
    assert!(fanout.close_with(client.conn, &[0x82, 0]), "it ends with a close frame: the first, alone");
    fanout.send_audio(client.conn, &numbered(9_999, BIG)); // ignored: nothing follows the close frame
    let dropped = fanout.stats().audio_dropped_at_close;
    assert!(dropped > 0, "the queued audio was dropped");
    // What the kernel held or the writer had begun, in order; then the close frame; then EOF.
    let mut arrived = 0u32;
    loop {
        let payload = client.read_message();
        if payload == b"bye" {
            break;
        }
        assert_eq!(seq_of(&payload), arrived);
        arrived += 1;
    }
    assert_eq!(client.read_to_eof(), b"");
    assert_eq!(u64::from(arrived) + dropped, 3_000, "each message arrived or was counted as dropped");
}
