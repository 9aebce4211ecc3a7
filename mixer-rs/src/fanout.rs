//! `mixer._mixer.Fanout`: the thin Python binding of the `fanout` crate (every
//! byte written to client sockets, by Rust writer threads). It converts
//! arguments and errors and releases the GIL around broadcasts; every rule of
//! the queues lives in the crate. Typed in `mixer/_mixer.pyi`.

use std::sync::Arc;

use ::fanout as fo;
use pyo3::exceptions::{PyKeyError, PyOSError, PyRuntimeError};
use pyo3::intern;
use pyo3::prelude::*;

/// The Python exception for a fan-out error: OSError (with errno) for a
/// system call, KeyError for an unknown group, RuntimeError once shut down,
/// `MixerError("bad_argument")` for a setting out of range.
fn raise(py: Python<'_>, err: fo::FanoutError) -> PyErr {
    match err {
        fo::FanoutError::Io(err) => match err.raw_os_error() {
            // OSError(errno, strerror): Python picks the subclass and sets `errno`.
            Some(code) => {
                let text = err.to_string();
                let strerror = text.strip_suffix(&format!(" (os error {code})")).unwrap_or(&text);
                PyOSError::new_err((code, strerror.to_owned()))
            }
            None => err.into(),
        },
        fo::FanoutError::UnknownGroup(group) => PyKeyError::new_err(group),
        fo::FanoutError::Stopped => PyRuntimeError::new_err(err.to_string()),
        fo::FanoutError::BadConfig { .. } => {
            let exc = crate::MixerError::new_err(err.to_string());
            match exc.value(py).setattr(intern!(py, "code"), err.code()) {
                Ok(()) => exc,
                Err(setattr_failed) => setattr_failed,
            }
        }
    }
}

/// The settings from Python; negative or huge is the same error as zero.
fn config(
    max_queue_bytes: i128,
    max_audio_messages: i128,
    writers: i128,
) -> Result<fo::FanoutConfig, fo::FanoutError> {
    let setting = |value: i128, name| usize::try_from(value).map_err(|_| fo::FanoutError::BadConfig { name });
    Ok(fo::FanoutConfig {
        max_queue_bytes: setting(max_queue_bytes, "max_queue_bytes")?,
        max_audio_messages: setting(max_audio_messages, "max_audio_messages")?,
        writers: setting(writers, "writers")?,
    })
}

/// A snapshot of a fan-out's counters.
#[pyclass(frozen, get_all, module = "mixer._mixer")]
struct FanoutStats {
    connections: u64,
    groups: u64,
    writers: u64,
    messages_queued: u64,
    bytes_written: u64,
    write_calls: u64,
    audio_dropped: u64,
    audio_dropped_at_close: u64,
    overflows: u64,
    write_errors: u64,
    writer_cpu_ns: u64,
    writer_busy_ns: u64,
    writer_passes: u64,
}

#[pymethods]
impl FanoutStats {
    fn __repr__(&self) -> String {
        let Self {
            connections,
            groups,
            writers,
            messages_queued,
            bytes_written,
            write_calls,
            audio_dropped,
            audio_dropped_at_close,
            overflows,
            write_errors,
            writer_cpu_ns,
            writer_busy_ns,
            writer_passes,
        } = self;
        format!(
            "FanoutStats(connections={connections}, groups={groups}, writers={writers}, \
             messages_queued={messages_queued}, \
             bytes_written={bytes_written}, write_calls={write_calls}, audio_dropped={audio_dropped}, \
             audio_dropped_at_close={audio_dropped_at_close}, overflows={overflows}, \
             write_errors={write_errors}, writer_cpu_ns={writer_cpu_ns}, writer_busy_ns={writer_busy_ns}, \
             writer_passes={writer_passes})"
        )
    }
}

/// The fan-out: register sockets once, then queue messages; a Rust thread writes.
#[pyclass(frozen, module = "mixer._mixer")]
pub(crate) struct Fanout {
    /// Shared with the spaces' driver threads (see `driver.rs`).
    pub(crate) inner: Arc<fo::Fanout>,
}

