//! A group's stream (`Fanout::open_stream`): items appended once reach every
//! member, each from when it joined, in order, as messages of at most
//! `max_items`; control and leaving keep their place after the items before
//! them; a member that stops reading lags alone. Real loopback sockets.

mod common;

use common::{Client, clients, fanout, numbered, seq_of, wait_for, wait_for_notice};
use fanout::NoticeKind;

const PREFIX: [u8; 2] = [0xde, 0xad];
const ITEM: usize = 40;

/// The item numbers of the next message, checking its prefix and array header.
fn items(client: &mut Client) -> Vec<u32> {
    let payload = client.read_message();
    assert_eq!(payload[..2], PREFIX);
    let count = usize::from(payload[2] & 0x0f);
    assert_eq!(payload[2] & 0xf0, 0x90, "a fixarray header");
    let items = &payload[3..];
    assert_eq!(items.len(), count * ITEM, "{count} items of {ITEM} bytes");
    items
        .chunks(ITEM)
        .map(|item| {
            assert_eq!(item, numbered(seq_of(item), ITEM), "byte-exact");
            seq_of(item)
        })
        .collect()
}

/// The items of the messages up to the one holding `last` (a writer may send a member's frames before
/// their publication, when it visits it for another reason: its socket's first EPOLLOUT, say).
fn items_up_to(client: &mut Client, last: u32) -> Vec<u32> {
    let mut got = Vec::new();
    while got.last() != Some(&last) {
        got.extend(items(client));
    }
    got
}

