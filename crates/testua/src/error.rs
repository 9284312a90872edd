//! What can go wrong while a test drives a call.

use std::time::Duration;

use crate::msg::Response;

/// Why a test UA operation failed. The messages are written for a failing test's output.
#[derive(Debug, thiserror::Error)]
pub enum UaError {
    /// A socket operation failed.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// Nothing matching arrived in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What the test was waiting for.
        what: String,
        /// How long it waited.
        after: Duration,
    },
    /// A message from the server could not be read as SIP.
    #[error("unparsable SIP message: {0}")]
    Parse(String),
    /// The server answered, but not with what the test expected.
    #[error("expected {expected}, got {} {}\n{}", .got.status, .got.reason, .got.text())]
    Unexpected {
        /// What the test wanted.
        expected: String,
        /// What came instead.
        got: Box<Response>,
    },
    /// The operation makes no sense in the call's current state (a test bug).
    #[error("invalid call state: {0}")]
    State(String),
    /// An SDP answer was missing or unreadable.
    #[error("SDP: {0}")]
    Sdp(String),
}
