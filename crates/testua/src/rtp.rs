//! Receiving a call's RTP and judging it: pacing, continuity and payload.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use vaxel_media::{Codec, Prompt, parse_rtp};

use crate::UaError;
use crate::ua::lock;

/// One datagram as it arrived on the RTP port.
#[derive(Debug, Clone)]
pub struct RtpArrival {
    /// When it was read.
    pub at: Instant,
    /// Its bytes.
    pub data: Vec<u8>,
}

struct Shared {
    packets: Mutex<Vec<RtpArrival>>,
    arrived: Condvar,
}

/// A UDP port that records every datagram sent to it, with arrival times, until dropped.
pub struct RtpCapture {
    local: SocketAddr,
    shared: Arc<Shared>,
}

impl RtpCapture {
    /// Binds a free port on `ip` and starts recording.
    pub fn bind(ip: IpAddr) -> Result<RtpCapture, UaError> {
        let sock = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        let local = sock.local_addr()?;
        let shared = Arc::new(Shared {
            packets: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
        });
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name(format!("testua-rtp-{}", local.port()))
            .spawn(move || read_loop(sock, weak))?;
        Ok(RtpCapture { local, shared })
    }

    /// The address the capture listens on (the one written into our SDP).
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// A copy of everything received so far.
    pub fn packets(&self) -> Vec<RtpArrival> {
        lock(&self.shared.packets).clone()
    }

    /// How many datagrams arrived so far.
    pub fn count(&self) -> usize {
        lock(&self.shared.packets).len()
    }

