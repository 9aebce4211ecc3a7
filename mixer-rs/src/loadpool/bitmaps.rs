//! Bitmaps of the capture clock's slots between Python (little-endian bytes, one for every member
//! or a list of one each) and the `loadpool` crate (`u64` words).

use ::loadpool as lp;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A bitmap for every member, or one each (as little-endian bytes).
#[derive(FromPyObject)]
pub(super) enum Bitmaps<'py> {
    One(Bound<'py, PyBytes>),
    Each(Vec<Bound<'py, PyBytes>>),
}

impl Bitmaps<'_> {
    /// Each member's bitmap as words; `None` if a list does not have one per member.
    pub(super) fn each(&self, members: usize) -> Option<Vec<Vec<u64>>> {
        match self {
            Self::One(bitmap) => Some(vec![words(bitmap.as_bytes()); members]),
            Self::Each(bitmaps) if bitmaps.len() == members => {
                Some(bitmaps.iter().map(|bitmap| words(bitmap.as_bytes())).collect())
            }
            Self::Each(_) => None,
        }
    }
}

pub(super) fn slices(maps: &[Vec<u64>]) -> Vec<&[u64]> {
    maps.iter().map(Vec::as_slice).collect()
}

/// A bitmap given as little-endian bytes, as words.
fn words(bitmap: &[u8]) -> Vec<u64> {
    let word = |chunk: &[u8]| {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        u64::from_le_bytes(bytes)
    };
    bitmap.chunks(8).map(word).collect()
}

/// Each member's bitmap as little-endian bytes (`int.from_bytes(b, "little")` has bit k for slot k).
pub(super) fn slot_maps(pool: &lp::Pool) -> Vec<Vec<u8>> {
    le_bytes(pool.slot_maps())
}

/// Bitmaps of u64 words as little-endian bytes.
pub(super) fn le_bytes(maps: Vec<Vec<u64>>) -> Vec<Vec<u8>> {
    maps.into_iter().map(|words| words.iter().flat_map(|w| w.to_le_bytes()).collect()).collect()
}
