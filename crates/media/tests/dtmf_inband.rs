//! In-band DTMF: detection of generated key presses in noise (linear, PCMU, PCMA) and
//! silence over speech and music.
//!
//! Run with `--nocapture` to see the detection rate per SNR.

use std::path::PathBuf;

use vaxel_media::dtmf::{DIGITS, InbandDetector};
use vaxel_media::{Codec, Prompt, g711};

const RATE: f64 = 8000.0;
const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [&str; 4] = ["123A", "456B", "789C", "*0#D"];

/// SplitMix64: small, deterministic, good enough for test noise.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal (Box-Muller).
    fn gauss(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn freqs(digit: char) -> (f64, f64) {
    for (r, keys) in KEYPAD.iter().enumerate() {
        if let Some(c) = keys.find(digit) {
            return (ROWS[r], COLS[c]);
        }
    }
    panic!("no key {digit}")
}

/// Peak amplitude of one tone at -10 dBm0 (0 dBm0 sine peak ≈ 22 700).
const TONE_AMP: f64 = 22_700.0 * 0.316;

fn to_i16(x: f64) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

/// Linear samples passed through an optional G.711 encode/decode.
fn through(codec: Option<Codec>, samples: Vec<i16>) -> Vec<i16> {
    match codec {
        None => samples,
        Some(c) => {
            let mut enc = Vec::new();
            g711::encode(c, &samples, &mut enc);
            let mut dec = Vec::new();
            g711::decode(c, &enc, &mut dec);
            dec
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Score {
    sent: usize,
    detected: usize,
    false_digits: usize,
}

/// Send every key `reps` times as `tone_ms` tones with 50 ms gaps in white noise at
/// `snr_db` (tone power over noise power) and count what the detector reports per press.
fn run_tones(snr_db: f64, tone_ms: usize, codec: Option<Codec>, reps: usize, seed: u64) -> Score {
    let mut rng = Rng(seed);
    let tone_power = TONE_AMP * TONE_AMP; // two tones of a²/2 each
    let sigma = (tone_power / 10f64.powf(snr_db / 10.0)).sqrt();
    let mut det = InbandDetector::new();
    let mut score = Score::default();
    let tone_len = tone_ms * 8;
    let gap_len = 400;
    // Lead-in of noise only.
    let lead: Vec<i16> = (0..1600).map(|_| to_i16(sigma * rng.gauss())).collect();
    score.false_digits += det.push(&through(codec, lead)).len();
    let mut t = 0usize;
    for _ in 0..reps {
        for &digit in DIGITS.iter() {
            let (fr, fc) = freqs(digit);
            // Generators may be off by up to ±1.5 %; use up to ±1 %.
            let (fr, fc) = (fr * rng.range(0.99, 1.01), fc * rng.range(0.99, 1.01));
            let (pr, pc) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
            let segment: Vec<i16> = (0..tone_len + gap_len)
                .map(|i| {
                    let n = (t + i) as f64 / RATE;
                    let tone = if i < tone_len {
                        TONE_AMP
                            * ((std::f64::consts::TAU * fr * n + pr).sin()
                                + (std::f64::consts::TAU * fc * n + pc).sin())
                    } else {
                        0.0
                    };
                    to_i16(tone + sigma * rng.gauss())
                })
                .collect();
            t += segment.len();
            let found = det.push(&through(codec, segment));
            score.sent += 1;
            let hits = found.iter().filter(|&&d| d == digit).count();
            if hits >= 1 {
                score.detected += 1;
            }
            score.false_digits += found.len() - hits.min(1);
        }
    }
    score
}

#[test]
fn generated_tones_in_noise() {
    // TONE_SEED=n re-runs the same experiment with other noise and phases.
    let seed_offset: u64 = std::env::var("TONE_SEED").map_or(0, |s| s.parse().unwrap());
    let mut overall = Score::default();
    let mut per_snr = Vec::new();
    for snr in [0.0, 5.0, 10.0, 15.0, 20.0] {
        let mut s = Score::default();
        for (ci, codec) in [None, Some(Codec::Pcmu), Some(Codec::Pcma)]
            .into_iter()
            .enumerate()
        {
            for tone_ms in [50, 100] {
                let seed = 1000 * snr as u64 + 10 * ci as u64 + tone_ms as u64 + seed_offset;
                let r = run_tones(snr, tone_ms, codec, 4, seed);
                println!(
                    "  SNR {snr:>4} dB {:<11} {tone_ms:>3} ms: {}/{} detected, {} false",
                    format!("{codec:?}"),
                    r.detected,
                    r.sent,
                    r.false_digits
                );
                s.sent += r.sent;
                s.detected += r.detected;
                s.false_digits += r.false_digits;
            }
        }
        let rate = 100.0 * s.detected as f64 / s.sent as f64;
        println!(
            "SNR {snr:>4} dB: {}/{} detected ({rate:.2} %), {} false",
            s.detected, s.sent, s.false_digits
        );
        per_snr.push((snr, rate, s));
        overall.sent += s.sent;
        overall.detected += s.detected;
        overall.false_digits += s.false_digits;
    }
    let rate = 100.0 * overall.detected as f64 / overall.sent as f64;
    println!(
        "overall: {}/{} detected ({rate:.2} %), {} false",
        overall.detected, overall.sent, overall.false_digits
    );
    assert!(rate >= 99.0, "overall detection {rate:.2} %");
    for (snr, rate, s) in per_snr {
        if snr >= 10.0 {
            assert_eq!(s.detected, s.sent, "SNR {snr} dB: {rate:.2} %");
            assert_eq!(s.false_digits, 0, "SNR {snr} dB: false digits");
        }
    }
}

/// Every speech prompt and the hold music, as shipped, linear and through both codecs, at
/// full and at -10 dB level: not one digit.
#[test]
fn no_digits_in_the_bundled_prompts() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sounds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("wav" | "flac" | "ogg" | "mp3")
            )
        })
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in [
        "hold-music.wav",
        "main-menu.wav",
        "closed.wav",
        "welcome.wav",
    ] {
        assert!(names.iter().any(|n| n == required), "missing {required}");
    }
    let mut seconds = 0.0;
    let mut failures = Vec::new();
    for path in &files {
        let prompt = Prompt::load(path).unwrap();
        for gain in [1.0, 0.316] {
            let scaled: Vec<i16> = prompt
                .samples()
                .iter()
                .map(|&s| to_i16(f64::from(s) * gain))
                .collect();
            for codec in [None, Some(Codec::Pcmu), Some(Codec::Pcma)] {
                let audio = through(codec, scaled.clone());
                seconds += audio.len() as f64 / RATE;
                let found = InbandDetector::new().push(&audio);
                if !found.is_empty() {
                    failures.push(format!("{} x{gain} {codec:?}: {found:?}", path.display()));
                }
            }
        }
    }
    println!("{} prompts, {seconds:.0} s of audio analysed", files.len());
    assert!(
        failures.is_empty(),
        "false digits:\n{}",
        failures.join("\n")
    );
}

