//! The switch: one task that owns the transaction table, every call and the port pool, and
//! turns SIP events and media events into responses, requests and RTP orders. Everything it
//! touches is its own, so it needs no locks; parsing happens before, in the transport tasks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, info_span, warn};
use vaxel_media::{Codec, Prompt, RtpSender, tones};
use vaxel_plan::{Action, Event, Plan, Walk, WalkContext};
use vaxel_sdp::{SessionDescription, negotiate};
use vaxel_sip::{Method, Request, Response, SipMessage, UasPolicy, Via, check_request};
use vaxel_txn::{
    ClientTxn, Core, Dialog, Output, Peer, ServerTxn, TimerConfig, TuEvent, new_branch, new_tag,
};

use crate::call::{Call, Media, Phase};
use crate::clock::Clock;
use crate::db::{CallRecord, CdrWriter};
use crate::metrics::Metrics;
use crate::overrides::OverrideStore;
use crate::ports::PortPool;
use crate::registry::{Registry, Verdict as RegisterVerdict};
use crate::rtp_in::{self, DtmfMode};
use crate::scheduler::{Command, MediaEvent, Scheduler};
use crate::transport::{Inbound, Transports};

/// Methods we answer; the rest get 501 (unknown) or 405 (known, e.g. REGISTER for now).
const ALLOW: &[Method] = &[
    Method::Invite,
    Method::Ack,
    Method::Bye,
    Method::Cancel,
    Method::Options,
    Method::Info,
    Method::Register,
];
/// Body types we read: SDP in INVITEs, DTMF in INFOs (an INVITE must still carry SDP).
const ACCEPT: &[&str] = &[
    "application/sdp",
    "application/dtmf-relay",
    "application/dtmf",
];
/// How long an answered busy route plays the busy tone before the BYE.
const BUSY_TONE: Duration = Duration::from_secs(3);
/// Codecs we answer with, in our order of preference when the offer allows both.
const CODECS: &[Codec] = &[Codec::Pcmu, Codec::Pcma];

/// Why a call ended, for the record and the log.
#[derive(Debug, Clone, Copy)]
enum EndReason {
    Plan,
    CallerBye,
    Cancel,
    NoAck,
    Shutdown,
    Failed,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            EndReason::Plan => "plan",
            EndReason::CallerBye => "caller-bye",
            EndReason::Cancel => "cancel",
            EndReason::NoAck => "no-ack",
            EndReason::Shutdown => "shutdown",
            EndReason::Failed => "failed",
        }
    }
}

/// What the engine hands the switch: the threads, sockets and stores it talks to.
pub struct Parts {
    /// RTP scheduler threads.
    pub scheduler: Scheduler,
    /// SIP sockets.
    pub transports: Arc<Transports>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Call-record writer.
    pub cdr: CdrWriter,
    /// Wall clock.
    pub clock: Clock,
    /// Where RTP readers report digits.
    pub media_events: UnboundedSender<MediaEvent>,
    /// Schedule overrides.
    pub overrides: Arc<OverrideStore>,
    /// Registrar and digest authentication.
    pub registry: Registry,
}

/// State of the switch task.
pub struct Switch {
    core: Core,
    plan: Arc<Plan<Prompt>>,
    calls: HashMap<u64, Call>,
    by_txn: HashMap<ServerTxn, u64>,
    by_dialog: HashMap<(String, String), u64>,
    byes: HashMap<ClientTxn, u64>,
    ports: PortPool,
    media_ip: IpAddr,
    scheduler: Scheduler,
    transports: Arc<Transports>,
    metrics: Arc<Metrics>,
    cdr: CdrWriter,
    clock: Clock,
    policy: UasPolicy,
    busy_tone: Prompt,
    media_events: UnboundedSender<MediaEvent>,
    overrides: Arc<OverrideStore>,
    registry: Registry,
    /// When lapsed registrations are next swept out.
    next_binding_sweep: Instant,
    tz: jiff::tz::TimeZone,
    /// Walker timers of all calls: (deadline, call, generation), earliest first.
    call_timers: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    next_call: u64,
    shutting_down: bool,
}

