//! `mixer._mixer.ListenerPool`: the thin Python binding of the `loadpool` crate (the load-test
//! harness's listeners: thousands of WebSocket connections on one Rust thread). It converts
//! arguments and snapshots; the pool thread never touches Python. Typed in `mixer/_mixer.pyi`.

use ::loadpool as lp;
use pyo3::intern;
use pyo3::prelude::*;

/// `MixerError("bad_argument")`, the house's error for a value out of range.
fn bad_argument(py: Python<'_>, message: String) -> PyErr {
    let exc = crate::MixerError::new_err(message);
    match exc.value(py).setattr(intern!(py, "code"), "bad_argument") {
        Ok(()) => exc,
        Err(setattr_failed) => setattr_failed,
    }
}

/// The whole pool at one moment.
#[pyclass(frozen, get_all, module = "mixer._mixer")]
struct PoolStats {
    connecting: u64,
    connected: u64,
    joined: u64,
    failed: u64,
    closed: u64,
    closed_by_server: u64,
    messages: u64,
    events: u64,
    malformed: u64,
    frames: u64,
    lost: u64,
    late: u64,
    reordered: u64,
    bytes: u64,
    cpu_us: u64,
}

#[pymethods]
impl PoolStats {
    fn __repr__(&self) -> String {
        let Self {
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
            bytes,
            cpu_us,
        } = self;
        format!(
            "PoolStats(connecting={connecting}, connected={connected}, joined={joined}, failed={failed}, \
             closed={closed}, closed_by_server={closed_by_server}, messages={messages}, events={events}, \
             malformed={malformed}, frames={frames}, lost={lost}, late={late}, reordered={reordered}, \
             bytes={bytes}, cpu_us={cpu_us})"
        )
    }
}

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

/// Listeners of one space on one Rust thread; see `mixer/_mixer.pyi`.
#[pyclass(frozen, module = "mixer._mixer")]
struct ListenerPool {
    inner: lp::Pool,
}

#[pymethods]
impl ListenerPool {
    #[new]
    #[pyo3(signature = (host, port, space_id, users, *, connect_per_s = 2000.0, late_after_ms = 250))]
    fn new(
        py: Python<'_>,
        host: String,
        port: i128,
        space_id: String,
        users: Vec<String>,
        connect_per_s: f64,
        late_after_ms: i128,
    ) -> PyResult<Self> {
        let port =
            u16::try_from(port).map_err(|_| bad_argument(py, format!("port {port} is out of range")))?;
        let late_after_us = u64::try_from(late_after_ms)
            .ok()
            .and_then(|ms| ms.checked_mul(1000))
            .ok_or_else(|| bad_argument(py, format!("late_after_ms {late_after_ms} is out of range")))?;
        let config = lp::PoolConfig { host, port, space_id, users, connect_per_s, late_after_us };
        // Resolving the host may block: without the GIL.
        match py.detach(|| lp::Pool::start(config)) {
            Ok(inner) => Ok(Self { inner }),
            Err(lp::PoolError::BadArgument(why)) => Err(bad_argument(py, why)),
            Err(lp::PoolError::Io(e)) => Err(PyErr::from(e)),
        }
    }

    fn stats(&self) -> PoolStats {
        let lp::PoolStats {
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
            bytes,
            cpu_us,
        } = self.inner.stats();
        PoolStats {
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
            bytes,
            cpu_us,
        }
    }

    fn listeners(&self) -> Vec<ListenerStats> {
        self.inner.listeners().into_iter().map(ListenerStats::new).collect()
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ListenerPool>()?;
    m.add_class::<PoolStats>()?;
    m.add_class::<ListenerStats>()?;
    Ok(())
}
