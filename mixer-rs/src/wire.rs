//! `mixer._mixer.Wire`: the thin binding of the `wire` crate (the read side
//! of every client socket, on one Rust thread). It converts arguments and
//! events; every rule lives in the crate. Typed in `mixer/_mixer.pyi`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ::wire as wi;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::driver::TickPool;
use crate::fanout::Fanout;
use crate::{int_arg, raise};

/// One event for the gateway; which fields mean something depends on `kind`.
#[pyclass(frozen, get_all, module = "mixer._mixer")]
struct WireEvent {
    /// "opened", "message", "audio_unrouted" or "closed".
    kind: &'static str,
    conn: u64,
    /// "message": the message's bytes.
    data: Option<Py<PyBytes>>,
    /// "audio_unrouted": how many packets.
    packets: u64,
    /// "closed": the close code and reason, and whether they are the server's (not the client's).
    code: u16,
    reason: String,
    by_server: bool,
    /// "opened": the client's IP address, the request's path and every Origin header.
    peer: String,
    path: String,
    origins: Vec<String>,
}

impl WireEvent {
    fn new(py: Python<'_>, event: wi::Event) -> Self {
        let mut out = Self {
            kind: "",
            conn: 0,
            data: None,
            packets: 0,
            code: 0,
            reason: String::new(),
            by_server: false,
            peer: String::new(),
            path: String::new(),
            origins: Vec::new(),
        };
        match event {
            wi::Event::Opened { conn, peer, path, origins } => {
                (out.kind, out.conn, out.peer, out.path, out.origins) = ("opened", conn, peer, path, origins);
            }
            wi::Event::Message { conn, data } => {
                (out.kind, out.conn) = ("message", conn);
                out.data = Some(PyBytes::new(py, &data).unbind());
            }
            wi::Event::AudioUnrouted { conn, packets } => {
                (out.kind, out.conn, out.packets) = ("audio_unrouted", conn, packets);
            }
            wi::Event::Closed { conn, code, reason, by_server } => {
                (out.kind, out.conn, out.code, out.reason) = ("closed", conn, code, reason);
                out.by_server = by_server;
            }
        }
        out
    }
}

/// A snapshot of a wire's counters.
#[pyclass(frozen, get_all, module = "mixer._mixer")]
struct WireStats {
    connections: u64,
    accepted: u64,
    bad_handshakes: u64,
    handshakes_refused: u64,
    handshakes_evicted: u64,
    messages: u64,
    audio_routed: u64,
    audio_unrouted: u64,
    audio_over_pace: u64,
    bytes_read: u64,
    audio_at_tick: u64,
    parked: u64,
    reader_cpu_ns: u64,
}

/// One connection's audio pace, the reader's own (`wire::AudioPace`), for the audio Python reads.
#[pyclass(module = "mixer._mixer")]
struct AudioPace {
    inner: wi::AudioPace,
}

#[pymethods]
impl AudioPace {
    #[new]
    fn new() -> Self {
        Self { inner: wi::AudioPace::new(wi::PaceLimits::default(), Instant::now()) }
    }

    /// One message now: "within", "over" (drop it) or "too_fast" (close the connection with 1008).
    fn take(&mut self) -> &'static str {
        self.inner.take(Instant::now()).as_str()
    }
}

/// The read side of every client socket of a listening socket.
#[pyclass(frozen, module = "mixer._mixer")]
struct Wire {
    inner: wi::Wire,
}

