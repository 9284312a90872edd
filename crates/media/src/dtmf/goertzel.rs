//! The Goertzel filter: the power of one frequency in a block of samples.
//!
//! Cheaper than an FFT when only a handful of frequencies matter (DTMF needs eight, plus
//! a few second harmonics), and the frequency need not fall on an FFT bin.

/// A single-frequency filter for a fixed sample rate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Goertzel {
    coeff: f32,
}

impl Goertzel {
    /// A filter for `freq` Hz at `rate` samples per second.
    pub(super) fn new(freq: f32, rate: f32) -> Self {
        Goertzel {
            coeff: 2.0 * (std::f32::consts::TAU * freq / rate).cos(),
        }
    }

    /// Mean power of the filter's frequency in `block`, scaled so that a sine of amplitude
    /// `a` at exactly that frequency gives about `a² / 2` (its mean power), whatever the
    /// block length. Comparable with the block's mean power `Σx² / n`.
    pub(super) fn power(&self, block: &[f32]) -> f32 {
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &x in block {
            let s0 = x + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let magnitude2 = s1 * s1 + s2 * s2 - self.coeff * s1 * s2;
        let n = block.len().max(1) as f32;
        2.0 * magnitude2 / (n * n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, amp: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| amp * (std::f32::consts::TAU * freq * i as f32 / 8000.0).sin())
            .collect()
    }

    #[test]
    fn power_of_a_sine_is_its_mean_power() {
        let block = sine(770.0, 1000.0, 102);
        let p = Goertzel::new(770.0, 8000.0).power(&block);
        assert!((p / 500_000.0 - 1.0).abs() < 0.05, "{p}");
    }

    #[test]
    fn neighbouring_dtmf_rows_are_rejected() {
        // 697 Hz sits near a null of the 770 Hz filter over 102 samples.
        let block = sine(697.0, 1000.0, 102);
        let p = Goertzel::new(770.0, 8000.0).power(&block);
        assert!(p < 500_000.0 / 100.0, "{p}");
    }
}
