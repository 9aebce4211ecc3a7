//! Files for the recording tests (this crate's and the driver's, which
//! includes this module): fresh paths in cargo's scratch folder.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A path no test has used, in a folder of cargo's scratch space for integration tests.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("recordings");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{}-{name}.opus", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = fs::remove_file(&path);
    path
}
