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
use crate::relay::Relay;
use crate::rtp_in::{self, DtmfMode};
use crate::scheduler::{Command, MediaEvent, Scheduler};
use crate::transport::{Inbound, Transports};

mod bridge;
mod bridge_end;
mod bridge_media;
mod call_flow;
mod requests;

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
/// How often registered phones are sent an OPTIONS to see that they are still there.
const QUALIFY_EVERY: Duration = Duration::from_secs(30);
/// How long an answered busy route plays the busy tone before the BYE.
const BUSY_TONE: Duration = Duration::from_secs(3);
/// Codecs we answer with, in our order of preference when the offer allows both.
const CODECS: &[Codec] = &[Codec::Pcmu, Codec::Pcma];

/// Why a call ended, for the record and the log.
#[derive(Debug, Clone, Copy)]
enum EndReason {
    Plan,
    CallerBye,
    CalleeBye,
    Cancel,
    NoAck,
    SessionExpired,
    /// A bridged leg sent no RTP for `[server] rtp_timeout`.
    RtpTimeout,
    Shutdown,
    Failed,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            EndReason::Plan => "plan",
            EndReason::CallerBye => "caller-bye",
            EndReason::CalleeBye => "callee-bye",
            EndReason::Cancel => "cancel",
            EndReason::NoAck => "no-ack",
            EndReason::SessionExpired => "session-expired",
            EndReason::RtpTimeout => "rtp-timeout",
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
    /// The media relay of bridged calls.
    pub relay: Relay,
}

