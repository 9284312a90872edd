//! SIP requests to the switch: the §8.2 checks, INVITE (new calls, re-INVITEs), BYE,
//! OPTIONS, INFO and REGISTER.

use super::*;
use crate::registry::Caller;

impl Switch {
    pub(super) fn reply(&mut self, now: Instant, txn: ServerTxn, req: &Request, status: u16) {
        let mut resp = Response::for_request(req, status);
        if status >= 200 {
            add_to_tag(&mut resp, &new_tag(fastrand::u64(..)));
        }
        resp.headers.push("Server", SERVER);
        let _ = self.core.respond(now, txn, resp);
    }

    /// Answers an INVITE that never became a call (unknown number, unusable offer) and
    /// still writes its call record.
    pub(super) fn reject_attempt(
        &mut self,
        now: Instant,
        txn: ServerTxn,
        req: &Request,
        peer: Peer,
        status: u16,
        route: Option<&str>,
    ) {
        self.reply(now, txn, req, status);
        self.metrics.calls_total.fetch_add(1, Ordering::Relaxed);
        self.metrics.calls_rejected.fetch_add(1, Ordering::Relaxed);
        let at = self.clock.at(now).to_string();
        self.cdr.record(CallRecord {
            call_id: req.call_id().unwrap_or_default().to_string(),
            source: source_of(&peer),
            caller: req.from().ok().map(|f| f.uri.to_string()),
            callee: req.uri.user_unescaped().unwrap_or_default(),
            route: route.map(str::to_string),
            started_at: at.clone(),
            answered_at: None,
            ended_at: at,
            outcome: "rejected",
            status: Some(status),
            end_reason: "plan".to_string(),
        });
    }

    pub(super) fn on_request(&mut self, now: Instant, txn: ServerTxn, req: Request, peer: Peer) {
        if let Err(resp) = check_request(&req, &self.policy) {
            let _ = self.core.respond(now, txn, resp);
            return;
        }
        if let Some((id, leg)) = self.find_leg_dialog(&req) {
            self.on_leg_request(now, txn, req, id, leg);
            return;
        }
        match req.method {
            Method::Invite => self.on_invite(now, txn, req, peer),
            Method::Bye => self.on_bye(now, txn, req),
            Method::Options => {
                let mut resp = Response::for_request(&req, 200);
                add_to_tag(&mut resp, &new_tag(fastrand::u64(..)));
                resp.headers.push("Allow", allow_list());
                resp.headers.push("Accept", "application/sdp");
                resp.headers.push("Supported", "timer");
                resp.headers.push("Server", SERVER);
                let _ = self.core.respond(now, txn, resp);
            }
            // INFO (DTMF, a later issue) inside a call: acknowledged.
            // INFO inside a call: DTMF (application/dtmf-relay, application/dtmf).
            Method::Info => {
                let call = self.find_dialog(&req);
                let status = if call.is_some() { 200 } else { 481 };
                self.reply(now, txn, &req, status);
                let content_type = req.content_type().unwrap_or_default();
                let digit = vaxel_media::dtmf::parse_info(&content_type, &req.body);
                if let (Some(id), Some(d)) = (call, digit) {
                    self.on_digit(now, id, d);
                }
            }
            Method::Register => self.on_register(now, txn, &req, peer),
            _ => self.reply(now, txn, &req, 405),
        }
    }

    pub(super) fn on_register(&mut self, now: Instant, txn: ServerTxn, req: &Request, peer: Peer) {
        let unix = self.clock.at(now).as_second().max(0) as u64;
        if now >= self.next_binding_sweep {
            self.registry.expire(unix);
            self.next_binding_sweep = now + Duration::from_secs(60);
        }
        let plan = self.plan.clone();
        match self
            .registry
            .register(unix, req, peer.addr, peer.transport.is_reliable(), &plan)
        {
            RegisterVerdict::Respond(mut resp) => {
                add_to_tag(&mut resp, &new_tag(fastrand::u64(..)));
                resp.headers.push("Server", SERVER);
                if resp.status == 401 {
                    // Challenges are stateless by nature: keeping a transaction per challenge
                    // would let a scanner's flood fill memory for 32 s at a time.
                    let _ = self.core.respond_stateless(txn, resp);
                } else {
                    if resp.status == 200 {
                        self.metrics
                            .registrations
                            .store(self.registry.binding_count() as i64, Ordering::Relaxed);
                    }
                    let _ = self.core.respond(now, txn, resp);
                }
            }
            RegisterVerdict::Drop => {
                // A blocked source: one stateless 403 per request, nothing kept, nothing logged.
                let _ = self
                    .core
                    .respond_stateless(txn, Response::for_request(req, 403));
            }
        }
    }

