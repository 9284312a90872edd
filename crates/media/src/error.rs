//! The one error type of the crate.

use thiserror::Error;

/// Everything that can go wrong while loading prompts or reading RTP.
///
/// Variants say who is to blame: the file system ([`MediaError::Io`]), the file's content
/// ([`MediaError::Unsupported`], [`MediaError::Decode`], [`MediaError::Empty`]) or the peer
/// ([`MediaError::BadRtp`]).
#[derive(Debug, Error)]
pub enum MediaError {
    /// The file could not be opened or read.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not in a container/codec we can decode (or not audio at all).
    #[error("unsupported audio format: {0}")]
    Unsupported(String),
    /// The file looked like audio but its content is corrupt.
    #[error("decode error: {0}")]
    Decode(String),
    /// The file decoded to zero samples.
    #[error("audio file contains no samples")]
    Empty,
    /// The resampler refused the input (e.g. a zero or absurd sample rate).
    #[error("resample error: {0}")]
    Resample(String),
    /// A datagram that is not an acceptable RTP packet.
    #[error("bad RTP packet: {0}")]
    BadRtp(#[from] RtpReject),
}

/// Why an incoming datagram was not accepted as RTP.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpReject {
    /// Shorter than the fixed 12-byte header or than its CSRC list/extension/padding claim.
    #[error("truncated packet: need {expected} bytes, have {actual}")]
    Truncated {
        /// Bytes the header says the packet needs.
        expected: usize,
        /// Bytes received.
        actual: usize,
    },
    /// The version field is not 2.
    #[error("unsupported RTP version {0}")]
    Version(u8),
    /// The second byte is an RTCP packet type (RFC 5761 demultiplexing).
    #[error("RTCP packet type {0} on the RTP port")]
    Rtcp(u8),
    /// The padding count is zero or larger than the payload.
    #[error("invalid padding")]
    Padding,
}
