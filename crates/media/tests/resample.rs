//! Resampler quality: frequency and level preserved, out-of-band content filtered out.

mod common;

use std::time::Duration;

use common::{goertzel_amplitude, rms, stereo_sine, write_wav};
use vaxel_media::Prompt;

const AMP: f64 = 0.5;

fn load_sine(rate: u32, freq: f64, seconds: f64) -> Prompt {
    let path = write_wav(
        &format!("sine-{rate}-{freq}.wav"),
        rate,
        2,
        &stereo_sine(rate, freq, AMP, seconds),
    );
    let p = Prompt::load(&path).unwrap();
    std::fs::remove_file(path).unwrap();
    p
}

/// The middle of the signal, clear of start/end filter transients; 4000 samples = 500 ms,
/// an integer number of 1 kHz periods so Goertzel has no leakage.
fn middle(p: &Prompt) -> &[i16] {
    &p.samples()[2000..6000]
}

#[test]
fn one_khz_keeps_frequency_and_level_from_44k1_and_48k_stereo() {
    for rate in [44_100, 48_000] {
        let p = load_sine(rate, 1000.0, 1.0);
        // Length: exactly 1 s of 8 kHz audio, no sample dropping or stretching.
        assert_eq!(p.samples().len(), 8000, "rate {rate}");
        assert_eq!(p.duration(), Duration::from_secs(1));
        let x = middle(&p);
        let a1k = goertzel_amplitude(x, 8000.0, 1000.0);
        let expected = AMP * 32767.0;
        let db = 20.0 * (a1k / expected).log10();
        assert!(db.abs() < 1.0, "rate {rate}: level off by {db:.2} dB");
        // Frequency: all the energy is at 1 kHz, none at neighbouring frequencies.
        for f in [800.0, 900.0, 1100.0, 1200.0] {
            let other = goertzel_amplitude(x, 8000.0, f);
            assert!(other < a1k / 100.0, "rate {rate}: {f} Hz = {other}");
        }
        // And the zero-crossing count says 1 kHz: 2 per period, 500 periods.
        let zc = x.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!(
            (998..=1001).contains(&zc),
            "rate {rate}: {zc} zero crossings"
        );
    }
}

#[test]
fn six_khz_at_48k_is_filtered_not_aliased() {
    let p = load_sine(48_000, 6000.0, 1.0);
    assert_eq!(p.samples().len(), 8000);
    let x = middle(&p);
    // Dropping 5 of every 6 samples would fold 6 kHz onto 2 kHz at full level.
    let alias = goertzel_amplitude(x, 8000.0, 2000.0);
    let input = AMP * 32767.0;
    let alias_db = 20.0 * (alias.max(1e-9) / input).log10();
    let rms_db = 20.0 * (rms(x).max(1e-9) / (input / 2f64.sqrt())).log10();
    assert!(alias_db < -40.0, "2 kHz alias at {alias_db:.1} dB");
    assert!(rms_db < -40.0, "residual at {rms_db:.1} dB");
}

#[test]
fn thirty_seconds_of_cd_audio_loads_quickly() {
    let path = write_wav(
        "long.wav",
        44_100,
        2,
        &stereo_sine(44_100, 440.0, 0.3, 30.0),
    );
    let t0 = std::time::Instant::now();
    let p = Prompt::load(&path).unwrap();
    let took = t0.elapsed();
    std::fs::remove_file(path).unwrap();
    assert_eq!(p.samples().len(), 240_000);
    assert_eq!(p.frame_count(), 1500);
    // Release builds take well under 1 s; unoptimised test builds get headroom.
    let limit = if cfg!(debug_assertions) { 5.0 } else { 1.0 };
    assert!(took.as_secs_f64() < limit, "took {took:?}");
}
