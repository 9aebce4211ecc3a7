//! `RecordingStats` and `repair_recording`: the binding of the `recording`
//! crate (through the driver, which runs recordings; `SpaceDriver` in
//! `driver.rs` starts and stops them).

use std::io;
use std::path::PathBuf;

use ::driver as dr;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A recording's figures: what its file holds.
#[pyclass(frozen, get_all, module = "mixer._mixer")]
pub(crate) struct RecordingStats {
    duration_ms: u64,
    bytes: u64,
    frames: u64,
    frames_shared: u64,
    frames_own: u64,
    frames_silent: u64,
    write_errors: u64,
}

impl From<dr::RecordingStats> for RecordingStats {
    fn from(s: dr::RecordingStats) -> Self {
        let dr::RecordingStats {
            duration_ms,
            bytes,
            frames,
            frames_shared,
            frames_own,
            frames_silent,
            write_errors,
        } = s;
        Self { duration_ms, bytes, frames, frames_shared, frames_own, frames_silent, write_errors }
    }
}

#[pymethods]
impl RecordingStats {
    fn __repr__(&self) -> String {
        let Self { duration_ms, bytes, frames, frames_shared, frames_own, frames_silent, write_errors } =
            self;
        format!(
            "RecordingStats(duration_ms={duration_ms}, bytes={bytes}, frames={frames}, \
             frames_shared={frames_shared}, frames_own={frames_own}, frames_silent={frames_silent}, \
             write_errors={write_errors})"
        )
    }
}

/// Makes a recording cut off by a crash well-formed; returns the milliseconds it plays.
#[pyfunction]
fn repair_recording(py: Python<'_>, path: PathBuf) -> PyResult<u64> {
    py.detach(|| dr::repair(&path)).map_err(|err| match err.kind() {
        io::ErrorKind::InvalidData => PyValueError::new_err(err.to_string()),
        _ => PyErr::from(err),
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RecordingStats>()?;
    m.add_function(wrap_pyfunction!(repair_recording, m)?)
}