impl Switch {
    /// A switch serving `plan` with the engine's shared parts.
    pub fn new(plan: Arc<Plan<Prompt>>, parts: Parts) -> Switch {
        let Parts {
            scheduler,
            transports,
            metrics,
            cdr,
            clock,
            media_events,
            overrides,
            registry,
        } = parts;
        let (low, high) = plan.server.rtp_ports;
        let ports = PortPool::new(low, high);
        metrics
            .rtp_ports_free
            .store(ports.available() as i64, Ordering::Relaxed);
        let tz = time_zone(&plan.server.timezone);
        let mut core = Core::new(TimerConfig::default());
        core.set_force_rport(true);
        Switch {
            core,
            media_ip: plan.server.media_address,
            plan,
            calls: HashMap::new(),
            by_txn: HashMap::new(),
            by_dialog: HashMap::new(),
            byes: HashMap::new(),
            ports,
            scheduler,
            transports,
            metrics,
            cdr,
            clock,
            policy: UasPolicy {
                allow: ALLOW.to_vec(),
                supported: Vec::new(),
                accept: ACCEPT.iter().map(|s| s.to_string()).collect(),
                schemes: vec!["sip".to_string(), "sips".to_string()],
            },
            busy_tone: tones::busy(BUSY_TONE),
            media_events,
            overrides,
            registry,
            next_binding_sweep: Instant::now(),
            tz,
            call_timers: BinaryHeap::new(),
            next_call: 1,
            shutting_down: false,
        }
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Whether BYEs we sent still wait for their answer.
    pub fn has_pending_byes(&self) -> bool {
        !self.byes.is_empty()
    }

    /// When the transaction layer next needs [`Switch::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        let call = self.call_timers.peek().map(|Reverse((at, _, _))| *at);
        match (self.core.poll_timeout(), call) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A new plan takes effect for new calls; calls in progress keep theirs.
    pub fn reload(&mut self, plan: Arc<Plan<Prompt>>) {
        if plan.server != self.plan.server {
            warn!("[server] settings changed: they take effect at the next restart");
        }
        self.tz = time_zone(&plan.server.timezone);
        self.plan = plan;
    }

    /// Moves a call through its plan: schedules are decided at the switchboard's wall time,
    /// with the one-day overrides in force.
    fn walk(&mut self, now: Instant, id: u64, event: Event) -> Vec<Action> {
        let Some(call) = self.calls.get_mut(&id) else {
            return Vec::new();
        };
        let store = &self.overrides;
        let lookup = |schedule: &str| store.for_schedule(schedule);
        let ctx = WalkContext {
            at: self.clock.at(now),
            tz: &self.tz,
            overrides: &lookup,
        };
        let plan = call.plan.clone();
        let actions = call.walk.handle_at(&plan, event, &ctx);
        for (node, verdict) in call.walk.decisions().iter().skip(call.decisions_logged) {
            call.span.in_scope(
                || info!(schedule = %plan.node_name(*node), %verdict, "schedule decided"),
            );
        }
        call.decisions_logged = call.walk.decisions().len();
        actions
    }

    /// A message from a transport.
    pub fn handle_inbound(&mut self, now: Instant, inbound: Inbound) {
        self.core.handle_message(now, inbound.msg, inbound.peer);
        self.drain(now);
    }

    /// Transaction timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.drain(now);
        while let Some(Reverse((at, id, generation))) = self.call_timers.peek().copied() {
            if at > now {
                break;
            }
            self.call_timers.pop();
            // A timer re-armed or cancelled since is stale: its generation moved on.
            if self
                .calls
                .get(&id)
                .is_some_and(|c| c.timer_generation == generation)
            {
                let actions = self.walk(now, id, Event::Timer);
                self.apply(now, id, actions);
            }
        }
        self.drain(now);
    }

