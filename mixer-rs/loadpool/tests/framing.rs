//! WebSocket framing as a listener sees it: server frame headers of every length encoding, a read
//! buffer fed in arbitrary pieces, masked client frames, and the upgrade response check.

use loadpool::inbox::{INITIAL_CAPACITY, Inbox, InboxError};
use loadpool::ws::{self, FrameError, FrameHeader, Upgrade};

/// A server frame (unmasked), as a server would write it.
fn server_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

fn payload_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn header_lengths_in_7_16_and_64_bits_are_read() {
    for (len, header_len) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10), (300_000, 10)] {
        let frame = server_frame(ws::OP_BINARY, true, &payload_of(len));
        let header = ws::parse_header(&frame).unwrap().unwrap();
        assert_eq!(
            header,
            FrameHeader { fin: true, opcode: ws::OP_BINARY, header_len, payload_len: len as u64 },
            "payload of {len} bytes"
        );
        assert_eq!(header.frame_len() as usize, frame.len());
    }
}

#[test]
fn a_header_cut_short_is_incomplete_not_an_error() {
    for len in [5, 200, 70_000] {
        let frame = server_frame(ws::OP_BINARY, true, &payload_of(len));
        let header_len = ws::parse_header(&frame).unwrap().unwrap().header_len;
        for cut in 0..header_len {
            assert_eq!(ws::parse_header(&frame[..cut]), Ok(None), "{cut} of {header_len} header bytes");
        }
    }
}

#[test]
fn frames_no_server_may_send_are_refused() {
    let table: [(&[u8], FrameError); 5] = [
        (&[0xC2, 0x00], FrameError::ReservedBits),
        (&[0x82, 0x80, 1, 2, 3, 4], FrameError::MaskedByServer),
        (&[0x83, 0x00], FrameError::UnknownOpcode(3)),
        (&[0x09, 0x00], FrameError::BadControlFrame),
        (&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0], FrameError::LengthOverflow),
    ];
    for (bytes, error) in table {
        assert_eq!(ws::parse_header(bytes), Err(error), "{bytes:02x?}");
    }
    let long_ping = server_frame(ws::OP_PING, true, &[0; 126]);
    assert_eq!(ws::parse_header(&long_ping), Err(FrameError::BadControlFrame));
}

