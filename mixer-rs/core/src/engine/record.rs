//! The recording's frame of a tick (`Engine::record_frame`): the voices mixed for listeners whose
//! input consented, at no cost when that is all of them or none.

use super::Engine;
use crate::MixerError;
use crate::codec::Encoder;
use crate::mix::{accumulate, mix_all};
use crate::output::{Counters, RecordFrame, bump};

impl Engine {
    /// The recording's frame for a tick that mixed `mixed`, whose real
    /// packets (in the same order) are `packets` (the last step of the essay at `Engine::tick`);
    /// `stood_in`: the shared output stands in for the lone talker's concealment, which
    /// the recording may take only if its last frame was that talker's own stream too.
    pub(super) fn record_frame(
        &mut self,
        mixed: &[u64],
        packets: &[Option<Vec<u8>>],
        stood_in: bool,
        counters: &Counters,
    ) -> Result<RecordFrame, MixerError> {
        let consenting = mixed.iter().filter(|id| self.consented.contains(id)).count();
        let recorded_from = std::mem::take(&mut self.recorded_from);
        if consenting == 0 {
            return Ok(RecordFrame::Silent);
        }
        if consenting == mixed.len() && (!stood_in || recorded_from == self.shared_from) {
            self.recorded_from = self.shared_from;
            return Ok(RecordFrame::Shared);
        }
        if consenting == 1 {
            // One voice alone: its packet as it came, when it came, is that mix (as for a mix-minus of two).
            let lone = mixed.iter().position(|id| self.consented.contains(id));
            if let Some(Some(packet)) = lone.and_then(|i| packets.get(i)) {
                self.recorded_from = lone.map(|i| mixed[i]);
                return Ok(RecordFrame::Own(packet.clone()));
            }
        }
        let Some(work) = self.work.as_deref_mut() else {
            return Err(MixerError::Codec { function: "encode", reason: "no workspace for a mix" });
        };
        work.sum.fill(0);
        for id in mixed.iter().filter(|id| self.consented.contains(id)) {
            if let Some(input) = self.inputs.get_mut(id) {
                accumulate(&mut work.sum, input.samples(self.silence_dbfs));
            }
        }
        mix_all(&work.sum, &mut work.scratch);
        let encoder = match &mut work.record_encoder {
            Some(encoder) => encoder,
            None => work.record_encoder.insert(Encoder::new(self.bitrate, self.complexity)?),
        };
        let packet = encoder.encode(&work.scratch[..])?;
        bump(&counters.encodes, 1);
        Ok(RecordFrame::Own(packet))
    }
}
