//! The one error type of the crate.

use thiserror::Error;

/// Why an SDP body could not be parsed or answered.
///
/// Parse errors ([`SdpError::BadLine`], [`SdpError::Missing`]) mean the peer sent a malformed
/// body (SIP 400). Negotiation errors mean a well-formed offer we cannot accept; the engine
/// answers those with 488 Not Acceptable Here.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    /// A line that does not follow the `<type>=<value>` grammar or has bad fields.
    #[error("SDP line {line}: {reason}")]
    BadLine {
        /// 1-based line number in the body.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A mandatory line (`v=` or `o=`) is absent.
    #[error("SDP has no {0}= line")]
    Missing(char),
    /// The offer has no `m=audio` line.
    #[error("no audio stream offered")]
    NoAudio,
    /// Audio is offered only over a transport we do not speak (e.g. RTP/SAVP, SRTP).
    #[error("unsupported audio transport {0}")]
    UnsupportedProfile(String),
    /// None of the offered codecs is one we support.
    #[error("no common codec")]
    NoCommonCodec,
    /// Neither the media nor the session has a `c=` line with an IP address.
    #[error("no connection address for the audio stream")]
    NoConnection,
}
