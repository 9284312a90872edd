//! Server transaction state machines: INVITE (RFC 3261 §17.2.1 with RFC 6026) and
//! non-INVITE (§17.2.2). Each state holds only what it needs; a terminated transaction is
//! simply removed from the table by the core.

use std::sync::Arc;
use std::time::Duration;

use vaxel_sip::Response;

/// An INVITE server transaction.
#[derive(Debug)]
pub enum InviteServer {
    /// Waiting for the TU's final response; retransmitted INVITEs get the last provisional.
    Proceeding {
        /// The last provisional response sent, if any.
        last_provisional: Option<Arc<[u8]>>,
        /// A 100 Trying, serialized and sent by Timer Trying if the TU has said nothing yet.
        trying: Option<Box<Response>>,
    },
    /// A 3xx-6xx was sent; it is retransmitted on Timer G until the ACK or Timer H.
    Completed {
        /// The final response.
        response: Arc<[u8]>,
        /// Current Timer G interval.
        interval: Duration,
    },
    /// The ACK arrived; ACK retransmissions are absorbed until Timer I.
    Confirmed,
    /// A 2xx was sent (RFC 6026): it is retransmitted until the ACK, INVITE retransmissions
    /// are absorbed, and Timer L ends the transaction.
    Accepted {
        /// The 2xx response.
        response: Arc<[u8]>,
        /// Current retransmit interval.
        interval: Duration,
        /// Whether the ACK has arrived.
        acked: bool,
        /// Call-ID and CSeq number, to match the ACK (which has a branch of its own).
        ack_key: (String, u32),
    },
}

impl InviteServer {
    /// The response to repeat when the INVITE is retransmitted, if any.
    pub fn retransmission(&self) -> Option<Arc<[u8]>> {
        match self {
            InviteServer::Proceeding {
                last_provisional, ..
            } => last_provisional.clone(),
            InviteServer::Completed { response, .. } => Some(response.clone()),
            // RFC 6026 §7.1: the transaction absorbs retransmitted INVITEs; the 2xx keeps
            // going out on its own timer.
            InviteServer::Accepted { .. } | InviteServer::Confirmed => None,
        }
    }

    /// Short state name for logs and tests.
    pub fn name(&self) -> &'static str {
        match self {
            InviteServer::Proceeding { .. } => "Proceeding",
            InviteServer::Completed { .. } => "Completed",
            InviteServer::Confirmed => "Confirmed",
            InviteServer::Accepted { .. } => "Accepted",
        }
    }
}

/// A non-INVITE server transaction.
#[derive(Debug)]
pub enum NonInviteServer {
    /// No response yet; retransmissions are absorbed.
    Trying,
    /// A provisional response was sent; retransmissions get it again.
    Proceeding {
        /// The last provisional response.
        last: Arc<[u8]>,
    },
    /// A final response was sent; retransmissions get it again until Timer J.
    Completed {
        /// The final response.
        response: Arc<[u8]>,
    },
}

impl NonInviteServer {
    /// The response to repeat when the request is retransmitted, if any.
    pub fn retransmission(&self) -> Option<Arc<[u8]>> {
        match self {
            NonInviteServer::Trying => None,
            NonInviteServer::Proceeding { last } => Some(last.clone()),
            NonInviteServer::Completed { response } => Some(response.clone()),
        }
    }

    /// Short state name for logs and tests.
    pub fn name(&self) -> &'static str {
        match self {
            NonInviteServer::Trying => "Trying",
            NonInviteServer::Proceeding { .. } => "Proceeding",
            NonInviteServer::Completed { .. } => "Completed",
        }
    }
}
