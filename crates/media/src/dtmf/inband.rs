//! In-band DTMF: key presses found in 8 kHz audio with Goertzel filters.
//!
//! The audio is cut into blocks of [`BLOCK`] samples (12.75 ms; at this length the
//! neighbouring row frequencies fall near each other's nulls), a new block every [`HOP`]
//! samples (half overlapping). Each block is classified as one key or none by the classic
//! checks:
//!
//! 1. **Level**: row + column power at least -30 dBm0.
//! 2. **Purity**: row + column carry at least [`TONE_TO_TOTAL`] of the block's power
//!    (speech and music spread their power over many frequencies).
//! 3. **Peaks**: the strongest row beats the other rows, and the strongest column the other
//!    columns, by [`RELATIVE_PEAK`] (6 dB).
//! 4. **Twist**: the column tone at most 8 dB above the row tone (normal twist) and at
//!    most 4 dB below it (reverse twist).
//! 5. **Harmonics**: the second harmonic of each tone well below the tone (voiced speech
//!    and instruments are rich in harmonics, DTMF generators are not). A row's harmonic
//!    that lies within [`HARMONIC_GUARD_HZ`] of the present column tone cannot be measured
//!    apart from it in one block and is not checked.
//! 6. **Crowding**: nothing else in the voice band (probed every 39 Hz from 300 to
//!    3400 Hz, away from the two tones) within 4 dB of the weaker tone. Two notes of a
//!    chord can match a key; the chord's other notes give it away. White noise, even as
//!    loud as the tones, spreads too thin to trip this.
//! 7. **Steadiness**: the block's two halves carry energy within 2.5 dB of each other, so a
//!    block the tone only partly fills does not count. Without this, a 20 ms burst split
//!    over two blocks would pass as two hits.
//!
//! A key is reported once when [`HITS_TO_REPORT`] consecutive blocks agree on it (they
//! span 25.5 ms of steady tone, so tones of 40 ms or more are caught and 20 ms bursts are
//! not) and released after [`MISSES_TO_RELEASE`] blocks without it (25.5 ms); the same key
//! is reported again only after such a gap.

use super::Digit;
use super::goertzel::Goertzel;

