//! What a UAS checks before it acts on a well-formed request (RFC 3261 §8.2), each failure
//! answered with the full response to send.

use crate::lex::is_lws;
use crate::message::{Request, Response, SipMessage};
use crate::method::Method;

/// What this UAS supports.
#[derive(Debug, Clone)]
pub struct UasPolicy {
    /// Methods answered; others get 405 (known) or 501 (unknown), with Allow.
    pub allow: Vec<Method>,
    /// Option tags understood in Require.
    pub supported: Vec<String>,
    /// Body types understood (e.g. `application/sdp`).
    pub accept: Vec<String>,
    /// Request-URI schemes served (e.g. `sip`, `sips`).
    pub schemes: Vec<String>,
}

fn reply(req: &Request, status: u16) -> Response {
    Response::for_request(req, status)
}

fn allow_header(policy: &UasPolicy) -> String {
    policy
        .allow
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_known(m: &Method) -> bool {
    !matches!(m, Method::Extension(_))
}

/// Checks `req` in the order of §8.2; `Err` carries the response. ACK is never answered.
pub fn check_request(req: &Request, policy: &UasPolicy) -> Result<(), Response> {
    if req.method == Method::Ack {
        return Ok(());
    }
    // Case-insensitive (§7.1): `sip/2.0` is our version too.
    if !req.version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(reply(req, 505));
    }
    if !policy
        .schemes
        .iter()
        .any(|s| s.eq_ignore_ascii_case(&req.uri.scheme))
    {
        return Err(reply(req, 416));
    }
    let cseq_ok = req.cseq().is_ok_and(|c| c.method == req.method);
    if !cseq_ok && is_known(&req.method) {
        let mut r = reply(req, 400);
        r.reason = "Bad Request (CSeq method does not match)".into();
        return Err(r);
    }
    if !policy.allow.contains(&req.method) {
        let status = if is_known(&req.method) { 405 } else { 501 };
        let mut r = reply(req, status);
        r.headers.push("Allow", allow_header(policy));
        return Err(r);
    }
    if req.method != Method::Cancel {
        let unsupported: Vec<&str> = req
            .headers
            .values("Require")
            .into_iter()
            .filter(|t| !policy.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            let mut r = reply(req, 420);
            r.headers.push("Unsupported", unsupported.join(", "));
            return Err(r);
        }
    }
    if !req.body.is_empty() {
        let ok_type = req
            .content_type()
            .is_some_and(|t| policy.accept.iter().any(|a| a.eq_ignore_ascii_case(&t)));
        let ok_encoding = req
            .headers
            .values("Content-Encoding")
            .into_iter()
            .all(|e| e.trim_matches(is_lws).eq_ignore_ascii_case("identity"));
        if !ok_type || !ok_encoding {
            let mut r = reply(req, 415);
            r.headers.push("Accept", policy.accept.join(", "));
            if !ok_encoding {
                // §8.2.3: an unknown encoding is answered with the ones we do know.
                r.headers.push("Accept-Encoding", "identity");
            }
            return Err(r);
        }
    }
    if req.method == Method::Invite && req.headers.get("Accept").is_some() {
        let acceptable = req.headers.values("Accept").into_iter().any(|a| {
            let t = a
                .split(';')
                .next()
                .unwrap_or("")
                .trim_matches(is_lws)
                .to_ascii_lowercase();
            t == "*/*"
                || t == "application/*"
                || policy.accept.iter().any(|p| p.eq_ignore_ascii_case(&t))
        });
        if !acceptable {
            let mut r = reply(req, 406);
            r.headers.push(
                "Warning",
                "399 vaxel \"only application/sdp bodies are produced\"",
            );
            return Err(r);
        }
    }
    Ok(())
}
