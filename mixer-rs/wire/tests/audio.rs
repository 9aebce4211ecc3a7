//! The `audio` reader against an independent msgpack reader (rmpv): it never
//! panics, it accepts every encoding of a valid message, and whatever it
//! accepts is exactly that message; anything else goes to Python.

use proptest::prelude::*;
use rmpv::Value;
use wire::audio::{Audio, MAX_LEVEL, MAX_OPUS_BYTES, parse};

const MAX_U63: u64 = (1 << 63) - 1;

/// A msgpack integer in one of its encodings (`form` picks which, if the value fits).
fn int(value: u64, form: u8) -> Vec<u8> {
    let mut out = Vec::new();
    match form % 9 {
        0 if value < 128 => out.push(value as u8),
        1 if value <= 0xff => out.extend([0xcc, value as u8]),
        2 if value <= 0xffff => out.extend([[0xcd].as_slice(), &(value as u16).to_be_bytes()].concat()),
        3 if value <= 0xffff_ffff => out.extend([[0xce].as_slice(), &(value as u32).to_be_bytes()].concat()),
        5 if value <= 0x7f => out.extend([0xd0, value as u8]),
        6 if value <= 0x7fff => out.extend([[0xd1].as_slice(), &(value as u16).to_be_bytes()].concat()),
        7 if value <= 0x7fff_ffff => out.extend([[0xd2].as_slice(), &(value as u32).to_be_bytes()].concat()),
        8 if value <= MAX_U63 => out.extend([[0xd3].as_slice(), &value.to_be_bytes()].concat()),
        _ => out.extend([[0xcf].as_slice(), &value.to_be_bytes()].concat()),
    }
    out
}

fn str8(s: &str, long: bool) -> Vec<u8> {
    let mut out = if long { vec![0xd9, s.len() as u8] } else { vec![0xa0 | s.len() as u8] };
    out.extend_from_slice(s.as_bytes());
    out
}

fn bin(data: &[u8], form: u8) -> Vec<u8> {
    let mut out = match form % 3 {
        0 if data.len() <= 0xff => vec![0xc4, data.len() as u8],
        1 if data.len() <= 0xffff => [[0xc5].as_slice(), &(data.len() as u16).to_be_bytes()].concat(),
        _ => [[0xc6].as_slice(), &(data.len() as u32).to_be_bytes()].concat(),
    };
    out.extend_from_slice(data);
    out
}

/// A message from its entries, in the order given.
fn message(entries: &[(&str, Vec<u8>)], map16: bool) -> Vec<u8> {
    let mut out = if map16 { vec![0xde, 0, entries.len() as u8] } else { vec![0x80 | entries.len() as u8] };
    for (key, value) in entries {
        out.extend(str8(key, false));
        out.extend_from_slice(value);
    }
    out
}

fn valid_entries(seq: u64, at: u64, opus: &[u8], forms: [u8; 3]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("type", str8("audio", forms[0] % 2 == 1)),
        ("seq", int(seq, forms[0])),
        ("captured_at", int(at, forms[1])),
        ("opus", bin(opus, forms[2])),
    ]
}

#[test]
fn the_documented_example_is_read() {
    let bytes = message(&valid_entries(1841, 1_764_120_050_000_000, &[0xfc; 72], [0, 0, 0]), false);
    assert_eq!(
        parse(&bytes),
        Some(Audio { seq: 1841, captured_at: 1_764_120_050_000_000, opus: &[0xfc; 72], level: None })
    );
}

#[test]
fn a_level_is_read_when_given_and_nil_is_none() {
    let with = |value: Vec<u8>| {
        let mut entries = valid_entries(7, 9, &[1, 2, 3], [0, 0, 0]);
        entries.insert(2, ("level", value));
        parse(&message(&entries, false)).map(|a| a.level)
    };
    assert_eq!(with(int(0, 0)), Some(Some(0)));
    assert_eq!(with(int(u64::from(MAX_LEVEL), 1)), Some(Some(MAX_LEVEL)));
    assert_eq!(with(int(40, 8)), Some(Some(40)), "any integer encoding");
    assert_eq!(with(vec![0xc0]), Some(None), "nil: no level");
    assert_eq!(with(int(128, 0)), None, "over 127: left to Python (bad_message)");
    assert_eq!(with(vec![0xff]), None, "negative");
    assert_eq!(with(vec![0xc3]), None, "a bool");
    let mut twice = valid_entries(7, 9, &[1], [0, 0, 0]);
    twice.extend([("level", int(1, 0)), ("level", int(2, 0))]);
    assert_eq!(parse(&message(&twice, false)), None, "given twice");
}