/// Sample rate the detector expects (G.711).
const RATE: f32 = 8000.0;
/// Samples per analysis block.
const BLOCK: usize = 102;
/// Samples between the starts of two blocks: blocks overlap by half, so a short tone is
/// seen whole by more of them.
const HOP: usize = BLOCK / 2;
/// Low (row) group, Hz.
const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High (column) group, Hz.
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Keys by row, then column.
const KEYPAD: [[Digit; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Mean power of a 0 dBm0 sine in 16-bit linear PCM (peak ≈ 22 700, 3.16 dB below full
/// scale as G.711 defines it).
const DBM0: f32 = 22_700.0 * 22_700.0 / 2.0;
/// Least row + column power: -30 dBm0.
const MIN_TONE_POWER: f32 = DBM0 * 1e-3;
/// Least share of the block's power in the two tones.
const TONE_TO_TOTAL: f32 = 0.35;
/// The strongest tone of a group over the next strongest: 6 dB.
const RELATIVE_PEAK: f32 = 2.82;
/// Column above row: 8 dB.
const NORMAL_TWIST: f32 = 6.31;
/// Row above column: 4 dB.
const REVERSE_TWIST: f32 = 2.51;
/// Largest second harmonic relative to its tone: -8 dB.
const MAX_HARMONIC: f32 = 0.25;
/// Crowding probes: from, to and step (half the filters' bandwidth, so no sound between
/// two probes goes unseen).
const PROBE_FROM_HZ: f32 = 300.0;
const PROBE_TO_HZ: f32 = 3400.0;
const PROBE_STEP_HZ: f32 = RATE / BLOCK as f32 / 2.0;
/// Probes this close to a detected tone see that tone and are skipped (two filter widths).
const PROBE_GUARD_HZ: f32 = 160.0;
/// Loudest sound elsewhere relative to the weaker tone: -4 dB.
const MAX_OTHER: f32 = 0.5;
/// A row harmonic this close to the column tone is not checked.
const HARMONIC_GUARD_HZ: f32 = 120.0;
/// Largest energy ratio between the two halves of a block: 2.5 dB.
const MAX_HALF_RATIO: f32 = 1.8;
/// Consecutive agreeing blocks before a key is reported.
const HITS_TO_REPORT: u8 = 3;
/// Consecutive blocks without the key before it counts as released.
const MISSES_TO_RELEASE: u8 = 3;

/// Why a block holds no key (kept apart for tuning and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reject {
    Quiet,
    Impure,
    NoPeak,
    Twist,
    Harmonic,
    Crowded,
    Unsteady,
}

/// The eight DTMF filters and the eight second-harmonic filters.
#[derive(Debug, Clone)]
struct Filters {
    rows: [Goertzel; 4],
    cols: [Goertzel; 4],
    row_harmonics: [Goertzel; 4],
    col_harmonics: [Goertzel; 4],
    /// Every [`PROBE_STEP_HZ`] across the voice band, for the crowding check.
    probes: Vec<(f32, Goertzel)>,
}

impl Filters {
    fn new() -> Self {
        let g = |f: f32| Goertzel::new(f, RATE);
        Filters {
            rows: ROWS.map(g),
            cols: COLS.map(g),
            row_harmonics: ROWS.map(|f| g(2.0 * f)),
            col_harmonics: COLS.map(|f| g(2.0 * f)),
            probes: (0..)
                .map(|i| PROBE_FROM_HZ + PROBE_STEP_HZ * i as f32)
                .take_while(|&f| f <= PROBE_TO_HZ)
                .map(|f| (f, g(f)))
                .collect(),
        }
    }

    /// The key in `block`, or why there is none.
    fn classify(&self, block: &[f32]) -> Result<Digit, Reject> {
        let rows = self.rows.map(|g| g.power(block));
        let cols = self.cols.map(|g| g.power(block));
        let (row, row_power) = strongest(&rows);
        let (col, col_power) = strongest(&cols);
        let tones = row_power + col_power;
        if tones < MIN_TONE_POWER {
            return Err(Reject::Quiet);
        }
        let (first, second) = block.split_at(block.len() / 2);
        let (e1, e2) = (energy(first), energy(second));
        if e1.max(e2) > MAX_HALF_RATIO * e1.min(e2) {
            return Err(Reject::Unsteady);
        }
        let total = (e1 + e2) / block.len().max(1) as f32;
        if tones < TONE_TO_TOTAL * total {
            return Err(Reject::Impure);
        }
        let beats_others = |powers: &[f32; 4], best: usize, best_power: f32| {
            powers
                .iter()
                .enumerate()
                .all(|(i, p)| i == best || p * RELATIVE_PEAK < best_power)
        };
        if !beats_others(&rows, row, row_power) || !beats_others(&cols, col, col_power) {
            return Err(Reject::NoPeak);
        }
        if col_power > row_power * NORMAL_TWIST || row_power > col_power * REVERSE_TWIST {
            return Err(Reject::Twist);
        }
        let harmonic = |g: Option<&Goertzel>| g.map_or(0.0, |g| g.power(block));
        let row_freq = ROWS.get(row).copied().unwrap_or_default();
        let col_freq = COLS.get(col).copied().unwrap_or_default();
        if (2.0 * row_freq - col_freq).abs() > HARMONIC_GUARD_HZ
            && harmonic(self.row_harmonics.get(row)) > row_power * MAX_HARMONIC
        {
            return Err(Reject::Harmonic);
        }
        if harmonic(self.col_harmonics.get(col)) > col_power * MAX_HARMONIC {
            return Err(Reject::Harmonic);
        }
        let loudest_other = self
            .probes
            .iter()
            .filter(|(f, _)| (f - row_freq).abs() > PROBE_GUARD_HZ)
            .filter(|(f, _)| (f - col_freq).abs() > PROBE_GUARD_HZ)
            .map(|(_, g)| g.power(block))
            .fold(0.0, f32::max);
        if loudest_other > row_power.min(col_power) * MAX_OTHER {
            return Err(Reject::Crowded);
        }
        KEYPAD
            .get(row)
            .and_then(|r| r.get(col))
            .copied()
            .ok_or(Reject::Quiet)
    }
}

/// Sum of squares.
fn energy(samples: &[f32]) -> f32 {
    samples.iter().map(|x| x * x).sum()
}

/// Index and power of the largest of four powers.
fn strongest(powers: &[f32; 4]) -> (usize, f32) {
    powers.iter().copied().enumerate().fold(
        (0, f32::MIN),
        |best, (i, p)| if p > best.1 { (i, p) } else { best },
    )
}

/// Where the detector stands between blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No key present.
    Idle,
    /// `digit` seen in the last `hits` blocks, not yet reported.
    Rising { digit: Digit, hits: u8 },
    /// `digit` reported and not yet released; `misses` blocks without it since, the last
    /// `next.1` of which held the key `next.0`.
    Held {
        digit: Digit,
        misses: u8,
        next: Option<(Digit, u8)>,
    },
}

impl State {
    /// The state after a block classified as `hit`, and the key to report, if any.
    fn step(self, hit: Option<Digit>) -> (State, Option<Digit>) {
        match (self, hit) {
            (State::Idle, None) => (State::Idle, None),
            (State::Idle, Some(d)) => State::rising(d, 1),
            (State::Rising { digit, hits }, Some(d)) if d == digit => State::rising(d, hits + 1),
            (State::Rising { .. }, Some(d)) => State::rising(d, 1),
            (State::Rising { .. }, None) => (State::Idle, None),
            (State::Held { digit, .. }, Some(d)) if d == digit => (State::held(digit), None),
            (
                State::Held {
                    digit,
                    misses,
                    next,
                },
                hit,
            ) => {
                let next = match (hit, next) {
                    (Some(d), Some((n, hits))) if d == n => Some((d, hits + 1)),
                    (Some(d), _) => Some((d, 1)),
                    (None, _) => None,
                };
                let misses = misses + 1;
                match next {
                    Some((d, hits)) if hits >= HITS_TO_REPORT => (State::held(d), Some(d)),
                    Some((d, hits)) if misses >= MISSES_TO_RELEASE => State::rising(d, hits),
                    None if misses >= MISSES_TO_RELEASE => (State::Idle, None),
                    _ => (
                        State::Held {
                            digit,
                            misses,
                            next,
                        },
                        None,
                    ),
                }
            }
        }
    }

    fn rising(digit: Digit, hits: u8) -> (State, Option<Digit>) {
        if hits >= HITS_TO_REPORT {
            (State::held(digit), Some(digit))
        } else {
            (State::Rising { digit, hits }, None)
        }
    }

    fn held(digit: Digit) -> State {
        State::Held {
            digit,
            misses: 0,
            next: None,
        }
    }
}

/// Finds key presses in a call's 8 kHz audio (decode G.711 first with
/// [`crate::g711::decode`]). Push audio in any chunk size; each key press is reported once.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    filters: Filters,
    block: [f32; BLOCK],
    fill: usize,
    state: State,
    samples: u64,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    /// A detector with nothing heard yet.
    pub fn new() -> Self {
        InbandDetector {
            filters: Filters::new(),
            block: [0.0; BLOCK],
            fill: 0,
            state: State::Idle,
            samples: 0,
        }
    }

    /// Forget any partial block and any key in progress (e.g. after a media change).
    pub fn reset(&mut self) {
        self.fill = 0;
        self.state = State::Idle;
    }

    /// Total samples pushed so far; with the 8 kHz rate this is the stream's clock.
    pub fn samples_seen(&self) -> u64 {
        self.samples
    }

    /// Feed audio; returns the keys whose presses were recognised in it, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<Digit> {
        let mut found = Vec::new();
        for &s in samples {
            if let Some(slot) = self.block.get_mut(self.fill) {
                *slot = f32::from(s);
            }
            self.fill += 1;
            if self.fill >= BLOCK {
                let hit = self.filters.classify(&self.block).ok();
                let (state, report) = self.state.step(hit);
                self.state = state;
                found.extend(report);
                self.block.copy_within(HOP.., 0);
                self.fill = BLOCK - HOP;
            }
        }
        self.samples += samples.len() as u64;
        found
    }
}