#[pymethods]
impl Wire {
    #[new]
    #[pyo3(signature = (
        listener_fds, fanout, pool, *, max_message_bytes = 65_536, sndbuf = None, max_pending_messages = 8,
        realtime = false, max_handshakes_per_address = wi::MAX_HANDSHAKES_PER_ADDRESS as i128,
        max_handshakes = wi::MAX_HANDSHAKES as i128, defer_accept_s = 1,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        listener_fds: Vec<i32>,
        fanout: PyRef<'_, Fanout>,
        pool: PyRef<'_, TickPool>,
        max_message_bytes: i128,
        sndbuf: Option<i128>,
        max_pending_messages: i128,
        realtime: bool,
        max_handshakes_per_address: i128,
        max_handshakes: i128,
        defer_accept_s: i128,
    ) -> PyResult<Self> {
        let at_least_one = |value: i128, name: &'static str| match int_arg::<u32>(py, value, name)? {
            0 => Err(raise(py, mixer_core::MixerError::BadArgument { name, reason: "must be at least 1" })),
            n => Ok(n),
        };
        let config = wi::WireConfig {
            max_message_bytes: int_arg(py, max_message_bytes, "max_message_bytes")?,
            max_pending_messages: int_arg(py, max_pending_messages, "max_pending_messages")?,
            sndbuf: sndbuf.map(|value| int_arg(py, value, "sndbuf")).transpose()?,
            realtime,
            max_handshakes_per_address: at_least_one(
                max_handshakes_per_address,
                "max_handshakes_per_address",
            )?,
            max_handshakes: at_least_one(max_handshakes, "max_handshakes")?,
            defer_accept: Duration::from_secs(int_arg::<u16>(py, defer_accept_s, "defer_accept_s")?.into()),
            ..wi::WireConfig::default()
        };
        let inner =
            wi::Wire::new(&listener_fds, Arc::clone(&fanout.inner), pool.inner.speaker_routes(), config)
                .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self { inner })
    }

    /// How the reader thread runs: "realtime" (SCHED_FIFO), "nice" (nice -10) or "normal".
    fn scheduling(&self) -> &'static str {
        self.inner.scheduling().as_str()
    }

    /// Readable while events wait.
    fn fileno(&self) -> i32 {
        self.inner.event_fd()
    }

    fn take_events(&self, py: Python<'_>) -> Vec<WireEvent> {
        self.inner.take_events().into_iter().map(|event| WireEvent::new(py, event)).collect()
    }

    fn accept(&self, conn: u64) {
        self.inner.accept(conn);
    }

    #[pyo3(signature = (conn, status, body, headers = Vec::new()))]
    fn refuse(&self, conn: u64, status: u16, body: &[u8], headers: Vec<(String, String)>) {
        self.inner.refuse(conn, status, &headers, body);
    }

    /// For tests of a fault: ``conn``'s next bytes make the reader panic there (contained: 1011 to it alone).
    fn _inject_panic(&self, conn: u64) {
        self.inner.inject_panic(conn);
    }

    fn close(&self, conn: u64, code: u16, reason: &str) {
        self.inner.close(conn, code, reason);
    }

    fn taken(&self, conn: u64) {
        self.inner.taken(conn);
    }

    fn stats(&self) -> WireStats {
        let wi::WireStats {
            connections,
            accepted,
            bad_handshakes,
            handshakes_refused,
            handshakes_evicted,
            messages,
            audio_routed,
            audio_unrouted,
            audio_over_pace,
            bytes_read,
            audio_at_tick,
            parked,
            reader_cpu_ns,
        } = self.inner.stats();
        WireStats {
            connections,
            accepted,
            bad_handshakes,
            handshakes_refused,
            handshakes_evicted,
            messages,
            audio_routed,
            audio_unrouted,
            audio_over_pace,
            bytes_read,
            audio_at_tick,
            parked,
            reader_cpu_ns,
        }
    }

    /// Shuts every listening socket down: connects are refused from now on; open connections go on.
    fn stop_listening(&self) -> PyResult<()> {
        self.inner.stop_listening().map_err(|e| PyOSError::new_err(e.to_string()))
    }

    /// Joins the reader thread with the GIL released.
    fn shutdown(&self, py: Python<'_>) {
        py.detach(|| self.inner.shutdown());
    }
}

/// The wire's reading of one client message as `audio`: (seq, captured_at,
/// opus, level), or `None` for anything it leaves to Python.
#[pyfunction]
fn parse_audio<'py>(py: Python<'py>, data: &[u8]) -> Option<(u64, u64, Bound<'py, PyBytes>, Option<u8>)> {
    wi::audio::parse(data).map(|a| (a.seq, a.captured_at, PyBytes::new(py, a.opus), a.level))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<AudioPace>()?;
    m.add_function(wrap_pyfunction!(parse_audio, m)?)?;
    m.add_class::<Wire>()?;
    m.add_class::<WireEvent>()?;
    m.add_class::<WireStats>()
}
