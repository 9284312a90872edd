//! Dialogs (RFC 3261 §12): a UAS dialog is created by the INVITE we answer, a UAC dialog by
//! a 2xx (or tagged 1xx) to an INVITE we sent. They give in-dialog requests their CSeq check
//! and let us build the ACK of a 2xx and the BYE that ends the call from our side.

use vaxel_sip::{CSeq, Method, NameAddr, Request, Response, SipMessage, Uri, Via};

use crate::peer::Peer;

/// Why a request does not fit its dialog.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DialogError {
    /// The request creating the dialog lacks From, To, Call-ID, CSeq or Contact.
    #[error("request cannot create a dialog: {0}")]
    Malformed(&'static str),
    /// CSeq lower than or equal to the last one seen (§12.2.2: answer 500).
    #[error("CSeq {got} is not above {last}")]
    CSeqOutOfOrder {
        /// The CSeq of the request.
        got: u32,
        /// The last remote CSeq accepted.
        last: u32,
    },
}

/// One dialog, seen from our side.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our tag (the To tag of our responses, or the From tag of our INVITE).
    pub local_tag: String,
    /// The far end's tag (absent for RFC 2543 peers).
    pub remote_tag: Option<String>,
    /// Our URI (the To of an INVITE we answer, the From of one we send), without tag.
    pub local: NameAddr,
    /// The far end (the From of an INVITE we answer, the tagged To of a response to ours).
    pub remote: NameAddr,
    /// Where in-dialog requests go: the far end's Contact.
    pub remote_target: Uri,
    /// Record-Route values in the order they apply to our requests.
    pub route_set: Vec<String>,
    /// Our CSeq counter for requests we send.
    pub local_seq: u32,
    /// The highest CSeq the far end has used (0 before its first request).
    pub remote_seq: u32,
    /// The hop the dialog's requests go to.
    pub peer: Peer,
}

impl Dialog {
    /// The dialog an INVITE creates when we answer it with `local_tag`.
    pub fn new_uas(
        req: &Request,
        local_tag: &str,
        peer: Peer,
        initial_local_seq: u32,
    ) -> Result<Dialog, DialogError> {
        let call_id = req
            .call_id()
            .map_err(|_| DialogError::Malformed("Call-ID"))?
            .to_string();
        let remote = req
            .from()
            .cloned()
            .map_err(|_| DialogError::Malformed("From"))?;
        let mut local = req
            .to()
            .cloned()
            .map_err(|_| DialogError::Malformed("To"))?;
        local.params.retain(|(k, _)| !k.eq_ignore_ascii_case("tag"));
        let &CSeq { seq, .. } = req.cseq().map_err(|_| DialogError::Malformed("CSeq"))?;
        let remote_target = match req.contacts() {
            Ok(c) => c.into_iter().next().map(|c| c.uri),
            Err(_) => None,
        }
        .unwrap_or_else(|| remote.uri.clone());
        let route_set = req
            .headers
            .values("Record-Route")
            .into_iter()
            .map(str::to_string)
            .collect();
        Ok(Dialog {
            call_id,
            local_tag: local_tag.to_string(),
            remote_tag: remote.tag().map(str::to_string),
            local,
            remote,
            remote_target,
            route_set,
            local_seq: initial_local_seq,
            remote_seq: seq,
            peer,
        })
    }

    /// The dialog a response to an INVITE we sent creates (§12.1.2): one per fork, told
    /// apart by the To tag. The route set is the response's Record-Route reversed; without
    /// a Contact the target falls back to the INVITE's Request-URI.
    pub fn new_uac(
        invite: &Request,
        response: &Response,
        peer: Peer,
    ) -> Result<Dialog, DialogError> {
        let call_id = invite
            .call_id()
            .map_err(|_| DialogError::Malformed("Call-ID"))?
            .to_string();
        let mut local = invite
            .from()
            .cloned()
            .map_err(|_| DialogError::Malformed("From"))?;
        let local_tag = local
            .tag()
            .ok_or(DialogError::Malformed("From tag"))?
            .to_string();
        local.params.retain(|(k, _)| !k.eq_ignore_ascii_case("tag"));
        let remote = response
            .to()
            .cloned()
            .map_err(|_| DialogError::Malformed("To"))?;
        let &CSeq { seq, .. } = invite.cseq().map_err(|_| DialogError::Malformed("CSeq"))?;
        let remote_target = match response.contacts() {
            Ok(c) => c.into_iter().next().map(|c| c.uri),
            Err(_) => None,
        }
        .unwrap_or_else(|| invite.uri.clone());
        let route_set = response
            .headers
            .values("Record-Route")
            .into_iter()
            .rev()
            .map(str::to_string)
            .collect();
        Ok(Dialog {
            call_id,
            local_tag,
            remote_tag: remote.tag().map(str::to_string),
            local,
            remote,
            remote_target,
            route_set,
            local_seq: seq,
            remote_seq: 0,
            peer,
        })
    }

    /// Does this in-dialog request belong to us (Call-ID, both tags)?
    pub fn matches(&self, req: &Request) -> bool {
        let Ok(call_id) = req.call_id() else {
            return false;
        };
        if call_id != self.call_id {
            return false;
        }
        let to_tag = req.to().ok().and_then(|t| t.tag().map(str::to_string));
        let from_tag = req.from().ok().and_then(|f| f.tag().map(str::to_string));
        to_tag.as_deref() == Some(self.local_tag.as_str()) && from_tag == self.remote_tag
    }

    /// §12.2.2: an in-dialog request must carry a CSeq above the last one (ACK and CANCEL
    /// reuse the INVITE's number and are exempt).
    pub fn accept_remote_cseq(&mut self, req: &Request) -> Result<(), DialogError> {
        if matches!(req.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        let seq = req.cseq().map_err(|_| DialogError::Malformed("CSeq"))?.seq;
        if seq <= self.remote_seq {
            return Err(DialogError::CSeqOutOfOrder {
                got: seq,
                last: self.remote_seq,
            });
        }
        self.remote_seq = seq;
        Ok(())
    }

    /// A new in-dialog request from us (§12.2.1.1), e.g. the BYE when the plan hangs up.
    /// `via` is our top Via, with a fresh branch.
    pub fn request(&mut self, method: Method, via: Via) -> Request {
        self.local_seq = self.local_seq.wrapping_add(1).max(1);
        self.build(method, via)
    }

    /// The ACK of a 2xx to our INVITE (§13.2.2.4), for the TU to send (and re-send for each
    /// retransmitted 2xx). It carries the CSeq number of the last INVITE of the dialog, which
    /// is `local_seq` until another request is sent. `via` has a fresh branch: the ACK of a
    /// 2xx is a transaction of its own.
    pub fn ack(&self, via: Via) -> Request {
        self.build(Method::Ack, via)
    }

    /// An in-dialog request numbered `local_seq` (§12.2.1.1).
    fn build(&self, method: Method, via: Via) -> Request {
        let mut from = self.local.clone();
        from.set_tag(&self.local_tag);
        let mut req = Request::new(method.clone(), self.remote_target.clone());
        req.headers.push("Via", via.to_string());
        req.headers.push("Max-Forwards", "70");
        for r in &self.route_set {
            req.headers.push("Route", r.clone());
        }
        req.headers.push("From", from.to_string());
        req.headers.push("To", self.remote.to_string());
        req.headers.push("Call-ID", self.call_id.clone());
        req.headers
            .push("CSeq", format!("{} {}", self.local_seq, method.as_str()));
        req
    }
}