/// Feeds `stream` to an inbox in reads of the given sizes; returns every frame's (opcode, payload).
fn feed(stream: &[u8], reads: &[usize]) -> Vec<(u8, Vec<u8>)> {
    let mut inbox = Inbox::new(1 << 20);
    let mut frames = Vec::new();
    let mut rest = stream;
    for &size in reads.iter().chain(std::iter::repeat(&usize::MAX)) {
        if rest.is_empty() {
            break;
        }
        let spare = inbox.spare();
        let n = size.min(spare.len()).min(rest.len());
        spare[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        inbox.commit(n);
        while let Some((header, payload)) = inbox.next_frame().unwrap() {
            frames.push((header.opcode, inbox.payload(payload).to_vec()));
        }
        inbox.compact();
    }
    assert!(inbox.pending().is_empty(), "bytes left over");
    frames
}

#[test]
fn a_frame_split_across_reads_comes_out_whole_once_complete() {
    let payload = payload_of(300);
    let frame = server_frame(ws::OP_BINARY, true, &payload);
    for first in [1, 2, 3, 4, 100, frame.len() - 1] {
        assert_eq!(feed(&frame, &[first]), vec![(ws::OP_BINARY, payload.clone())], "split after {first}");
    }
    // One byte per read.
    assert_eq!(feed(&frame, &[1; 400]), vec![(ws::OP_BINARY, payload)]);
}

#[test]
fn two_frames_in_one_read_come_out_one_by_one() {
    let (a, b) = (payload_of(20), payload_of(130));
    let mut stream = server_frame(ws::OP_BINARY, true, &a);
    stream.extend(server_frame(ws::OP_PING, true, b"hi"));
    stream.extend(server_frame(ws::OP_BINARY, true, &b));
    let expected = vec![(ws::OP_BINARY, a), (ws::OP_PING, b"hi".to_vec()), (ws::OP_BINARY, b)];
    assert_eq!(feed(&stream, &[stream.len()]), expected);
    // The second frame split, with the first whole in the same read.
    assert_eq!(feed(&stream, &[30, 5]), expected);
}

#[test]
fn a_message_larger_than_the_buffer_grows_it_then_gives_it_back() {
    let big = payload_of(200_000);
    let mut stream = server_frame(ws::OP_BINARY, true, &big);
    stream.extend(server_frame(ws::OP_BINARY, true, b"small"));
    let mut inbox = Inbox::new(1 << 20);
    let mut rest = &stream[..];
    let mut seen = Vec::new();
    while !rest.is_empty() {
        let spare = inbox.spare();
        let n = spare.len().min(rest.len()).min(50_000);
        spare[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        inbox.commit(n);
        while let Some((_, payload)) = inbox.next_frame().unwrap() {
            seen.push(inbox.payload(payload).len());
        }
        inbox.compact();
    }
    assert_eq!(seen, vec![200_000, 5]);
    assert_eq!(inbox.capacity(), INITIAL_CAPACITY, "the grown buffer is given back once empty");
}

#[test]
fn a_frame_over_the_limit_is_refused_from_its_header() {
    let mut inbox = Inbox::new(1000);
    let frame = server_frame(ws::OP_BINARY, true, &payload_of(1001));
    inbox.spare()[..4].copy_from_slice(&frame[..4]);
    inbox.commit(4);
    assert_eq!(inbox.next_frame(), Err(InboxError::TooLarge(1001)));
}

/// Reads a client frame back as a server would: (fin, opcode, mask key, unmasked payload, bytes used).
fn read_client_frame(bytes: &[u8]) -> (bool, u8, [u8; 4], Vec<u8>, usize) {
    assert_eq!(bytes[1] & 0x80, 0x80, "client frames are masked");
    let (len, at) = match bytes[1] & 0x7F {
        126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
        127 => (u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize, 10),
        short => (short as usize, 2),
    };
    let key: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
    let payload = bytes[at + 4..at + 4 + len].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    (bytes[0] & 0x80 != 0, bytes[0] & 0x0F, key, payload, at + 4 + len)
}

#[test]
fn client_frames_are_masked_with_the_key_given() {
    let key = [0x37, 0xFA, 0x21, 0x3D];
    for len in [0, 5, 125, 126, 65_535, 65_536] {
        let payload = payload_of(len);
        let mut out = Vec::new();
        ws::write_client_frame(&mut out, ws::OP_BINARY, &payload, key);
        let (fin, opcode, got_key, unmasked, used) = read_client_frame(&out);
        assert!(fin);
        assert_eq!((opcode, got_key, used), (ws::OP_BINARY, key, out.len()), "{len} bytes");
        assert_eq!(unmasked, payload, "{len} bytes");
        if len >= 4 {
            assert_ne!(&out[out.len() - len..], &payload[..], "the payload on the wire is masked");
        }
    }
}

#[test]
fn the_rfc_example_masks_hello_as_it_says() {
    // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
    let mut out = Vec::new();
    ws::write_client_frame(&mut out, ws::OP_TEXT, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
    assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
}

#[test]
fn close_codes_round_trip_and_an_empty_close_means_1005() {
    assert_eq!(ws::close_code(&ws::close_payload(1000)), 1000);
    assert_eq!(ws::close_code(&ws::close_payload(4001)), 4001);
    assert_eq!(ws::close_code(&[]), 1005);
}

#[test]
fn the_upgrade_needs_101_websocket_and_the_accept_key_of_our_key() {
    let ok = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        ws::EXPECTED_ACCEPT
    );
    let mut with_frame = ok.clone().into_bytes();
    with_frame.extend_from_slice(&[0x82, 0x00]);
    assert_eq!(ws::read_upgrade_response(&with_frame), Upgrade::Accepted { head_len: ok.len() });
    assert_eq!(ws::read_upgrade_response(&ok.as_bytes()[..40]), Upgrade::Incomplete);
    let refused = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n";
    assert!(matches!(ws::read_upgrade_response(refused), Upgrade::Refused(why) if why.contains("403")));
    let wrong_key = ok.replace(ws::EXPECTED_ACCEPT, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert!(matches!(ws::read_upgrade_response(wrong_key.as_bytes()), Upgrade::Refused(_)));
    let request = String::from_utf8(ws::upgrade_request("127.0.0.1:8765")).unwrap();
    assert!(request.starts_with("GET / HTTP/1.1\r\nHost: 127.0.0.1:8765\r\n"));
    assert!(request.contains(&format!("Sec-WebSocket-Key: {}\r\n", ws::CLIENT_KEY)));
    assert!(request.ends_with("\r\n\r\n"));
}
