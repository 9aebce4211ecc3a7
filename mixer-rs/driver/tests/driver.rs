//! The driver against a real mixer and fan-out on loopback sockets: frames
//! arrive every tick in order, a routed speaker hears its own stream, an idle
//! mixer leaves the pool's queue, spaces sharing the pool each keep their
//! own numbering with no frame lost, and `speaking` names the frames as
//! docs/protocol.md says.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use driver::{Batching, Driver, TickPool};
use fanout::{Fanout, FanoutConfig};
use mixer_core::{Encoder, Frame, Mixer, MixerConfig};

/// A fan-out with two writers: the driver's sends reach connections of either.
fn fanout(max_audio_messages: usize) -> Arc<Fanout> {
    Arc::new(Fanout::new(FanoutConfig { max_queue_bytes: 1 << 20, max_audio_messages, writers: 2 }).unwrap())
}

/// A loopback connection registered with `fanout`: the client's end (reads time out after `timeout`), the
/// server's end (to keep open), and its id.
fn connection(listener: &TcpListener, fanout: &Fanout, timeout: Duration) -> (TcpStream, TcpStream, u64) {
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.set_read_timeout(Some(timeout)).unwrap();
    let conn = fanout.register(server.as_raw_fd()).unwrap();
    (client, server, conn)
}

/// A space's parts on loopback: its fan-out, its mixer, a listening socket for more connections, and the ear
/// (a connection in `group`, the group the driver sends to) with its server end.
struct Space {
    fanout: Arc<Fanout>,
    mixer: Arc<Mixer>,
    listener: TcpListener,
    ear: TcpStream,
    _ear_server: TcpStream,
    group: u64,
}

fn space(max_audio_messages: usize, ear_timeout: Duration) -> Space {
    let fanout = fanout(max_audio_messages);
    let mixer = Arc::new(Mixer::new(MixerConfig::default()).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (ear, _ear_server, ear_conn) = connection(&listener, &fanout, ear_timeout);
    let group = fanout.new_group();
    fanout.join_group(group, ear_conn).unwrap();
    Space { fanout, mixer, listener, ear, _ear_server, group }
}

fn sine(freq: f64, n: usize) -> [i16; 960] {
    let mut pcm = [0i16; 960];
    for (i, s) in pcm.iter_mut().enumerate() {
        let t = (n * 960 + i) as f64 / 48_000.0;
        *s = (8_000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16;
    }
    pcm
}

/// Reads one server WebSocket frame and returns its payload.
fn read_message(stream: &mut TcpStream) -> Vec<u8> {
    next_message(stream).unwrap()
}

/// The next server WebSocket frame's payload, or the error that ended the read (its timeout: no more).
fn next_message(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head)?;
    let len = match head[1] {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext)?;
            usize::from(u16::from_be_bytes(ext))
        }
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    Ok(payload)
}

/// The seqs of the frames in one `audio` message (they follow each `0xa3 "seq" 0xcf`).
fn seqs(message: &[u8]) -> Vec<u64> {
    let key = [0xa3, b's', b'e', b'q', 0xcf];
    let mut out = Vec::new();
    for at in 0..message.len().saturating_sub(13) {
        if message[at..at + 5] == key {
            out.push(u64::from_be_bytes(message[at + 5..at + 13].try_into().unwrap()));
        }
    }
    out
}

