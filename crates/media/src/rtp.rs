//! RTP (RFC 3550) packet writing for our outgoing stream and parsing of incoming packets.

use rtp_types::{RtpPacketBuilder, RtpParseError};

use crate::{MediaError, RtpReject};

/// One outgoing RTP stream: one SSRC whose sequence number and timestamp run continuously
/// for the whole call, across prompts, repeats and silences.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    seq: u16,
    ts: u32,
    payload_type: u8,
    /// Set at the start and after every gap: the next packet starts a talkspurt.
    marker_next: bool,
}

impl RtpSender {
    /// A stream starting at `initial_seq`/`initial_ts` (pick them at random, RFC 3550 §5.1).
    /// Payload types above 127 are masked to 7 bits.
    pub fn new(ssrc: u32, initial_seq: u16, initial_ts: u32, payload_type: u8) -> Self {
        Self {
            ssrc,
            seq: initial_seq,
            ts: initial_ts,
            payload_type: payload_type & 0x7F,
            marker_next: true,
        }
    }

    /// Append one packet (12-byte header + `payload`) to `out`, then advance the sequence
    /// number by one and the timestamp by the number of samples in `payload` (G.711: one
    /// byte per sample).
    pub fn write_packet(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        self.write_with_samples(payload, payload.len() as u32, out);
    }

    /// Like [`RtpSender::write_packet`] for payloads whose duration is not one sample per
    /// byte (e.g. RFC 4733 events): the timestamp advances by `samples`.
    pub fn write_with_samples(&mut self, payload: &[u8], samples: u32, out: &mut Vec<u8>) {
        RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(self.payload_type)
            .marker_bit(self.marker_next)
            .sequence_number(self.seq)
            .timestamp(self.ts)
            .ssrc(self.ssrc)
            .payload(payload)
            // Preconditions hold by construction: PT <= 127, no CSRCs, no padding/extension.
            .write_into_vec_unchecked(out);
        self.marker_next = false;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(samples);
    }

    /// Let `samples` of time pass without sending (nothing to play): the timestamp keeps
    /// counting so the receiver sees the true gap, and the next packet carries the marker.
    pub fn skip(&mut self, samples: u32) {
        if samples > 0 {
            self.ts = self.ts.wrapping_add(samples);
            self.marker_next = true;
        }
    }

    /// Switch payload type mid-stream (e.g. after a re-INVITE changes codec).
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.payload_type = payload_type & 0x7F;
    }

    /// The stream's synchronisation source identifier.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Sequence number the next packet will carry.
    pub fn seq(&self) -> u16 {
        self.seq
    }

    /// Timestamp the next packet will carry.
    pub fn timestamp(&self) -> u32 {
        self.ts
    }

    /// Payload type packets are sent with.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }
}

/// The parts of a received RTP packet the engine cares about; `payload` borrows the datagram
/// and excludes CSRCs, header extension and padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub seq: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Media payload.
    pub payload: &'a [u8],
}

/// RTCP packet types SR, RR, SDES, BYE, APP seen as the RTP PT+marker byte (RFC 5761 §4).
const RTCP_PT: std::ops::RangeInclusive<u8> = 72..=76;

/// Parse one datagram as RTP. Rejects anything that is not version 2, RTCP sent to the RTP
/// port (payload types 72-76, RFC 5761), and packets shorter than their header claims.
pub fn parse_rtp(buf: &[u8]) -> Result<RtpPacket<'_>, MediaError> {
    let pkt = rtp_types::RtpPacket::parse(buf).map_err(|e| match e {
        RtpParseError::UnsupportedVersion(v) => RtpReject::Version(v),
        RtpParseError::Truncated { expected, actual } => RtpReject::Truncated { expected, actual },
        RtpParseError::PaddingInvalid(_) => RtpReject::Padding,
    })?;
    if RTCP_PT.contains(&pkt.payload_type()) {
        return Err(RtpReject::Rtcp(buf.get(1).copied().unwrap_or_default()).into());
    }
    // rtp-types has checked that CSRCs, extension and padding all fit in `buf`; slice `buf`
    // itself so the payload borrows the datagram, not the parser.
    let start = pkt.payload_offset();
    let end = buf
        .len()
        .saturating_sub(usize::from(pkt.padding().unwrap_or_default()));
    let payload = buf.get(start..end).ok_or(RtpReject::Padding)?;
    Ok(RtpPacket {
        payload_type: pkt.payload_type(),
        marker: pkt.marker_bit(),
        seq: pkt.sequence_number(),
        timestamp: pkt.timestamp(),
        ssrc: pkt.ssrc(),
        payload,
    })
}
