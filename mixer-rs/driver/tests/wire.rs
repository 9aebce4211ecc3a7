//! The driver's hand-written msgpack against an independent reader (rmpv),
//! over any frames: exactly the `audio` message of the protocol, no byte
//! more, whatever the sizes (fixed and 16-bit `bin` lengths, any integers).

use driver::{WireFrame, encode_audio};
use proptest::prelude::*;
use rmpv::Value;

fn wire_frame() -> impl Strategy<Value = WireFrame> {
    (any::<u64>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..1500))
        .prop_map(|(seq, captured_at, opus)| WireFrame { seq, captured_at, opus })
}

fn field<'a>(map: &'a Value, key: &str) -> &'a Value {
    let entries = map.as_map().expect("a map");
    &entries.iter().find(|(k, _)| k.as_str() == Some(key)).expect("the key is there").1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn an_audio_message_reads_back_as_the_frames_it_was_written_from(
        frames in proptest::collection::vec(wire_frame(), 0..15),
    ) {
        let message = encode_audio(&frames);
        let mut reader = &message[..];
        let value = rmpv::decode::read_value(&mut reader).unwrap();
        prop_assert!(reader.is_empty(), "nothing after the message");
        prop_assert_eq!(value.as_map().unwrap().len(), 2);
        prop_assert_eq!(field(&value, "type").as_str(), Some("audio"));
        let read = field(&value, "frames").as_array().unwrap();
        prop_assert_eq!(read.len(), frames.len());
        for (read, frame) in read.iter().zip(&frames) {
            prop_assert_eq!(read.as_map().unwrap().len(), 3);
            prop_assert_eq!(field(read, "seq").as_u64(), Some(frame.seq));
            prop_assert_eq!(field(read, "captured_at").as_u64(), Some(frame.captured_at));
            prop_assert_eq!(field(read, "opus").as_slice(), Some(&frame.opus[..]));
        }
    }
}
