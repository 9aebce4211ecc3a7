//! `mixer._mixer`: the thin Python binding of `mixer_core`. It converts
//! arguments and results and releases the GIL around the tick; every rule of
//! the mix lives in the core crate. Typed in `mixer/_mixer.pyi`.

#![forbid(unsafe_code)]

mod driver;
mod engine;
mod fanout;
mod loadpool;
mod recording;
mod wire;

use std::sync::{Arc, Mutex, PoisonError};

use mixer_core as mc;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

pyo3::create_exception!(
    mixer._mixer,
    MixerError,
    PyValueError,
    "A refused argument or packet, or a codec failure; `code` is stable and machine-readable."
);

/// The Python exception for a core error, with its `code` attribute set.
fn raise(py: Python<'_>, err: mc::MixerError) -> PyErr {
    let exc = MixerError::new_err(err.to_string());
    match exc.value(py).setattr(intern!(py, "code"), err.code()) {
        Ok(()) => exc,
        Err(setattr_failed) => setattr_failed,
    }
}

/// Python ints arrive as i128 so that a negative or huge one is a
/// `MixerError("bad_argument")` rather than a bare OverflowError.
fn int_arg<T: TryFrom<i128>>(py: Python<'_>, value: i128, name: &'static str) -> PyResult<T> {
    T::try_from(value).map_err(|_| raise(py, mc::MixerError::BadArgument { name, reason: "out of range" }))
}

#[pyclass(frozen, module = "mixer._mixer")]
struct Encoder {
    inner: Mutex<mc::Encoder>,
}

#[pymethods]
impl Encoder {
    #[new]
    #[pyo3(signature = (*, bitrate = 32_000, complexity = 5))]
    fn new(py: Python<'_>, bitrate: i128, complexity: i128) -> PyResult<Self> {
        let (bitrate, complexity) =
            (int_arg(py, bitrate, "bitrate")?, int_arg(py, complexity, "complexity")?);
        let inner = mc::Encoder::new(bitrate, complexity).map_err(|e| raise(py, e))?;
        Ok(Self { inner: Mutex::new(inner) })
    }

    fn encode<'py>(&self, py: Python<'py>, pcm: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let pcm = mc::pcm_from_le_bytes(pcm).map_err(|e| raise(py, e))?;
        let mut encoder = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let packet = encoder.encode(&pcm).map_err(|e| raise(py, e))?;
        Ok(PyBytes::new(py, &packet))
    }
}

#[pyclass(frozen, module = "mixer._mixer")]
struct Decoder {
    inner: Mutex<mc::Decoder>,
}

#[pymethods]
impl Decoder {
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        let inner = mc::Decoder::new().map_err(|e| raise(py, e))?;
        Ok(Self { inner: Mutex::new(inner) })
    }

    /// One frame of s16le; `None` means the packet was lost (concealment).
    fn decode<'py>(&self, py: Python<'py>, packet: Option<&[u8]>) -> PyResult<Bound<'py, PyBytes>> {
        let mut pcm = [0i16; mc::FRAME_SAMPLES];
        let mut decoder = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match packet {
            Some(packet) => decoder.decode(packet, &mut pcm),
            None => decoder.conceal(&mut pcm),
        }
        .map_err(|e| raise(py, e))?;
        Ok(PyBytes::new(py, &mc::pcm_to_le_bytes(&pcm)))
    }
}

/// One tick's packets; built once, read-only.
#[pyclass(frozen, module = "mixer._mixer")]
struct TickOutput {
    #[pyo3(get)]
    seq: u64,
    kind: mc::TickKind,
    #[pyo3(get)]
    captured_at: u64,
    shared: Option<Py<PyBytes>>,
    minus: Vec<(u64, Py<PyBytes>)>,
    #[pyo3(get)]
    mixed: Vec<u64>,
    #[pyo3(get)]
    levels: Vec<(u64, i8)>,
}

