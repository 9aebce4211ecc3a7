//! `mixer._mixer.ListenerPool` and `SpeakerPool`: the thin Python binding of the `loadpool` crate
//! (the load-test harness's listeners, thousands of WebSocket connections on one Rust thread, and
//! its speakers, paced on the run's capture clock). It converts
//! arguments and snapshots; the pool thread never touches Python. Typed in `mixer/_mixer.pyi`.

use std::sync::Arc;

use ::loadpool as lp;
use pyo3::intern;
use pyo3::prelude::*;

mod bitmaps;
use bitmaps::{Bitmaps, le_bytes, slices, slot_maps};

/// `MixerError("bad_argument")`, the house's error for a value out of range.
fn bad_argument(py: Python<'_>, message: String) -> PyErr {
    let exc = crate::MixerError::new_err(message);
    match exc.value(py).setattr(intern!(py, "code"), "bad_argument") {
        Ok(()) => exc,
        Err(setattr_failed) => setattr_failed,
    }
}

/// `PoolStats`, its conversion from the crate's and its repr, from one list of fields.
macro_rules! pool_stats {
    ($($field:ident),* $(,)?) => {
        /// The whole pool at one moment.
        #[pyclass(frozen, get_all, module = "mixer._mixer")]
        struct PoolStats {
            $($field: u64,)*
        }

        impl From<lp::PoolStats> for PoolStats {
            fn from(stats: lp::PoolStats) -> Self {
                Self { $($field: stats.$field,)* }
            }
        }

        #[pymethods]
        impl PoolStats {
            fn __repr__(&self) -> String {
                let fields = [$(format!(concat!(stringify!($field), "={}"), self.$field)),*];
                format!("PoolStats({})", fields.join(", "))
            }
        }
    };
}

pool_stats!(
    connecting,
    connected,
    joined,
    failed,
    closed,
    closed_by_server,
    messages,
    events,
    malformed,
    frames,
    lost,
    late,
    reordered,
    off_clock,
    unstamped,
    restamped,
    sent,
    late_sends,
    bytes,
    cpu_us,
);

/// One listener at one moment.
#[pyclass(frozen, get_all, module = "mixer._mixer")]
struct ListenerStats {
    user: String,
    state: String,
    frames: u64,
    lost: u64,
    late: u64,
    reordered: u64,
    first_seq: i64,
    last_seq: i64,
    max_latency_us: u64,
    close_code: u16,
    error: String,
}

impl ListenerStats {
    fn new(s: lp::ListenerStats) -> Self {
        // seq is u63 on the wire, so it fits; -1 stands for "no frame yet".
        let seq = |seq: Option<u64>| seq.map_or(-1, |s| i64::try_from(s).unwrap_or(i64::MAX));
        Self {
            user: s.user,
            state: s.state.as_str().to_owned(),
            frames: s.frames,
            lost: s.lost,
            late: s.late,
            reordered: s.reordered,
            first_seq: seq(s.first_seq),
            last_seq: seq(s.last_seq),
            max_latency_us: s.max_latency_us,
            close_code: s.close_code,
            error: s.error,
        }
    }
}

#[pymethods]
impl ListenerStats {
    fn __repr__(&self) -> String {
        format!(
            "ListenerStats(user={:?}, state={:?}, frames={}, lost={}, late={}, reordered={}, first_seq={}, \
             last_seq={}, max_latency_us={}, close_code={}, error={:?})",
            self.user,
            self.state,
            self.frames,
            self.lost,
            self.late,
            self.reordered,
            self.first_seq,
            self.last_seq,
            self.max_latency_us,
            self.close_code,
            self.error
        )
    }
}

/// Listeners of one space, or one space each, on one Rust thread; see `mixer/_mixer.pyi`.
#[pyclass(frozen, module = "mixer._mixer")]
struct ListenerPool {
    inner: lp::Pool,
    members: usize,
}

/// A space for every listener, or one each.
#[derive(FromPyObject)]
enum Spaces {
    One(String),
    Each(Vec<String>),
}

impl ListenerPool {
    fn each(&self, py: Python<'_>, maps: &Bitmaps<'_>) -> PyResult<Vec<Vec<u64>>> {
        maps.each(self.members).ok_or_else(|| {
            bad_argument(py, format!("give one bitmap, or a list of one per listener ({})", self.members))
        })
    }
}

