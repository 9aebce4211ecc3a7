//! The msgpack walker on messages built with an independent encoder (rmp): audio frames are found
//! whatever the field order, integer width or extra fields; other messages are classified; broken
//! input is an error, never a panic. And the two requests a listener sends decode as the protocol says.

use loadpool::msg::{self, Kind, Message, MsgError};
use rmp::encode as enc;

/// Builds msgpack with rmp, panicking on the impossible write errors of a Vec.
struct Pack(Vec<u8>);

impl Pack {
    fn new() -> Self {
        Self(Vec::new())
    }
    fn map(mut self, n: u32) -> Self {
        enc::write_map_len(&mut self.0, n).unwrap();
        self
    }
    fn array(mut self, n: u32) -> Self {
        enc::write_array_len(&mut self.0, n).unwrap();
        self
    }
    fn str(mut self, s: &str) -> Self {
        enc::write_str(&mut self.0, s).unwrap();
        self
    }
    fn uint(mut self, n: u64) -> Self {
        enc::write_uint(&mut self.0, n).unwrap();
        self
    }
    fn u64_wide(mut self, n: u64) -> Self {
        enc::write_u64(&mut self.0, n).unwrap();
        self
    }
    fn bin(mut self, b: &[u8]) -> Self {
        enc::write_bin(&mut self.0, b).unwrap();
        self
    }
    fn nil(mut self) -> Self {
        enc::write_nil(&mut self.0).unwrap();
        self
    }
    fn f64(mut self, x: f64) -> Self {
        enc::write_f64(&mut self.0, x).unwrap();
        self
    }
    /// One frame map `{seq, captured_at, opus}` in the server's field order.
    fn frame(self, seq: u64, captured_at: u64, opus_len: usize) -> Self {
        self.map(3)
            .str("seq")
            .uint(seq)
            .str("captured_at")
            .uint(captured_at)
            .str("opus")
            .bin(&vec![0xAB; opus_len])
    }
}

fn frames_of(bytes: &[u8]) -> (Result<Message<'_>, MsgError>, Vec<(u64, u64)>) {
    let mut frames = Vec::new();
    let result = msg::read_message(bytes, |seq, at| frames.push((seq, at)));
    (result, frames)
}

const T0: u64 = 1_764_120_050_000_000;

type Case<'a> = (&'a [u8], Kind, Option<u64>, &'a [u8]);

#[test]
fn an_audio_message_yields_each_frames_seq_and_capture_time() {
    for n in [1u64, 5, 20] {
        let mut pack = Pack::new().map(2).str("type").str("audio").str("frames").array(n as u32);
        for i in 0..n {
            pack = pack.frame(1841 + i, T0 + 20_000 * i, 60 + i as usize);
        }
        let (result, frames) = frames_of(&pack.0);
        assert_eq!(result.unwrap().kind, Kind::Audio);
        let expected: Vec<_> = (0..n).map(|i| (1841 + i, T0 + 20_000 * i)).collect();
        assert_eq!(frames, expected, "{n} frames");
    }
}

#[test]
fn field_order_integer_width_and_unknown_fields_do_not_matter() {
    // `frames` before `type`, an unknown top-level field holding nested values, a frame with its
    // fields reversed and an extra one, integers in their widest encoding, a 70 KB opus.
    let frame_a = |p: Pack| {
        p.map(4)
            .str("opus")
            .bin(&[1; 70_000])
            .str("extra")
            .array(2)
            .f64(1.5)
            .nil()
            .str("captured_at")
            .u64_wide(T0)
            .str("seq")
            .u64_wide(7)
    };
    let mut pack = Pack::new().map(3).str("frames").array(2);
    pack = frame_a(pack).frame(8, 0, 3);
    pack = pack.str("later").map(1).str("k").array(1).map(1).str("deep").bin(b"x");
    pack = pack.str("type").str("audio");
    let (result, frames) = frames_of(&pack.0);
    assert_eq!(result.unwrap().kind, Kind::Audio);
    assert_eq!(frames, vec![(7, T0), (8, 0)]);
}

