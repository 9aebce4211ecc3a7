//! What reaches a client that reads: exact WebSocket frames, every broadcast
//! to every member, and each connection's bytes in the order they were queued.

mod common;

use common::{clients, fanout, numbered, seq_of, wait_for};

#[test]
fn each_length_form_arrives_with_its_exact_header() {
    let fanout = fanout(1 << 20, 64);
    let mut client = clients(&fanout, 1).remove(0);
    let cases: [(usize, &[u8]); 5] = [
        (0, &[0x82, 0]),
        (125, &[0x82, 125]),
        (126, &[0x82, 126, 0, 126]),
        (65_535, &[0x82, 126, 0xff, 0xff]),
        (65_536, &[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    ];
    for (len, header) in cases {
        let payload = numbered(len as u32, len);
        assert!(fanout.send(client.conn, &payload[..len]));
        assert_eq!(client.read_exact(header.len()), header, "header of {len}");
        assert_eq!(client.read_exact(len), &payload[..len], "payload of {len}");
    }
}

#[test]
fn a_broadcast_reaches_every_member_byte_exact_and_in_order() {
    let fanout = fanout(1 << 20, 1_000);
    let mut members = clients(&fanout, 20);
    let outsider = clients(&fanout, 1).remove(0);
    let group = fanout.new_group();
    for client in &members {
        fanout.join_group(group, client.conn).unwrap();
    }
    let sizes = [1, 90, 125, 126, 700, 4_000];
    for seq in 0..300u32 {
        let payload = numbered(seq, sizes[seq as usize % sizes.len()].max(4));
        if seq % 2 == 0 {
            assert_eq!(fanout.broadcast(group, &payload).unwrap(), Vec::<u64>::new());
        } else {
            assert_eq!(fanout.broadcast_audio(group, &payload).unwrap(), 20);
        }
    }
    for client in &mut members {
        for seq in 0..300u32 {
            let expected = numbered(seq, sizes[seq as usize % sizes.len()].max(4));
            assert_eq!(client.read_message(), expected, "conn {} message {seq}", client.conn);
        }
    }
    assert_eq!(fanout.queued_bytes(outsider.conn), 0, "a non-member got nothing");
    let stats = fanout.stats();
    assert_eq!((stats.messages_queued, stats.audio_dropped, stats.groups), (20 * 300, 0, 1));
    wait_for("the writer to publish its counters", || fanout.stats().write_calls > 0);
}

#[test]
fn control_raw_and_audio_leave_in_the_order_they_were_queued() {
    let fanout = fanout(1 << 20, 1_000);
    let mut client = clients(&fanout, 1).remove(0);
    // A pong frame as trio-websocket would hand it over, already framed.
    let pong = [0x8a, 2, b'h', b'i'];
    for seq in 0..200u32 {
        match seq % 3 {
            0 => assert!(fanout.send(client.conn, &numbered(seq, 50))),
            1 => fanout.send_audio(client.conn, &numbered(seq, 300)),
            _ => assert!(fanout.send_raw(client.conn, &pong)),
        }
    }
    for seq in 0..200u32 {
        match seq % 3 {
            0 => assert_eq!(client.read_message(), numbered(seq, 50)),
            1 => assert_eq!(seq_of(&client.read_message()), seq),
            _ => assert_eq!(client.read_frame(), (0x8a, b"hi".to_vec())),
        }
    }
}

#[test]
fn sends_to_an_unknown_or_closed_connection_are_refused() {
    let fanout = fanout(1 << 20, 64);
    let client = clients(&fanout, 1).remove(0);
    assert!(!fanout.send(0, b"x"), "ids start at 1");
    assert!(!fanout.send(client.conn + 1, b"x"));
    fanout.close(client.conn);
    fanout.close(client.conn); // idempotent
    assert!(!fanout.send(client.conn, b"x"));
    assert!(!fanout.send_raw(client.conn, b"x"));
    fanout.send_audio(client.conn, b"ignored");
    let group = fanout.new_group();
    fanout.join_group(group, client.conn).unwrap();
    assert_eq!(fanout.broadcast_audio(group, b"x").unwrap(), 0, "a closed connection joins nothing");
    assert!(fanout.join_group(group + 1, client.conn).is_err(), "unknown group");
}

#[test]
fn leaving_or_dropping_a_group_stops_its_broadcasts() {
    let fanout = fanout(1 << 20, 64);
    let mut members = clients(&fanout, 3);
    let group = fanout.new_group();
    for client in &members {
        fanout.join_group(group, client.conn).unwrap();
        fanout.join_group(group, client.conn).unwrap(); // joining twice is one membership
    }
    assert_eq!(fanout.broadcast_audio(group, b"all").unwrap(), 3);
    fanout.leave_group(group, members[1].conn);
    assert_eq!(fanout.broadcast_audio(group, b"two").unwrap(), 2);
    fanout.drop_group(group);
    assert!(fanout.broadcast_audio(group, b"none").is_err());
    assert_eq!(fanout.stats().groups, 0);
    assert_eq!((members[0].read_message(), members[0].read_message()), (b"all".to_vec(), b"two".to_vec()));
    assert_eq!(members[1].read_message(), b"all");
    assert!(fanout.send(members[1].conn, b"direct"), "leaving a group does not close");
    assert_eq!(members[1].read_message(), b"direct");
}
