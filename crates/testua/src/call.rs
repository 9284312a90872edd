//! One call placed by the test UA: the INVITE dialog from our side, and its RTP capture.

use std::net::SocketAddr;
use std::time::Duration;

use vaxel_media::Codec;
use vaxel_sdp::SessionDescription;

use crate::UaError;
use crate::msg::{Request, Response, SipMessage, uri_of};
use crate::rtp::RtpCapture;
use crate::ua::{DEFAULT_WAIT, Offer, Ua};

/// The caller side of one INVITE dialog. Methods follow the order a test uses them:
/// [`Call::wait_status`] / [`Call::wait_final`], [`Call::ack`], then [`Call::bye`] or
/// [`Call::wait_bye_and_ok`].
pub struct Call {
    ua: Ua,
    number: String,
    ruri: String,
    call_id: String,
    from_tag: String,
    invite_branch: String,
    invite_cseq: u32,
    next_cseq: u32,
    to_tag: Option<String>,
    remote_target: Option<String>,
    final_status: Option<u16>,
    answer: Option<SessionDescription>,
    rtp: RtpCapture,
}

impl Call {
    pub(crate) fn start(ua: Ua, number: &str, offer: Offer) -> Result<Call, UaError> {
        let local = ua.local();
        let rtp = RtpCapture::bind(local.ip())?;
        let port = rtp.local().port();
        let body = match offer {
            Offer::Codecs(codecs) => {
                vaxel_sdp::offer(&codecs, Some(101), local.ip(), port, 4242, 1)
            }
            Offer::Template(t) => t
                .replace("{ip}", &local.ip().to_string())
                .replace("{port}", &port.to_string()),
            Offer::None => String::new(),
        };
        let content_type = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        let server = ua.server();
        let call = Call {
            number: number.to_string(),
            ruri: format!("sip:{number}@{server}"),
            call_id: ua.unique("call-"),
            from_tag: ua.unique("ft"),
            invite_branch: ua.unique("z9hG4bK"),
            invite_cseq: 1,
            next_cseq: 2,
            to_tag: None,
            remote_target: None,
            final_status: None,
            answer: None,
            rtp,
            ua,
        };
        let text = format!(
            "INVITE {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"testua\" <sip:testua@{local}>;tag={ftag}\r\n\
             To: <{ruri}>\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} INVITE\r\n\
             Contact: <sip:testua@{local}>\r\n\
             Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n\
             {content_type}\
             Content-Length: {len}\r\n\r\n{body}",
            ruri = call.ruri,
            branch = call.invite_branch,
            ftag = call.from_tag,
            cid = call.call_id,
            cseq = call.invite_cseq,
            len = body.len(),
        );
        call.ua.send(&text)?;
        Ok(call)
    }

    /// The number dialled.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The status of the final response, once one has been read.
    pub fn final_status(&self) -> Option<u16> {
        self.final_status
    }

    /// The server's SDP (from a 183 or the 2xx), once one has been read.
    pub fn answer(&self) -> Option<&SessionDescription> {
        self.answer.as_ref()
    }

    /// Where the server said it receives RTP (c= and m= of its SDP).
    pub fn remote_media(&self) -> Option<SocketAddr> {
        let sdp = self.answer.as_ref()?;
        let m = sdp.media.first()?;
        Some(SocketAddr::new(m.connection.or(sdp.connection)?, m.port))
    }

    /// Everything received on this call's RTP port.
    pub fn rtp(&self) -> &RtpCapture {
        &self.rtp
    }

    fn is_invite_response(&self, m: &SipMessage) -> bool {
        matches!(m, SipMessage::Response(r) if r.cseq_method().is_some_and(|x| x.eq_ignore_ascii_case("INVITE")) && r.status > 100)
            && m.call_id() == Some(self.call_id.as_str())
    }

    fn note(&mut self, r: &Response) -> Result<(), UaError> {
        if let Some(tag) = r.to_tag() {
            if r.status >= 200 || self.to_tag.is_none() {
                self.to_tag = Some(tag);
            }
        }
        if (200..300).contains(&r.status) {
            self.remote_target = r.headers.get("Contact").map(|c| uri_of(c).to_string());
        }
        if r.status >= 200 {
            self.final_status = Some(r.status);
        }
        let is_sdp = r
            .headers
            .get("Content-Type")
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/sdp"));
        if is_sdp && !r.body.is_empty() {
            let text = String::from_utf8_lossy(&r.body);
            let sdp = SessionDescription::parse(&text)
                .map_err(|e| UaError::Sdp(format!("{e} in {text:?}")))?;
            self.answer = Some(sdp);
        }
        Ok(())
    }

    fn next_invite_response(&mut self, timeout: Duration) -> Result<Response, UaError> {
        let call_id = self.call_id.clone();
        let got = self.ua.wait_message(
            &format!("a response to INVITE {} ({call_id})", self.number),
            timeout,
            |m| self.is_invite_response(m),
        )?;
        let SipMessage::Response(r) = got.msg else {
            return Err(UaError::State("matched a request".into()));
        };
        self.note(&r)?;
        Ok(r)
    }