#[pymethods]
impl ListenerPool {
    #[new]
    #[pyo3(signature = (
        host, port, space_id, users, *, connect_per_s = 2000.0, late_after_ms = 250, clock_t0_us = 0,
        clock_slots = 0, linger_us = 0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: String,
        port: i128,
        space_id: Spaces,
        users: Vec<String>,
        connect_per_s: f64,
        late_after_ms: i128,
        clock_t0_us: u64,
        clock_slots: u64,
        linger_us: u64,
    ) -> PyResult<Self> {
        let port =
            u16::try_from(port).map_err(|_| bad_argument(py, format!("port {port} is out of range")))?;
        let late_after_us = u64::try_from(late_after_ms)
            .ok()
            .and_then(|ms| ms.checked_mul(1000))
            .ok_or_else(|| bad_argument(py, format!("late_after_ms {late_after_ms} is out of range")))?;
        let (space_id, spaces) = match space_id {
            Spaces::One(id) => (id, Vec::new()),
            Spaces::Each(ids) => (String::new(), ids),
        };
        let members = users.len();
        let config = lp::PoolConfig {
            host,
            port,
            space_id,
            users,
            spaces,
            connect_per_s,
            late_after_us,
            clock_t0_us,
            clock_slots,
            speakers: Vec::new(),
            linger_us,
        };
        Ok(Self { inner: start(py, config)?, members })
    }

    fn stats(&self) -> PoolStats {
        PoolStats::from(self.inner.stats())
    }

    fn listeners(&self) -> Vec<ListenerStats> {
        self.inner.listeners().into_iter().map(ListenerStats::new).collect()
    }

    fn set_window(&self, start: u64, end: u64) {
        self.inner.set_window(start, end);
    }

    fn slot_maps(&self) -> Vec<Vec<u8>> {
        slot_maps(&self.inner)
    }

    fn coverage(
        &self,
        py: Python<'_>,
        start: u64,
        end: u64,
        produced: Bitmaps<'_>,
        after_overlap: Bitmaps<'_>,
    ) -> PyResult<Vec<u64>> {
        let (produced, after_overlap) = (self.each(py, &produced)?, self.each(py, &after_overlap)?);
        Ok(self.inner.coverage_each((start, end), &slices(&produced), &slices(&after_overlap)))
    }

    fn heard_maps(&self, py: Python<'_>, after_overlap: Bitmaps<'_>) -> PyResult<Vec<Vec<u8>>> {
        let after_overlap = self.each(py, &after_overlap)?;
        Ok(le_bytes(self.inner.heard_maps_each(&slices(&after_overlap))))
    }

    fn latency_buckets(&self) -> Vec<(u64, u64)> {
        self.inner.latency_buckets()
    }

    fn read_latency_buckets(&self) -> Vec<(u64, u64)> {
        self.inner.read_latency_buckets()
    }

    #[pyo3(signature = (ps, *, reset = false))]
    fn latency_percentiles(&self, py: Python<'_>, ps: Vec<f64>, reset: bool) -> PyResult<Vec<u64>> {
        let window = if reset {
            self.inner.take_latency_percentiles(&ps)
        } else {
            self.inner.latency_percentiles(&ps)
        };
        window.map(|w| w.values).map_err(|e| bad_argument(py, e.to_string()))
    }

    fn reset_latency(&self) {
        self.inner.reset_latency();
    }

    /// Waits (at most about 2 s) for the close handshakes without the GIL.
    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.inner.stop());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) -> bool {
        self.stop(py);
        false
    }
}

/// Starts a pool; resolving the host may block, so without the GIL.
fn start(py: Python<'_>, config: lp::PoolConfig) -> PyResult<lp::Pool> {
    match py.detach(|| lp::Pool::start(config)) {
        Ok(inner) => Ok(inner),
        Err(lp::PoolError::BadArgument(why)) => Err(bad_argument(py, why)),
        Err(lp::PoolError::Io(e)) => Err(PyErr::from(e)),
    }
}

/// Speakers of any number of spaces on one Rust thread; see `mixer/_mixer.pyi`.
#[pyclass(frozen, module = "mixer._mixer")]
struct SpeakerPool {
    inner: lp::Pool,
}

/// A script as Python gives it: (packets, plan, levels), see `lp::Script`.
type ScriptArgs = (Vec<Vec<u8>>, Vec<i32>, Vec<u8>);

#[pymethods]
impl SpeakerPool {
    #[new]
    #[pyo3(signature = (
        host, port, speakers, scripts, *, clock_slots, connect_per_s = 2000.0, linger_us = 0,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: String,
        port: i128,
        speakers: Vec<(String, String, String, usize)>,
        scripts: Vec<ScriptArgs>,
        clock_slots: u64,
        connect_per_s: f64,
        linger_us: u64,
    ) -> PyResult<Self> {
        let port =
            u16::try_from(port).map_err(|_| bad_argument(py, format!("port {port} is out of range")))?;
        let scripts: Vec<Arc<lp::Script>> =
            scripts.into_iter().map(|(packets, plan, levels)| Arc::new(lp::Script { packets, plan, levels })).collect();
        let mut users = Vec::with_capacity(speakers.len());
        let mut members = Vec::with_capacity(speakers.len());
        for (handle, token, space_id, script) in speakers {
            let script = scripts
                .get(script)
                .ok_or_else(|| bad_argument(py, format!("script {script} of {}", scripts.len())))?;
            users.push(handle);
            members.push(lp::Speaker { token, space_id, script: Arc::clone(script) });
        }
        let config = lp::PoolConfig {
            host,
            port,
            space_id: String::new(),
            users,
            spaces: Vec::new(),
            connect_per_s,
            late_after_us: u64::MAX,
            clock_t0_us: 0,
            clock_slots,
            speakers: members,
            linger_us,
        };
        Ok(Self { inner: start(py, config)? })
    }

    fn stats(&self) -> PoolStats {
        PoolStats::from(self.inner.stats())
    }

    fn speakers(&self) -> Vec<ListenerStats> {
        self.inner.listeners().into_iter().map(ListenerStats::new).collect()
    }

    fn set_window(&self, start: u64, end: u64) {
        self.inner.set_window(start, end);
    }

    fn start_speaking(&self, t0_us: u64) {
        self.inner.start_speaking(t0_us);
    }

    fn stop_speaking(&self) {
        self.inner.stop_speaking();
    }

    fn scheduling(&self) -> &'static str {
        self.inner.scheduling()
    }

    fn slot_maps(&self) -> Vec<Vec<u8>> {
        slot_maps(&self.inner)
    }

    fn send_lag_percentiles(&self, py: Python<'_>, ps: Vec<f64>) -> PyResult<Vec<u64>> {
        self.inner.send_lag_percentiles(&ps).map(|w| w.values).map_err(|e| bad_argument(py, e.to_string()))
    }

    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.inner.stop());
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ListenerPool>()?;
    m.add_class::<SpeakerPool>()?;
    m.add_class::<PoolStats>()?;
    m.add_class::<ListenerStats>()?;
    Ok(())
}