impl TickOutput {
    fn new(py: Python<'_>, out: mc::TickOutput) -> Self {
        let bytes = |packet: &[u8]| PyBytes::new(py, packet).unbind();
        Self {
            seq: out.seq,
            kind: out.kind,
            captured_at: out.captured_at,
            shared: out.shared.as_deref().map(bytes),
            minus: out.minus.iter().map(|(id, packet)| (*id, bytes(packet))).collect(),
            mixed: out.mixed,
            levels: out.levels,
        }
    }
}

#[pymethods]
impl TickOutput {
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.as_str()
    }

    #[getter]
    fn shared(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.shared.as_ref().map(|packet| packet.clone_ref(py))
    }

    #[getter]
    fn minus<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.minus.iter().map(|(id, packet)| (*id, packet.clone_ref(py))))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let shared = self.shared.as_ref().map_or(0, |p| p.bind(py).as_bytes().len());
        let minus: Vec<u64> = self.minus.iter().map(|(id, _)| *id).collect();
        format!(
            "TickOutput(seq={}, kind='{}', captured_at={}, shared=<{shared} bytes>, minus={minus:?}, mixed={:?}, \
             levels={:?})",
            self.seq,
            self.kind.as_str(),
            self.captured_at,
            self.mixed,
            self.levels
        )
    }
}

/// A snapshot of a mixer's counters.
#[pyclass(frozen, get_all, module = "mixer._mixer")]
struct MixerStats {
    ticks: u64,
    packets_in: u64,
    packets_dropped: u64,
    dropped_no_input: u64,
    dropped_overflow: u64,
    dropped_removed: u64,
    dropped_skipped: u64,
    packets_late: u64,
    concealed: u64,
    concealed_gaps: u64,
    decode_errors: u64,
    encodes: u64,
    decodes: u64,
    packets_with_level: u64,
}

#[pymethods]
impl MixerStats {
    fn __repr__(&self) -> String {
        let Self {
            ticks,
            packets_in,
            packets_dropped,
            dropped_no_input,
            dropped_overflow,
            dropped_removed,
            dropped_skipped,
            packets_late,
            concealed,
            concealed_gaps,
            decode_errors,
            encodes,
            decodes,
            packets_with_level,
        } = self;
        format!(
            "MixerStats(ticks={ticks}, packets_in={packets_in}, packets_dropped={packets_dropped}, \
             dropped_no_input={dropped_no_input}, dropped_overflow={dropped_overflow}, \
             dropped_removed={dropped_removed}, dropped_skipped={dropped_skipped}, \
             packets_late={packets_late}, concealed={concealed}, concealed_gaps={concealed_gaps}, \
             decode_errors={decode_errors}, encodes={encodes}, decodes={decodes}, \
             packets_with_level={packets_with_level})"
        )
    }
}

/// A space's mixer: `push` from the event loop, `tick` from a worker thread.
#[pyclass(frozen, module = "mixer._mixer")]
pub(crate) struct Mixer {
    /// Shared with the space's driver thread (see `driver.rs`).
    pub(crate) inner: Arc<mc::Mixer>,
}