/// State of the switch task.
pub struct Switch {
    core: Core,
    plan: Arc<Plan<Prompt>>,
    calls: HashMap<u64, Call>,
    by_txn: HashMap<ServerTxn, u64>,
    by_dialog: HashMap<(String, String), u64>,
    byes: HashMap<ClientTxn, u64>,
    /// INVITEs we sent to ring someone: (call, leg).
    leg_txns: HashMap<ClientTxn, (u64, usize)>,
    /// Dialogs of answered (or early) legs by (Call-ID, our From tag): (call, leg).
    leg_dialogs: HashMap<(String, String), (u64, usize)>,
    /// INVITEs of calls that are gone, whose transactions may still bring a 2xx to ACK
    /// and BYE: the INVITE and where it went.
    orphans: HashMap<ClientTxn, Box<(Request, Peer)>>,
    /// Bridge deadlines (ring timeout, session timers): (deadline, call).
    bridge_timers: BinaryHeap<Reverse<(Instant, u64)>>,
    relay: Relay,
    ringback_tone: Prompt,
    /// Digest nonce counts towards trunks that challenge our INVITEs.
    nonce_counts: crate::trunk::NonceCounts,
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
    /// When registered phones are next qualified with OPTIONS.
    next_qualify: Instant,
    /// OPTIONS qualify transactions in flight: (user, contact).
    qualifies: HashMap<ClientTxn, (String, String)>,
    tz: jiff::tz::TimeZone,
    /// Walker timers of all calls: (deadline, call, generation), earliest first.
    call_timers: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    next_call: u64,
    shutting_down: bool,
    /// Registrations of the trunks with `register = true`.
    trunks: crate::trunk::TrunkRegistrations,
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
            relay,
        } = parts;
        let (low, high) = plan.server.rtp_ports;
        let ports = PortPool::new(low, high);
        metrics
            .rtp_ports_free
            .store(ports.available() as i64, Ordering::Relaxed);
        let tz = time_zone(&plan.server.timezone);
        // Room for ~10k calls/s of busy route or ~700 calls/s through the B2BUA before the
        // tables grow (each growth stalls the switch; the memory is a few MB).
        let mut core = Core::with_capacity(TimerConfig::default(), 1 << 15);
        core.set_force_rport(true);
        let trunks =
            crate::trunk::TrunkRegistrations::new(Instant::now(), &plan.trunks, &transports);
        if let Some(after) = plan.server.rtp_timeout {
            let events = media_events.clone();
            relay.watch_silence(
                Some(after),
                Arc::new(move |crate::relay::RelayEvent::Silent { id, which }| {
                    let _ = events.send(MediaEvent::Silent(id, which));
                }),
            );
        }
        Switch {
            core,
            media_ip: plan.server.media_address,
            plan,
            calls: HashMap::new(),
            by_txn: HashMap::new(),
            by_dialog: HashMap::new(),
            byes: HashMap::new(),
            leg_txns: HashMap::new(),
            leg_dialogs: HashMap::new(),
            orphans: HashMap::new(),
            bridge_timers: BinaryHeap::new(),
            relay,
            ringback_tone: tones::ringback(Duration::from_secs(6)),
            nonce_counts: Default::default(),
            ports,
            scheduler,
            transports,
            metrics,
            cdr,
            clock,
            policy: UasPolicy {
                allow: ALLOW.to_vec(),
                // RFC 4028 session timers, on bridged calls.
                supported: vec!["timer".to_string()],
                accept: ACCEPT.iter().map(|s| s.to_string()).collect(),
                schemes: vec!["sip".to_string(), "sips".to_string()],
            },
            busy_tone: tones::busy(BUSY_TONE),
            media_events,
            overrides,
            registry,
            next_binding_sweep: Instant::now(),
            next_qualify: Instant::now() + QUALIFY_EVERY,
            qualifies: HashMap::new(),
            tz,
            call_timers: BinaryHeap::new(),
            next_call: 1,
            shutting_down: false,
            trunks,
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
        let bridge = self.bridge_timers.peek().map(|Reverse((at, _))| *at);
        [
            self.core.poll_timeout(),
            call,
            bridge,
            Some(self.next_qualify),
            self.trunks.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A new plan takes effect for new calls; calls in progress keep theirs.
    pub fn reload(&mut self, plan: Arc<Plan<Prompt>>) {
        if plan.server != self.plan.server {
            warn!("[server] settings changed: they take effect at the next restart");
        }
        self.tz = time_zone(&plan.server.timezone);
        self.trunks
            .reload(Instant::now(), &plan.trunks, &self.transports);
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
        self.ensure_reader(id);
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
        self.trunks
            .on_timeout(now, &mut self.core, &self.transports);
        if now >= self.next_qualify {
            self.next_qualify = now + QUALIFY_EVERY;
            self.qualify(now);
            self.sweep_orphans();
        }
        self.bridge_timeouts(now);
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
            MediaEvent::Silent(id, which) => self.on_silent(now, id, which),
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

    /// Publishes how many phones are registered and how many of them are silent.
    fn update_registration_gauges(&self, now: Instant) {
        let unix = self.clock.at(now).as_second().max(0) as u64;
        let (live, unreachable) = self.registry.counts(unix);
        self.metrics
            .registrations
            .store(live as i64, Ordering::Relaxed);
        self.metrics
            .registrations_unreachable
            .store(unreachable as i64, Ordering::Relaxed);
    }

    /// Sends an OPTIONS to every registered UDP phone; the answers (or Timer F) mark them
    /// reachable or not.
    fn qualify(&mut self, now: Instant) {
        let unix = self.clock.at(now).as_second().max(0) as u64;
        let targets = self.registry.qualify_targets(unix);
        for t in targets {
            let peer = Peer::udp(t.source);
            let (Some(local), Ok(uri)) = (
                self.transports.local_for(&peer),
                vaxel_sip::Uri::parse(&t.contact),
            ) else {
                continue;
            };
            let mut req = Request::new(Method::Options, uri);
            let via = format!(
                "SIP/2.0/UDP {};branch={};rport",
                local.addr,
                new_branch(fastrand::u64(..))
            );
            req.headers.push("Via", via);
            req.headers.push("Max-Forwards", "70");
            req.headers.push(
                "From",
                format!(
                    "<sip:vaxel@{}>;tag={}",
                    local.addr,
                    new_tag(fastrand::u64(..))
                ),
            );
            req.headers.push("To", format!("<{}>", t.contact));
            req.headers
                .push("Call-ID", format!("{:016x}@vaxel", fastrand::u64(..)));
            req.headers.push("CSeq", "1 OPTIONS");
            req.headers.push("User-Agent", SERVER);
            if let Ok(txn) = self.core.send_request(now, &req, peer) {
                self.qualifies.insert(txn, (t.user, t.contact));
            }
        }
        self.update_registration_gauges(now);
        self.drain(now);
    }

    /// Stop taking calls and end the ones in progress (SIGTERM).
    pub fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        let ids: Vec<u64> = self.calls.keys().copied().collect();
        info!(calls = ids.len(), "shutting down: ending calls in progress");
        for id in ids {
            self.hang_up(now, id, EndReason::Shutdown);
        }
        self.trunks.shutdown(now, &mut self.core, &self.transports);
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
            TuEvent::Ack {
                txn: Some(txn),
                request,
                ..
            } => {
                if let Some(&id) = self.by_txn.get(&txn) {
                    debug!(call = id, "ACK: call confirmed");
                    self.on_caller_ack(now, id, &request);
                    self.feed_bridge(now, id, vaxel_b2bua::Event::CallerAck);
                }
            }
            TuEvent::Ack { txn: None, .. } => {}
            TuEvent::Cancelled { txn } => {
                if let Some(&id) = self.by_txn.get(&txn) {
                    // A bridge cancels its legs (and may answer 487 itself).
                    self.feed_bridge(now, id, vaxel_b2bua::Event::CallerCancel);
                    self.respond(now, id, 487, None);
                    self.end(id, EndReason::Cancel, Some(487));
                }
            }
            TuEvent::AckTimeout { txn, was_2xx: true } => {
                if let Some(&id) = self.by_txn.get(&txn) {
                    warn!(call = id, "no ACK for our 200 OK: hanging up");
                    if self.is_ringing_out(id) {
                        self.feed_bridge(now, id, vaxel_b2bua::Event::CallerAckTimeout);
                    }
                    self.hang_up(now, id, EndReason::NoAck);
                }
            }
            TuEvent::AckTimeout { .. } => {}
            TuEvent::Response { txn, response } if self.trunks.owns(txn) => {
                self.trunks
                    .on_response(now, txn, &response, &mut self.core, &self.transports);
            }
            TuEvent::Timeout { txn } if self.trunks.owns(txn) => {
                self.trunks.on_txn_timeout(now, txn);
            }
            TuEvent::Response { txn, .. } if self.qualifies.contains_key(&txn) => {
                // Any answer, even an error, shows the phone is there.
                if let Some((user, contact)) = self.qualifies.remove(&txn) {
                    self.registry.set_reachable(&user, &contact, true);
                    self.update_registration_gauges(now);
                }
            }
            TuEvent::Timeout { txn } if self.qualifies.contains_key(&txn) => {
                if let Some((user, contact)) = self.qualifies.remove(&txn) {
                    self.registry.set_reachable(&user, &contact, false);
                    self.update_registration_gauges(now);
                }
            }
            TuEvent::Response { txn, response } if self.leg_txns.contains_key(&txn) => {
                if let Some(&(id, leg)) = self.leg_txns.get(&txn) {
                    self.on_leg_response(now, id, leg, response);
                }
            }
            TuEvent::Timeout { txn } if self.leg_txns.contains_key(&txn) => {
                if let Some(&(id, leg)) = self.leg_txns.get(&txn) {
                    self.feed_bridge(now, id, vaxel_b2bua::Event::LegTimeout { leg });
                }
            }
            TuEvent::Response { txn, response } if self.orphans.contains_key(&txn) => {
                self.orphan_response(now, txn, &response);
            }
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

    /// Whether the call has outgoing legs (ringing someone, or bridged).
    fn is_ringing_out(&self, id: u64) -> bool {
        self.calls.get(&id).is_some_and(|c| c.outgoing.is_some())
    }

    /// Writes pending call records and bindings, stops their writers and the relay.
    pub fn finish(self) {
        self.relay.shutdown();
        self.cdr.finish();
        self.registry.finish();
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
    if let Ok(mut to) = resp.to().cloned() {
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