    /// Waits for a response with `status` to the INVITE. Other provisionals are skipped;
    /// a different final response is an error.
    pub fn wait_status(&mut self, status: u16, timeout: Duration) -> Result<Response, UaError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let r = self.next_invite_response(left).map_err(|e| match e {
                UaError::Timeout { what, after } => UaError::Timeout {
                    what: format!("{status}: {what}"),
                    after,
                },
                e => e,
            })?;
            if r.status == status {
                return Ok(r);
            }
            if r.status >= 200 {
                return Err(UaError::Unexpected {
                    expected: format!("{status} to INVITE {}", self.number),
                    got: Box::new(r),
                });
            }
        }
    }

    /// Waits for the final response to the INVITE, skipping provisionals.
    pub fn wait_final(&mut self, timeout: Duration) -> Result<Response, UaError> {
        loop {
            let r = self.next_invite_response(timeout)?;
            if r.status >= 200 {
                return Ok(r);
            }
        }
    }

    fn to_header(&self) -> String {
        match &self.to_tag {
            Some(t) => format!("<{}>;tag={t}", self.ruri),
            None => format!("<{}>", self.ruri),
        }
    }

    fn request_text(&self, method: &str, ruri: &str, branch: &str, cseq: u32) -> String {
        let local = self.ua.local();
        format!(
            "{method} {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"testua\" <sip:testua@{local}>;tag={ftag}\r\n\
             To: {to}\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n",
            ftag = self.from_tag,
            to = self.to_header(),
            cid = self.call_id,
        )
    }

    /// ACKs the final response: in the INVITE transaction for a failure, as a new
    /// transaction to the Contact for a 2xx.
    pub fn ack(&mut self) -> Result<(), UaError> {
        let status = self
            .final_status
            .ok_or_else(|| UaError::State("ACK before a final response".into()))?;
        let text = if status < 300 {
            let target = self
                .remote_target
                .clone()
                .unwrap_or_else(|| self.ruri.clone());
            let branch = self.ua.unique("z9hG4bK");
            self.request_text("ACK", &target, &branch, self.invite_cseq)
        } else {
            self.request_text("ACK", &self.ruri, &self.invite_branch, self.invite_cseq)
        };
        self.ua.send(&text)
    }

    /// ACKs a 2xx that carried the server's offer (a late-offer call) with an answer
    /// choosing `codec` (and telephone-event 101) on this call's RTP port; `None` sends the
    /// ACK without the answer it owes.
    pub fn ack_with_answer(&mut self, codec: Option<Codec>) -> Result<(), UaError> {
        let target = self
            .remote_target
            .clone()
            .unwrap_or_else(|| self.ruri.clone());
        let branch = self.ua.unique("z9hG4bK");
        let mut text = self.request_text("ACK", &target, &branch, self.invite_cseq);
        if let Some(codec) = codec {
            let local = self.rtp.local();
            let body = vaxel_sdp::offer(&[codec], Some(101), local.ip(), local.port(), 4242, 1);
            let head = text
                .trim_end_matches("Content-Length: 0\r\n\r\n")
                .to_string();
            text = format!(
                "{head}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
        self.ua.send(&text)
    }

    /// Sends BYE in the dialog and returns the server's final response to it.
    pub fn bye(&mut self) -> Result<Response, UaError> {
        if self.to_tag.is_none() {
            return Err(UaError::State("BYE without a dialog".into()));
        }
        let cseq = self.next_cseq;
        self.next_cseq += 1;
        let target = self
            .remote_target
            .clone()
            .unwrap_or_else(|| self.ruri.clone());
        let branch = self.ua.unique("z9hG4bK");
        let text = self.request_text("BYE", &target, &branch, cseq);
        self.ua.send(&text)?;
        self.wait_own_final("BYE", cseq)
    }

    /// Sends CANCEL for the INVITE and returns the server's final response to the CANCEL
    /// (the INVITE's own 487 follows; read it with [`Call::wait_final`]).
    pub fn cancel(&mut self) -> Result<Response, UaError> {
        let local = self.ua.local();
        let text = format!(
            "CANCEL {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"testua\" <sip:testua@{local}>;tag={ftag}\r\n\
             To: <{ruri}>\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} CANCEL\r\n\
             Content-Length: 0\r\n\r\n",
            ruri = self.ruri,
            branch = self.invite_branch,
            ftag = self.from_tag,
            cid = self.call_id,
            cseq = self.invite_cseq,
        );
        self.ua.send(&text)?;
        self.wait_own_final("CANCEL", self.invite_cseq)
    }

    fn wait_own_final(&self, method: &str, cseq: u32) -> Result<Response, UaError> {
        let cseq_value = format!("{cseq} {method}");
        let got = self.ua.wait_message(
            &format!("final response to {method} ({})", self.call_id),
            DEFAULT_WAIT,
            |m| {
                matches!(m, SipMessage::Response(r) if r.status >= 200
                    && r.headers.get("CSeq").is_some_and(|c| c.split_whitespace().collect::<Vec<_>>().join(" ").eq_ignore_ascii_case(&cseq_value)))
                    && m.call_id() == Some(self.call_id.as_str())
            },
        )?;
        match got.msg {
            SipMessage::Response(r) => Ok(r),
            SipMessage::Request(_) => Err(UaError::State("matched a request".into())),
        }
    }

    /// Waits for the server's BYE, answers it with 200 OK and returns it.
    pub fn wait_bye_and_ok(&mut self, timeout: Duration) -> Result<Request, UaError> {
        let got = self.ua.wait_message(
            &format!("BYE from the server ({})", self.call_id),
            timeout,
            |m| {
                matches!(m, SipMessage::Request(r) if r.method == "BYE")
                    && m.call_id() == Some(self.call_id.as_str())
            },
        )?;
        let SipMessage::Request(req) = got.msg else {
            return Err(UaError::State("matched a response".into()));
        };
        let mut text = String::from("SIP/2.0 200 OK\r\n");
        for (n, v) in &req.headers.0 {
            let keep = ["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"]
                .iter()
                .any(|k| n.eq_ignore_ascii_case(k));
            if keep {
                text.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        // Answer where the request came from (RFC 3261 §18.2.2 for a UDP Via with rport).
        self.ua.inner.sock.send_to(text.as_bytes(), got.from)?;
        Ok(req)
    }
}
