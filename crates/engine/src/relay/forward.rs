//! What happens to one received datagram: who may send to us (strict RTP), and how a packet
//! from one leg becomes a packet for the other (payload type mapping, G.711 transcoding,
//! header rewriting). Pure and in place: no sockets, no clock, no allocation.

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

use vaxel_media::{Codec, g711, parse_rtp};

use super::rewrite::{Header, Rewriter};

/// Length of the header we write: no CSRCs, no extension, no padding.
const HEADER_LEN: usize = 12;

/// RFC 3389 comfort noise: we do not generate it for the other leg, and G.711 receivers
/// play silence without it.
const COMFORT_NOISE_PT: u8 = 13;

/// What one leg negotiated, as far as the packet path cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    /// The leg's G.711 law.
    pub codec: Codec,
    /// Its audio payload type.
    pub audio_pt: u8,
    /// Its telephone-event payload type, if negotiated.
    pub event_pt: Option<u8>,
    /// Whether it wants media from us now (not on hold).
    pub send: bool,
}

/// Why a packet was not relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Not RTP: too short, not version 2, bad padding, or RTCP on the RTP port.
    Garbage,
    /// Comfort noise (PT 13).
    ComfortNoise,
    /// A payload type the sending leg did not negotiate.
    UnknownPt,
    /// A telephone-event for a leg that did not negotiate telephone-event.
    NoEventPt,
    /// The receiving leg is on hold.
    Held,
}

/// A packet ready to send: `range` of the datagram buffer (the header was rewritten in
/// front of the payload, so nothing was copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    /// Where the packet to send lies in the buffer.
    pub range: Range<usize>,
    /// Whether the payload was transcoded.
    pub transcoded: bool,
}

/// Rewrites the RTP datagram in `buf`, received on leg `from`, into a packet for leg `to`
/// sent through `rw`. Any `Err` other than [`Dropped::Garbage`] means the packet was valid
/// RTP (its source may be latched).
pub fn forward(
    buf: &mut [u8],
    from: &Leg,
    to: &Leg,
    rw: &mut Rewriter,
    now: Instant,
) -> Result<Relayed, Dropped> {
    let (input, pt, payload) = {
        let pkt = parse_rtp(buf).map_err(|_| Dropped::Garbage)?;
        // `payload` is a sub-slice of `buf`: its place follows from the two addresses.
        let start = (pkt.payload.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
        let header = Header {
            ssrc: pkt.ssrc,
            seq: pkt.seq,
            ts: pkt.timestamp,
            marker: pkt.marker,
        };
        (header, pkt.payload_type, start..start + pkt.payload.len())
    };
    let (out_pt, transcode) = if pt == from.audio_pt {
        (to.audio_pt, from.codec != to.codec)
    } else if Some(pt) == from.event_pt {
        (to.event_pt.ok_or(Dropped::NoEventPt)?, false)
    } else if pt == COMFORT_NOISE_PT {
        return Err(Dropped::ComfortNoise);
    } else {
        return Err(Dropped::UnknownPt);
    };
    if !to.send {
        rw.interrupt();
        return Err(Dropped::Held);
    }
    // The fixed header is 12 bytes, so the payload never starts before byte 12.
    let head = payload
        .start
        .checked_sub(HEADER_LEN)
        .ok_or(Dropped::Garbage)?;
    let out = rw.rewrite(now, input);
    let packet = buf.get_mut(head..payload.end).ok_or(Dropped::Garbage)?;
    let (header, body) = packet.split_at_mut(HEADER_LEN);
    if transcode {
        g711::transcode(from.codec, to.codec, body);
    }
    header[0] = 0x80; // version 2, no padding, no extension, no CSRCs
    header[1] = (u8::from(out.marker) << 7) | (out_pt & 0x7F);
    header[2..4].copy_from_slice(&out.seq.to_be_bytes());
    header[4..8].copy_from_slice(&out.ts.to_be_bytes());
    header[8..12].copy_from_slice(&out.ssrc.to_be_bytes());
    Ok(Relayed {
        range: head..payload.end,
        transcoded: transcode,
    })
}

/// Strict and symmetric RTP for one leg.
///
/// The rule: until a source is latched, RTP is sent to the SDP address and accepted from
/// anywhere; the first valid RTP packet latches its source address (ip and port). From then
/// on media goes to that source (symmetric RTP: a phone behind NAT is reached where its
/// packets come from, not at the private address its SDP names) and packets from any other
/// address are dropped (no RTP bleed). Two exceptions keep the rule from being a trap:
/// a packet from exactly the SDP address is always accepted and re-latches (signalling
/// named it, so a stranger who won the race at call start is displaced by the real peer),
/// and a re-INVITE that changes the SDP address starts latching over. There is no other
/// relearning: a peer whose NAT mapping changes mid-call is heard again after its next
/// re-INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latch {
    sdp: SocketAddr,
    source: Option<SocketAddr>,
}