#[test]
fn members_get_every_item_once_in_order_from_when_they_joined_at_most_max_items_a_message() {
    let fanout = fanout(1 << 20, 64);
    let mut clients = clients(&fanout, 3);
    for client in &mut clients {
        // A round trip: the writers have seen each socket's first EPOLLOUT (a visit then could send early).
        assert!(fanout.send(client.conn, b"hi"));
        assert_eq!(client.read_message(), b"hi");
    }
    let group = fanout.new_group();
    fanout.join_group(group, clients[0].conn).unwrap();
    let stream = fanout.open_stream(group, &PREFIX, 3).unwrap();
    assert!(std::ptr::eq(&*stream, &*fanout.open_stream(group, &[], 9).unwrap()), "one stream a group");
    fanout.join_group(group, clients[1].conn).unwrap();
    for seq in 0..2 {
        stream.push(&numbered(seq, ITEM));
    }
    fanout.join_group(group, clients[2].conn).unwrap();
    for seq in 2..7 {
        stream.push(&numbered(seq, ITEM));
    }
    assert_eq!(fanout.publish(group).unwrap(), 3);
    for client in &mut clients[..2] {
        assert_eq!([items(client), items(client), items(client)], [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
    }
    assert_eq!([items(&mut clients[2]), items(&mut clients[2])], [vec![2, 3, 4], vec![5, 6]]);
    stream.push(&numbered(7, ITEM));
    fanout.publish(group).unwrap();
    for client in &mut clients {
        assert_eq!(items(client), [7], "nothing twice");
    }
    // Counted once each, after its send (the client may read it first).
    wait_for("14 messages counted", || fanout.stats().messages_queued == 3 + 11);
    assert_eq!(fanout.stats().audio_dropped, 0);
    // Each member visited after each publication (or before it, for another reason): none late. (A pass's
    // visits are counted after the pass, which may be after the client read what it sent.)
    wait_for("6 visits counted", || fanout.writers_load().visits >= 6);
    let load = fanout.writers_load();
    assert!(load.late_visits == 0 && load.busy_ns > 0, "{load:?}");
}

#[test]
fn control_and_leaving_go_after_the_items_appended_before_them() {
    let fanout = fanout(1 << 20, 64);
    let mut clients = clients(&fanout, 2);
    let group = fanout.new_group();
    let stream = fanout.open_stream(group, &PREFIX, 10).unwrap();
    for client in &clients {
        fanout.join_group(group, client.conn).unwrap();
    }
    // Not published: the items still go before the control message, and the rest after it.
    stream.push(&numbered(0, ITEM));
    stream.push(&numbered(1, ITEM));
    assert!(fanout.send(clients[0].conn, b"reply"));
    stream.push(&numbered(2, ITEM));
    fanout.publish(group).unwrap();
    assert_eq!(items(&mut clients[0]), [0, 1]);
    assert_eq!(clients[0].read_message(), b"reply");
    assert_eq!(items(&mut clients[0]), [2]);
    assert_eq!(items_up_to(&mut clients[1], 2), [0, 1, 2], "the control was not its");
    // Leaving: what was appended before still comes; what comes after does not.
    stream.push(&numbered(3, ITEM));
    fanout.leave_group(group, clients[0].conn);
    stream.push(&numbered(4, ITEM));
    fanout.publish(group).unwrap();
    assert!(fanout.send(clients[0].conn, b"after"));
    assert_eq!(items(&mut clients[0]), [3]);
    assert_eq!(clients[0].read_message(), b"after");
    assert_eq!(items_up_to(&mut clients[1], 4), [3, 4]);
    // Dropping the group: the same for every member.
    stream.push(&numbered(5, ITEM));
    fanout.drop_group(group);
    assert_eq!(items(&mut clients[1]), [5]);
    assert!(fanout.publish(group).is_err());
}

#[test]
fn a_member_that_stops_reading_lags_alone_and_keeps_the_newest_items() {
    const BIG: usize = 8_000;
    let fanout = fanout(256 * 1024, 64);
    let mut clients = clients(&fanout, 2);
    let (slow, fast) = (clients[0].conn, clients[1].conn);
    let group = fanout.new_group();
    let stream = fanout.open_stream(group, &PREFIX, 1).unwrap();
    fanout.join_group(group, slow).unwrap();
    fanout.join_group(group, fast).unwrap();
    let mut sent = 0u32;
    while fanout.stats().audio_dropped < 100 {
        assert!(sent < 4_000, "never lagged");
        stream.push(&numbered(sent, BIG));
        fanout.publish(group).unwrap();
        let payload = clients[1].read_message();
        assert_eq!(seq_of(&payload[3..]), sent, "the fast reader misses nothing");
        sent += 1;
    }
    let notices = wait_for_notice(&fanout, slow, NoticeKind::Lagging);
    assert!(notices.iter().all(|n| n.conn == slow), "{notices:?}");
    assert!(fanout.queued_bytes(slow) <= 256 * 1024);
    let mut got = Vec::new();
    while got.last() != Some(&(sent - 1)) {
        got.push(seq_of(&clients[0].read_message()[3..]));
    }
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
    assert!(got.len() < sent as usize, "it lost some");
    wait_for("the fast reader's queue to empty", || fanout.queued_bytes(fast) == 0);
}

#[test]
fn audio_sent_to_a_member_goes_after_its_stream_frames_and_a_close_drops_those_not_sent() {
    let fanout = fanout(1 << 20, 64);
    let mut clients = clients(&fanout, 1);
    let conn = clients[0].conn;
    let group = fanout.new_group();
    let stream = fanout.open_stream(group, &PREFIX, 2).unwrap();
    fanout.join_group(group, conn).unwrap();
    stream.push(&numbered(0, ITEM));
    fanout.send_audio(conn, b"own");
    assert_eq!(items(&mut clients[0]), [0]);
    assert_eq!(clients[0].read_message(), b"own");
    // Appended, not yet sent when it closes: dropped (2 messages of at most 2), the close frame goes alone.
    for seq in 1..4 {
        stream.push(&numbered(seq, ITEM));
    }
    assert!(fanout.close_with(conn, &[0x88, 0]));
    fanout.publish(group).unwrap();
    assert_eq!(clients[0].read_frame(), (0x88, Vec::new()));
    assert!(clients[0].read_to_eof().is_empty());
    assert_eq!(fanout.stats().audio_dropped_at_close, 2);
}

#[test]
fn a_member_joining_another_streams_group_gets_what_the_first_had_for_it_at_once() {
    let fanout = fanout(1 << 20, 64);
    let mut clients = clients(&fanout, 1);
    let conn = clients[0].conn;
    assert!(fanout.send(conn, b"hi")); // a round trip: the socket's first EPOLLOUT is behind us
    assert_eq!(clients[0].read_message(), b"hi");
    let (first, second) = (fanout.new_group(), fanout.new_group());
    let old = fanout.open_stream(first, &PREFIX, 10).unwrap();
    fanout.open_stream(second, &PREFIX, 10).unwrap();
    fanout.join_group(first, conn).unwrap();
    old.push(&numbered(0, ITEM));
    fanout.join_group(second, conn).unwrap(); // no publication of `first` follows
    assert_eq!(items(&mut clients[0]), [0]);
}
