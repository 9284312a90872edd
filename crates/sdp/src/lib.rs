//! SDP for vaxel: parse session descriptions (RFC 8866) and run the offer/answer model
//! (RFC 3264) for the single audio stream of a call.
//!
//! [`SessionDescription::parse`] reads any peer's body, tolerating LF-only line ends,
//! unknown attributes and IPv6. [`negotiate`] picks codec, DTMF payload type, remote RTP
//! address and direction from an offer; [`answer`] and [`offer`] write vaxel's own bodies.
//! This crate only transforms text: it opens no sockets and binds no ports; the engine
//! chooses the local address/port and maps [`SdpError`] to SIP responses (488 for
//! negotiation failures).

mod error;
mod model;
mod negotiate;
mod parse;
mod write;

pub use error::SdpError;
pub use model::{Direction, Fmtp, MediaDescription, Origin, RtpMap, SessionDescription};
pub use negotiate::{DEFAULT_PTIME, DeclinedMedia, Negotiated, negotiate};
pub use vaxel_media::Codec;
pub use write::{answer, offer};
