//! RFC 3264 answerer side: pick our codec and address from an offer.

use std::net::SocketAddr;

use vaxel_media::Codec;

use crate::SdpError;
use crate::model::{Direction, MediaDescription, SessionDescription};

/// Clock rate RFC 4733 telephone-events must have to go with 8 kHz G.711.
const TE_RATE: u32 = 8000;
/// Packetisation assumed when the offer has no `a=ptime`.
pub const DEFAULT_PTIME: u32 = 20;

/// An `m=` line of the offer that we do not use; the answer must repeat it with port 0
/// (RFC 3264 §6: same number and order of m-lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclinedMedia {
    /// Media type as offered.
    pub kind: String,
    /// Transport protocol as offered.
    pub proto: String,
    /// First format token as offered (an m-line needs at least one).
    pub format: String,
}

/// The outcome of negotiating one audio stream; everything the engine needs to send RTP
/// and to write the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec both sides use.
    pub codec: Codec,
    /// Payload type to send it with (the offerer's number; static 0/8 in practice).
    pub payload_type: u8,
    /// The offerer's RFC 4733 telephone-event payload type, if it offered DTMF events.
    pub telephone_event: Option<u8>,
    /// Where to send RTP: `c=` address and `m=` port. Port 0 means the stream is rejected;
    /// an unspecified address (0.0.0.0, old-style hold) means do not send.
    pub remote: SocketAddr,
    /// The offerer's `a=ptime`, or 20 ms. vaxel always sends 20 ms frames.
    pub ptime: u32,
    /// vaxel's direction for this stream, already mirrored from the offer (an offer that is
    /// `sendonly` gives `RecvOnly` here).
    pub direction: Direction,
    /// Index of the chosen audio section among the offer's m-lines.
    pub media_index: usize,
    /// Every m-line of the offer by index, `None` at `media_index`; the others are
    /// answered with port 0.
    pub declined: Vec<Option<DeclinedMedia>>,
}

/// Choose the audio stream, codec and peer address for `offer`.
///
/// The offerer's order wins: the first offered payload type that maps to a codec in
/// `supported` is chosen (RFC 3264 §6.1 lets the answerer follow the offer's preference).
/// Static types 0 and 8 are recognised without `a=rtpmap`.
pub fn negotiate(offer: &SessionDescription, supported: &[Codec]) -> Result<Negotiated, SdpError> {
    let audio: Vec<(usize, &MediaDescription)> = offer
        .media
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind.eq_ignore_ascii_case("audio"))
        .collect();
    let Some(first_audio) = audio.first() else {
        return Err(SdpError::NoAudio);
    };
    let rtp: Vec<&(usize, &MediaDescription)> =
        audio.iter().filter(|(_, m)| m.is_plain_rtp()).collect();
    if rtp.is_empty() {
        return Err(SdpError::UnsupportedProfile(first_audio.1.proto.clone()));
    }
    // Prefer a live stream with a codec we can use; a port-0 stream only if nothing else.
    let mut chosen = None;
    for &&(index, m) in rtp.iter().filter(|(_, m)| m.port != 0) {
        if let Some(pick) = pick_codec(m, supported) {
            chosen = Some((index, m, pick));
            break;
        }
    }
    if chosen.is_none() {
        chosen = rtp
            .iter()
            .find_map(|&&(i, m)| pick_codec(m, supported).map(|p| (i, m, p)));
    }
    let (media_index, m, (codec, payload_type)) = chosen.ok_or(SdpError::NoCommonCodec)?;

    let ip = m
        .connection
        .or(offer.connection)
        .ok_or(SdpError::NoConnection)?;
    let declined = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, other)| {
            (i != media_index).then(|| DeclinedMedia {
                kind: other.kind.clone(),
                proto: other.proto.clone(),
                format: other
                    .formats_raw
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "0".into()),
            })
        })
        .collect();
    Ok(Negotiated {
        codec,
        payload_type,
        telephone_event: telephone_event(m),
        remote: SocketAddr::new(ip, m.port),
        ptime: m.ptime.filter(|p| *p > 0).unwrap_or(DEFAULT_PTIME),
        direction: m.direction.answer(),
        media_index,
        declined,
    })
}

/// The first offered payload type that is a codec in `supported`, with that type.
fn pick_codec(m: &MediaDescription, supported: &[Codec]) -> Option<(Codec, u8)> {
    m.formats.iter().find_map(|&pt| {
        let codec = match m.rtpmap(pt) {
            Some(map) => Codec::from_name(&map.name)
                .filter(|c| map.rate == c.clock_rate() && map.channels.is_none_or(|ch| ch == 1))?,
            None => Codec::from_payload_type(pt)?,
        };
        supported.contains(&codec).then_some((codec, pt))
    })
}

/// The offered `telephone-event/8000` payload type, if any.
fn telephone_event(m: &MediaDescription) -> Option<u8> {
    m.formats.iter().copied().find(|&pt| {
        m.rtpmap(pt).is_some_and(|map| {
            map.name.eq_ignore_ascii_case("telephone-event") && map.rate == TE_RATE
        })
    })
}
