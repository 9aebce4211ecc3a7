//! The Opus wrappers keep a voice's signal: a tone survives a round trip.

mod common;

use common::{db_ratio, decode_stream, tone_packets, zero_crossing_hz};

#[test]
fn opus_round_trip_keeps_a_440_hz_tone() {
    let packets = tone_packets(440.0, 50);
    let decoded = decode_stream(packets.iter().map(|p| Some(p.as_slice())));
    // Skip the first 100 ms: the codec's start-up and look-ahead.
    let steady = &decoded[4_800..];
    let hz = zero_crossing_hz(steady);
    assert!((hz - 440.0).abs() < 5.0, "estimated {hz} Hz");
    assert!(db_ratio(steady, 440.0, 1_000.0) > 30.0);
    assert!(db_ratio(steady, 440.0, 660.0) > 30.0);
}

#[test]
fn concealment_continues_then_fades_a_lost_tone() {
    let packets = tone_packets(440.0, 30);
    let mut stream: Vec<Option<&[u8]>> = packets.iter().map(|p| Some(p.as_slice())).collect();
    stream.extend(std::iter::repeat_n(None, 40));
    let decoded = decode_stream(stream);
    let first_lost = &decoded[30 * 960..31 * 960];
    assert!(db_ratio(first_lost, 440.0, 1_000.0) > 20.0, "concealment carries the tone on");
    let late = &decoded[65 * 960..];
    let peak = late.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(peak < 200, "concealment fades to near silence, peak {peak}");
}
