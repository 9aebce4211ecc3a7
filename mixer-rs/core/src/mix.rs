//! The arithmetic of a mix, with no codec: sum the speakers in 32 bits, take
//! each speaker's mix-minus as the sum less its own samples, and saturate to
//! 16 bits only after the subtraction.

use crate::FRAME_SAMPLES;

/// A running sum of one frame from several inputs, wide enough for any
/// number of 16-bit inputs the mixer will ever hold (65,536 of them).
pub type Sum = [i32; FRAME_SAMPLES];

/// Adds one input's frame into the running sum.
pub fn accumulate(sum: &mut Sum, pcm: &[i16; FRAME_SAMPLES]) {
    for (acc, &s) in sum.iter_mut().zip(pcm) {
        *acc += i32::from(s);
    }
}

/// Clamps one 32-bit sample to the 16-bit range.
#[inline]
pub fn saturate(sample: i32) -> i16 {
    // The clamp makes the narrowing lossless.
    sample.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// The whole mix as 16-bit PCM.
pub fn mix_all(sum: &Sum, out: &mut [i16; FRAME_SAMPLES]) {
    for (o, &acc) in out.iter_mut().zip(sum) {
        *o = saturate(acc);
    }
}

/// The mix without `own`: `saturate(sum - own)`, sample by sample.
///
/// Saturating the sum first and subtracting afterwards would be wrong: two
/// loud speakers at +30,000 each clip the sum to 32,767, and taking one away
/// would leave 2,767 instead of the other's 30,000.
pub fn mix_minus(sum: &Sum, own: &[i16; FRAME_SAMPLES], out: &mut [i16; FRAME_SAMPLES]) {
    for ((o, &acc), &s) in out.iter_mut().zip(sum).zip(own) {
        *o = saturate(acc - i32::from(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(value: i16) -> [i16; FRAME_SAMPLES] {
        [value; FRAME_SAMPLES]
    }

    fn frame_from(values: &[i16]) -> [i16; FRAME_SAMPLES] {
        let mut f = [0; FRAME_SAMPLES];
        f[..values.len()].copy_from_slice(values);
        f
    }

    #[test]
    fn sum_adds_known_samples_exactly() {
        let mut sum = [0; FRAME_SAMPLES];
        accumulate(&mut sum, &frame_from(&[100, -200, 3, i16::MAX]));
        accumulate(&mut sum, &frame_from(&[1, 2, -3, i16::MAX]));
        accumulate(&mut sum, &frame_from(&[10, 20, 30, i16::MAX]));
        assert_eq!(&sum[..5], &[111, -178, 30, 3 * 32_767, 0]);
        let mut out = [0; FRAME_SAMPLES];
        mix_all(&sum, &mut out);
        assert_eq!(&out[..5], &[111, -178, 30, i16::MAX, 0]);
    }

    #[test]
    fn mix_minus_is_the_sum_without_own_samples() {
        let inputs = [frame_from(&[100, -5, 7]), frame_from(&[20, 6, -7]), frame_from(&[3, 4, 5])];
        let mut sum = [0; FRAME_SAMPLES];
        inputs.iter().for_each(|f| accumulate(&mut sum, f));
        let mut out = [0; FRAME_SAMPLES];
        mix_minus(&sum, &inputs[0], &mut out);
        assert_eq!(&out[..3], &[23, 10, -2]);
        mix_minus(&sum, &inputs[2], &mut out);
        assert_eq!(&out[..3], &[120, 1, 0]);
    }

    #[test]
    fn saturation_happens_after_subtraction() {
        let (a, b) = (frame(30_000), frame(30_000));
        let mut sum = [0; FRAME_SAMPLES];
        accumulate(&mut sum, &a);
        accumulate(&mut sum, &b);
        let mut out = [0; FRAME_SAMPLES];
        mix_minus(&sum, &a, &mut out);
        assert_eq!(out, b, "A hears all of B");
        // Saturating first would give the wrong answer this test guards against.
        let wrong = i32::from(saturate(sum[0])) - i32::from(a[0]);
        assert_eq!(wrong, 2_767);
        // And the shared mix itself clips.
        mix_all(&sum, &mut out);
        assert_eq!(out, frame(i16::MAX));
    }

    #[test]
    fn mix_minus_saturates_the_negative_side_too() {
        let inputs = [frame(-30_000), frame(-30_000), frame(20_000)];
        let mut sum = [0; FRAME_SAMPLES];
        inputs.iter().for_each(|f| accumulate(&mut sum, f));
        let mut out = [0; FRAME_SAMPLES];
        mix_minus(&sum, &inputs[2], &mut out);
        assert_eq!(out, frame(i16::MIN));
        mix_minus(&sum, &inputs[0], &mut out);
        assert_eq!(out, frame(-10_000));
    }
}
