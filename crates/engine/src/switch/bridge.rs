//! The B2BUA on the wire: ringing users' phones and trunks, carrying out what the sans-IO
//! [`Bridge`] decides (which branch wins, CANCEL, ACK, BYE) and connecting the media relay.

use std::net::SocketAddr;

use vaxel_b2bua::{Action as BridgeAction, Bridge, Event as BridgeEvent, Outcome};
use vaxel_plan::{RingOutcome, RingTarget};
use vaxel_sip::Uri;

use super::*;
use crate::call::{Leg, Outgoing};
use crate::relay::Which;

/// A target to send one INVITE to.
struct Dest {
    uri: Uri,
    peer: Peer,
    trunk: Option<usize>,
}

impl Switch {
    /// The walker asked to ring someone: one INVITE per registered phone (or to the trunk).
    pub(super) fn ring(&mut self, now: Instant, id: u64, target: RingTarget, timeout: Duration) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let plan = call.plan.clone();
        let unix = self.clock.at(now).as_second().max(0) as u64;
        let (dests, who) = match &target {
            RingTarget::User(index) => {
                let Some(user) = plan.users.get(*index) else {
                    return self.ring_failed(now, id, RingOutcome::Unavailable(404));
                };
                let dests = self
                    .registry
                    .ring_targets(&user.id, unix)
                    .into_iter()
                    .filter_map(|t| {
                        let uri = Uri::parse(&t.contact).ok()?;
                        let peer = if t.reliable {
                            Peer::tcp(t.source, self.transports.conn_from(t.source)?)
                        } else {
                            Peer::udp(t.source)
                        };
                        Some(Dest {
                            uri,
                            peer,
                            trunk: None,
                        })
                    })
                    .collect::<Vec<_>>();
                (dests, user.id.clone())
            }
            RingTarget::Number(digits) => (self.trunk_dest(&plan, digits), digits.clone()),
        };
        call.span
            .in_scope(|| info!(callee = %who, phones = dests.len(), "ringing"));
        if dests.is_empty() {
            // Nobody to ring: not registered, or no trunk for external numbers.
            return self.ring_failed(now, id, RingOutcome::Unavailable(480));
        }
        let mut legs = Vec::new();
        for dest in dests {
            match self.send_leg_invite(now, id, &target, dest, legs.len()) {
                Some(leg) => legs.push(leg),
                None => break,
            }
        }
        if legs.is_empty() {
            return self.ring_failed(now, id, RingOutcome::Unavailable(503));
        }
        let answered = self.calls.get(&id).is_some_and(|c| c.walk.is_answered());
        let bridge = Bridge::new(now, legs.len(), Some(timeout));
        if let Some(c) = self.calls.get_mut(&id) {
            c.outgoing = Some(Outgoing {
                bridge,
                legs,
                relayed: None,
                ringback: false,
                next_tick: None,
            });
        }
        if answered {
            self.start_ringback(id);
        }
        self.schedule_bridge_tick(id);
    }

    /// Where an external number goes: the first trunk with a `uri`, the number as its user.
    fn trunk_dest(&self, plan: &Plan<Prompt>, digits: &str) -> Vec<Dest> {
        let Some((index, uri)) = plan
            .trunks
            .iter()
            .enumerate()
            .find_map(|(i, t)| t.uri.as_deref().map(|u| (i, u)))
        else {
            return Vec::new();
        };
        let Ok(mut uri) = Uri::parse(uri) else {
            return Vec::new();
        };
        let Some(addr) = resolve(&uri.host, uri.port.unwrap_or(5060)) else {
            warn!(trunk = %plan.trunks[index].id, host = %uri.host, "trunk host does not resolve");
            return Vec::new();
        };
        uri.user = Some(digits.to_string());
        let tcp = uri
            .param("transport")
            .flatten()
            .is_some_and(|t| t.eq_ignore_ascii_case("tcp"));
        let peer = if tcp {
            if !self.transports.has_tcp() {
                warn!(trunk = %plan.trunks[index].id, "the trunk wants transport=tcp, but vaxel has no tcp:// listen address for Via and Contact");
                return Vec::new();
            }
            self.transports.tcp_peer(addr)
        } else {
            Peer::udp(addr)
        };
        vec![Dest {
            uri,
            peer,
            trunk: Some(index),
        }]
    }

    /// Builds and sends one leg's INVITE with our SDP offer on a fresh RTP port.
    fn send_leg_invite(
        &mut self,
        now: Instant,
        id: u64,
        target: &RingTarget,
        dest: Dest,
        leg_index: usize,
    ) -> Option<Leg> {
        let call = self.calls.get(&id)?;
        let local = self.transports.local_for(&dest.peer)?;
        let Some((port, socket)) = self.ports.bind(self.media_ip) else {
            call.span.in_scope(|| warn!("RTP port range exhausted"));
            return None;
        };
        self.metrics
            .rtp_ports_free
            .store(self.ports.available() as i64, Ordering::Relaxed);
        let _ = socket.set_nonblocking(true);
        // The caller's codec first, so the relay rarely has to transcode.
        let codecs: Vec<Codec> = match &call.negotiated {
            Some(n) => std::iter::once(n.codec)
                .chain(CODECS.iter().copied().filter(|c| *c != n.codec))
                .collect(),
            None => CODECS.to_vec(),
        };
        let offer = vaxel_sdp::offer(&codecs, Some(101), self.media_ip, port, id, 1);
        let (from_user, from_name) = self.presented_caller(call, target);
        let mut req = Request::new(Method::Invite, dest.uri.clone());
        req.headers.push("Via", via_for(local));
        let hops = call
            .invite
            .max_forwards()
            .ok()
            .flatten()
            .unwrap_or(70)
            .saturating_sub(1);
        req.headers.push("Max-Forwards", hops.to_string());
        let display = if from_name.is_empty() {
            String::new()
        } else {
            format!("\"{}\" ", from_name.replace('"', ""))
        };
        req.headers.push(
            "From",
            format!(
                "{display}<sip:{from_user}@{}>;tag={}",
                local.addr.ip(),
                new_tag(fastrand::u64(..))
            ),
        );
        let mut to_uri = dest.uri.clone();
        to_uri.params.clear();
        req.headers.push("To", format!("<{to_uri}>"));
        req.headers.push(
            "Call-ID",
            format!("{:016x}-{leg_index}@vaxel", fastrand::u64(..)),
        );
        req.headers.push("CSeq", "1 INVITE");
        let t = if local.transport.is_reliable() {
            ";transport=tcp"
        } else {
            ""
        };
        req.headers
            .push("Contact", format!("<sip:vaxel@{}{t}>", local.addr));
        req.headers.push("Allow", allow_list());
        req.headers.push("User-Agent", SERVER);
        req.headers.push("Content-Type", "application/sdp");
        req.body = offer.clone().into_bytes();
        let txn = match self.core.send_invite(now, &req, dest.peer) {
            Ok(t) => t,
            Err(e) => {
                debug!(error = %e, "INVITE not sent");
                self.ports.release(port);
                return None;
            }
        };
        self.leg_txns.insert(txn, (id, leg_index));
        Some(Leg {
            txn,
            invite: req,
            peer: dest.peer,
            dialog: None,
            confirmed: false,
            port,
            socket: Arc::new(socket),
            offer,
            answer: None,
            trunk: dest.trunk,
            authenticated: false,
        })
    }

    /// Who the callee sees calling: a phone user by extension and name, an outside caller
    /// by their number; towards a trunk, a number of ours (the trunk's `caller_id`, else the
    /// first DID) so the operator accepts it.
    fn presented_caller(&self, call: &Call, target: &RingTarget) -> (String, String) {
        let plan = &call.plan;
        let user = call
            .caller_user
            .as_deref()
            .and_then(|id| plan.users.iter().find(|u| u.id == id));
        if let RingTarget::Number(_) = target {
            let number = plan
                .trunks
                .iter()
                .find_map(|t| t.caller_id.clone())
                .or_else(|| plan.dids.first().map(|d| d.number.clone()));
            let name = user.map(|u| u.name.clone()).unwrap_or_default();
            if let Some(n) = number {
                return (n, name);
            }
        }
        if let Some(u) = user {
            let ext = u.extension.clone().unwrap_or_else(|| u.id.clone());
            return (ext, u.name.clone());
        }
        let from = call.invite.from().ok();
        let number = from
            .as_ref()
            .and_then(|f| f.uri.user_unescaped())
            .filter(|u| {
                u.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            })
            .unwrap_or_else(|| "anonymous".to_string());
        let name = from
            .and_then(|f| f.display.as_deref())
            .map(|d| d.trim_matches('"').to_string())
            .unwrap_or_default();
        (number, name)
    }

    /// A response on a leg's INVITE.
    pub(super) fn on_leg_response(
        &mut self,
        now: Instant,
        id: u64,
        leg: usize,
        response: Response,
    ) {
        let status = response.status;
        if status == 100 {
            return;
        }
        if (status == 401 || status == 407) && self.retry_with_credentials(now, id, leg, &response)
        {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(out) = call.outgoing.as_mut() else {
            return;
        };
        let Some(l) = out.legs.get_mut(leg) else {
            return;
        };
        let sdp = if response.body.is_empty() {
            None
        } else {
            std::str::from_utf8(&response.body)
                .ok()
                .and_then(|s| SessionDescription::parse(s).ok())
                .and_then(|d| negotiate(&d, CODECS).ok())
        };
        let has_sdp = sdp.is_some();
        if let Some(n) = sdp {
            l.answer = Some(n);
        }
        let to_tag = response.to().ok().and_then(|t| t.tag().map(str::to_string));
        if (200..300).contains(&status) && l.confirmed {
            if l.dialog.as_ref().and_then(|d| d.remote_tag.clone()) != to_tag {
                // A second 2xx from another fork behind the same leg: we want one callee.
                let (invite, peer) = (l.invite.clone(), l.peer);
                self.ack_and_bye_response(now, &invite, peer, &response);
                return;
            }
        } else if (101..300).contains(&status) && to_tag.is_some() {
            let new_dialog = status >= 200 || l.dialog.is_none();
            if new_dialog {
                if let Ok(d) = Dialog::new_uac(&l.invite, &response, l.peer) {
                    self.leg_dialogs
                        .insert((d.call_id.clone(), d.local_tag.clone()), (id, leg));
                    l.dialog = Some(d);
                    l.confirmed = status >= 200;
                }
            }
        }
        let event = match status {
            101..=199 => BridgeEvent::Provisional {
                leg,
                status,
                sdp: has_sdp,
            },
            200..=299 => BridgeEvent::Answered { leg },
            _ => BridgeEvent::Failed { leg, status },
        };
        self.feed_bridge(now, id, event);
    }

    /// A 401/407 from a trunk with credentials: the same INVITE again, authenticated, once.
    fn retry_with_credentials(
        &mut self,
        now: Instant,
        id: u64,
        leg: usize,
        response: &Response,
    ) -> bool {
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        let Some(l) = call.outgoing.as_ref().and_then(|o| o.legs.get(leg)) else {
            return false;
        };
        let Some(trunk) = l.trunk.and_then(|t| call.plan.trunks.get(t)) else {
            return false;
        };
        if l.authenticated {
            return false;
        }
        let Some(mut req) =
            crate::trunk::authorize_retry(trunk, &l.invite, response, &mut self.nonce_counts)
        else {
            return false;
        };
        let peer = l.peer;
        let Some(local) = self.transports.local_for(&peer) else {
            return false;
        };
        req.headers.set("Via", via_for(local));
        let Ok(txn) = self.core.send_invite(now, &req, peer) else {
            return false;
        };
        self.leg_txns.insert(txn, (id, leg));
        if let Some(l) = leg_mut(&mut self.calls, id, leg) {
            self.leg_txns.remove(&l.txn);
            l.txn = txn;
            l.invite = req;
            l.authenticated = true;
        }
        true
    }

    /// Feeds the call's bridge and carries out what it decides.
    pub(super) fn feed_bridge(&mut self, now: Instant, id: u64, event: BridgeEvent) {
        let Some(out) = self.calls.get_mut(&id).and_then(|c| c.outgoing.as_mut()) else {
            return;
        };
        let actions = out.bridge.handle(now, event);
        for action in actions {
            if let BridgeAction::Failed(outcome) = action {
                // The walker takes over (a forward may ring someone else with a new bridge):
                // this bridge's legs are let go, and what it says after is not for the call.
                self.drop_outgoing(id);
                self.ring_failed_by_bridge(now, id, outcome);
                return;
            }
            self.bridge_action(now, id, action);
        }
        self.schedule_bridge_tick(id);
        let ended = self
            .calls
            .get(&id)
            .and_then(|c| c.outgoing.as_ref())
            .is_some_and(|o| o.bridge.is_ended());
        if ended {
            self.drop_outgoing(id);
        }
    }

    /// Queues the bridge's next deadline (ring timeout, session timers) once.
    fn schedule_bridge_tick(&mut self, id: u64) {
        let Some(out) = self.calls.get_mut(&id).and_then(|c| c.outgoing.as_mut()) else {
            return;
        };
        let next = out.bridge.poll_timeout();
        if next != out.next_tick {
            out.next_tick = next;
            if let Some(at) = next {
                self.bridge_timers.push(Reverse((at, id)));
            }
        }
    }

    /// Runs the bridges whose deadlines have come.
    pub(super) fn bridge_timeouts(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.bridge_timers.peek().copied() {
            if at > now {
                break;
            }
            self.bridge_timers.pop();
            let due = self
                .calls
                .get(&id)
                .and_then(|c| c.outgoing.as_ref())
                .is_some_and(|o| o.next_tick == Some(at));
            if due {
                if let Some(o) = self.calls.get_mut(&id).and_then(|c| c.outgoing.as_mut()) {
                    o.next_tick = None;
                }
                self.feed_bridge(now, id, BridgeEvent::Tick);
            }
        }
    }

    fn bridge_action(&mut self, now: Instant, id: u64, action: BridgeAction) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        call.span.in_scope(|| debug!(?action, "bridge"));
        match action {
            BridgeAction::ProgressCaller {
                status,
                early_media_from,
            } => {
                if call.walk.is_answered() {
                    // The caller was answered already (an IVR): they hear our ring-back.
                    self.start_ringback(id);
                    return;
                }
                match early_media_from {
                    Some(leg) => {
                        if !self.start_media(now, id) {
                            return;
                        }
                        let sdp = self.early_media_sdp(id);
                        self.respond(now, id, 183, sdp);
                        if let Some(c) = self.calls.get_mut(&id) {
                            c.early_media = true;
                        }
                        self.relay_to(id, leg);
                    }
                    None => self.respond(now, id, status, None),
                }
            }
            BridgeAction::AnswerCaller { leg } => {
                if !call.walk.is_answered() {
                    if !self.start_media(now, id) {
                        return;
                    }
                    self.answer(now, id);
                    let interval = self.calls.get(&id).and_then(|c| c.session_expires);
                    if let Some(secs) = interval {
                        // The caller refreshes; if it stops, the call is dead: both hung up.
                        self.feed_bridge(
                            now,
                            id,
                            BridgeEvent::SessionTimer {
                                side: vaxel_b2bua::Side::Caller,
                                interval: Duration::from_secs(u64::from(secs)),
                                we_refresh: false,
                            },
                        );
                    }
                }
                self.relay_to(id, leg);
                if let Some(c) = self.calls.get(&id) {
                    c.span.in_scope(|| info!(leg, "answered: bridged"));
                }
                let actions = self.walk(now, id, Event::Answered);
                self.apply(now, id, actions);
            }
            BridgeAction::Ack { leg } => self.ack_leg(id, leg),
            BridgeAction::AckAndBye { leg } => {
                self.ack_leg(id, leg);
                self.bye_leg(now, id, leg);
            }
            BridgeAction::Cancel { leg } => {
                let txn = call
                    .outgoing
                    .as_ref()
                    .and_then(|o| o.legs.get(leg))
                    .map(|l| l.txn);
                if let Some(txn) = txn {
                    let _ = self.core.cancel(now, txn);
                }
            }
            BridgeAction::Bye { leg } => self.bye_leg(now, id, leg),
            BridgeAction::ByeCaller => self.bye_caller(now, id),
            BridgeAction::RejectCaller { status } => {
                if !call.walk.is_answered() {
                    self.respond(now, id, status, None);
                }
            }
            BridgeAction::Refresh { side } => {
                call.span
                    .in_scope(|| debug!(?side, "session refresh not sent: we never refresh"));
            }
            BridgeAction::StopEarlyMedia => self.unrelay(id),
            BridgeAction::Failed(outcome) => self.ring_failed_by_bridge(now, id, outcome),
            BridgeAction::Ended { reason } => {
                use vaxel_b2bua::EndReason as B;
                let reason = match reason {
                    B::CallerHangup => EndReason::CallerBye,
                    B::CalleeHangup => EndReason::CalleeBye,
                    B::CallerCancel => EndReason::Cancel,
                    B::NoAck => EndReason::NoAck,
                    B::SessionExpired => EndReason::SessionExpired,
                    B::MediaTimeout => EndReason::RtpTimeout,
                    B::LegDied => EndReason::Failed,
                    // After Failed: the walker decides what happens to the call.
                    B::NoAnswer | B::Busy | B::Unavailable(_) => return,
                };
                let status = matches!(reason, EndReason::Cancel).then_some(487);
                self.end(id, reason, status);
            }
        }
    }

    /// Nobody answered: the caller's media comes back from the relay, the walker decides.
    fn ring_failed_by_bridge(&mut self, now: Instant, id: u64, outcome: Outcome) {
        self.unrelay(id);
        self.stop_ringback(id);
        let outcome = match outcome {
            Outcome::Busy => RingOutcome::Busy,
            Outcome::NoAnswer => RingOutcome::NoAnswer,
            Outcome::Unavailable(_) => RingOutcome::Unavailable(outcome.status()),
        };
        if let Some(c) = self.calls.get(&id) {
            c.span.in_scope(|| info!(?outcome, "nobody answered"));
        }
        self.ring_failed(now, id, outcome);
    }

    /// Ringing ended in vain: the walker decides (forward, or the status to the caller).
    fn ring_failed(&mut self, now: Instant, id: u64, outcome: RingOutcome) {
        let actions = self.walk(now, id, Event::RingFailed(outcome));
        // Whatever comes next (a message, voicemail) plays from the caller's own port again.
        let needs_prompts = actions
            .iter()
            .any(|a| matches!(a, Action::Play { .. } | Action::BusyTone));
        if needs_prompts {
            self.restart_prompts(id);
        }
        self.apply(now, id, actions);
    }

    /// Sends the ACK for a leg's 2xx, outside any transaction (§13.2.2.4).
    fn ack_leg(&mut self, id: u64, leg: usize) {
        let Some(l) = leg_of(&self.calls, id, leg) else {
            return;
        };
        let (Some(d), Some(local)) = (&l.dialog, self.transports.local_for(&l.peer)) else {
            return;
        };
        if let Ok(via) = Via::parse(&via_for(local)) {
            let ack = d.ack(via);
            self.transports.send(l.peer, ack.to_bytes().into());
        }
    }

    /// Sends a BYE on a leg's dialog.
    fn bye_leg(&mut self, now: Instant, id: u64, leg: usize) {
        let Some(l) = leg_mut(&mut self.calls, id, leg) else {
            return;
        };
        let peer = l.peer;
        let (Some(d), Some(local)) = (l.dialog.as_mut(), self.transports.local_for(&peer)) else {
            return;
        };
        if let Some(bye) = in_dialog(d, Method::Bye, local) {
            if let Ok(t) = self.core.send_request(now, &bye, peer) {
                self.byes.insert(t, id);
            }
        }
    }

    /// An in-dialog request from a leg (the callee's side).
    pub(super) fn on_leg_request(
        &mut self,
        now: Instant,
        txn: ServerTxn,
        req: Request,
        id: u64,
        leg: usize,
    ) {
        let ok = leg_mut(&mut self.calls, id, leg)
            .and_then(|l| l.dialog.as_mut())
            .is_some_and(|d| d.accept_remote_cseq(&req).is_ok());
        if !ok {
            self.reply(now, txn, &req, 500);
            return;
        }
        match req.method {
            Method::Bye => {
                let mut resp = Response::for_request(&req, 200);
                resp.headers.push("Server", SERVER);
                let _ = self.core.respond(now, txn, resp);
                self.feed_bridge(now, id, BridgeEvent::LegBye { leg });
            }
            Method::Invite => self.leg_reinvite(now, txn, req, id, leg),
            Method::Info => self.reply(now, txn, &req, 200),
            _ => self.reply(now, txn, &req, 405),
        }
    }

    /// A re-INVITE from the callee (hold, resume, another codec): answered for that leg alone;
    /// the relay follows.
    fn leg_reinvite(&mut self, now: Instant, txn: ServerTxn, req: Request, id: u64, leg: usize) {
        let offer = std::str::from_utf8(&req.body)
            .ok()
            .and_then(|s| SessionDescription::parse(s).ok());
        let Some(l) = leg_mut(&mut self.calls, id, leg) else {
            return;
        };
        let body = match offer.map(|o| negotiate(&o, CODECS)) {
            None => l.offer.clone(),
            Some(Ok(n)) => {
                let body = vaxel_sdp::answer(&n, self.media_ip, l.port, id, 2);
                l.answer = Some(n);
                body
            }
            Some(Err(_)) => {
                self.reply(now, txn, &req, 488);
                return;
            }
        };
        let mut resp = Response::for_request(&req, 200);
        let peer = l.peer;
        resp.headers.push("Contact", self.contact(&peer));
        resp.headers.push("Content-Type", "application/sdp");
        resp.headers.push("Server", SERVER);
        resp.body = body.into_bytes();
        let _ = self.core.respond(now, txn, resp);
        self.update_relay(id, Which::B);
    }

    /// Ends a ringing or bridged call from our side (shutdown, plan): legs cancelled or
    /// BYEd, the caller BYEd or answered 480/503 by the caller's own path.
    pub(super) fn abort_legs(&mut self, now: Instant, id: u64) {
        let Some(out) = self.calls.get(&id).and_then(|c| c.outgoing.as_ref()) else {
            return;
        };
        let legs: Vec<(usize, bool, ClientTxn)> = out
            .legs
            .iter()
            .enumerate()
            .map(|(i, l)| (i, out.bridge.winner() == Some(i), l.txn))
            .collect();
        for (i, winner, txn) in legs {
            if winner {
                self.bye_leg(now, id, i);
            } else {
                let _ = self.core.cancel(now, txn);
            }
        }
        self.drop_outgoing(id);
    }
}

