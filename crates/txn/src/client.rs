//! The non-INVITE client transaction (RFC 3261 §17.1.2), used for the BYEs vaxel sends.

use std::sync::Arc;
use std::time::Duration;

/// A non-INVITE client transaction.
#[derive(Debug)]
pub enum NonInviteClient {
    /// Request sent, no response yet: retransmit on Timer E with doubling intervals.
    Trying {
        /// The request bytes.
        request: Arc<[u8]>,
        /// Current Timer E interval.
        interval: Duration,
    },
    /// A provisional response came: retransmit every T2 until a final response.
    Proceeding {
        /// The request bytes.
        request: Arc<[u8]>,
    },
    /// Final response received; response retransmissions are absorbed until Timer K.
    Completed,
}

impl NonInviteClient {
    /// Short state name for logs and tests.
    pub fn name(&self) -> &'static str {
        match self {
            NonInviteClient::Trying { .. } => "Trying",
            NonInviteClient::Proceeding { .. } => "Proceeding",
            NonInviteClient::Completed => "Completed",
        }
    }
}