    /// The call and leg of a request inside one of our outgoing dialogs (its To tag is the
    /// From tag we chose).
    pub(super) fn find_leg_dialog(&self, req: &Request) -> Option<(u64, usize)> {
        if self.leg_dialogs.is_empty() {
            return None;
        }
        let call_id = req.call_id().ok()?;
        let tag = req.to().ok()?.tag()?.to_string();
        self.leg_dialogs.get(&(call_id.to_string(), tag)).copied()
    }

    pub(super) fn find_dialog(&self, req: &Request) -> Option<u64> {
        let call_id = req.call_id().ok()?;
        let tag = req.to().ok()?.tag()?.to_string();
        self.by_dialog.get(&(call_id.to_string(), tag)).copied()
    }

    pub(super) fn on_bye(&mut self, now: Instant, txn: ServerTxn, req: Request) {
        let Some(id) = self.find_dialog(&req) else {
            self.reply(now, txn, &req, 481);
            return;
        };
        let ok = match self.calls.get_mut(&id).and_then(|c| c.dialog.as_mut()) {
            Some(d) => d.accept_remote_cseq(&req).is_ok(),
            None => false,
        };
        if !ok {
            self.reply(now, txn, &req, 500);
            return;
        }
        let mut resp = Response::for_request(&req, 200);
        resp.headers.push("Server", SERVER);
        let _ = self.core.respond(now, txn, resp);
        let bridged = self
            .calls
            .get(&id)
            .and_then(|c| c.outgoing.as_ref())
            .is_some_and(|o| o.bridge.winner().is_some());
        if bridged {
            // The bridge BYEs the callee and ends the call.
            self.feed_bridge(now, id, vaxel_b2bua::Event::CallerBye);
        } else {
            // Still ringing someone (after an IVR answered): cancel them.
            self.abort_legs(now, id);
        }
        self.end(id, EndReason::CallerBye, None);
    }

    pub(super) fn on_invite(&mut self, now: Instant, txn: ServerTxn, req: Request, peer: Peer) {
        let has_to_tag = req.to().ok().is_some_and(|t| t.tag().is_some());
        if has_to_tag {
            self.on_reinvite(now, txn, req);
            return;
        }
        if self.shutting_down {
            self.reply(now, txn, &req, 503);
            return;
        }
        if bridge::session_too_small(&req) {
            let mut resp = Response::for_request(&req, 422);
            resp.headers.push("Min-SE", bridge::MIN_SE.to_string());
            add_to_tag(&mut resp, &new_tag(fastrand::u64(..)));
            let _ = self.core.respond(now, txn, resp);
            return;
        }
        let plan = self.plan.clone();
        let mut caller_user = None;
        let from_trunk = plan
            .trunks
            .iter()
            .any(|t| t.allow.iter().any(|c| c.contains(peer.addr.ip())));
        if !from_trunk {
            // A phone: it must authenticate (407). Scanners get one stateless answer per
            // INVITE, a counter, and no log line per packet.
            let unix = self.clock.at(now).as_second().max(0) as u64;
            match self
                .registry
                .authenticate_invite(unix, &req, peer.addr, &plan)
            {
                Caller::User(user) => {
                    debug!(%user, "INVITE authenticated");
                    caller_user = Some(user);
                }
                Caller::Refuse(mut resp) => {
                    debug!(source = %peer.addr, status = resp.status, "INVITE from outside the trunks refused");
                    if resp.status == 403 {
                        self.metrics.sip_forbidden.fetch_add(1, Ordering::Relaxed);
                    }
                    add_to_tag(&mut resp, &new_tag(fastrand::u64(..)));
                    resp.headers.push("Server", SERVER);
                    let _ = self.core.respond_stateless(txn, resp);
                    return;
                }
            }
        }
        let mut callee = req.uri.user_unescaped().unwrap_or_default();
        let mut route = plan.route_number(&callee);
        if route.is_none() && from_trunk {
            // An operator we register with sends calls to our Contact (its user part is the
            // trunk's username): the number called is in To.
            if let Some(to) = req.to().ok().and_then(|t| t.uri.user_unescaped()) {
                if let Some(r) = plan.route_number(&to) {
                    route = Some(r);
                    callee = to;
                }
            }
        }
        // A phone may dial any outside number: it goes to the trunk. Callers from a trunk
        // reach only our own numbers.
        let outside = route.is_none()
            && caller_user.is_some()
            && is_dialable(&callee)
            && plan.trunks.iter().any(|t| t.uri.is_some());
        let (start, walk) = match (route, outside) {
            (Some(r), _) => (r.node, Walk::new(r.node)),
            (None, true) => (vaxel_plan::NodeId::HANGUP, Walk::external(&callee)),
            (None, false) => {
                info!(number = %callee, "unknown number: 404");
                self.reject_attempt(now, txn, &req, peer, 404, None);
                return;
            }
        };
        let route_name = if outside {
            format!("number:{callee}")
        } else {
            plan.node_name(start)
        };
        let negotiated = if req.body.is_empty() {
            None
        } else if req.content_type().as_deref() != Some("application/sdp") {
            let mut resp = Response::for_request(&req, 415);
            resp.headers.push("Accept", "application/sdp");
            add_to_tag(&mut resp, &new_tag(fastrand::u64(..)));
            let _ = self.core.respond(now, txn, resp);
            return;
        } else {
            let offer = std::str::from_utf8(&req.body)
                .ok()
                .and_then(|s| SessionDescription::parse(s).ok());
            let Some(offer) = offer else {
                self.reject_attempt(now, txn, &req, peer, 400, Some(&route_name));
                return;
            };
            match negotiate(&offer, CODECS) {
                Ok(n) => Some(n),
                Err(e) => {
                    debug!(error = %e, "offer not acceptable: 488");
                    self.reject_attempt(now, txn, &req, peer, 488, Some(&route_name));
                    return;
                }
            }
        };
        let id = self.next_call;
        self.next_call += 1;
        let call_id = req.call_id().unwrap_or_default().to_string();
        let span = info_span!("call", call_id = %call_id, did = %callee);
        let call = Call {
            span,
            plan: plan.clone(),
            walk,
            txn,
            invite: req,
            peer,
            local_tag: new_tag(fastrand::u64(..)),
            phase: Phase::Early,
            negotiated,
            media: None,
            dialog: None,
            hangup_after_playback: false,
            early_media: false,
            decisions_logged: 0,
            timer_generation: 0,
            play_generation: 0,
            started: now,
            answered: None,
            callee,
            route: route_name,
            caller_user,
            outgoing: None,
            session_expires: None,
        };
        call.span
            .in_scope(|| info!(source = %peer.addr, route = %call.route, "incoming call"));
        self.calls.insert(id, call);
        self.by_txn.insert(txn, id);
        self.metrics.calls_total.fetch_add(1, Ordering::Relaxed);
        self.metrics.calls_active.fetch_add(1, Ordering::Relaxed);
        let actions = self.walk(now, id, Event::Start);
        self.apply(now, id, actions);
    }

