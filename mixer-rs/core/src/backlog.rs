//! The packets an input played without decoding them, kept for a catch-up (`input::Codecs::behind`).

use crate::input::WARM_UP;

/// `input::Codecs::behind`: up to `WARM_UP` + 1 packets, oldest first, in buffers kept from packet to packet, so
/// that a packet kept for a catch-up (every packet of a talker passed through) costs a copy of its bytes
/// and no allocation once the buffers have grown to its size.
#[derive(Default)]
pub(crate) struct Backlog {
    buffers: [Vec<u8>; WARM_UP + 1],
    /// The oldest packet's buffer.
    start: usize,
    len: usize,
}

impl Backlog {
    /// Packets kept.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Keeps a copy of `packet` as the newest; the caller keeps `len` within `WARM_UP` + 1 (`fall_behind`).
    pub(crate) fn push(&mut self, packet: &[u8]) {
        if self.len == self.buffers.len() {
            self.drop_oldest(); // not reached: a tick's packet follows at most `WARM_UP`
        }
        let buffer = &mut self.buffers[(self.start + self.len) % self.buffers.len()];
        buffer.clear();
        buffer.extend_from_slice(packet);
        self.len += 1;
    }

    pub(crate) fn drop_oldest(&mut self) {
        if self.len > 0 {
            self.start = (self.start + 1) % self.buffers.len();
            self.len -= 1;
        }
    }

    /// Takes the oldest packet's buffer out, to be decoded and handed back (`give_back`) before the next call.
    pub(crate) fn pop_oldest(&mut self) -> Option<Vec<u8>> {
        if self.len == 0 {
            return None;
        }
        let buffer = std::mem::take(&mut self.buffers[self.start]);
        self.start = (self.start + 1) % self.buffers.len();
        self.len -= 1;
        Some(buffer)
    }

    /// Takes the newest packet's buffer out (empty if none), to be handed back (`give_back`).
    pub(crate) fn pop_newest(&mut self) -> Vec<u8> {
        if self.len == 0 {
            return Vec::new();
        }
        self.len -= 1;
        std::mem::take(&mut self.buffers[(self.start + self.len) % self.buffers.len()])
    }

    /// Returns a buffer taken out, to an empty slot: its allocation serves the next packets.
    pub(crate) fn give_back(&mut self, mut buffer: Vec<u8>) {
        let n = self.buffers.len();
        if let Some(slot) =
            (0..n).map(|i| (self.start + self.len + i) % n).find(|&i| self.buffers[i].capacity() == 0)
        {
            buffer.clear();
            self.buffers[slot] = buffer;
        }
    }
}
