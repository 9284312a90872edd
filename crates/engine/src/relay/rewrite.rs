//! Header rewriting for one relayed direction. The phone at the end of it sees a single RTP
//! stream of ours: our SSRC, a sequence number and a timestamp that never jump backwards or
//! restart, whatever the far leg does (its SSRC changes on a transfer, we drop packets while
//! it is on hold). Pure: the caller passes the time in.

use std::time::{Duration, Instant};

use vaxel_media::SAMPLES_PER_FRAME;

/// The RTP header fields the relay reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Synchronisation source.
    pub ssrc: u32,
    /// Sequence number.
    pub seq: u16,
    /// Media timestamp (8 kHz: G.711 and telephone-event alike).
    pub ts: u32,
    /// Marker bit.
    pub marker: bool,
}

/// Timestamp units per second: both G.711 laws and the telephone-events that ride with them.
const CLOCK_RATE: u64 = 8000;

/// The least timestamp step at a re-base: when two sources' packets arrive back to back,
/// the new run still starts one frame after the old one instead of on top of it.
const MIN_GAP: u32 = SAMPLES_PER_FRAME as u32;

/// One outgoing direction: input sequence numbers and timestamps are shifted by a fixed
/// offset, so loss, reordering and silence gaps of the source pass through as they were.
/// When the offset can no longer hold (a new input SSRC, or a pause of ours), the stream is
/// re-based: the next packet gets the next sequence number, a timestamp advanced by the
/// wall-clock time since the last packet, and the marker bit (a receiver's jitter buffer
/// resynchronises on it).
#[derive(Debug, Clone)]
pub struct Rewriter {
    ssrc: u32,
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    /// Nothing sent yet: the first packet gets these.
    Fresh { seq: u16, ts: u32 },
    /// Mapping one input source.
    Running(Track),
    /// The mapping is broken (hold); the next packet re-bases after `Track`'s last output.
    Interrupted(Track),
}

#[derive(Debug, Clone, Copy)]
struct Track {
    in_ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
    /// Newest sequence number and timestamp sent (re-bases continue after them).
    top_seq: u16,
    top_ts: u32,
    /// When the newest packet was sent.
    last_at: Instant,
}

impl Rewriter {
    /// A direction sending as `ssrc`, its first packet numbered `seq`/`ts` (random, RFC 3550
    /// §5.1, so a stream is not mistaken for an earlier one).
    pub fn new(ssrc: u32, seq: u16, ts: u32) -> Self {
        Rewriter {
            ssrc,
            state: State::Fresh { seq, ts },
        }
    }

    /// A direction with a random SSRC, sequence number and timestamp.
    pub fn random() -> Self {
        Rewriter::new(fastrand::u32(..), fastrand::u16(..), fastrand::u32(..))
    }

    /// Breaks the mapping: packets are being dropped (hold), so the next one re-bases instead
    /// of leaving a hole the receiver would count as loss.
    pub fn interrupt(&mut self) {
        if let State::Running(t) = self.state {
            self.state = State::Interrupted(t);
        }
    }

    /// The header to send for an input packet `h` received at `now`.
    pub fn rewrite(&mut self, now: Instant, h: Header) -> Header {
        let (mut track, rebased) = match self.state {
            State::Fresh { seq, ts } => (Track::starting(h, seq, ts, now), true),
            State::Running(t) if t.in_ssrc == h.ssrc => (t, false),
            State::Running(t) | State::Interrupted(t) => {
                let gap = samples(now.saturating_duration_since(t.last_at)).max(MIN_GAP);
                let seq = t.top_seq.wrapping_add(1);
                let ts = t.top_ts.wrapping_add(gap);
                (Track::starting(h, seq, ts, t.last_at), true)
            }
        };
        let seq = h.seq.wrapping_add(track.seq_offset);
        let ts = h.ts.wrapping_add(track.ts_offset);
        // A late (reordered) packet keeps its place but does not move the top back.
        if rebased || seq.wrapping_sub(track.top_seq) as i16 > 0 {
            track.top_seq = seq;
        }
        if rebased || ts.wrapping_sub(track.top_ts) as i32 > 0 {
            track.top_ts = ts;
        }
        track.last_at = track.last_at.max(now);
        self.state = State::Running(track);
        Header {
            ssrc: self.ssrc,
            seq,
            ts,
            marker: h.marker || rebased,
        }
    }
}

impl Track {
    /// A mapping that sends input packet `h` as `seq`/`ts`.
    fn starting(h: Header, seq: u16, ts: u32, last_at: Instant) -> Track {
        Track {
            in_ssrc: h.ssrc,
            seq_offset: seq.wrapping_sub(h.seq),
            ts_offset: ts.wrapping_sub(h.ts),
            top_seq: seq,
            top_ts: ts,
            last_at,
        }
    }
}