#[pymethods]
impl Mixer {
    #[new]
    #[pyo3(signature = (
        *, bitrate = 32_000, complexity = 5, max_queue = 6, hangover_ticks = 5,
        max_mixed = 4, silence_dbfs = -50, hold_ticks = 10,
    ))]
    // Spelled out because pyo3 renders a negative default as `...`, which stubtest rejects.
    #[pyo3(text_signature = "(*, bitrate=32000, complexity=5, max_queue=6, hangover_ticks=5, \
                             max_mixed=4, silence_dbfs=-50, hold_ticks=10)")]
    #[allow(clippy::too_many_arguments)] // keyword-only settings, checked by the core
    fn new(
        py: Python<'_>,
        bitrate: i128,
        complexity: i128,
        max_queue: i128,
        hangover_ticks: i128,
        max_mixed: i128,
        silence_dbfs: i128,
        hold_ticks: i128,
    ) -> PyResult<Self> {
        let config = mc::MixerConfig {
            bitrate: int_arg(py, bitrate, "bitrate")?,
            complexity: int_arg(py, complexity, "complexity")?,
            max_queue: int_arg(py, max_queue, "max_queue")?,
            hangover_ticks: int_arg(py, hangover_ticks, "hangover_ticks")?,
            max_mixed: int_arg(py, max_mixed, "max_mixed")?,
            silence_dbfs: int_arg(py, silence_dbfs, "silence_dbfs")?,
            hold_ticks: int_arg(py, hold_ticks, "hold_ticks")?,
        };
        let inner = mc::Mixer::new(config).map_err(|e| raise(py, e))?;
        Ok(Self { inner: Arc::new(inner) })
    }

    fn add_input(&self, py: Python<'_>, input_id: i128) -> PyResult<()> {
        let id = int_arg(py, input_id, "input_id")?;
        self.inner.add_input(id).map_err(|e| raise(py, e))
    }

    fn remove_input(&self, py: Python<'_>, input_id: i128) -> PyResult<()> {
        self.inner.remove_input(int_arg(py, input_id, "input_id")?);
        Ok(())
    }

    fn has_input(&self, py: Python<'_>, input_id: i128) -> PyResult<bool> {
        Ok(self.inner.has_input(int_arg(py, input_id, "input_id")?))
    }

    #[pyo3(signature = (input_id, seq, captured_at, packet, level = None))]
    fn push(
        &self,
        py: Python<'_>,
        input_id: i128,
        seq: i128,
        captured_at: i128,
        packet: &[u8],
        level: Option<i128>,
    ) -> PyResult<bool> {
        if packet.len() > mc::MAX_PACKET_BYTES {
            return Err(raise(py, mc::MixerError::PacketTooLarge { len: packet.len() }));
        }
        let id = int_arg(py, input_id, "input_id")?;
        let level = match level {
            Some(level) if !(0..=127).contains(&level) => {
                return Err(raise(
                    py,
                    mc::MixerError::BadArgument { name: "level", reason: "must be 0..=127" },
                ));
            }
            level => level.map(|l| l as u8),
        };
        let frame = mc::Frame {
            seq: int_arg(py, seq, "seq")?,
            captured_at: int_arg(py, captured_at, "captured_at")?,
            packet: packet.to_vec(),
            level,
            arrived_at: None, // stamped by the mixer
        };
        self.inner.push(id, frame).map_err(|e| raise(py, e))
    }

    #[getter]
    fn active(&self) -> bool {
        self.inner.is_active()
    }

    /// One 20 ms tick; the GIL is released for all of its decode, mix and encode.
    fn tick(&self, py: Python<'_>) -> PyResult<TickOutput> {
        let out = py.detach(|| self.inner.tick()).map_err(|e| raise(py, e))?;
        Ok(TickOutput::new(py, out))
    }

    fn stats(&self) -> MixerStats {
        let mc::MixerStats {
            ticks,
            packets_in,
            packets_dropped,
            dropped_no_input,
            dropped_overflow,
            dropped_removed,
            dropped_skipped,
            packets_late,
            concealed,
            concealed_gaps,
            decode_errors,
            encodes,
            decodes,
            packets_with_level,
        } = self.inner.stats();
        MixerStats {
            ticks,
            packets_in,
            packets_dropped,
            dropped_no_input,
            dropped_overflow,
            dropped_removed,
            dropped_skipped,
            packets_late,
            concealed,
            concealed_gaps,
            decode_errors,
            encodes,
            decodes,
            packets_with_level,
        }
    }

    /// Sets of Opus state held now: 0 while the mixer is quiet.
    fn codecs_held(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.codecs_held())
    }
}

#[pymodule]
fn _mixer(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FRAME_SAMPLES", mc::FRAME_SAMPLES)?;
    m.add("SAMPLE_RATE", mc::SAMPLE_RATE)?;
    m.add("MAX_PACKET_BYTES", mc::MAX_PACKET_BYTES)?;
    m.add("MixerError", py.get_type::<MixerError>())?;
    m.add_class::<Encoder>()?;
    m.add_class::<Decoder>()?;
    m.add_class::<TickOutput>()?;
    m.add_class::<MixerStats>()?;
    m.add_class::<Mixer>()?;
    engine::register(m)?;
    fanout::register(m)?;
    driver::register(m)?;
    loadpool::register(m)?;
    recording::register(m)?;
    wire::register(m)?;
    Ok(())
}