/// A Via for a request we send from `local`.
pub(super) fn via_for(local: crate::transport::Local) -> String {
    format!(
        "SIP/2.0/{} {};branch={};rport",
        local.transport.via_token(),
        local.addr,
        new_branch(fastrand::u64(..))
    )
}

/// A new in-dialog request (BYE, re-INVITE) from us.
pub(super) fn in_dialog(
    d: &mut Dialog,
    method: Method,
    local: crate::transport::Local,
) -> Option<Request> {
    let via = Via::parse(&via_for(local)).ok()?;
    let mut req = d.request(method, via);
    req.headers.push("User-Agent", SERVER);
    Some(req)
}

/// A trunk's host: an IP literal, or a name looked up once per call (trunks are few).
fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    use std::net::ToSocketAddrs;
    (bare, port).to_socket_addrs().ok()?.next()
}

/// The smallest session interval we accept (RFC 4028 §4: Min-SE at least 90 s).
pub(super) const MIN_SE: u32 = 90;
/// The interval we ask of a caller that supports timers but proposed none.
const DEFAULT_SE: u32 = 1800;

/// RFC 4028 on the caller's leg: the session interval of our 200 (the caller refreshes),
/// when the caller supports session timers.
pub(super) fn session_interval(invite: &Request) -> Option<u32> {
    let asked = invite
        .headers
        .get("Session-Expires")
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.trim().parse::<u32>().ok());
    let supports = ["Supported", "Require"].iter().any(|h| {
        invite
            .headers
            .get_all(h)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("timer"))
    });
    match (asked, supports) {
        (Some(n), true) => Some(n.max(MIN_SE)),
        (None, true) => Some(DEFAULT_SE),
        _ => None,
    }
}

/// A Session-Expires below our minimum gets 422 (RFC 4028 §8.1.1); this is it, if so.
pub(super) fn session_too_small(invite: &Request) -> bool {
    invite
        .headers
        .get("Session-Expires")
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.trim().parse::<u32>().ok())
        .is_some_and(|n| n < MIN_SE)
}

/// Leg `leg` of call `id`, while the call rings or is bridged.
fn leg_of(calls: &HashMap<u64, Call>, id: u64, leg: usize) -> Option<&Leg> {
    calls.get(&id)?.outgoing.as_ref()?.legs.get(leg)
}

/// See [`leg_of`].
fn leg_mut(calls: &mut HashMap<u64, Call>, id: u64, leg: usize) -> Option<&mut Leg> {
    calls.get_mut(&id)?.outgoing.as_mut()?.legs.get_mut(leg)
}
