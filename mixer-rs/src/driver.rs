//! `TickPool` and `SpaceDriver`: the binding of the `driver` crate, the few
//! threads that tick every talking space's mixer and feed the fan-out with no
//! Python on the audio path.

use ::driver as dr;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use crate::fanout::Fanout;
use crate::{Mixer, int_arg};

#[pyclass(frozen, module = "mixer._mixer")]
struct TickPool {
    inner: dr::TickPool,
}

#[pymethods]
impl TickPool {
    #[new]
    #[pyo3(signature = (*, threads = 2, max_threads = 64))]
    fn new(py: Python<'_>, threads: i128, max_threads: i128) -> PyResult<Self> {
        let threads: usize = int_arg(py, threads, "threads")?;
        let max_threads: usize = int_arg(py, max_threads, "max_threads")?;
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

#[pyclass(frozen, module = "mixer._mixer")]
struct SpaceDriver {
    inner: dr::Driver,
}

#[pymethods]
impl SpaceDriver {
    #[new]
    #[pyo3(signature = (pool, mixer, fanout, audience_group, *, frames_per_message = 1, first_seq = 0))]
    fn new(
        py: Python<'_>,
        pool: PyRef<'_, TickPool>,
        mixer: PyRef<'_, Mixer>,
        fanout: PyRef<'_, Fanout>,
        audience_group: u64,
        frames_per_message: i128,
        first_seq: u64,
    ) -> PyResult<Self> {
        let frames: usize = int_arg(py, frames_per_message, "frames_per_message")?;
        let inner = dr::Driver::start(
            &pool.inner,
            mixer.inner.clone(),
            fanout.inner.clone(),
            audience_group,
            frames,
            first_seq,
        );
        Ok(Self { inner })
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

    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.inner.stop());
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TickPool>()?;
    m.add_class::<TickPoolStats>()?;
    m.add_class::<SpaceDriver>()
}