#[test]
fn near_misses_are_left_to_python() {
    let ok = |e: &mut Vec<(&'static str, Vec<u8>)>| {
        let _ = e;
    };
    type Change = Box<dyn Fn(&mut Vec<(&'static str, Vec<u8>)>)>;
    let cases: Vec<(&str, Change)> = vec![
        ("as given", Box::new(ok)),
        ("another key", Box::new(|e| e.push(("ref", vec![1])))),
        ("a key missing", Box::new(|e| drop(e.remove(1)))),
        ("a key twice", Box::new(|e| e[2] = ("seq", int(1, 0)))),
        ("another type", Box::new(|e| e[0].1 = str8("hello", false))),
        ("seq negative", Box::new(|e| e[1].1 = vec![0xff])),
        ("seq over 2^63-1", Box::new(|e| e[1].1 = int(1 << 63, 4))),
        ("seq a float", Box::new(|e| e[1].1 = vec![0xca, 0, 0, 0, 0])),
        ("seq a bool", Box::new(|e| e[1].1 = vec![0xc3])),
        ("opus a str", Box::new(|e| e[3].1 = str8("abc", false))),
        ("opus empty", Box::new(|e| e[3].1 = bin(&[], 0))),
        ("opus too long", Box::new(|e| e[3].1 = bin(&[1; MAX_OPUS_BYTES + 1], 1))),
    ];
    for (i, (name, change)) in cases.iter().enumerate() {
        let mut entries = valid_entries(7, 9, &[1, 2, 3], [0, 0, 0]);
        change(&mut entries);
        assert_eq!(parse(&message(&entries, false)).is_some(), i == 0, "{name}");
    }
    let mut trailing = message(&valid_entries(7, 9, &[1], [0, 0, 0]), false);
    trailing.push(0xc0);
    assert_eq!(parse(&trailing), None, "a byte after the map");
    assert_eq!(parse(&[0x93, 1, 2, 3]), None, "an array");
}

fn rmpv_audio(bytes: &[u8]) -> Option<(u64, u64, Vec<u8>, Option<u8>)> {
    let mut reader = bytes;
    let value = rmpv::decode::read_value(&mut reader).ok()?;
    if !reader.is_empty() {
        return None;
    }
    let Value::Map(entries) = value else { return None };
    let get = |key: &str| entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v.clone());
    let keys: Vec<_> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    let level = match get("level") {
        None | Some(Value::Nil) => None,
        Some(v) => Some(u8::try_from(v.as_u64()?).ok().filter(|&l| l <= MAX_LEVEL)?),
    };
    sorted.retain(|&k| k != "level");
    if entries.len() != sorted.len() + usize::from(keys.contains(&"level"))
        || keys.iter().filter(|&&k| k == "level").count() > 1
        || sorted != ["captured_at", "opus", "seq", "type"]
    {
        return None;
    }
    if get("type")?.as_str()? != "audio" {
        return None;
    }
    let opus = match get("opus")? {
        Value::Binary(b) if !b.is_empty() && b.len() <= MAX_OPUS_BYTES => b,
        _ => return None,
    };
    let u63 = |v: Value| v.as_u64().filter(|&n| n <= MAX_U63);
    Some((u63(get("seq")?)?, u63(get("captured_at")?)?, opus, level))
}

proptest! {
    #[test]
    fn any_bytes_are_read_only_if_rmpv_reads_the_same_audio(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Some(audio) = parse(&bytes) {
            prop_assert_eq!(rmpv_audio(&bytes), Some((audio.seq, audio.captured_at, audio.opus.to_vec(), audio.level)));
        }
    }

    #[test]
    fn every_encoding_of_a_valid_message_is_read_and_agrees_with_rmpv(
        seq in 0..=MAX_U63, at in 0..=MAX_U63,
        opus in proptest::collection::vec(any::<u8>(), 1..=MAX_OPUS_BYTES),
        forms in any::<[u8; 3]>(), order in Just([0usize, 1, 2, 3]).prop_shuffle(), map16 in any::<bool>(),
        level in proptest::option::of(0..=MAX_LEVEL), level_at in 0usize..5,
    ) {
        let entries = valid_entries(seq, at, &opus, forms);
        let mut shuffled: Vec<_> = order.iter().map(|&i| entries[i].clone()).collect();
        if let Some(level) = level {
            shuffled.insert(level_at, ("level", int(u64::from(level), forms[1])));
        }
        let bytes = message(&shuffled, map16);
        prop_assert_eq!(parse(&bytes), Some(Audio { seq, captured_at: at, opus: &opus, level }));
        prop_assert_eq!(rmpv_audio(&bytes), Some((seq, at, opus.clone(), level)));
        // Any truncation is refused.
        let cut = (seq as usize) % bytes.len();
        prop_assert_eq!(parse(&bytes[..cut]), None);
    }

    #[test]
    fn a_valid_message_with_any_byte_changed_is_read_only_as_rmpv_reads_it(
        seq in 0u64..100_000, opus in proptest::collection::vec(any::<u8>(), 1..40),
        at_byte in any::<prop::sample::Index>(), new in any::<u8>(),
    ) {
        let mut bytes = message(&valid_entries(seq, 5, &opus, [1, 2, 0]), false);
        let i = at_byte.index(bytes.len());
        bytes[i] = new;
        if let Some(audio) = parse(&bytes) {
            prop_assert_eq!(rmpv_audio(&bytes), Some((audio.seq, audio.captured_at, audio.opus.to_vec(), audio.level)));
        }
    }
}
