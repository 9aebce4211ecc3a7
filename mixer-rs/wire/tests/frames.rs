//! The frame reader on its own: every edge case of RFC 6455 framing a client
//! can produce, and properties over any bytes.

use proptest::prelude::*;
use wire::frames::{FrameReader, Item, client_frame, unmask};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Everything `reader` makes of `bytes`: the items, or the violation's code.
fn read_all(reader: &mut FrameReader, bytes: &[u8]) -> Result<Vec<Item>, u16> {
    let mut buf = bytes.to_vec();
    let mut at = 0;
    let mut items = Vec::new();
    loop {
        match reader.next(&mut buf[at..]) {
            Ok(None) => return Ok(items),
            Ok(Some((item, used))) => {
                if let Some(item) = item {
                    items.push(match item {
                        Item::Binary { start, end } => Item::Assembled(buf[at + start..at + end].to_vec()),
                        other => other,
                    });
                }
                at += used;
            }
            Err(violation) => return Err(violation.code),
        }
    }
}

fn one(bytes: &[u8]) -> Result<Vec<Item>, u16> {
    read_all(&mut FrameReader::new(1024), bytes)
}

#[test]
fn a_masked_binary_frame_is_unmasked() {
    assert_eq!(one(&client_frame(true, 2, b"hello", MASK)), Ok(vec![Item::Assembled(b"hello".to_vec())]));
}

#[test]
fn fragments_with_control_frames_between_them_make_one_message() {
    let mut bytes = client_frame(false, 2, b"he", MASK);
    bytes.extend(client_frame(true, 9, b"ping!", MASK));
    bytes.extend(client_frame(false, 0, b"ll", MASK));
    bytes.extend(client_frame(true, 10, b"", MASK));
    bytes.extend(client_frame(true, 0, b"o", MASK));
    assert_eq!(
        one(&bytes),
        Ok(vec![Item::Ping(b"ping!".to_vec()), Item::Pong, Item::Assembled(b"hello".to_vec())])
    );
}

#[test]
fn a_frame_split_anywhere_waits_for_the_rest() {
    let frame = client_frame(true, 2, &[7; 300], MASK);
    for end in 0..frame.len() {
        assert_eq!(one(&frame[..end]), Ok(vec![]), "prefix of {end} bytes");
    }
    assert_eq!(one(&frame), Ok(vec![Item::Assembled(vec![7; 300])]));
}

#[test]
fn each_length_form_is_read() {
    for len in [0, 125, 126, 1000, 65_535, 65_536, 100_000] {
        let mut reader = FrameReader::new(200_000);
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        assert_eq!(
            read_all(&mut reader, &client_frame(true, 2, &payload, MASK)),
            Ok(vec![Item::Assembled(payload)])
        );
    }
}

#[test]
fn breaches_of_the_protocol_close_with_their_codes() {
    let mut unmasked = client_frame(true, 2, b"x", MASK);
    unmasked[1] &= 0x7f;
    let mut reserved = client_frame(true, 2, b"x", MASK);
    reserved[0] |= 0x40;
    let mut not_shortest = vec![0x82, 0x80 | 126, 0, 5];
    not_shortest.extend(MASK);
    let mut top_bit = vec![0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1];
    top_bit.extend(MASK);
    let mut two_messages = client_frame(false, 2, b"a", MASK);
    two_messages.extend(client_frame(true, 2, b"b", MASK));
    let mut text_inside = client_frame(false, 2, b"a", MASK);
    text_inside.extend(client_frame(true, 1, b"b", MASK));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("text", client_frame(true, 1, b"hi", MASK), 1003),
        ("text in fragments", client_frame(false, 1, b"h", MASK), 1003),
        ("unmasked", unmasked, 1002),
        ("reserved bits", reserved, 1002),
        ("unknown opcode", client_frame(true, 3, b"", MASK), 1002),
        ("fragmented ping", client_frame(false, 9, b"", MASK), 1002),
        ("long ping", client_frame(true, 9, &[0; 126], MASK), 1002),
        ("continuation of nothing", client_frame(true, 0, b"x", MASK), 1002),
        ("a message inside another", two_messages, 1002),
        ("a text message inside a binary one", text_inside, 1002),
        ("length not shortest", not_shortest, 1002),
        ("length top bit", top_bit, 1002),
        ("oversized", client_frame(true, 2, &[0; 1025], MASK), 1009),
        ("close of 1 byte", client_frame(true, 8, &[3], MASK), 1002),
        ("close code 1005", client_frame(true, 8, &1005u16.to_be_bytes(), MASK), 1002),
        ("close reason not UTF-8", client_frame(true, 8, &[3, 232, 0xff], MASK), 1007),
    ];
    for (name, bytes, code) in cases {
        assert_eq!(one(&bytes), Err(code), "{name}");
    }
}

#[test]
fn an_oversized_message_is_refused_from_its_header_and_fragments_add_up() {
    // The header alone is enough: nothing of a 1 GiB payload is waited for.
    let mut huge = vec![0x82, 0x80 | 127, 0, 0, 0, 0, 0x40, 0, 0, 0];
    huge.extend(MASK);
    assert_eq!(one(&huge), Err(1009));
    let mut parts = client_frame(false, 2, &[0; 600], MASK);
    parts.extend(client_frame(true, 0, &[0; 600], MASK));
    assert_eq!(one(&parts), Err(1009));
}

#[test]
fn a_close_frame_gives_its_code_and_reason() {
    let mut payload = 4000u16.to_be_bytes().to_vec();
    payload.extend_from_slice("bye ✓".as_bytes());
    assert_eq!(one(&client_frame(true, 8, &payload, MASK)), Ok(vec![Item::Close(4000, "bye ✓".into())]));
    assert_eq!(one(&client_frame(true, 8, b"", MASK)), Ok(vec![Item::Close(1005, String::new())]));
}

proptest! {
    #[test]
    fn unmasking_a_word_at_a_time_is_the_rfcs_byte_at_a_time(
        payload in proptest::collection::vec(any::<u8>(), 0..40),
        mask in any::<[u8; 4]>(),
    ) {
        let expected: Vec<u8> = payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
        let mut got = payload;
        unmask(&mut got, mask);
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn any_bytes_are_read_or_refused_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_all(&mut FrameReader::new(256), &bytes);
    }

    #[test]
    fn any_message_in_any_fragments_comes_back_whole(
        payload in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(0usize..2000, 0..6),
        mask in any::<[u8; 4]>(),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(payload.len())).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut bounds = vec![0];
        bounds.extend(cuts);
        bounds.push(payload.len());
        bounds.dedup();
        let mut bytes = Vec::new();
        let parts = bounds.len().saturating_sub(1).max(1);
        for i in 0..parts {
            let (a, b) = (bounds[i.min(bounds.len() - 1)], bounds[(i + 1).min(bounds.len() - 1)]);
            bytes.extend(client_frame(i + 1 == parts, if i == 0 { 2 } else { 0 }, &payload[a..b], mask));
        }
        prop_assert_eq!(read_all(&mut FrameReader::new(4096), &bytes), Ok(vec![Item::Assembled(payload)]));
    }
}
