//! A small SIP/RTP user agent for vaxel's integration tests, over real UDP sockets.
//!
//! A [`Ua`] owns one SIP socket and a reader thread that files every message into an
//! inbox; [`Call`] drives one INVITE dialog from the caller's side (ACK, BYE, CANCEL,
//! answering the server's BYE) and records the call's RTP with arrival times in an
//! [`RtpCapture`]. [`RtpReport`] and [`check_prompt_payloads`] judge the stream: pacing,
//! sequence/timestamp continuity, SSRC, marker and the exact G.711 frames of a prompt.
//!
//! It reads SIP with its own forgiving parser ([`msg`]) rather than `vaxel-sip`, so a bug in
//! the parser under test cannot hide itself. This is a dev tool: it owns sockets and
//! threads, blocks, and is not held to the sans-IO rule of the protocol crates.

mod call;
mod error;
pub mod msg;
mod rtp;
mod ua;

pub use call::Call;
pub use error::UaError;
pub use msg::{Headers, Request, Response, SipMessage};
pub use rtp::{RtpArrival, RtpCapture, RtpReport, check_prompt_payloads};
pub use ua::{DEFAULT_WAIT, Received, Ua};
pub use vaxel_media::{Codec, Prompt};
