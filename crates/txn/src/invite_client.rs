//! The INVITE client transaction (RFC 3261 §17.1.1 with RFC 6026), and the two requests it
//! builds itself: the ACK of a non-2xx final response (§17.1.1.3) and the CANCEL (§9.1).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use vaxel_sip::{Method, Request, Response, SipMessage};

/// How many distinct provisional responses one transaction remembers to absorb their
/// retransmissions; a peer sending more only costs duplicate events, never memory.
const MAX_SEEN_PROVISIONALS: usize = 16;

/// An INVITE client transaction.
#[derive(Debug)]
pub enum InviteClient {
    /// INVITE sent, nothing heard: Timer A retransmits (UDP), Timer B gives up.
    Calling {
        /// The INVITE, for the ACK and the CANCEL.
        invite: Box<Request>,
        /// Its bytes, for retransmission.
        bytes: Arc<[u8]>,
        /// Current Timer A interval.
        interval: Duration,
        /// A CANCEL the TU asked for before any provisional (§9.1 defers it): the id
        /// reserved for its transaction.
        pending_cancel: Option<u64>,
    },
    /// A provisional came: no retransmissions; waiting for the final response.
    Proceeding {
        /// The INVITE, for the ACK and the CANCEL.
        invite: Box<Request>,
        /// Fingerprints of provisionals already passed up (see [`provisional_fingerprint`]).
        seen: Vec<u64>,
        /// Whether a CANCEL was sent.
        cancelled: bool,
    },
    /// A 300-699 came and was ACKed; retransmissions of it get the ACK again until Timer D.
    Completed {
        /// The ACK bytes.
        ack: Arc<[u8]>,
    },
    /// A 2xx came (RFC 6026): every further 2xx goes to the TU, which ACKs them, until
    /// Timer M.
    Accepted,
}

impl InviteClient {
    /// Short state name for logs and tests.
    pub fn name(&self) -> &'static str {
        match self {
            InviteClient::Calling { .. } => "Calling",
            InviteClient::Proceeding { .. } => "Proceeding",
            InviteClient::Completed { .. } => "Completed",
            InviteClient::Accepted => "Accepted",
        }
    }
}

/// What tells a new provisional from a retransmitted one: status, To tag, RSeq (RFC 3262)
/// and body. Different forks differ in the tag; a 183 with SDP after a 180 in the status.
pub fn provisional_fingerprint(resp: &Response) -> u64 {
    let mut h = DefaultHasher::new();
    resp.status.hash(&mut h);
    resp.to()
        .ok()
        .and_then(|t| t.tag().map(str::to_string))
        .hash(&mut h);
    resp.headers.get("RSeq").map(str::trim).hash(&mut h);
    resp.body.hash(&mut h);
    h.finish()
}

/// Remembers a provisional; false if it was seen before (a retransmission).
pub fn note_provisional(seen: &mut Vec<u64>, fingerprint: u64) -> bool {
    if seen.contains(&fingerprint) {
        return false;
    }
    if seen.len() < MAX_SEEN_PROVISIONALS {
        seen.push(fingerprint);
    }
    true
}

/// The ACK of a non-2xx final response (§17.1.1.3): the INVITE's Request-URI, top Via,
/// Call-ID, From and Route headers, the response's To (with its tag), the INVITE's CSeq
/// number with ACK.
pub fn build_ack(invite: &Request, resp: &Response) -> Request {
    let mut ack = derived(invite, Method::Ack);
    let to = resp
        .headers
        .get("To")
        .or_else(|| invite.headers.get("To"))
        .unwrap_or_default();
    ack.headers.set("To", to);
    ack
}

/// The CANCEL of an INVITE (§9.1): the INVITE's Request-URI, top Via, Call-ID, From, To
/// and Route headers, its CSeq number with CANCEL.
pub fn build_cancel(invite: &Request) -> Request {
    derived(invite, Method::Cancel)
}

/// A request copying the INVITE's hop-by-hop identity, in the usual header order.
fn derived(invite: &Request, method: Method) -> Request {
    let mut req = Request::new(method.clone(), invite.uri.clone());
    if let Some(via) = invite.headers.values("Via").first() {
        req.headers.push("Via", *via);
    }
    req.headers.push("Max-Forwards", "70");
    for route in invite.headers.get_all("Route") {
        req.headers.push("Route", route);
    }
    for name in ["From", "To", "Call-ID"] {
        if let Some(v) = invite.headers.get(name) {
            req.headers.push(name, v);
        }
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
    req.headers
        .push("CSeq", format!("{seq} {}", method.as_str()));
    req
}
