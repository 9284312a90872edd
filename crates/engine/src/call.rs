//! One call as the switch sees it: the INVITE it answers, where it is in the dial plan, its
//! media, its dialog, and what goes into its call record.

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinHandle;
use vaxel_b2bua::Bridge;
use vaxel_media::Prompt;
use vaxel_plan::{Plan, Walk};
use vaxel_sdp::Negotiated;
use vaxel_sip::Request;
use vaxel_txn::{ClientTxn, Dialog, Peer, ServerTxn};

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
    /// Its socket: prompts go out of it, and the relay takes it over when the call is bridged.
    pub socket: Arc<UdpSocket>,
    /// Reads what the caller sends (DTMF) while a menu waits for keys; `None` until the walk
    /// first wants digits (see `Switch::ensure_reader`).
    pub reader: Option<JoinHandle<()>>,
    /// The relay has the socket (the reader is stopped): bridged or relaying early media.
    pub relayed: bool,
    /// The scheduler was told to connect the socket to the caller (nothing reads it).
    pub connected: bool,
    /// `answer` is our offer (the INVITE had none): the caller's answer comes in the ACK,
    /// and until then nothing is sent.
    pub offered: bool,
    /// A leg to relay to once the late offer's answer arrives.
    pub pending_relay: Option<usize>,
    /// The SDP answer we gave (or our offer, see `offered`), reused for retransmissions and
    /// re-INVITEs.
    pub answer: String,
}

impl Media {
    /// Stops reading the caller's RTP (the relay takes the socket, or the call ends).
    pub fn stop_reader(&mut self) {
        if let Some(r) = self.reader.take() {
            r.abort();
        }
    }
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
    /// The authenticated user who placed the call (a phone), or None (a trunk).
    pub caller_user: Option<String>,
    /// The outgoing legs while the call rings someone or is bridged to them.
    pub outgoing: Option<Outgoing>,
    /// RFC 4028 session interval agreed with the caller (they refresh), in seconds.
    pub session_expires: Option<u32>,
}

/// The B2BUA side of a call: the legs it rang and the state machine that decides about them.
pub struct Outgoing {
    /// Branch selection, CANCEL/BYE propagation, ring timeout.
    pub bridge: Bridge,
    /// One leg per INVITE sent (a user's contacts, or one trunk).
    pub legs: Vec<Leg>,
    /// The leg whose media the relay connects to the caller now (early media or answered).
    pub relayed: Option<usize>,
    /// Ring-back tone plays to a caller who was already answered (e.g. by an IVR).
    pub ringback: bool,
    /// The bridge's next deadline as last scheduled, so it is queued once.
    pub next_tick: Option<Instant>,
}

/// One INVITE we sent.
pub struct Leg {
    /// Its INVITE client transaction (the latest one, after an authentication retry).
    pub txn: ClientTxn,
    /// The INVITE as sent, for a retry with credentials.
    pub invite: Request,
    /// Where it went.
    pub peer: Peer,
    /// The dialog its 2xx (or a provisional with a tag) set up.
    pub dialog: Option<Dialog>,
    /// Whether `dialog` came from a 2xx (then another To tag is a second fork's answer).
    pub confirmed: bool,
    /// Our RTP port and socket towards the callee.
    pub port: u16,
    /// The socket.
    pub socket: Arc<UdpSocket>,
    /// Our SDP offer, reused to answer the callee's re-INVITEs.
    pub offer: String,
    /// What the callee's SDP answer said (codec, address), once it came.
    pub answer: Option<Negotiated>,
    /// The trunk it went through (index into `Plan::trunks`), for credentials.
    pub trunk: Option<usize>,
    /// Whether it was already retried with credentials.
    pub authenticated: bool,
}
