//! Whether the audio engine's threads still run. The fan-out's writers, the
//! wire's reader, the tick pool and the recording writers are threads of
//! their own ("stoa-fanout", "stoa-wire", "stoa-tick", "stoa-rec"); a panic
//! in one of them is a bug, and it ends that thread with nobody to report it
//! to: Python's event loop goes on, /healthz says ok, and the clients that
//! thread served hear nothing. So the first panic on a thread named "stoa-…"
//! is kept here, and the server watches for it and exits (gateway/engine_watch.py):
//! a supervisor restarts it, and the clients resume. Not one inside a space's
//! tick or one connection's bytes: that is caught, and fails that unit alone (`driver::contained`).

use std::panic::{self, PanicHookInfo};
use std::sync::{Once, OnceLock};
use std::thread;

use ::driver as dr;
use pyo3::prelude::*;

/// The threads of the engine, by their names' prefix.
const ENGINE_THREAD_PREFIX: &str = "stoa-";

static FAILURE: OnceLock<String> = OnceLock::new();
static HOOK: Once = Once::new();

/// Keeps the first panic of an engine thread, then reports it as before
/// (the previous hook: Rust's prints it on stderr). Installed once.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // A panic in a space's tick or one connection's bytes is caught, and fails that unit alone.
            let current = thread::current();
            let name = current.name().filter(|name| name.starts_with(ENGINE_THREAD_PREFIX));
            if let Some(name) = name.filter(|_| !dr::in_contained()) {
                let _ = FAILURE.set(describe(name, info));
            }
            previous(info);
        }));
    });
}

fn describe(thread: &str, info: &PanicHookInfo<'_>) -> String {
    let message = dr::panic_message(info.payload());
    match info.location() {
        Some(at) => format!("thread '{thread}' panicked at {}:{}: {message}", at.file(), at.line()),
        None => format!("thread '{thread}' panicked: {message}"),
    }
}

/// The first panic of an engine thread since the module was loaded, as
/// "thread 'NAME' panicked at FILE:LINE: MESSAGE"; None while none has.
#[pyfunction]
fn engine_failure() -> Option<String> {
    FAILURE.get().cloned()
}

/// For tests of what follows an engine failure: a thread named `thread_name`
/// panics with `message`, and is joined.
#[pyfunction]
fn _panic_in_thread(py: Python<'_>, thread_name: String, message: String) -> PyResult<()> {
    py.detach(|| {
        let thread = thread::Builder::new().name(thread_name).spawn(move || panic!("{message}"))?;
        let _ = thread.join();
        Ok(())
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    install_hook();
    m.add_function(wrap_pyfunction!(engine_failure, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_in_thread, m)?)?;
    Ok(())
}