#[test]
fn other_messages_are_classified_with_their_ref_and_code() {
    let joined = Pack::new()
        .map(4)
        .str("type")
        .str("joined")
        .str("ref")
        .uint(1)
        .str("role")
        .str("listener")
        .str("space")
        .map(2)
        .str("participants")
        .array(2)
        .map(2)
        .str("user")
        .str("ada")
        .str("role")
        .str("host")
        .map(2)
        .str("user")
        .str("lena")
        .str("role")
        .str("listener")
        // A nested `frames` key must not be taken for the message's.
        .str("frames")
        .array(1)
        .frame(1, 1, 1);
    let error = Pack::new()
        .map(4)
        .str("type")
        .str("error")
        .str("ref")
        .nil()
        .str("code")
        .str("no_such_space")
        .str("message")
        .str("no space q1w2");
    let event = Pack::new()
        .map(4)
        .str("type")
        .str("participant_left")
        .str("seq")
        .uint(9)
        .str("at")
        .uint(T0)
        .str("user")
        .str("x");
    // (message, kind, ref, code)
    let table: [Case<'_>; 5] = [
        (&joined.0, Kind::Joined, Some(1), b""),
        (&error.0, Kind::Error, None, b"no_such_space"),
        (&event.0, Kind::Event, None, b""),
        (&Pack::new().map(2).str("type").str("ok").str("ref").uint(300).0, Kind::Ok, Some(300), b""),
        (&Pack::new().map(1).str("type").str("from_the_future").0, Kind::Other, None, b""),
    ];
    for (bytes, kind, reference, code) in table {
        let (result, frames) = frames_of(bytes);
        assert_eq!(result, Ok(Message { kind, reference, code }));
        assert!(frames.is_empty(), "{kind:?} has no audio frames");
    }
}

#[test]
fn broken_messages_are_errors() {
    let audio = Pack::new().map(2).str("type").str("audio").str("frames").array(1).frame(5, T0, 40).0;
    for cut in 0..audio.len() {
        let (result, _) = frames_of(&audio[..cut]);
        assert!(result.is_err(), "cut at {cut} of {}", audio.len());
    }
    let no_seq =
        Pack::new().map(2).str("type").str("audio").str("frames").array(1).map(1).str("captured_at").uint(1);
    assert_eq!(frames_of(&no_seq.0).0, Err(MsgError::MissingField("seq")));
    assert_eq!(frames_of(&Pack::new().array(0).0).0, Err(MsgError::NotAMap));
    assert_eq!(frames_of(&Pack::new().map(1).str("ref").uint(1).0).0, Err(MsgError::NoType));
    let mut negative_seq =
        Pack::new().map(2).str("type").str("audio").str("frames").array(1).map(2).str("seq").0;
    negative_seq.push(0xff); // -1, a negative fixint
    negative_seq.extend(Pack::new().str("captured_at").uint(0).0);
    assert!(matches!(frames_of(&negative_seq).0, Err(MsgError::Unexpected { field: "seq", .. })));
    assert!(frames_of(&[0x81, 0xc1]).0.is_err(), "0xc1 is never valid msgpack");
}

#[test]
fn the_requests_a_listener_sends_are_what_the_protocol_says() {
    let mut hello = Vec::new();
    msg::write_hello(&mut hello, "listener_42");
    let mut join = Vec::new();
    msg::write_join_space(&mut join, 1, "q1w2e3r4t5y6");
    let read_str = |rd: &mut &[u8]| {
        let len = rmp::decode::read_str_len(rd).unwrap() as usize;
        let (s, rest) = rd.split_at(len);
        *rd = rest;
        String::from_utf8(s.to_vec()).unwrap()
    };
    let mut rd = &hello[..];
    assert_eq!(rmp::decode::read_map_len(&mut rd).unwrap(), 3);
    assert_eq!((read_str(&mut rd), read_str(&mut rd)), ("type".into(), "hello".into()));
    assert_eq!(read_str(&mut rd), "protocol");
    assert_eq!(rmp::decode::read_int::<u64, _>(&mut rd).unwrap(), 2);
    assert_eq!((read_str(&mut rd), read_str(&mut rd)), ("name".into(), "listener_42".into()));
    assert!(rd.is_empty());
    let mut rd = &join[..];
    assert_eq!(rmp::decode::read_map_len(&mut rd).unwrap(), 3);
    assert_eq!((read_str(&mut rd), read_str(&mut rd)), ("type".into(), "join_space".into()));
    assert_eq!(read_str(&mut rd), "ref");
    assert_eq!(rmp::decode::read_int::<u64, _>(&mut rd).unwrap(), 1);
    assert_eq!((read_str(&mut rd), read_str(&mut rd)), ("space_id".into(), "q1w2e3r4t5y6".into()));
    assert!(rd.is_empty());
}
