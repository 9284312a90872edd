//! Transaction matching keys (RFC 3261 §17.2.3 and the RFC 2543 fallback).

use vaxel_sip::{Method, Request, SipMessage};

/// The magic cookie that marks an RFC 3261 branch as globally unique.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Method part of a key: ACK and CANCEL match INVITE transactions in their own ways.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyMethod {
    /// INVITE (and the ACK of a non-2xx final response).
    Invite,
    /// CANCEL, which has the INVITE's branch but a transaction of its own.
    Cancel,
    /// Any other method.
    Other(String),
}

impl KeyMethod {
    /// The key method of a request method as seen by a server.
    pub fn of(method: &Method) -> KeyMethod {
        match method {
            Method::Invite | Method::Ack => KeyMethod::Invite,
            Method::Cancel => KeyMethod::Cancel,
            other => KeyMethod::Other(other.as_str().to_string()),
        }
    }
}

/// What identifies one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxnKey {
    /// The branch, or for RFC 2543 peers a string built from the dialog identifiers.
    pub branch: String,
    /// Via sent-by (servers only; client keys leave it empty, the branch is ours).
    pub sent_by: String,
    /// Method class.
    pub method: KeyMethod,
}

impl TxnKey {
    /// The server-side key of a request. `None` if the request has no usable top Via.
    pub fn for_request(req: &Request) -> Option<TxnKey> {
        let via = req.top_via().ok()?;
        let sent_by = match via.port {
            Some(p) => format!("{}:{}", via.host.to_ascii_lowercase(), p),
            None => via.host.to_ascii_lowercase(),
        };
        let method = KeyMethod::of(&req.method);
        let branch = match via.branch() {
            Some(b) if b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE) => b.to_string(),
            _ => {
                // RFC 2543 peers (and the RFC 4475 badbranch message): match on the
                // dialog identifiers and the CSeq number, as §17.2.3 describes.
                let call_id = req.call_id().ok()?;
                let cseq = req.cseq().ok()?.seq;
                let from_tag = req.from().ok().and_then(|f| f.tag().map(str::to_string));
                format!("2543:{call_id}:{cseq}:{}", from_tag.unwrap_or_default())
            }
        };
        Some(TxnKey {
            branch,
            sent_by,
            method,
        })
    }

    /// The key of a response, as a client transaction matches it (§17.1.3).
    pub fn for_response(branch: &str, cseq_method: &Method) -> TxnKey {
        TxnKey {
            branch: branch.to_string(),
            sent_by: String::new(),
            method: KeyMethod::of(cseq_method),
        }
    }
}