impl Latch {
    /// A leg whose SDP names `sdp`.
    pub fn new(sdp: SocketAddr) -> Self {
        Latch { sdp, source: None }
    }

    /// Whether a datagram from `from` may be processed at all.
    pub fn admits(&self, from: SocketAddr) -> bool {
        match self.source {
            None => true,
            Some(s) => s == from || from == self.sdp,
        }
    }

    /// A valid RTP packet came from `from` (already admitted): latch it. True when the
    /// destination changed.
    pub fn learn(&mut self, from: SocketAddr) -> bool {
        if self.source == Some(from) {
            return false;
        }
        let before = self.dest();
        self.source = Some(from);
        before != from
    }

    /// Latched to the SDP address itself: then the kernel's filter of a connected socket is
    /// exactly this rule (only that address is heard), so the socket may be connected.
    pub fn on_sdp(&self) -> bool {
        self.source == Some(self.sdp)
    }

    /// Where media for this leg goes.
    pub fn dest(&self) -> SocketAddr {
        self.source.unwrap_or(self.sdp)
    }

    /// A re-INVITE said `sdp`: a new address unlatches, the same one changes nothing. True
    /// when the destination changed.
    pub fn renegotiate(&mut self, sdp: SocketAddr) -> bool {
        if sdp == self.sdp {
            return false;
        }
        let before = self.dest();
        self.sdp = sdp;
        self.source = None;
        before != sdp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PCMU: Leg = Leg {
        codec: Codec::Pcmu,
        audio_pt: 0,
        event_pt: Some(101),
        send: true,
    };

    fn packet(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x80, (u8::from(marker) << 7) | pt];
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&ts.to_be_bytes());
        v.extend_from_slice(&ssrc.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn parsed(bytes: &[u8]) -> (u8, bool, u16, u32, u32, Vec<u8>) {
        let p = parse_rtp(bytes).expect("valid output");
        (
            p.payload_type,
            p.marker,
            p.seq,
            p.timestamp,
            p.ssrc,
            p.payload.to_vec(),
        )
    }

    #[test]
    fn same_codec_maps_pt_and_rewrites_header_only() {
        let now = Instant::now();
        let mut rw = Rewriter::new(0x1234, 500, 9000);
        let to = Leg {
            audio_pt: 8 + 100, // a dynamic PT for the same law, to see the mapping
            ..PCMU
        };
        let mut buf = packet(0, false, 7, 70, 42, &[1, 2, 3, 0xFF]);
        let out = forward(&mut buf, &PCMU, &to, &mut rw, now).expect("relayed");
        assert!(!out.transcoded);
        assert_eq!(out.range, 0..16);
        let p = parsed(&buf[out.range]);
        assert_eq!(p, (108, true, 500, 9000, 0x1234, vec![1, 2, 3, 0xFF]));
    }

    #[test]
    fn csrcs_extension_and_padding_are_stripped() {
        let now = Instant::now();
        let mut rw = Rewriter::new(1, 1, 1);
        // P and X set, one CSRC, a one-word extension, 2 bytes of padding.
        let mut buf = vec![0xB1, 0x00, 0, 9, 0, 0, 0, 9, 0, 0, 0, 9];
        buf.extend_from_slice(&[0xAA; 4]); // CSRC
        buf.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0x20, 0x30, 0x40]); // extension
        buf.extend_from_slice(&[5, 6, 7]); // payload
        buf.extend_from_slice(&[0, 2]); // padding
        let out = forward(&mut buf, &PCMU, &PCMU, &mut rw, now).expect("relayed");
        assert_eq!(out.range, 12..27);
        let p = parsed(&buf[out.range]);
        assert_eq!((p.0, p.5), (0, vec![5, 6, 7]));
    }

    #[test]
    fn different_laws_transcode_audio_but_not_events() {
        let now = Instant::now();
        let pcma = Leg {
            codec: Codec::Pcma,
            audio_pt: 8,
            event_pt: Some(96),
            send: true,
        };
        let mut rw = Rewriter::new(1, 1, 1);
        let audio: Vec<u8> = (0..=255).collect();
        let mut buf = packet(0, false, 1, 1, 1, &audio);
        let out = forward(&mut buf, &PCMU, &pcma, &mut rw, now).expect("relayed");
        assert!(out.transcoded);
        let p = parsed(&buf[out.range]);
        assert_eq!(p.0, 8);
        let expected: Vec<u8> = audio.iter().map(|&b| g711::ulaw_to_alaw(b)).collect();
        assert_eq!(p.5, expected);

        let event = [5, 0x8A, 0x03, 0x20];
        let mut buf = packet(101, true, 2, 1, 1, &event);
        let out = forward(&mut buf, &PCMU, &pcma, &mut rw, now).expect("relayed");
        assert!(!out.transcoded);
        let p = parsed(&buf[out.range]);
        assert_eq!((p.0, p.1, p.5), (96, true, event.to_vec()));
    }

    #[test]
    fn drops_say_why() {
        let now = Instant::now();
        let mut rw = Rewriter::new(1, 1, 1);
        let no_events = Leg {
            event_pt: None,
            ..PCMU
        };
        let held = Leg {
            send: false,
            ..PCMU
        };
        let cases: [(Vec<u8>, Leg, Dropped); 6] = [
            (vec![0x80, 0, 0, 1], PCMU, Dropped::Garbage),
            (
                packet(0, false, 1, 1, 1, &[1])[..11].to_vec(),
                PCMU,
                Dropped::Garbage,
            ),
            (
                {
                    let mut p = packet(0, false, 1, 1, 1, &[1]);
                    p[0] = 0x40; // version 1
                    p
                },
                PCMU,
                Dropped::Garbage,
            ),
            (
                packet(13, false, 1, 1, 1, &[1]),
                PCMU,
                Dropped::ComfortNoise,
            ),
            (packet(18, false, 1, 1, 1, &[1]), PCMU, Dropped::UnknownPt),
            (
                packet(101, false, 1, 1, 1, &[1]),
                no_events,
                Dropped::NoEventPt,
            ),
        ];
        for (mut buf, to, why) in cases {
            assert_eq!(forward(&mut buf, &PCMU, &to, &mut rw, now), Err(why));
        }
        let mut buf = packet(0, false, 1, 1, 1, &[1]);
        assert_eq!(
            forward(&mut buf, &PCMU, &held, &mut rw, now),
            Err(Dropped::Held)
        );
        // RTCP sent to the RTP port is not RTP.
        let mut rtcp = vec![0x80, 200, 0, 1, 0, 0, 0, 1];
        assert_eq!(
            forward(&mut rtcp, &PCMU, &PCMU, &mut rw, now),
            Err(Dropped::Garbage)
        );
    }

    #[test]
    fn latch_rule() {
        let sdp: SocketAddr = "10.0.0.1:4000".parse().expect("addr");
        let nat: SocketAddr = "203.0.113.7:31000".parse().expect("addr");
        let stranger: SocketAddr = "198.51.100.9:5000".parse().expect("addr");
        let mut l = Latch::new(sdp);
        assert_eq!(l.dest(), sdp);
        assert!(l.admits(nat) && l.admits(stranger));
        assert!(l.learn(nat));
        assert_eq!(l.dest(), nat);
        assert!(!l.learn(nat));
        assert!(!l.admits(stranger));
        // The SDP address is always heard and takes the stream back.
        assert!(l.admits(sdp));
        assert!(l.learn(sdp));
        assert_eq!(l.dest(), sdp);
        assert!(!l.admits(nat));
        // Same SDP in a re-INVITE: still latched. New SDP: latching starts over.
        assert!(!l.renegotiate(sdp));
        assert!(!l.admits(nat));
        let moved: SocketAddr = "10.0.0.2:4002".parse().expect("addr");
        assert!(l.renegotiate(moved));
        assert_eq!(l.dest(), moved);
        assert!(l.admits(stranger));
    }
}