    /// A re-INVITE inside an answered call: answered with the SDP we already gave (hold and
    /// codec changes come with the B2BUA).
    pub(super) fn on_reinvite(&mut self, now: Instant, txn: ServerTxn, req: Request) {
        let Some(id) = self.find_dialog(&req) else {
            self.reply(now, txn, &req, 481);
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(d) = call.dialog.as_mut() {
            if d.accept_remote_cseq(&req).is_err() {
                self.reply(now, txn, &req, 500);
                return;
            }
        }
        let bridged = call.outgoing.as_ref().is_some_and(|o| o.relayed.is_some());
        let offer = std::str::from_utf8(&req.body)
            .ok()
            .filter(|_| bridged)
            .and_then(|s| SessionDescription::parse(s).ok());
        let renegotiated = match offer.map(|o| negotiate(&o, CODECS)) {
            Some(Ok(n)) => {
                // Hold, resume or another codec on the caller's leg: the relay follows, the
                // other leg is not bothered.
                if let Some(m) = call.media.as_mut() {
                    m.answer = vaxel_sdp::answer(&n, self.media_ip, m.port, id, 2);
                }
                call.negotiated = Some(n);
                true
            }
            Some(Err(_)) => {
                self.reply(now, txn, &req, 488);
                return;
            }
            None => false,
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let mut resp = Response::for_request(&req, 200);
        if let Some(m) = &call.media {
            resp.headers.push("Content-Type", "application/sdp");
            resp.body = m.answer.clone().into_bytes();
        }
        let refreshed = call.session_expires;
        if let Some(secs) = refreshed {
            resp.headers
                .push("Session-Expires", format!("{secs};refresher=uac"));
            resp.headers.push("Require", "timer");
        }
        let peer = call.peer;
        resp.headers.push("Contact", self.contact(&peer));
        resp.headers.push("Server", SERVER);
        let _ = self.core.respond(now, txn, resp);
        if renegotiated {
            self.update_relay(id, crate::relay::Which::A);
        }
        if refreshed.is_some() {
            self.feed_bridge(
                now,
                id,
                vaxel_b2bua::Event::Refreshed {
                    side: vaxel_b2bua::Side::Caller,
                },
            );
        }
    }
}

/// Whether a Request-URI user part looks like a phone number (digits, an optional leading
/// `+`), so that only numbers, never names, leave through a trunk.
fn is_dialable(user: &str) -> bool {
    let digits = user.strip_prefix('+').unwrap_or(user);
    (2..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}
