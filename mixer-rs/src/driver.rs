//! `TickPool` and `SpaceDriver`: the binding of the `driver` crate, the few
//! threads that tick every talking space's mixer and feed the fan-out with no
//! Python on the audio path.

use std::path::PathBuf;

use ::driver as dr;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::fanout::Fanout;
use crate::recording::RecordingStats;
use crate::{Mixer, int_arg, mc, raise};

#[pyclass(frozen, module = "mixer._mixer")]
pub(crate) struct TickPool {
    /// The wire reads its speakers' routes (see `wire.rs`).
    pub(crate) inner: dr::TickPool,
}

#[pymethods]
impl TickPool {
    #[new]
    #[pyo3(signature = (*, threads = 2, max_threads = None))]
    fn new(py: Python<'_>, threads: i128, max_threads: Option<i128>) -> PyResult<Self> {
        let threads: usize = int_arg(py, threads, "threads")?;
        let max_threads: usize = match max_threads {
            Some(n) => int_arg(py, n, "max_threads")?,
            None => dr::default_max_threads(),
        };
        let inner =
            dr::TickPool::new(threads, max_threads).map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self { inner })
    }

    #[getter]
    fn threads(&self) -> usize {
        self.inner.threads()
    }

    #[getter]
    fn talking(&self) -> usize {
        self.inner.talking()
    }

    #[getter]
    fn audience(&self) -> usize {
        self.inner.audience()
    }

    #[getter]
    fn pressure(&self) -> (u64, u64) {
        self.inner.pressure()
    }

    fn stats(&self) -> TickPoolStats {
        TickPoolStats { inner: self.inner.stats() }
    }
}

#[pyclass(frozen, module = "mixer._mixer")]
struct TickPoolStats {
    inner: dr::PoolStats,
}

#[pymethods]
impl TickPoolStats {
    #[getter]
    fn ticks(&self) -> u64 {
        self.inner.ticks
    }

    #[getter]
    fn late(&self) -> u64 {
        self.inner.late
    }

    #[getter]
    fn skipped(&self) -> u64 {
        self.inner.skipped
    }

    #[getter]
    fn duration_sum_s(&self) -> f64 {
        self.inner.duration_sum_ns as f64 / 1e9
    }

    /// (upper bound in seconds, ticks at or under it), cumulative, the last bound infinite.
    #[getter]
    fn duration_buckets(&self) -> Vec<(f64, u64)> {
        let bounds = dr::TICK_BUCKETS_US.iter().map(|&us| us as f64 / 1e6).chain([f64::INFINITY]);
        let mut total = 0;
        bounds
            .zip(&self.inner.duration_buckets)
            .map(|(bound, &n)| {
                total += n;
                (bound, total)
            })
            .collect()
    }
}

/// How a space chooses the frames per message of its audience's stream
/// (`driver::Batching`): fixed, or from the audience's size.
#[pyclass(frozen, eq, hash, module = "mixer._mixer")]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct BatchPolicy {
    inner: dr::Batching,
}

#[pymethods]
impl BatchPolicy {
    #[new]
    #[pyo3(signature = (*, fixed = None, max_frames = dr::MAX_FRAMES_PER_MESSAGE as i128, listeners_per_frame = dr::LISTENERS_PER_FRAME as i128))]
    fn new(py: Python<'_>, fixed: Option<i128>, max_frames: i128, listeners_per_frame: i128) -> PyResult<Self> {
        let frames = |value: i128, name: &'static str| -> PyResult<usize> {
            let n: usize = int_arg(py, value, name)?;
            if !(1..=dr::MAX_FRAMES_PER_MESSAGE).contains(&n) {
                return Err(raise(py, mc::MixerError::BadArgument { name, reason: "must be 1 to 10" }));
            }
            Ok(n)
        };
        let inner = match fixed {
            Some(n) => dr::Batching::Fixed(frames(n, "fixed")?),
            None => {
                let listeners_per_frame: usize = int_arg(py, listeners_per_frame, "listeners_per_frame")?;
                if listeners_per_frame == 0 {
                    return Err(raise(py, mc::MixerError::BadArgument { name: "listeners_per_frame", reason: "must be at least 1" }));
                }
                dr::Batching::Auto { max: frames(max_frames, "max_frames")?, listeners_per_frame }
            }
        };
        Ok(Self { inner })
    }

    #[getter]
    fn fixed(&self) -> Option<usize> {
        match self.inner {
            dr::Batching::Fixed(n) => Some(n),
            dr::Batching::Auto { .. } => None,
        }
    }

    #[getter]
    fn max_frames(&self) -> usize {
        match self.inner {
            dr::Batching::Fixed(n) | dr::Batching::Auto { max: n, .. } => n,
        }
    }

    #[getter]
    fn listeners_per_frame(&self) -> Option<usize> {
        match self.inner {
            dr::Batching::Fixed(_) => None,
            dr::Batching::Auto { listeners_per_frame, .. } => Some(listeners_per_frame),
        }
    }

    #[getter]
    fn initial(&self) -> usize {
        self.inner.initial()
    }

    /// Frames per message of the next message, from the count of the last and the listeners it reached
    /// (with no floor from the writers' pressure: that is the running server's).
    fn next(&self, current: u64, audience: u64) -> usize {
        let clamp = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        self.inner.next(clamp(current), clamp(audience))
    }

    fn __repr__(&self) -> String {
        match self.inner {
            dr::Batching::Fixed(n) => format!("BatchPolicy(fixed={n})"),
            dr::Batching::Auto { max, listeners_per_frame } => {
                format!("BatchPolicy(max_frames={max}, listeners_per_frame={listeners_per_frame})")
            }
        }
    }
}