    /// Waits until at least `n` datagrams have arrived.
    pub fn wait_count(&self, n: usize, timeout: Duration) -> Result<(), UaError> {
        let deadline = Instant::now() + timeout;
        let mut p = lock(&self.shared.packets);
        while p.len() < n {
            let now = Instant::now();
            if now >= deadline {
                return Err(UaError::Timeout {
                    what: format!("{n} RTP packets (got {})", p.len()),
                    after: timeout,
                });
            }
            p = match self.shared.arrived.wait_timeout(p, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        Ok(())
    }

    /// Waits until nothing has arrived for `quiet` (and at least one packet has), e.g. to
    /// see that a stream has stopped. Returns the arrival time of the last packet.
    pub fn wait_quiet(&self, quiet: Duration, timeout: Duration) -> Result<Instant, UaError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = lock(&self.shared.packets).last().map(|a| a.at);
            let now = Instant::now();
            if let Some(last) = last {
                if now.duration_since(last) >= quiet {
                    return Ok(last);
                }
            }
            if now >= deadline {
                return Err(UaError::Timeout {
                    what: format!("RTP to stay quiet for {quiet:?} (last packet {last:?})"),
                    after: timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn read_loop(sock: UdpSocket, shared: Weak<Shared>) {
    let mut buf = vec![0u8; 2048];
    loop {
        let got = sock.recv(&mut buf);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Ok(n) = got else { continue };
        let at = Instant::now();
        let data = buf.get(..n).unwrap_or_default().to_vec();
        lock(&shared.packets).push(RtpArrival { at, data });
        shared.arrived.notify_all();
    }
}

/// The shape of a received stream, computed from arrivals by [`RtpReport::analyse`].
#[derive(Debug, Clone, Default)]
pub struct RtpReport {
    /// Datagrams that parsed as RTP.
    pub packets: usize,
    /// Datagrams that did not.
    pub invalid: usize,
    /// Distinct SSRCs, in order of first appearance.
    pub ssrcs: Vec<u32>,
    /// Distinct payload types, in order of first appearance.
    pub payload_types: Vec<u8>,
    /// Arrival gaps between consecutive packets.
    pub gaps: Vec<Duration>,
    /// Median gap.
    pub median_gap: Duration,
    /// 99th percentile gap.
    pub p99_gap: Duration,
    /// Largest gap.
    pub max_gap: Duration,
    /// Indices of packets whose sequence number is not the previous one + 1.
    pub seq_breaks: Vec<usize>,
    /// Indices of packets whose timestamp is not the previous one + 160 (G.711 20 ms).
    pub ts_breaks: Vec<usize>,
    /// Indices of packets with the marker bit set.
    pub markers: Vec<usize>,
}

impl RtpReport {
    /// Analyses arrivals in arrival order.
    pub fn analyse(arrivals: &[RtpArrival]) -> RtpReport {
        let mut r = RtpReport::default();
        let mut prev: Option<(u16, u32, Instant)> = None;
        for a in arrivals {
            let Ok(p) = parse_rtp(&a.data) else {
                r.invalid += 1;
                continue;
            };
            let i = r.packets;
            r.packets += 1;
            if !r.ssrcs.contains(&p.ssrc) {
                r.ssrcs.push(p.ssrc);
            }
            if !r.payload_types.contains(&p.payload_type) {
                r.payload_types.push(p.payload_type);
            }
            if p.marker {
                r.markers.push(i);
            }
            if let Some((seq, ts, at)) = prev {
                if p.seq != seq.wrapping_add(1) {
                    r.seq_breaks.push(i);
                }
                if p.timestamp != ts.wrapping_add(160) {
                    r.ts_breaks.push(i);
                }
                r.gaps.push(a.at.saturating_duration_since(at));
            }
            prev = Some((p.seq, p.timestamp, a.at));
        }
        let mut sorted = r.gaps.clone();
        sorted.sort();
        let pick = |q: f64| -> Duration {
            if sorted.is_empty() {
                return Duration::ZERO;
            }
            let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
            sorted.get(idx).copied().unwrap_or_default()
        };
        r.median_gap = pick(0.5);
        r.p99_gap = pick(0.99);
        r.max_gap = sorted.last().copied().unwrap_or_default();
        r
    }

    /// Checks what every prompt stream must satisfy: all RTP, one SSRC, one payload type,
    /// seq +1 and timestamp +160 each packet, the marker on the first packet only.
    /// Returns every violation found, as text for the test's failure message.
    pub fn check_continuous(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.packets == 0 {
            problems.push("no RTP packets".to_string());
        }
        if self.invalid > 0 {
            problems.push(format!("{} datagrams were not RTP", self.invalid));
        }
        if self.ssrcs.len() > 1 {
            problems.push(format!("several SSRCs: {:x?}", self.ssrcs));
        }
        if self.payload_types.len() > 1 {
            problems.push(format!("several payload types: {:?}", self.payload_types));
        }
        if !self.seq_breaks.is_empty() {
            problems.push(format!("sequence breaks at packets {:?}", self.seq_breaks));
        }
        if !self.ts_breaks.is_empty() {
            problems.push(format!("timestamp breaks at packets {:?}", self.ts_breaks));
        }
        if self.packets > 0 && self.markers != [0] {
            problems.push(format!(
                "marker expected on packet 0 only, found on {:?}",
                self.markers
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Checks the pacing: median gap within `median` ± `tolerance`, no gap above `max`.
    pub fn check_pacing(
        &self,
        median: Duration,
        tolerance: Duration,
        max: Duration,
    ) -> Result<(), String> {
        let lo = median.saturating_sub(tolerance);
        let hi = median + tolerance;
        let mut problems = Vec::new();
        if self.median_gap < lo || self.median_gap > hi {
            problems.push(format!(
                "median gap {:?} outside {lo:?}..={hi:?}",
                self.median_gap
            ));
        }
        if self.max_gap > max {
            let big: Vec<(usize, Duration)> = self
                .gaps
                .iter()
                .enumerate()
                .filter(|(_, g)| **g > max)
                .map(|(i, g)| (i + 1, *g))
                .collect();
            problems.push(format!("gaps above {max:?} at (packet, gap): {big:?}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{} (p99 {:?})", problems.join("; "), self.p99_gap))
        }
    }
}

/// Checks that the payloads are exactly `prompt`'s frames in `codec`, played `plays`
/// times back to back, in order and nothing else.
pub fn check_prompt_payloads(
    arrivals: &[RtpArrival],
    prompt: &Prompt,
    codec: Codec,
    plays: usize,
) -> Result<(), String> {
    let frames = prompt.frame_count();
    let expected = frames * plays;
    let mut got = 0usize;
    let mut mismatches = Vec::new();
    for a in arrivals {
        let Ok(p) = parse_rtp(&a.data) else { continue };
        if p.payload_type != codec.payload_type() {
            return Err(format!(
                "packet {got} has payload type {}, expected {}",
                p.payload_type,
                codec.payload_type()
            ));
        }
        let want = prompt.frame(codec, got % frames.max(1));
        if got >= expected || want != Some(p.payload) {
            mismatches.push(got);
        }
        got += 1;
    }
    if got != expected {
        return Err(format!(
            "{got} packets, expected {expected} ({frames} frames x {plays} plays); first payload mismatches at {:?}",
            mismatches.iter().take(10).collect::<Vec<_>>()
        ));
    }
    if !mismatches.is_empty() {
        return Err(format!(
            "{} payloads differ from the prompt, first at packets {:?}",
            mismatches.len(),
            mismatches.iter().take(10).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_media::RtpSender;

    fn stream(prompt: &Prompt, codec: Codec, plays: usize, gap_ms: u64) -> Vec<RtpArrival> {
        let mut tx = RtpSender::new(0x1234, 65530, u32::MAX - 200, codec.payload_type());
        let t0 = Instant::now();
        let mut out = Vec::new();
        for i in 0..prompt.frame_count() * plays {
            let mut data = Vec::new();
            tx.write_packet(
                prompt.frame(codec, i % prompt.frame_count()).unwrap(),
                &mut data,
            );
            out.push(RtpArrival {
                at: t0 + Duration::from_millis(gap_ms * i as u64),
                data,
            });
        }
        out
    }

    #[test]
    fn a_clean_stream_passes_across_wraparound() {
        let prompt = Prompt::from_samples_8k((0..1000).map(|i| (i * 37 % 2000) as i16).collect());
        let s = stream(&prompt, Codec::Pcma, 2, 20);
        let r = RtpReport::analyse(&s);
        assert_eq!(r.packets, 14);
        r.check_continuous().unwrap();
        r.check_pacing(
            Duration::from_millis(20),
            Duration::from_millis(2),
            Duration::from_millis(60),
        )
        .unwrap();
        check_prompt_payloads(&s, &prompt, Codec::Pcma, 2).unwrap();
        assert!(check_prompt_payloads(&s, &prompt, Codec::Pcma, 1).is_err());
        assert!(check_prompt_payloads(&s, &prompt, Codec::Pcmu, 2).is_err());
    }

    #[test]
    fn breaks_are_found() {
        let prompt = Prompt::from_samples_8k((0..1000).map(|i| i as i16).collect());
        let mut s = stream(&prompt, Codec::Pcmu, 1, 30);
        s.remove(3);
        let r = RtpReport::analyse(&s);
        assert_eq!(r.seq_breaks, vec![3]);
        assert_eq!(r.ts_breaks, vec![3]);
        assert!(r.check_continuous().is_err());
        assert!(
            r.check_pacing(
                Duration::from_millis(20),
                Duration::from_millis(2),
                Duration::from_millis(50)
            )
            .is_err()
        );
        assert!(check_prompt_payloads(&s, &prompt, Codec::Pcmu, 1).is_err());
    }
}
