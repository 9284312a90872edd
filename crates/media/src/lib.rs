//! Media for vaxel: everything about call audio that is not socket I/O.
//!
//! This crate decodes prompt files (WAV, FLAC, MP3, Ogg Vorbis) and resamples them to
//! 8 kHz mono ([`Prompt`]), encodes G.711 ([`g711`]), synthesises call-progress tones
//! ([`tones`]), decides which 20 ms frame a call sends next ([`Playout`]), writes and
//! parses RTP packets ([`RtpSender`], [`parse_rtp`]) and computes drift-free send
//! deadlines ([`Pacer`]). It owns no sockets, no timers and no clock: the engine's
//! tokio layer passes in `Instant`s and ships the bytes. SDP lives in `vaxel-sdp`.

mod codec;
mod decode;
pub mod dtmf;
mod error;
pub mod g711;
mod pacer;
mod playout;
mod prompt;
mod resample;
mod rtp;
pub mod tones;

use std::time::Duration;

pub use codec::Codec;
pub use error::{MediaError, RtpReject};
pub use pacer::{MAX_CATCH_UP, Pacer};
pub use playout::Playout;
pub use prompt::Prompt;
pub use resample::{TELEPHONE_RATE, resample_to_8k};
pub use rtp::{RtpPacket, RtpSender, parse_rtp};

/// Samples in one 20 ms G.711 frame at 8 kHz (also its payload size in bytes).
pub const SAMPLES_PER_FRAME: usize = 160;

/// The packetisation interval vaxel sends with (`a=ptime:20`).
pub const FRAME: Duration = Duration::from_millis(20);