/// `d` in timestamp units, capped at half the timestamp space (so it still reads as forward).
fn samples(d: Duration) -> u32 {
    let n = d.as_micros().saturating_mul(u128::from(CLOCK_RATE)) / 1_000_000;
    u32::try_from(n).unwrap_or(u32::MAX).min(i32::MAX as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn pkt(ssrc: u32, seq: u16, ts: u32) -> Header {
        Header {
            ssrc,
            seq,
            ts,
            marker: false,
        }
    }

    #[test]
    fn first_packet_starts_at_our_base_with_marker() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(0xABCD, 1000, 5000);
        let out = rw.rewrite(t0, pkt(7, 40000, 123_456));
        assert_eq!(
            out,
            Header {
                ssrc: 0xABCD,
                seq: 1000,
                ts: 5000,
                marker: true
            }
        );
    }

    #[test]
    fn deltas_pass_through_including_loss_reordering_and_wrap() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(1, 65534, u32::MAX - 100);
        let ins = [
            (10u16, 1000u32, false),
            (11, 1160, false),
            (13, 1480, false), // 12 lost
            (12, 1320, false), // late
            (14, 1640, true),  // talkspurt marker from the source
        ];
        let outs: Vec<Header> = ins
            .iter()
            .enumerate()
            .map(|(i, &(seq, ts, marker))| {
                rw.rewrite(
                    t0 + 20 * MS * i as u32,
                    Header {
                        ssrc: 9,
                        seq,
                        ts,
                        marker,
                    },
                )
            })
            .collect();
        let seqs: Vec<u16> = outs.iter().map(|h| h.seq).collect();
        assert_eq!(seqs, [65534, 65535, 1, 0, 2]);
        let base = u32::MAX - 100;
        let tss: Vec<u32> = outs.iter().map(|h| h.ts).collect();
        assert_eq!(
            tss,
            [
                base,
                base.wrapping_add(160),
                base.wrapping_add(480),
                base.wrapping_add(320),
                base.wrapping_add(640)
            ]
        );
        let markers: Vec<bool> = outs.iter().map(|h| h.marker).collect();
        assert_eq!(markers, [true, false, false, false, true]);
        assert!(outs.iter().all(|h| h.ssrc == 1));
    }

    #[test]
    fn new_input_ssrc_continues_our_stream() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(1, 100, 8000);
        rw.rewrite(t0, pkt(5, 7, 70));
        rw.rewrite(t0 + 20 * MS, pkt(5, 8, 230));
        // A transfer: another source, unrelated numbering, 100 ms after the last packet.
        let out = rw.rewrite(t0 + 120 * MS, pkt(6, 50_000, 9));
        assert_eq!(out.seq, 102);
        assert_eq!(out.ts, 8160 + 800);
        assert!(out.marker);
        let next = rw.rewrite(t0 + 140 * MS, pkt(6, 50_001, 169));
        assert_eq!((next.seq, next.ts, next.marker), (103, 9120, false));
    }

    #[test]
    fn back_to_back_sources_still_advance_one_frame() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(1, 0, 0);
        rw.rewrite(t0, pkt(5, 1, 1));
        let out = rw.rewrite(t0, pkt(6, 1, 1));
        assert_eq!((out.seq, out.ts), (1, 160));
    }

    #[test]
    fn interruption_closes_the_sequence_gap_and_keeps_time() {
        let t0 = Instant::now();
        let mut rw = Rewriter::new(1, 10, 0);
        rw.rewrite(t0, pkt(5, 1, 0));
        // On hold for 2 s: 100 input packets dropped.
        rw.interrupt();
        let out = rw.rewrite(t0 + 2000 * MS, pkt(5, 102, 101 * 160));
        assert_eq!((out.seq, out.ts, out.marker), (11, 16_000, true));
        let next = rw.rewrite(t0 + 2020 * MS, pkt(5, 103, 102 * 160));
        assert_eq!((next.seq, next.ts, next.marker), (12, 16_160, false));
        // Interrupting a fresh stream is harmless.
        let mut fresh = Rewriter::new(1, 10, 0);
        fresh.interrupt();
        assert_eq!(fresh.rewrite(t0, pkt(5, 1, 0)).seq, 10);
    }

    #[test]
    fn samples_are_capped() {
        assert_eq!(samples(Duration::from_millis(20)), 160);
        assert_eq!(samples(Duration::from_secs(u64::MAX / 4)), i32::MAX as u32);
    }
}