#[pyclass(frozen, module = "mixer._mixer")]
struct SpaceDriver {
    inner: dr::Driver,
}

#[pymethods]
impl SpaceDriver {
    #[new]
    #[pyo3(signature = (pool, mixer, fanout, audience_group, *, batching = None, first_seq = 0))]
    fn new(
        pool: PyRef<'_, TickPool>,
        mixer: PyRef<'_, Mixer>,
        fanout: PyRef<'_, Fanout>,
        audience_group: u64,
        batching: Option<PyRef<'_, BatchPolicy>>,
        first_seq: u64,
    ) -> Self {
        let batching = batching.map_or_else(dr::Batching::default, |policy| policy.inner);
        let inner = dr::Driver::start(
            &pool.inner,
            mixer.inner.clone(),
            fanout.inner.clone(),
            audience_group,
            batching,
            first_seq,
        );
        Self { inner }
    }

    fn route(&self, input_id: u64, conn: u64) {
        self.inner.route(input_id, conn);
    }

    fn unroute(&self, input_id: u64) {
        self.inner.unroute(input_id);
    }

    fn notify(&self) {
        self.inner.notify();
    }

    #[getter]
    fn next_seq(&self) -> u64 {
        self.inner.next_seq()
    }

    #[getter]
    fn skipped_ticks(&self) -> u64 {
        self.inner.stats().skipped_ticks
    }

    #[getter]
    fn ticks(&self) -> u64 {
        self.inner.stats().ticks
    }

    /// Frames per message of the audience's stream now.
    #[getter]
    fn frames_per_message(&self) -> usize {
        self.inner.stats().frames_per_message
    }

    #[getter]
    fn batch_switches(&self) -> u64 {
        self.inner.stats().batch_switches
    }

    /// Creates the file and its headers on this thread, with the GIL released.
    fn start_recording(&self, py: Python<'_>, path: PathBuf, serial: i128) -> PyResult<()> {
        let serial: u32 = int_arg(py, serial, "serial")?;
        py.detach(|| self.inner.start_recording(&path, serial)).map_err(|err| match err {
            dr::RecordError::Io(err) => PyErr::from(err),
            refused => PyValueError::new_err(refused.to_string()),
        })
    }

    fn set_consent(&self, py: Python<'_>, input_id: i128, consent: bool) -> PyResult<()> {
        self.inner.set_consent(int_arg(py, input_id, "input_id")?, consent);
        Ok(())
    }

    /// Waits for the last page to be synced, with the GIL released.
    fn stop_recording(&self, py: Python<'_>) -> Option<RecordingStats> {
        py.detach(|| self.inner.stop_recording()).map(RecordingStats::from)
    }

    fn recording_stats(&self) -> Option<RecordingStats> {
        self.inner.recording_stats().map(RecordingStats::from)
    }

    /// Who talks: told to `everyone_group` when the voices in the mix change.
    fn tell_speaking(&self, space_id: &str, everyone_group: u64) {
        self.inner.tell_speaking(space_id, everyone_group);
    }

    fn name_input(&self, input_id: u64, user_id: &str) {
        self.inner.name_input(input_id, user_id);
    }

    fn forget_input(&self, input_id: u64) {
        self.inner.forget_input(input_id);
    }

    fn send_speaking(&self, py: Python<'_>, conn: u64) {
        // It may wait for a tick's change under way, a broadcast to every member.
        py.detach(|| self.inner.send_speaking(conn));
    }

    #[getter]
    fn speaking_messages(&self) -> u64 {
        self.inner.speaking_messages()
    }

    /// Why the space's tick failed (a panic: a bug), once it has; the space no longer ticks.
    #[getter]
    fn failure(&self) -> Option<String> {
        self.inner.failure()
    }

    /// For tests of a failing tick: the next tick panics.
    fn _inject_panic(&self) {
        self.inner.inject_panic();
    }

    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.inner.stop());
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TickPool>()?;
    m.add_class::<BatchPolicy>()?;
    m.add_class::<TickPoolStats>()?;
    m.add_class::<SpaceDriver>()
}
