//! Slow readers: a client that stops reading loses its oldest audio (and is
//! told so), or overflows on control and is closed with 4000, and nobody else notices.

mod common;

use common::{clients, fanout, numbered, seq_of, wait_for, wait_for_notice};
use fanout::{NoticeKind, TOO_SLOW, TOO_SLOW_REASON, close_frame};

const AUDIO_BYTES: usize = 8_000;

#[test]
fn a_reader_that_stops_loses_its_oldest_audio_while_the_others_get_everything() {
    let fanout = fanout(256 * 1024, 64);
    let mut clients = clients(&fanout, 2);
    let (slow, fast) = (clients[0].conn, clients[1].conn);
    let group = fanout.new_group();
    fanout.join_group(group, slow).unwrap();
    fanout.join_group(group, fast).unwrap();
    // Paced by the fast reader, so only the slow one can fall behind. The
    // kernel buffers a few MB of a loopback connection before it does.
    let (mut sent, mut notices) = (0u32, Vec::new());
    while sent < 4_000 {
        assert_eq!(fanout.broadcast_audio(group, &numbered(sent, AUDIO_BYTES)).unwrap(), 2);
        assert_eq!(seq_of(&clients[1].read_message()), sent, "the fast reader misses nothing");
        sent += 1;
        notices.extend(fanout.take_notices());
        if fanout.stats().audio_dropped >= 100 {
            break;
        }
    }
    notices.extend(fanout.take_notices());
    let dropped = fanout.stats().audio_dropped;
    assert!(dropped >= 100, "only {dropped} dropped after {sent} messages");
    assert!(notices.iter().all(|n| n.conn == slow && n.kind == NoticeKind::Lagging), "{notices:?}");
    assert_eq!(notices.iter().map(|n| n.value).sum::<u64>(), dropped, "notices count every drop");
    assert!(fanout.queued_bytes(slow) <= 256 * 1024);

    // Now it reads: what it gets is in order, ends with the newest message,
    // and lacks exactly the dropped ones, from the oldest queued on.
    let mut got = Vec::new();
    while got.last() != Some(&(sent - 1)) {
        got.push(seq_of(&clients[0].read_message()));
    }
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(got.len() as u64, u64::from(sent) - dropped);
    // 32 framed messages fit in 256 KiB; the oldest may have been partly written.
    let newest: Vec<u32> = (sent - 31..sent).collect();
    assert_eq!(got[got.len() - 31..], newest, "the newest audio was kept");
    assert_eq!(fanout.queued_bytes(fast), 0);
}

#[test]
fn control_that_cannot_fit_closes_only_that_connection() {
    let fanout = fanout(64 * 1024, 64);
    let mut clients = clients(&fanout, 2);
    let (stuck, fine) = (clients[0].conn, clients[1].conn);
    let group = fanout.new_group();
    fanout.join_group(group, stuck).unwrap();
    fanout.join_group(group, fine).unwrap();
    let mut sent = 0u32;
    let overflowed = loop {
        let overflowed = fanout.broadcast(group, &numbered(sent, AUDIO_BYTES)).unwrap();
        assert_eq!(seq_of(&clients[1].read_message()), sent);
        sent += 1;
        if !overflowed.is_empty() {
            break overflowed;
        }
        assert!(sent < 10_000, "never overflowed");
    };
    assert_eq!(overflowed, [stuck]);
    let notices = wait_for_notice(&fanout, stuck, NoticeKind::Overflow);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].value as usize + AUDIO_BYTES + 4 > 64 * 1024, "it held nearly the bound");
    assert!(!fanout.send(stuck, b"x"), "closed as by close()");
    assert_eq!(fanout.broadcast(group, b"after").unwrap(), Vec::<u64>::new(), "it left the group");
    assert_eq!(clients[1].read_message(), b"after");
    assert!(fanout.send(fine, b"still here"));
    assert_eq!(clients[1].read_message(), b"still here");
    assert_eq!(fanout.stats().overflows, 1);

    // The owner's close frame (the wire's, on the owner's close) is not queued
    // after the fan-out's own: the first close frame stands.
    assert!(fanout.close_with(stuck, &close_frame(1000, "later")), "it ends with a close frame");

    // Closed as by close_with(): what was queued is flushed, then a close
    // frame 4000, then EOF. The control message that overflowed is absent.
    let mut seen = 0u32;
    while seen < sent - 1 {
        assert_eq!(seq_of(&clients[0].read_message()), seen);
        seen += 1;
    }
    let (first, payload) = clients[0].read_frame();
    assert_eq!((first, &payload[..2]), (0x88, &TOO_SLOW.to_be_bytes()[..]), "FIN + close, code 4000");
    assert_eq!(&payload[2..], TOO_SLOW_REASON.as_bytes());
    let rest = clients[0].read_to_eof();
    assert!(rest.is_empty(), "{} stray bytes after the close frame", rest.len());
    wait_for("the writer to forget it", || fanout.stats().connections == 1);
}
