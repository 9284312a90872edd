//! One call as the switch sees it: the INVITE it answers, where it is in the dial plan, its
//! media, its dialog, and what goes into its call record.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinHandle;
use vaxel_media::Prompt;
use vaxel_plan::{Plan, Walk};
use vaxel_sdp::Negotiated;
use vaxel_sip::Request;
use vaxel_txn::{Dialog, Peer, ServerTxn};

/// Where the call stands on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No final response yet (maybe early media).
    Early,
    /// 200 OK sent; the call is up.
    Answered,
}

/// The call's RTP leg.
pub struct Media {
    /// Our RTP port (from the pool).
    pub port: u16,
    /// Reads (and for now drops) what the caller sends.
    pub reader: JoinHandle<()>,
    /// The SDP answer we gave, reused for retransmissions and re-INVITEs.
    pub answer: String,
}

/// One call.
pub struct Call {
    /// The tracing span of the call (Call-ID, DID).
    pub span: tracing::Span,
    /// The plan the call started on; a reload does not change it.
    pub plan: Arc<Plan<Prompt>>,
    /// Position in the plan.
    pub walk: Walk,
    /// The INVITE server transaction.
    pub txn: ServerTxn,
    /// The INVITE, to build responses from.
    pub invite: Request,
    /// Where the INVITE came from.
    pub peer: Peer,
    /// Our To tag.
    pub local_tag: String,
    /// Early or answered.
    pub phase: Phase,
    /// The negotiated codec and remote RTP address, if the INVITE had an offer.
    pub negotiated: Option<Negotiated>,
    /// Our RTP leg, once early media or the answer needed it.
    pub media: Option<Media>,
    /// The dialog, once answered.
    pub dialog: Option<Dialog>,
    /// Hang up when the current playback ends (busy tone after answer).
    pub hangup_after_playback: bool,
    /// Whether 183 was sent.
    pub early_media: bool,
    /// Schedule decisions already written to the log.
    pub decisions_logged: usize,
    /// Generation of the walker timer; bumping it cancels the pending one.
    pub timer_generation: u64,
    /// Playback generation; bumped on barge-in so reports about dropped audio are ignored.
    pub play_generation: u64,
    /// When the INVITE arrived.
    pub started: Instant,
    /// When we answered.
    pub answered: Option<Instant>,
    /// The R-URI user part.
    pub callee: String,
    /// Destination the number routed to, for the record.
    pub route: String,
}