    /// Arms the call's one walker timer, replacing any pending one.
    fn set_call_timer(&mut self, now: Instant, id: u64, after: Duration) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.timer_generation += 1;
            self.call_timers
                .push(Reverse((now + after, id, c.timer_generation)));
        }
    }

    /// Cancels the call's walker timer.
    fn cancel_call_timer(&mut self, id: u64) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.timer_generation += 1;
        }
    }

    /// Drops the call's queued audio (barge-in); reports about it are ignored from now on.
    fn stop_playback(&mut self, id: u64) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.play_generation += 1;
            self.scheduler.send(Command::Clear {
                id,
                generation: c.play_generation,
            });
        }
    }

    /// An event of the RTP scheduler.
    pub fn handle_media(&mut self, now: Instant, event: MediaEvent) {
        match event {
            MediaEvent::Digit(id, digit) => self.on_digit(now, id, digit),
            MediaEvent::PlaybackDone(id, generation) => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                if generation != call.play_generation {
                    // The end of audio that a barge-in already dropped.
                } else if call.hangup_after_playback {
                    self.hang_up(now, id, EndReason::Plan);
                } else {
                    let actions = self.walk(now, id, Event::PlaybackDone);
                    self.apply(now, id, actions);
                }
            }
        }
        self.drain(now);
    }

    /// A key the caller pressed, from RTP or SIP INFO.
    fn on_digit(&mut self, now: Instant, id: u64, digit: char) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        call.span.in_scope(|| info!(%digit, "DTMF"));
        let actions = self.walk(now, id, Event::Digit(digit));
        self.apply(now, id, actions);
    }

    /// Stop taking calls and end the ones in progress (SIGTERM).
    pub fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        let ids: Vec<u64> = self.calls.keys().copied().collect();
        info!(calls = ids.len(), "shutting down: ending calls in progress");
        for id in ids {
            self.hang_up(now, id, EndReason::Shutdown);
        }
        self.drain(now);
    }

    fn drain(&mut self, now: Instant) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Send { peer, bytes } => self.transports.send(peer, bytes),
                Output::Event(ev) => self.handle_event(now, ev),
            }
        }
        self.metrics
            .transactions
            .store(self.core.len() as i64, Ordering::Relaxed);
    }

    fn handle_event(&mut self, now: Instant, ev: TuEvent) {
        match ev {
            TuEvent::Request { txn, request, peer } => self.on_request(now, txn, request, peer),
            TuEvent::Ack { txn: Some(txn), .. } => {
                if let Some(id) = self.by_txn.get(&txn) {
                    debug!(call = id, "ACK: call confirmed");
                }
            }
            TuEvent::Ack { txn: None, .. } => {}
            TuEvent::Cancelled { txn } => {
                if let Some(&id) = self.by_txn.get(&txn) {
                    self.respond(now, id, 487, None);
                    self.end(id, EndReason::Cancel, Some(487));
                }
            }
            TuEvent::AckTimeout { txn, was_2xx: true } => {
                if let Some(&id) = self.by_txn.get(&txn) {
                    warn!(call = id, "no ACK for our 200 OK: hanging up");
                    self.hang_up(now, id, EndReason::NoAck);
                }
            }
            TuEvent::AckTimeout { .. } => {}
            TuEvent::Response { txn, response } => {
                if let Some(id) = self.byes.remove(&txn) {
                    debug!(call = id, status = response.status, "BYE answered");
                }
            }
            TuEvent::Timeout { txn } => {
                if let Some(id) = self.byes.remove(&txn) {
                    debug!(call = id, "BYE timed out");
                }
            }
        }
    }

    fn reply(&mut self, now: Instant, txn: ServerTxn, req: &Request, status: u16) {
        let mut resp = Response::for_request(req, status);
        if status >= 200 {
            add_to_tag(&mut resp, &new_tag(fastrand::u64(..)));
        }
        resp.headers.push("Server", SERVER);
        let _ = self.core.respond(now, txn, resp);
    }

    /// Answers an INVITE that never became a call (unknown number, unusable offer) and
    /// still writes its call record.
    fn reject_attempt(
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

    fn on_request(&mut self, now: Instant, txn: ServerTxn, req: Request, peer: Peer) {
        if let Err(resp) = check_request(&req, &self.policy) {
            let _ = self.core.respond(now, txn, resp);
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
                resp.headers.push("Supported", "");
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

    fn on_register(&mut self, now: Instant, txn: ServerTxn, req: &Request, peer: Peer) {
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

    fn find_dialog(&self, req: &Request) -> Option<u64> {
        let call_id = req.call_id().ok()?;
        let tag = req.to().ok()?.tag()?.to_string();
        self.by_dialog.get(&(call_id.to_string(), tag)).copied()
    }

    fn on_bye(&mut self, now: Instant, txn: ServerTxn, req: Request) {
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
        self.end(id, EndReason::CallerBye, None);
    }

    fn on_invite(&mut self, now: Instant, txn: ServerTxn, req: Request, peer: Peer) {
        let has_to_tag = req.to().ok().is_some_and(|t| t.tag().is_some());
        if has_to_tag {
            self.on_reinvite(now, txn, req);
            return;
        }
        if self.shutting_down {
            self.reply(now, txn, &req, 503);
            return;
        }
        let plan = self.plan.clone();
        if !plan
            .trunks
            .iter()
            .any(|t| t.allow.iter().any(|c| c.contains(peer.addr.ip())))
        {
            info!(source = %peer.addr, "INVITE from outside every trunk's allow list: 403");
            self.reply(now, txn, &req, 403);
            return;
        }
        let callee = req.uri.user_unescaped().unwrap_or_default();
        let Some(route) = plan.route_number(&callee) else {
            info!(number = %callee, "unknown number: 404");
            self.reject_attempt(now, txn, &req, peer, 404, None);
            return;
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
                self.reject_attempt(now, txn, &req, peer, 400, Some(&plan.node_name(route.node)));
                return;
            };
            match negotiate(&offer, CODECS) {
                Ok(n) => Some(n),
                Err(e) => {
                    debug!(error = %e, "offer not acceptable: 488");
                    self.reject_attempt(
                        now,
                        txn,
                        &req,
                        peer,
                        488,
                        Some(&plan.node_name(route.node)),
                    );
                    return;
                }
            }
        };
        let id = self.next_call;
        self.next_call += 1;
        let call_id = req.call_id().unwrap_or_default().to_string();
        let span = info_span!("call", call_id = %call_id, did = %callee);
        let start = route.node;
        let call = Call {
            span,
            plan: plan.clone(),
            walk: Walk::new(start),
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
            route: plan.node_name(start),
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
    fn on_reinvite(&mut self, now: Instant, txn: ServerTxn, req: Request) {
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
        let mut resp = Response::for_request(&req, 200);
        if let Some(m) = &call.media {
            resp.headers.push("Content-Type", "application/sdp");
            resp.body = m.answer.clone().into_bytes();
        }
        let peer = call.peer;
        resp.headers.push("Contact", self.contact(&peer));
        resp.headers.push("Server", SERVER);
        let _ = self.core.respond(now, txn, resp);
    }

    fn apply(&mut self, now: Instant, id: u64, actions: Vec<Action>) {
        for action in actions {
            if !self.calls.contains_key(&id) {
                return;
            }
            match action {
                Action::Reject(status) => {
                    self.respond(now, id, status, None);
                    self.end(id, EndReason::Plan, Some(status));
                }
                Action::EarlyMedia => {
                    if !self.start_media(now, id) {
                        return;
                    }
                    let sdp = self
                        .calls
                        .get(&id)
                        .and_then(|c| c.media.as_ref().map(|m| m.answer.clone()));
                    self.respond(now, id, 183, sdp);
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.early_media = true;
                    }
                }
                Action::Answer => {
                    if !self.start_media(now, id) {
                        return;
                    }
                    self.answer(now, id);
                }
                Action::Play { sound, times } => {
                    if let Some(c) = self.calls.get(&id) {
                        let prompt = c.plan.sound(sound).clone();
                        self.scheduler.send(Command::Play { id, prompt, times });
                    }
                }
                Action::BusyTone => {
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.hangup_after_playback = true;
                        self.scheduler.send(Command::Play {
                            id,
                            prompt: self.busy_tone.clone(),
                            times: 1,
                        });
                    }
                }
                Action::Hangup => self.hang_up(now, id, EndReason::Plan),
                Action::StopPlayback => self.stop_playback(id),
                Action::SetTimer(after) => self.set_call_timer(now, id, after),
                Action::CancelTimer => self.cancel_call_timer(id),
                Action::Unsupported { what, .. } => {
                    if let Some(c) = self.calls.get(&id) {
                        c.span.in_scope(|| {
                            warn!(
                                destination = what,
                                "destination not available in this version"
                            )
                        });
                    }
                    self.hang_up(now, id, EndReason::Plan);
                }
            }
        }
    }

    /// Our Contact for a call that came in over `peer`'s transport.
    fn contact(&self, peer: &Peer) -> String {
        match self.transports.local_for(peer) {
            Some(l) => {
                let t = if peer.transport.is_reliable() {
                    ";transport=tcp"
                } else {
                    ""
                };
                format!("<sip:vaxel@{}{t}>", l.addr)
            }
            None => format!("<sip:vaxel@{}>", self.media_ip),
        }
    }

    /// Sends a response on the call's INVITE transaction, with our tag (and SDP if given).
    fn respond(&mut self, now: Instant, id: u64, status: u16, sdp: Option<String>) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let mut resp = Response::for_request(&call.invite, status);
        add_to_tag(&mut resp, &call.local_tag);
        if (101..300).contains(&status) {
            resp.headers.push("Contact", self.contact(&call.peer));
        }
        if status == 200 {
            resp.headers.push("Allow", allow_list());
        }
        resp.headers.push("Server", SERVER);
        if let Some(sdp) = sdp {
            resp.headers.push("Content-Type", "application/sdp");
            resp.body = sdp.into_bytes();
        }
        let txn = call.txn;
        if let Err(e) = self.core.respond(now, txn, resp) {
            debug!(call = id, error = %e, "response not sent");
        }
        if status >= 300 {
            self.metrics.calls_rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Allocates the RTP port and starts the stream; false (after answering with an error
    /// and ending the call) when that is impossible.
    fn start_media(&mut self, now: Instant, id: u64) -> bool {
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        if call.media.is_some() {
            return true;
        }
        let Some(neg) = call.negotiated.clone() else {
            // Late offer (no SDP in the INVITE) is not supported yet.
            call.span
                .in_scope(|| info!("INVITE without SDP offer needs media: 488"));
            self.respond(now, id, 488, None);
            self.end(id, EndReason::Failed, Some(488));
            return false;
        };
        let Some((port, socket)) = self.ports.bind(self.media_ip) else {
            call.span
                .in_scope(|| warn!("RTP port range exhausted: 503"));
            self.respond(now, id, 503, None);
            self.end(id, EndReason::Failed, Some(503));
            return false;
        };
        self.metrics
            .rtp_ports_free
            .store(self.ports.available() as i64, Ordering::Relaxed);
        let _ = socket.set_nonblocking(true);
        let socket = Arc::new(socket);
        let mode = DtmfMode {
            telephone_event: neg.telephone_event,
            codec: neg.codec,
            audio_pt: neg.payload_type,
        };
        let reader = rtp_in::spawn(
            id,
            socket.clone(),
            mode,
            self.media_events.clone(),
            self.metrics.clone(),
        );
        let answer = vaxel_sdp::answer(&neg, self.media_ip, port, id, 1);
        let rtp = RtpSender::new(
            fastrand::u32(..),
            fastrand::u16(..),
            fastrand::u32(..),
            neg.payload_type,
        );
        self.scheduler.send(Command::Start {
            id,
            socket,
            remote: neg.remote,
            codec: neg.codec,
            rtp,
        });
        if let Some(c) = self.calls.get_mut(&id) {
            c.media = Some(Media {
                port,
                reader,
                answer,
            });
        }
        true
    }

    fn answer(&mut self, now: Instant, id: u64) {
        let sdp = self
            .calls
            .get(&id)
            .and_then(|c| c.media.as_ref().map(|m| m.answer.clone()));
        self.respond(now, id, 200, sdp);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.phase = Phase::Answered;
        call.answered = Some(now);
        match Dialog::new_uas(
            &call.invite,
            &call.local_tag,
            dialog_peer(&call.invite, call.peer),
            1,
        ) {
            Ok(d) => {
                self.by_dialog
                    .insert((d.call_id.clone(), d.local_tag.clone()), id);
                call.dialog = Some(d);
            }
            Err(e) => call
                .span
                .in_scope(|| warn!(error = %e, "answered call without a dialog")),
        }
        self.metrics.calls_answered.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the call from our side: BYE if answered, else a final 480 (503 at shutdown).
    fn hang_up(&mut self, now: Instant, id: u64, reason: EndReason) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match call.phase {
            Phase::Answered => {
                let local = self.transports.local_for(&call.peer);
                if let (Some(dialog), Some(local)) = (call.dialog.as_mut(), local) {
                    let via = format!(
                        "SIP/2.0/{} {};branch={};rport",
                        local.transport.via_token(),
                        local.addr,
                        new_branch(fastrand::u64(..))
                    );
                    match Via::parse(&via) {
                        Ok(via) => {
                            let mut bye = dialog.request(Method::Bye, via);
                            bye.headers.push("User-Agent", SERVER);
                            let peer = dialog.peer;
                            if let Ok(t) = self.core.send_request(now, &bye, peer) {
                                self.byes.insert(t, id);
                            }
                        }
                        Err(e) => debug!(error = %e, "bad Via for BYE"),
                    }
                }
                self.end(id, reason, None);
            }
            Phase::Early => {
                let status = if matches!(reason, EndReason::Shutdown) {
                    503
                } else {
                    480
                };
                self.respond(now, id, status, None);
                self.end(id, reason, Some(status));
            }
        }
    }

    /// Forgets the call: media stopped, port back in the pool, record written.
    fn end(&mut self, id: u64, reason: EndReason, status: Option<u16>) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        self.by_txn.remove(&call.txn);
        if let Some(d) = &call.dialog {
            self.by_dialog
                .remove(&(d.call_id.clone(), d.local_tag.clone()));
        }
        if let Some(m) = &call.media {
            self.scheduler.send(Command::Stop { id });
            m.reader.abort();
            self.ports.release(m.port);
            self.metrics
                .rtp_ports_free
                .store(self.ports.available() as i64, Ordering::Relaxed);
        }
        self.metrics.calls_active.fetch_sub(1, Ordering::Relaxed);
        let outcome = match (call.phase, status) {
            (Phase::Answered, _) => "answered",
            (_, Some(487)) => "cancelled",
            (_, _) if call.early_media => "early-media",
            _ => "rejected",
        };
        call.span
            .in_scope(|| info!(outcome, reason = reason.as_str(), status, "call ended"));
        let ts = |i: Instant| self.clock.at(i).to_string();
        self.cdr.record(CallRecord {
            call_id: call.invite.call_id().unwrap_or_default().to_string(),
            source: source_of(&call.peer),
            caller: call.invite.from().ok().map(|f| f.uri.to_string()),
            callee: call.callee.clone(),
            route: Some(call.route.clone()),
            started_at: ts(call.started),
            answered_at: call.answered.map(ts),
            ended_at: ts(Instant::now()),
            outcome,
            status: status.or(call.answered.map(|_| 200)),
            end_reason: reason.as_str().to_string(),
        });
    }

    /// Writes pending call records and stops the writer.
    pub fn finish(self) {
        self.cdr.finish();
    }
}

const SERVER: &str = concat!("vaxel/", env!("CARGO_PKG_VERSION"));

/// The switchboard's time zone; the config check has already rejected unknown names.
fn time_zone(name: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC)
}

fn source_of(peer: &Peer) -> String {
    format!(
        "{}:{}",
        peer.transport.via_token().to_ascii_lowercase(),
        peer.addr
    )
}

fn allow_list() -> String {
    ALLOW
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn add_to_tag(resp: &mut Response, tag: &str) {
    if let Ok(mut to) = resp.to() {
        if to.tag().is_none() {
            to.set_tag(tag);
            resp.headers.set("To", to.to_string());
        }
    }
}

/// Where our in-dialog requests go: the same connection for TCP; for UDP the Contact's
/// address when it is an IP literal, else where the INVITE came from.
fn dialog_peer(invite: &Request, from: Peer) -> Peer {
    if from.transport.is_reliable() {
        return from;
    }
    let target = invite.contacts().ok().and_then(|c| c.into_iter().next());
    if let Some(c) = target {
        let host = c.uri.host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            let port = c.uri.port.unwrap_or(5060);
            return Peer {
                addr: std::net::SocketAddr::new(ip, port),
                ..from
            };
        }
    }
    from
}
