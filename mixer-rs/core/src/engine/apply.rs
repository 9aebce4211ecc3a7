//! What arrived since the last tick, applied to the engine at the tick's start (`Engine::apply`): the
//! removals, additions and consents the ingress recorded, then the packets, into each input's jitter queue.

use super::Engine;
use crate::ingress::{Arrived, Drained};
use crate::output::{Counters, DropReason, bump};
use crate::queue::Offer;

impl Engine {
    /// The map `Ingress::drain` swaps the packets into (emptied by the last `apply`).
    pub(crate) fn arrived(&mut self) -> &mut Arrived {
        &mut self.arrived
    }

    /// Applies what arrived since the last tick (`drained`, and the packets in `arrived`), in the order
    /// that keeps the ingress' invariant: removals, additions, then packets.
    pub(crate) fn apply(&mut self, drained: Drained, counters: &Counters) {
        for id in drained.removals {
            if let Some(gone) = self.inputs.remove(&id) {
                counters.drop(DropReason::Removed, gone.queued() as u64);
            }
        }
        self.inputs.extend(drained.additions);
        for (id, consent) in drained.consents {
            if consent {
                self.consented.insert(id);
            } else {
                self.consented.remove(&id);
            }
        }
        let (mut late, mut overflow, mut no_input) = (0, 0, 0);
        for (id, frames) in &mut self.arrived {
            let Some(input) = self.inputs.get_mut(id) else {
                no_input += frames.len() as u64;
                frames.clear();
                continue;
            };
            for frame in frames.drain(..) {
                match input.offer(frame) {
                    Offer::Queued => {}
                    Offer::Late => late += 1,
                    Offer::QueuedDroppedOldest => overflow += 1,
                }
            }
        }
        let inputs = &self.inputs;
        self.arrived.retain(|id, _| inputs.contains_key(id)); // a removed input's queue goes
        bump(&counters.packets_late, late);
        counters.drop(DropReason::Overflow, overflow);
        counters.drop(DropReason::NoInput, no_input);
    }
}