#[pymethods]
impl Fanout {
    #[new]
    #[pyo3(signature = (*, max_queue_bytes = 262_144, max_audio_messages = 64, writers = 1))]
    fn new(py: Python<'_>, max_queue_bytes: i128, max_audio_messages: i128, writers: i128) -> PyResult<Self> {
        let inner = config(max_queue_bytes, max_audio_messages, writers)
            .and_then(fo::Fanout::new)
            .map_err(|e| raise(py, e))?;
        Ok(Self { inner: Arc::new(inner) })
    }

    #[pyo3(signature = (fd, *, borrow = false))]
    fn register(&self, py: Python<'_>, fd: i32, borrow: bool) -> PyResult<u64> {
        let registered = if borrow { self.inner.register_borrowed(fd) } else { self.inner.register(fd) };
        registered.map_err(|e| raise(py, e))
    }

    /// Milliseconds since bytes last went into `conn`'s socket; -1 if unknown.
    fn idle_ms(&self, conn: u64) -> i64 {
        self.inner.idle_ms(conn).map_or(-1, |ms| i64::try_from(ms).unwrap_or(i64::MAX))
    }

    fn released(&self, conn: u64) -> bool {
        self.inner.released(conn)
    }

    fn send_raw(&self, conn: u64, data: &[u8]) -> bool {
        self.inner.send_raw(conn, data)
    }

    fn send(&self, conn: u64, payload: &[u8]) -> bool {
        self.inner.send(conn, payload)
    }

    fn send_audio(&self, conn: u64, payload: &[u8]) {
        self.inner.send_audio(conn, payload);
    }

    fn new_group(&self) -> u64 {
        self.inner.new_group()
    }

    fn join_group(&self, py: Python<'_>, group: u64, conn: u64) -> PyResult<()> {
        self.inner.join_group(group, conn).map_err(|e| raise(py, e))
    }

    fn leave_group(&self, group: u64, conn: u64) {
        self.inner.leave_group(group, conn);
    }

    fn drop_group(&self, group: u64) {
        self.inner.drop_group(group);
    }

    /// The GIL is released while the message is queued to every member.
    fn broadcast_audio(&self, py: Python<'_>, group: u64, payload: &[u8]) -> PyResult<usize> {
        py.detach(|| self.inner.broadcast_audio(group, payload)).map_err(|e| raise(py, e))
    }

    /// The GIL is released while the message is queued to every member.
    fn broadcast(&self, py: Python<'_>, group: u64, payload: &[u8]) -> PyResult<Vec<u64>> {
        py.detach(|| self.inner.broadcast(group, payload)).map_err(|e| raise(py, e))
    }

    fn close(&self, conn: u64) {
        self.inner.close(conn);
    }

    fn take_notices(&self) -> Vec<(u64, &'static str, u64)> {
        self.inner.take_notices().into_iter().map(|n| (n.conn, n.kind.as_str(), n.value)).collect()
    }

    fn queued_bytes(&self, conn: u64) -> usize {
        self.inner.queued_bytes(conn)
    }

    fn stats(&self) -> FanoutStats {
        let fo::FanoutStats {
            connections,
            groups,
            writers,
            messages_queued,
            bytes_written,
            write_calls,
            audio_dropped,
            audio_dropped_at_close,
            overflows,
            write_errors,
            writer_cpu_ns,
            writer_busy_ns,
            writer_passes,
        } = self.inner.stats();
        FanoutStats {
            connections,
            groups,
            writers,
            messages_queued,
            bytes_written,
            write_calls,
            audio_dropped,
            audio_dropped_at_close,
            overflows,
            write_errors,
            writer_cpu_ns,
            writer_busy_ns,
            writer_passes,
        }
    }

    /// Joins the writer threads with the GIL released.
    fn shutdown(&self, py: Python<'_>) {
        py.detach(|| self.inner.shutdown());
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Fanout>()?;
    m.add_class::<FanoutStats>()?;
    Ok(())
}