#[test]
fn frames_flow_in_order_to_the_audience_and_a_speaker_gets_its_own_stream() {
    let Space { fanout, mixer, listener, mut ear, _ear_server, group } = space(64, Duration::from_secs(5));
    let (mut mouth, _mouth_server, mouth_conn) = connection(&listener, &fanout, Duration::from_secs(5));

    let pool = TickPool::new(2, 8).unwrap();
    let driver =
        Driver::start(&pool, Arc::clone(&mixer), Arc::clone(&fanout), group, Batching::Fixed(5), 100);
    mixer.add_input(1).unwrap();
    mixer.add_input(2).unwrap();
    driver.route(1, mouth_conn);
    let (mut enc1, mut enc2) = (Encoder::new(32_000, 5).unwrap(), Encoder::new(32_000, 5).unwrap());
    for n in 0..50 {
        let p1 = enc1.encode(&sine(440.0, n)).unwrap();
        let p2 = enc2.encode(&sine(1000.0, n)).unwrap();
        mixer.push(1, Frame::new(n as u64, 1, p1)).unwrap();
        mixer.push(2, Frame::new(n as u64, 1, p2)).unwrap();
        driver.notify();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut heard: Vec<u64> = Vec::new();
    while heard.len() < 40 {
        heard.extend(seqs(&read_message(&mut ear)));
    }
    assert_eq!(heard[0], 100, "numbered from first_seq");
    assert!(heard.windows(2).all(|w| w[1] == w[0] + 1), "consecutive: {heard:?}");
    let own = seqs(&read_message(&mut mouth));
    assert_eq!(own.len(), 1, "the speaker's own stream is never batched");

    // Quiet again: the driver parks, and stops cleanly.
    std::thread::sleep(Duration::from_millis(300));
    let ticks = driver.stats().ticks;
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(driver.stats().ticks, ticks, "an idle mixer does not tick");
    assert_eq!(pool.talking(), 0, "a quiet space leaves the pool's queue");
    driver.stop();
    assert!(driver.next_seq() > 140);
}

#[test]
fn spaces_sharing_a_pool_each_get_every_frame_in_order() {
    const SPACES: usize = 8;
    let fanout = fanout(256);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let pool = TickPool::new(2, 4).unwrap();
    let mut spaces = Vec::new();
    for space in 0..SPACES {
        let ear = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        ear.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (ear_server, _) = listener.accept().unwrap();
        let group = fanout.new_group();
        fanout.join_group(group, fanout.register(ear_server.as_raw_fd()).unwrap()).unwrap();
        let mixer = Arc::new(Mixer::new(MixerConfig::default()).unwrap());
        mixer.add_input(1).unwrap();
        let first_seq = 1_000 * space as u64;
        let driver = Driver::start(
            &pool,
            Arc::clone(&mixer),
            Arc::clone(&fanout),
            group,
            Batching::Fixed(1),
            first_seq,
        );
        spaces.push((ear, ear_server, mixer, driver, first_seq, Encoder::new(32_000, 5).unwrap()));
    }
    for n in 0..50 {
        for (_, _, mixer, driver, _, encoder) in &mut spaces {
            let packet = encoder.encode(&sine(440.0, n)).unwrap();
            mixer.push(1, Frame::new(n as u64, 1, packet)).unwrap();
            driver.notify();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for (ear, _, _, driver, first_seq, _) in &mut spaces {
        let mut heard: Vec<u64> = Vec::new();
        while heard.len() < 45 {
            heard.extend(seqs(&read_message(ear)));
        }
        assert_eq!(heard[0], *first_seq, "each space numbers its own frames");
        assert!(heard.windows(2).all(|w| w[1] == w[0] + 1), "consecutive: {heard:?}");
        driver.stop();
    }
    assert!(pool.threads() <= 4);
}

#[test]
fn as_the_audience_grows_and_shrinks_messages_change_size_between_frames_never_within() {
    let fanout = fanout(256);
    let mixer = Arc::new(Mixer::new(MixerConfig::default()).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let group = fanout.new_group();
    // The first two: the ear this test reads, and one more listener.
    let mut sockets = Vec::new();
    let mut join = |count: usize| -> Vec<u64> {
        (0..count)
            .map(|_| {
                let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let (server, _) = listener.accept().unwrap();
                let conn = fanout.register(server.as_raw_fd()).unwrap();
                fanout.join_group(group, conn).unwrap();
                sockets.push((client, server));
                conn
            })
            .collect()
    };
    let mut members = join(2);
    let pool = TickPool::new(2, 8).unwrap();
    // Two listeners per frame: 1 frame for 2 listeners, 2 for 3 or 4, 3 for 5 or 6; back to 1 at one listener.
    let batching = Batching::Auto { max: 10, listeners_per_frame: 2 };
    let driver = Driver::start(&pool, Arc::clone(&mixer), Arc::clone(&fanout), group, batching, 0);
    mixer.add_input(1).unwrap();
    let mut encoder = Encoder::new(32_000, 5).unwrap();
    for n in 0..200 {
        match n {
            50 => members.extend(join(1)),
            100 => members.extend(join(2)),
            150 => members.drain(1..).for_each(|conn| fanout.leave_group(group, conn)),
            _ => {}
        }
        let packet = encoder.encode(&sine(440.0, n)).unwrap();
        mixer.push(1, Frame::new(n as u64, 1, packet)).unwrap();
        driver.notify();
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    driver.stop();
    let ear = &mut sockets[0].0;
    let (mut heard, mut sizes) = (Vec::new(), Vec::new());
    while heard.len() < 190 {
        let frames = seqs(&read_message(ear));
        sizes.push(frames.len());
        heard.extend(frames);
    }
    assert!(heard.windows(2).all(|w| w[1] == w[0] + 1), "every frame once, in order: {heard:?}");
    // A message shorter than both its neighbours was sent early: the mixer went quiet for a moment (a
    // packet late on a busy machine), and what was batched went out then.
    let mut steps: Vec<usize> = (0..sizes.len())
        .filter(|&i| i == 0 || i + 1 == sizes.len() || sizes[i] >= sizes[i - 1].min(sizes[i + 1]))
        .map(|i| sizes[i])
        .collect();
    steps.dedup();
    assert_eq!(steps, vec![1, 2, 3, 1], "message sizes followed the audience: {sizes:?}");
    assert_eq!(driver.stats().batch_switches, 3);
}

/// The `speaking` messages among `messages`, as an independent msgpack reader sees them: (users, frame_seq).
fn speaking_of(messages: &[Vec<u8>]) -> Vec<(Vec<String>, u64)> {
    let mut out = Vec::new();
    for message in messages {
        let value = rmpv::decode::read_value(&mut &message[..]).unwrap();
        let map = value.as_map().unwrap();
        let get = |key: &str| map.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v.clone());
        if get("type").and_then(|t| t.as_str().map(str::to_owned)).as_deref() == Some("speaking") {
            let users = get("user_ids").unwrap();
            let users = users.as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect();
            out.push((users, get("frame_seq").unwrap().as_u64().unwrap()));
        }
    }
    out
}

#[test]
fn after_a_pause_the_empty_set_and_the_next_talker_share_the_next_frames_seq() {
    // docs/protocol.md, `speaking`: a space that goes quiet sends no frame, so its empty set names the seq
    // its next frame will have; when the speaker talks again, that frame holds them, told with the same seq.
    let Space { fanout, mixer, mut ear, _ear_server, group, .. } = space(256, Duration::from_millis(500));
    let pool = TickPool::new(2, 8).unwrap();
    let driver = Driver::start(&pool, Arc::clone(&mixer), Arc::clone(&fanout), group, Batching::Fixed(1), 0);
    driver.tell_speaking("sp-1", group);
    mixer.add_input(1).unwrap();
    driver.name_input(1, "u1");
    let mut encoder = Encoder::new(32_000, 5).unwrap();
    for turn in 0..2u64 {
        for n in 0..30 {
            let packet = encoder.encode(&sine(440.0, n)).unwrap();
            mixer.push(1, Frame::new(turn * 100 + n as u64, 1, packet)).unwrap();
            driver.notify();
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(800)); // quiet, past the hold and the interval
    }
    driver.stop();
    let mut messages = Vec::new();
    while let Ok(message) = next_message(&mut ear) {
        messages.push(message);
    }
    let told = speaking_of(&messages);
    let frames: Vec<u64> = messages.iter().flat_map(|m| seqs(m)).collect();
    assert!(frames.windows(2).all(|w| w[1] == w[0] + 1), "every frame once, in order: {frames:?}");
    let u1 = || vec!["u1".to_owned()];
    let [(first, 0), (nobody, pause), (again, resumed), (nobody_at_end, end)] = told.as_slice() else {
        panic!("a talker, nobody, the talker again, nobody: {told:?}");
    };
    assert_eq!((first, nobody, again, nobody_at_end), (&u1(), &vec![], &u1(), &vec![]));
    assert_eq!(resumed, pause, "the same frame_seq, a different set");
    assert!(
        frames.contains(pause) && !frames.contains(end),
        "the pause's seq is the next turn's first frame"
    );
    assert_eq!(*end, frames.last().unwrap() + 1, "the empty set names the frame after the last");
}