/// Deterministic speech- and music-like audio: vowels with gliding pitch and formants,
/// fricative noise, and harmonically rich chords with a gliding melody over them.
struct Synth {
    rng: Rng,
}

/// Formants (F1, F2, F3) of a few vowels, Hz.
const VOWELS: [[f64; 3]; 6] = [
    [730.0, 1090.0, 2440.0], // a
    [530.0, 1840.0, 2480.0], // e
    [270.0, 2290.0, 3010.0], // i
    [570.0, 840.0, 2410.0],  // o
    [300.0, 870.0, 2240.0],  // u
    [660.0, 1720.0, 2410.0], // æ
];

/// A band-limited sawtooth step (PolyBLEP): all harmonics at 1/k.
fn saw(phase: f64, dt: f64) -> f64 {
    let blep = if phase < dt {
        let t = phase / dt;
        t + t - t * t - 1.0
    } else if phase > 1.0 - dt {
        let t = (phase - 1.0) / dt;
        t * t + t + t + 1.0
    } else {
        0.0
    };
    2.0 * phase - 1.0 - blep
}

/// Two-pole resonator at `freq` with bandwidth `bw`.
#[derive(Default, Clone, Copy)]
struct Resonator {
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn step(&mut self, x: f64, freq: f64, bw: f64) -> f64 {
        let r = (-std::f64::consts::PI * bw / RATE).exp();
        let a1 = 2.0 * r * (std::f64::consts::TAU * freq / RATE).cos();
        let y = (1.0 - r) * x + a1 * self.y1 - r * r * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

fn midi_hz(note: f64) -> f64 {
    440.0 * 2f64.powf((note - 69.0) / 12.0)
}

impl Synth {
    /// One utterance of 3-10 syllables.
    fn speech(&mut self, out: &mut Vec<f64>) {
        let syllables = 3 + (self.rng.next_u64() % 8) as usize;
        let mut f0 = self.rng.range(85.0, 260.0);
        let mut phase = 0.0;
        let mut res = [Resonator::default(); 3];
        let mut vowel = VOWELS[(self.rng.next_u64() % 6) as usize];
        for _ in 0..syllables {
            let next = VOWELS[(self.rng.next_u64() % 6) as usize];
            let len = (self.rng.range(0.12, 0.35) * RATE) as usize;
            let f0_end = (f0 * self.rng.range(0.75, 1.3)).clamp(80.0, 300.0);
            let level = self.rng.range(0.3, 1.0);
            for i in 0..len {
                let x = i as f64 / len as f64;
                let f = (f0 + (f0_end - f0) * x) * (1.0 + 0.02 * (x * 30.0).sin());
                let dt = f / RATE;
                phase = (phase + dt) % 1.0;
                let src = saw(phase, dt);
                let mut y = 0.0;
                for (k, r) in res.iter_mut().enumerate() {
                    let formant = vowel[k] + (next[k] - vowel[k]) * x;
                    y += r.step(src, formant, 60.0 + 40.0 * k as f64) / (1 + k) as f64;
                }
                let env = (std::f64::consts::PI * x).sin().powf(0.5);
                out.push(level * env * y);
            }
            vowel = next;
            f0 = f0_end;
            // A fricative or a short pause between some syllables.
            match self.rng.next_u64() % 3 {
                0 => {
                    let len = (self.rng.range(0.05, 0.15) * RATE) as usize;
                    let mut prev = 0.0;
                    for _ in 0..len {
                        let n = self.rng.gauss();
                        out.push(0.15 * (n - prev)); // high-passed noise
                        prev = n;
                    }
                }
                1 => out.extend(std::iter::repeat_n(0.0, (0.06 * RATE) as usize)),
                _ => {}
            }
        }
    }

    /// A phrase of chords (sawtooth triads, some with a seventh) under a gliding melody.
    fn music(&mut self, out: &mut Vec<f64>) {
        let bars = 2 + (self.rng.next_u64() % 4) as usize;
        let mut melody_note = self.rng.range(67.0, 91.0).round();
        let mut melody_phase = 0.0;
        let mut lowpass = 0.0;
        for _ in 0..bars {
            let root = 48.0 + (self.rng.next_u64() % 25) as f64;
            let minor = self.rng.next_u64() % 2 == 0;
            let mut chord = vec![root, root + if minor { 3.0 } else { 4.0 }, root + 7.0];
            if self.rng.next_u64() % 3 == 0 {
                chord.push(root + 10.0);
            }
            let mut phases = vec![0.0; chord.len()];
            let bar_len = (self.rng.range(0.8, 2.0) * RATE) as usize;
            let mut i = 0;
            while i < bar_len {
                let target = (melody_note
                    + [-5.0, -3.0, -2.0, 2.0, 3.0, 4.0, 7.0][(self.rng.next_u64() % 7) as usize])
                    .clamp(60.0, 96.0);
                let note_len = (self.rng.range(0.15, 0.6) * RATE) as usize;
                for j in 0..note_len {
                    let x = j as f64 / note_len as f64;
                    let glide = (x * 8.0).min(1.0);
                    let note = melody_note + (target - melody_note) * glide;
                    let f = midi_hz(note) * (1.0 + 0.006 * (j as f64 / RATE * 34.0).sin());
                    let dt = f / RATE;
                    melody_phase = (melody_phase + dt) % 1.0;
                    let mut y = 0.5 * saw(melody_phase, dt) * (1.0 - 0.5 * x);
                    for (n, p) in chord.iter().zip(phases.iter_mut()) {
                        let dt = midi_hz(*n) / RATE;
                        *p = (*p + dt) % 1.0;
                        y += 0.25 * saw(*p, dt);
                    }
                    lowpass += 0.6 * (y - lowpass); // gentle: keeps the harmonics
                    out.push(lowpass);
                }
                melody_note = target;
                i += note_len;
            }
        }
    }

    /// `seconds` of alternating speech and music, each part at its own level.
    fn generate(&mut self, seconds: f64) -> Vec<i16> {
        let want = (seconds * RATE) as usize;
        let mut out = Vec::with_capacity(want + 80_000);
        while out.len() < want {
            let mut part = Vec::new();
            if self.rng.next_u64() % 5 < 3 {
                self.speech(&mut part);
            } else {
                self.music(&mut part);
            }
            let peak = part.iter().fold(1e-9f64, |m, x| m.max(x.abs()));
            let gain = self.rng.range(3000.0, 28000.0) / peak;
            out.extend(part.iter().map(|x| to_i16(x * gain)));
            out.extend(std::iter::repeat_n(
                0,
                (self.rng.range(0.1, 0.5) * RATE) as usize,
            ));
        }
        out.truncate(want);
        out
    }
}

/// Ten minutes of synthetic speech and music, linear and through both codecs: not one
/// digit. Runs in about a second in release and well under a minute in debug, so the full
/// ten minutes run in both. SYNTH_SEED=n generates other audio.
#[test]
fn no_digits_in_ten_minutes_of_speech_and_music() {
    let seed = std::env::var("SYNTH_SEED").map_or(4733, |s| s.parse().unwrap());
    let audio = Synth { rng: Rng(seed) }.generate(600.0);
    assert_eq!(audio.len(), 600 * 8000);
    for codec in [None, Some(Codec::Pcmu), Some(Codec::Pcma)] {
        let mut det = InbandDetector::new();
        let mut found = Vec::new();
        for chunk in through(codec, audio.clone()).chunks(160) {
            for d in det.push(chunk) {
                found.push((d, det.samples_seen() as f64 / RATE));
            }
        }
        println!("{codec:?}: {} false digits in 600 s", found.len());
        assert!(
            found.is_empty(),
            "{codec:?}: false digits (digit, second): {found:?}"
        );
    }
}

/// Clean key presses of `tone_ms` separated by `gap_ms` of silence, fed in 20 ms chunks.
fn clean_presses(keys: &str, tone_ms: usize, gap_ms: usize) -> Vec<i16> {
    let mut out = vec![0i16; 800];
    for digit in keys.chars() {
        let (fr, fc) = freqs(digit);
        let start = out.len();
        out.extend((0..tone_ms * 8).map(|i| {
            let n = (start + i) as f64 / RATE;
            to_i16(
                TONE_AMP
                    * ((std::f64::consts::TAU * fr * n).sin()
                        + (std::f64::consts::TAU * fc * n).sin()),
            )
        }));
        out.extend(std::iter::repeat_n(0, gap_ms * 8));
    }
    out
}

fn detect_in_chunks(audio: &[i16]) -> String {
    let mut det = InbandDetector::new();
    audio.chunks(160).flat_map(|c| det.push(c)).collect()
}

#[test]
fn repeated_keys_after_a_gap_are_separate_presses() {
    let keys = "1100*##D99";
    for codec in [None, Some(Codec::Pcmu), Some(Codec::Pcma)] {
        let audio = through(codec, clean_presses(keys, 60, 50));
        assert_eq!(detect_in_chunks(&audio), keys, "{codec:?}");
    }
}

#[test]
fn a_long_press_is_one_digit() {
    assert_eq!(detect_in_chunks(&clean_presses("5", 2000, 100)), "5");
}

#[test]
fn chunk_size_does_not_matter() {
    let audio = clean_presses("0123456789*#ABCD", 50, 50);
    for chunk in [1, 7, 101, 102, 160, 1000, audio.len()] {
        let mut det = InbandDetector::new();
        let got: String = audio.chunks(chunk).flat_map(|c| det.push(c)).collect();
        assert_eq!(got, "0123456789*#ABCD", "chunk {chunk}");
        assert_eq!(det.samples_seen(), audio.len() as u64);
    }
}

#[test]
fn quiet_tones_below_the_floor_are_ignored() {
    // -36 dBm0 per tone: below the -30 dBm0 floor for the pair.
    let quiet: Vec<i16> = clean_presses("123", 100, 50)
        .iter()
        .map(|&s| to_i16(f64::from(s) * 0.05))
        .collect();
    assert_eq!(detect_in_chunks(&quiet), "");
    // -26 dBm0 per tone is heard.
    let soft: Vec<i16> = clean_presses("123", 100, 50)
        .iter()
        .map(|&s| to_i16(f64::from(s) * 0.16))
        .collect();
    assert_eq!(detect_in_chunks(&soft), "123");
}

#[test]
fn single_tones_and_excess_twist_are_not_keys() {
    // One frequency alone (e.g. a dial-tone component or a whistle).
    let single: Vec<i16> = (0..8000)
        .map(|i| to_i16(TONE_AMP * (std::f64::consts::TAU * 770.0 * i as f64 / RATE).sin()))
        .collect();
    assert_eq!(detect_in_chunks(&single), "");
    // Column 12 dB above row: beyond the 8 dB normal twist.
    let twisted: Vec<i16> = (0..8000)
        .map(|i| {
            let n = i as f64 / RATE;
            to_i16(
                0.25 * TONE_AMP * (std::f64::consts::TAU * 852.0 * n).sin()
                    + TONE_AMP * (std::f64::consts::TAU * 1477.0 * n).sin(),
            )
        })
        .collect();
    assert_eq!(detect_in_chunks(&twisted), "");
}

#[test]
fn too_short_tones_are_mostly_ignored() {
    // 20 ms bursts are below every standard's minimum; print how many slip through and
    // require that most are rejected (a 20 ms burst straddling two blocks can still look
    // like two half-filled hits).
    let keys = "0123456789*#ABCD".repeat(4);
    let got = detect_in_chunks(&clean_presses(&keys, 20, 100));
    println!("20 ms bursts: {} of {} reported", got.len(), keys.len());
    assert!(got.len() * 6 <= keys.len(), "{got}");
}
