//! Synthesised call-progress tones (Swedish values, as Telia/PTS specify them).

use std::time::Duration;

use crate::Prompt;
use crate::resample::TELEPHONE_RATE;

/// Swedish call-progress tone frequency.
pub const TONE_HZ: f64 = 425.0;
/// Peak amplitude: about -10 dBm0, a comfortable level for tones.
const AMPLITUDE: f64 = 7000.0;

fn samples_for(duration: Duration) -> usize {
    (duration.as_micros() * u128::from(TELEPHONE_RATE) / 1_000_000) as usize
}

/// A cadenced 425 Hz tone: `on` of tone, then `off` of silence, repeated for `duration`.
pub fn cadence(duration: Duration, on: Duration, off: Duration) -> Prompt {
    let n = samples_for(duration);
    let on_n = samples_for(on);
    let period = (on_n + samples_for(off)).max(1);
    let step = 2.0 * std::f64::consts::PI * TONE_HZ / f64::from(TELEPHONE_RATE);
    let samples = (0..n)
        .map(|i| {
            if i % period < on_n {
                ((i as f64 * step).sin() * AMPLITUDE).round() as i16
            } else {
                0
            }
        })
        .collect();
    Prompt::from_samples_8k(samples)
}

/// Swedish busy tone: 425 Hz, 250 ms on / 250 ms off.
pub fn busy(duration: Duration) -> Prompt {
    cadence(
        duration,
        Duration::from_millis(250),
        Duration::from_millis(250),
    )
}

/// Swedish ring-back tone: 425 Hz, 1 s on / 5 s off.
pub fn ringback(duration: Duration) -> Prompt {
    cadence(duration, Duration::from_secs(1), Duration::from_secs(5))
}

/// Digital silence of the given length.
pub fn silence(duration: Duration) -> Prompt {
    Prompt::from_samples_8k(vec![0; samples_for(duration)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn energy(s: &[i16]) -> f64 {
        s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len().max(1) as f64
    }

    #[test]
    fn busy_cadence_and_frequency() {
        let p = busy(Duration::from_secs(1));
        let s = p.samples();
        assert_eq!(s.len(), 8000);
        assert_eq!(p.frame_count(), 50);
        // 0..250 ms on, 250..500 off, 500..750 on, 750..1000 off.
        assert!(energy(&s[0..2000]) > 1e6);
        assert!(s[2000..4000].iter().all(|&x| x == 0));
        assert!(energy(&s[4000..6000]) > 1e6);
        assert!(s[6000..8000].iter().all(|&x| x == 0));
        // 425 Hz for 250 ms: about 2 * 106 zero crossings.
        let crossings = s[0..2000]
            .windows(2)
            .filter(|w| (w[0] >= 0) != (w[1] >= 0))
            .count();
        assert!((210..=214).contains(&crossings), "{crossings}");
    }

    #[test]
    fn silence_is_silent() {
        let p = silence(Duration::from_millis(100));
        assert_eq!(p.frame_count(), 5);
        assert!(
            p.frame(crate::Codec::Pcma, 4)
                .unwrap()
                .iter()
                .all(|&b| b == 0xD5)
        );
    }
}
