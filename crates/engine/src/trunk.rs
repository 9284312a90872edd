//! The engine's side of trunks at an operator: keeping the `[[trunk]]`s with `register = true`
//! registered, and signing outbound INVITEs that a trunk challenges.
//!
//! The protocol lives in `vaxel_registrar::client` (sans-IO); this file gives it a
//! destination (IP literal, or a name looked up on a helper thread so the switch never blocks),
//! a Via and a Contact from our sockets, and the switch's transaction table. The switch calls
//! a handful of hooks: [`TrunkRegistrations::poll_timeout`] /
//! [`TrunkRegistrations::on_timeout`] with its timer, [`TrunkRegistrations::on_response`] /
//! [`TrunkRegistrations::on_txn_timeout`] for the transactions it owns, and
//! [`TrunkRegistrations::reload`] with a new plan. State changes are logged once each:
//! registered, failed (with the reason, not again while the reason stays the same), cannot
//! register (a config the engine cannot serve, such as `transport=tcp`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};
use vaxel_plan::Trunk;
use vaxel_registrar::DigestCredentials;
use vaxel_registrar::client::{
    self, Registration, RegistrationConfig, RegistrationState, escape_user,
};
use vaxel_sip::{Request, Response, SipMessage, Uri};
use vaxel_txn::{ClientTxn, Core, Peer, Transport, new_branch};

use crate::transport::{Local, Transports};

pub use vaxel_registrar::client::NonceCounts;

/// How often a pending name lookup is looked at; lookups normally take milliseconds.
const LOOKUP_POLL: Duration = Duration::from_millis(50);
/// Sent as `User-Agent` in REGISTERs.
const USER_AGENT: &str = concat!("vaxel/", env!("CARGO_PKG_VERSION"));

/// Our address for a peer, as the transports know it; a function so tests need no sockets.
type LocalFor<'a> = &'a dyn Fn(&Peer) -> Option<Local>;

/// What a registration depends on: a change means a new registration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    uri: String,
    username: String,
    password: String,
}

impl Spec {
    /// The registration a trunk asks for, if it asks for one and has what it takes (the plan
    /// check refuses `register = true` without uri, username and password).
    fn of(trunk: &Trunk) -> Option<Spec> {
        if trunk.register != Some(true) {
            return None;
        }
        Some(Spec {
            uri: trunk.uri.clone()?,
            username: trunk.username.clone()?,
            password: trunk.password.clone()?,
        })
    }
}

/// Where REGISTERs go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    /// `transport=tcp`: REGISTERs go over a TCP connection we open (and keep).
    tcp: bool,
}

impl Target {
    /// The registrar's host and port, or why the engine cannot reach it.
    fn of(uri: &str) -> Result<Target, String> {
        let u = Uri::parse(uri).map_err(|e| format!("`{uri}` is not a SIP URI: {e}"))?;
        match u.scheme.as_str() {
            "sip" => {}
            "sips" => return Err("sips: (TLS) is not supported yet".into()),
            other => return Err(format!("`{other}:` is not a SIP URI")),
        }
        let tcp = match u.param("transport").flatten() {
            None => false,
            Some(t) if t.eq_ignore_ascii_case("udp") => false,
            Some(t) if t.eq_ignore_ascii_case("tcp") => true,
            Some(t) => return Err(format!("transport={t} is not supported")),
        };
        Ok(Target {
            host: u
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: u.port.unwrap_or(5060),
            tcp,
        })
    }

    /// The registrar at `addr` on this target's transport (a TCP connection is opened by
    /// the first message sent to it).
    fn peer(&self, addr: SocketAddr) -> Peer {
        if self.tcp {
            Peer {
                transport: Transport::Tcp,
                addr,
                conn: None,
            }
        } else {
            Peer::udp(addr)
        }
    }
}

/// A name lookup running on its own thread; the switch polls it.
#[derive(Debug)]
struct Lookup {
    result: Arc<Mutex<Option<Result<SocketAddr, String>>>>,
    check_at: Instant,
}

impl Lookup {
    /// Looks `host:port` up on a helper thread, preferring the family of our own address.
    fn start(now: Instant, host: String, port: u16, want_v4: bool) -> Lookup {
        let result = Arc::new(Mutex::new(None));
        let slot = result.clone();
        let spawned = std::thread::Builder::new()
            .name("trunk-lookup".into())
            .spawn(move || {
                let found = match (host.as_str(), port).to_socket_addrs() {
                    Ok(addrs) => {
                        let addrs: Vec<SocketAddr> = addrs.collect();
                        addrs
                            .iter()
                            .find(|a| a.is_ipv4() == want_v4)
                            .or(addrs.first())
                            .copied()
                            .ok_or_else(|| format!("`{host}` has no address"))
                    }
                    Err(e) => Err(format!("cannot resolve `{host}`: {e}")),
                };
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(found);
            });
        if let Err(e) = spawned {
            *result.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Err(format!("cannot start a lookup thread: {e}")));
        }
        Lookup {
            result,
            check_at: now + LOOKUP_POLL,
        }
    }

    fn take(&self) -> Option<Result<SocketAddr, String>> {
        self.result.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Where a registration stands on finding its registrar.
enum Resolve {
    Ready(Peer),
    Pending,
    Failed(String),
}

/// A trunk the engine registers.
#[derive(Debug)]
struct Active {
    reg: Registration,
    target: Target,
    want_v4: bool,
    peer: Option<Peer>,
    lookup: Option<Lookup>,
}

impl Active {
    fn resolve(&mut self, now: Instant) -> Resolve {
        if let Some(p) = self.peer {
            return Resolve::Ready(p);
        }
        if let Ok(ip) = self.target.host.parse::<IpAddr>() {
            let p = self.target.peer(SocketAddr::new(ip, self.target.port));
            self.peer = Some(p);
            return Resolve::Ready(p);
        }
        let Some(lookup) = &mut self.lookup else {
            let (host, port) = (self.target.host.clone(), self.target.port);
            self.lookup = Some(Lookup::start(now, host, port, self.want_v4));
            return Resolve::Pending;
        };
        match lookup.take() {
            None => {
                lookup.check_at = now + LOOKUP_POLL;
                Resolve::Pending
            }
            Some(result) => {
                self.lookup = None;
                match result {
                    Ok(addr) => {
                        let p = self.target.peer(addr);
                        self.peer = Some(p);
                        Resolve::Ready(p)
                    }
                    Err(why) => Resolve::Failed(why),
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let due = self.reg.poll_timeout()?;
        // While the name is looked up, come back soon rather than at the (past) due time.
        Some(match &self.lookup {
            Some(l) => due.max(l.check_at),
            None => due,
        })
    }
}

#[derive(Debug)]
enum Kind {
    /// The trunk asks for something the engine cannot do; said once in the log.
    Disabled(String),
    Active(Box<Active>),
}

#[derive(Debug)]
struct Entry {
    key: u64,
    id: String,
    spec: Spec,
    kind: Kind,
    /// The last state written to the log.
    logged: Option<String>,
    /// For a trunk being removed: when its un-REGISTER is to go out (once).
    leave_at: Option<Instant>,
}

impl Entry {
    fn new(now: Instant, key: u64, id: &str, spec: Spec, local_for: LocalFor<'_>) -> Entry {
        let kind = match Self::activate(now, &spec, local_for) {
            Ok(a) => Kind::Active(Box::new(a)),
            Err(why) => Kind::Disabled(why),
        };
        Entry {
            key,
            id: id.to_string(),
            spec,
            kind,
            logged: None,
            leave_at: None,
        }
    }

    fn activate(now: Instant, spec: &Spec, local_for: LocalFor<'_>) -> Result<Active, String> {
        let target = Target::of(&spec.uri)?;
        let any = target.peer(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
        let local = local_for(&any).ok_or(if target.tcp {
            "transport=tcp, but no tcp:// listen address to register from"
        } else {
            "no UDP listener to register from"
        })?;
        let contact = format!(
            "sip:{}@{}{}",
            escape_user(&spec.username),
            local.addr,
            if target.tcp { ";transport=tcp" } else { "" }
        );
        let mut cfg = RegistrationConfig::new(
            spec.uri.clone(),
            spec.username.clone(),
            spec.password.clone(),
            contact,
        );
        cfg.user_agent = Some(USER_AGENT.to_string());
        let reg = Registration::new(now, cfg, fastrand::u64(..)).map_err(|e| e.to_string())?;
        Ok(Active {
            reg,
            target,
            want_v4: local.addr.is_ipv4(),
            peer: None,
            lookup: None,
        })
    }

    fn active_mut(&mut self) -> Option<&mut Active> {
        match &mut self.kind {
            Kind::Active(a) => Some(a),
            Kind::Disabled(_) => None,
        }
    }

    /// The state as the status page and the log say it.
    fn describe(&self) -> String {
        match &self.kind {
            Kind::Disabled(why) => format!("disabled: {why}"),
            Kind::Active(a) => match a.reg.state() {
                RegistrationState::Unregistered => "unregistered".into(),
                RegistrationState::Registering => "registering".into(),
                RegistrationState::Registered { .. } => "registered".into(),
                RegistrationState::Failed { reason, .. } => format!("failed: {reason}"),
            },
        }
    }

    /// Logs the state if it changed since it was last logged. "registering" is a passing
    /// state and never logged at info, so a failure repeating on every retry is said once.
    fn log_change(&mut self, now: Instant) {
        let Kind::Active(a) = &self.kind else {
            if self.logged.is_none() {
                let why = self.describe();
                warn!(trunk = %self.id, registrar = %self.spec.uri, %why, "trunk cannot register");
                self.logged = Some(why);
            }
            return;
        };
        let state = a.reg.state();
        match state {
            RegistrationState::Registering => return,
            // Not yet started: nothing worth a line.
            RegistrationState::Unregistered if self.logged.is_none() => return,
            _ => {}
        }
        let now_said = self.describe();
        if self.logged.as_deref() == Some(now_said.as_str()) {
            if let RegistrationState::Registered { until } = state {
                let expires_in = until.saturating_duration_since(now).as_secs();
                debug!(trunk = %self.id, expires_in, "trunk registration refreshed");
            }
            return;
        }
        match state {
            RegistrationState::Registered { until } => info!(
                trunk = %self.id,
                registrar = %self.spec.uri,
                aor = %a.reg.aor(),
                expires_in = until.saturating_duration_since(now).as_secs(),
                "trunk registered"
            ),
            RegistrationState::Failed { retry_at, reason } => warn!(
                trunk = %self.id,
                registrar = %self.spec.uri,
                %reason,
                retry_in = retry_at.saturating_duration_since(now).as_secs(),
                "trunk registration failed"
            ),
            RegistrationState::Unregistered => {
                info!(trunk = %self.id, "trunk unregistered")
            }
            RegistrationState::Registering => {}
        }
        self.logged = Some(now_said);
    }
}

/// The registrations of every `[[trunk]]` with `register = true`, and the REGISTER
/// transactions in flight. One lives in the switch.
#[derive(Debug, Default)]
pub struct TrunkRegistrations {
    entries: Vec<Entry>,
    /// Trunks removed by a reload whose un-REGISTER is still to go out or be answered.
    leaving: Vec<Entry>,
    txns: HashMap<ClientTxn, u64>,
    next_key: u64,
}

impl TrunkRegistrations {
    /// Registrations for the plan's trunks, the first REGISTERs due at `now`.
    pub fn new(now: Instant, trunks: &[Trunk], transports: &Transports) -> TrunkRegistrations {
        let mut me = TrunkRegistrations::default();
        me.reload_with(now, trunks, &|p| transports.local_for(p));
        me
    }

    /// When [`TrunkRegistrations::on_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let registering = self.entries.iter().filter_map(|e| match &e.kind {
            Kind::Active(a) => a.poll_timeout(),
            Kind::Disabled(_) => None,
        });
        let leaving = self.leaving.iter().filter_map(|e| e.leave_at);
        registering.chain(leaving).min()
    }

    /// Sends the REGISTERs that are due (first, refresh, retry) and the un-REGISTERs of
    /// trunks a reload removed.
    pub fn on_timeout(&mut self, now: Instant, core: &mut Core, transports: &Transports) {
        self.on_timeout_with(now, core, &|p| transports.local_for(p));
    }

    /// Whether `txn` is one of our REGISTERs (for a guard in the switch's event match).
    pub fn owns(&self, txn: ClientTxn) -> bool {
        self.txns.contains_key(&txn)
    }

    /// The final answer to one of our REGISTERs; sends the retry it calls for (credentials,
    /// longer interval). Returns false, doing nothing, if `txn` is not ours.
    pub fn on_response(
        &mut self,
        now: Instant,
        txn: ClientTxn,
        response: &Response,
        core: &mut Core,
        transports: &Transports,
    ) -> bool {
        self.on_response_with(now, txn, response, core, &|p| transports.local_for(p))
    }

    /// One of our REGISTERs timed out: the attempt failed and is retried with backoff (the
    /// registrar's name is looked up again). Returns false if `txn` is not ours.
    pub fn on_txn_timeout(&mut self, now: Instant, txn: ClientTxn) -> bool {
        let Some(key) = self.txns.remove(&txn) else {
            return false;
        };
        if let Some(e) = self.entry_mut(key) {
            if let Some(a) = e.active_mut() {
                a.reg.handle_timeout_of_txn(now);
                a.peer = None;
            }
            e.log_change(now);
        }
        self.forget_finished_leavers();
        true
    }

    /// A new plan: trunks whose registrar and account are unchanged keep their registration;
    /// new or changed ones start registering at `now`; removed ones (or `register = false`)
    /// are un-registered at the next timeout.
    pub fn reload(&mut self, now: Instant, trunks: &[Trunk], transports: &Transports) {
        self.reload_with(now, trunks, &|p| transports.local_for(p));
    }

    /// Un-registers every trunk (SIGTERM), so the operator stops sending calls to us.
    pub fn shutdown(&mut self, now: Instant, core: &mut Core, transports: &Transports) {
        self.shutdown_with(now, core, &|p| transports.local_for(p));
    }

    /// `(trunk id, state)` for logs and status pages: `registered`, `registering`,
    /// `unregistered`, `failed: REASON`, `disabled: REASON`.
    pub fn status(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|e| (e.id.clone(), e.describe()))
            .collect()
    }

    fn entry_mut(&mut self, key: u64) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .chain(self.leaving.iter_mut())
            .find(|e| e.key == key)
    }

    fn reload_with(&mut self, now: Instant, trunks: &[Trunk], local_for: LocalFor<'_>) {
        let mut old = std::mem::take(&mut self.entries);
        for trunk in trunks {
            let Some(spec) = Spec::of(trunk) else {
                continue;
            };
            let kept = old.iter().position(|e| e.id == trunk.id && e.spec == spec);
            let entry = match kept {
                Some(i) => old.remove(i),
                None => {
                    self.next_key += 1;
                    let mut e = Entry::new(now, self.next_key, &trunk.id, spec, local_for);
                    e.log_change(now);
                    e
                }
            };
            self.entries.push(entry);
        }
        for e in old {
            // A trunk still there under another registrar or account just starts over: an
            // un-REGISTER of the same contact could land after, and undo, the new binding.
            if !self.entries.iter().any(|n| n.id == e.id) {
                info!(trunk = %e.id, "trunk registration removed from the config");
                self.leaving.push(Entry {
                    leave_at: Some(now),
                    ..e
                });
            }
        }
        self.txns.retain(|_, key| {
            self.entries
                .iter()
                .chain(&self.leaving)
                .any(|e| e.key == *key)
        });
    }

    fn shutdown_with(&mut self, now: Instant, core: &mut Core, local_for: LocalFor<'_>) {
        for mut e in self.entries.drain(..) {
            e.leave_at = Some(now);
            self.leaving.push(e);
        }
        self.on_timeout_with(now, core, local_for);
    }

    fn on_timeout_with(&mut self, now: Instant, core: &mut Core, local_for: LocalFor<'_>) {
        let mut sent = Vec::new();
        for e in &mut self.entries {
            let Kind::Active(a) = &mut e.kind else {
                continue;
            };
            if a.reg.poll_timeout().is_none_or(|due| due > now) {
                continue;
            }
            match a.resolve(now) {
                Resolve::Pending => continue,
                Resolve::Failed(why) => a.reg.handle_unreachable(now, why),
                Resolve::Ready(peer) => {
                    if let Some(req) = a.reg.handle_timeout(now) {
                        debug!(trunk = %e.id, registrar = %peer.addr, "sending REGISTER");
                        if let Some(txn) = send(now, a, req, core, local_for) {
                            sent.push((txn, e.key));
                        }
                    }
                }
            }
            e.log_change(now);
        }
        for e in &mut self.leaving {
            if e.leave_at.is_none_or(|t| t > now) {
                continue;
            }
            e.leave_at = None;
            let Kind::Active(a) = &mut e.kind else {
                continue;
            };
            if let Some(req) = a.reg.unregister(now) {
                debug!(trunk = %e.id, "sending un-REGISTER");
                if let Some(txn) = send(now, a, req, core, local_for) {
                    sent.push((txn, e.key));
                }
            }
        }
        self.txns.extend(sent);
        self.forget_finished_leavers();
    }

    fn on_response_with(
        &mut self,
        now: Instant,
        txn: ClientTxn,
        response: &Response,
        core: &mut Core,
        local_for: LocalFor<'_>,
    ) -> bool {
        let Some(key) = self.txns.remove(&txn) else {
            return false;
        };
        let mut sent = None;
        if let Some(e) = self.entry_mut(key) {
            if let Some(a) = e.active_mut() {
                if let Some(req) = a.reg.handle_response(now, response) {
                    sent = send(now, a, req, core, local_for);
                }
            }
            e.log_change(now);
        }
        if let Some(txn) = sent {
            self.txns.insert(txn, key);
        }
        self.forget_finished_leavers();
        true
    }

    /// Drops leaving trunks whose un-REGISTER is answered, timed out, or was not needed.
    fn forget_finished_leavers(&mut self) {
        let before = self.leaving.len();
        self.leaving.retain(|e| match &e.kind {
            Kind::Active(a) => e.leave_at.is_some() || a.reg.is_waiting(),
            Kind::Disabled(_) => false,
        });
        if self.leaving.len() != before {
            let keys: Vec<u64> = self
                .entries
                .iter()
                .chain(&self.leaving)
                .map(|e| e.key)
                .collect();
            self.txns.retain(|_, k| keys.contains(k));
        }
    }
}

/// Puts our Via on top of a REGISTER and starts its transaction towards the registrar's
/// known address; a request that cannot go out fails the attempt (retried with backoff).
fn send(
    now: Instant,
    a: &mut Active,
    req: Request,
    core: &mut Core,
    local_for: LocalFor<'_>,
) -> Option<ClientTxn> {
    let Some(peer) = a.peer else {
        a.reg.handle_unreachable(now, "registrar address not known");
        return None;
    };
    let Some(local) = local_for(&peer) else {
        a.reg
            .handle_unreachable(now, "no local address towards the registrar");
        return None;
    };
    let req = with_via(req, &local);
    match core.send_request(now, &req, peer) {
        Ok(txn) => Some(txn),
        Err(e) => {
            a.reg.handle_unreachable(now, e.to_string());
            None
        }
    }
}

/// The request with a Via of ours, fresh branch, as its first header.
fn with_via(req: Request, local: &Local) -> Request {
    let mut out = Request::new(req.method.clone(), req.uri.clone());
    out.headers.push(
        "Via",
        format!(
            "SIP/2.0/{} {};branch={};rport",
            local.transport.via_token(),
            local.addr,
            new_branch(fastrand::u64(..))
        ),
    );
    for (name, value) in req.headers.iter() {
        out.headers.push(name, value);
    }
    out.body = req.body;
    out
}

/// The INVITE (or any request) `request` again, answering the 401/407 `challenge` with the
/// trunk's credentials: CSeq one higher, one `Authorization`/`Proxy-Authorization` per
/// challenged realm (the strongest algorithm offered), nonce counts kept in `nonce_counts`.
/// The top Via comes back without its branch: set a fresh Via before sending (a new
/// transaction), or `Core` refuses the request. `None` when the trunk has no username and
/// password, the challenge cannot be answered, or it refuses an answer we already gave
/// for that realm (not `stale`): then the call fails with the 401/407.
pub fn authorize_retry(
    trunk: &Trunk,
    request: &Request,
    challenge: &Response,
    nonce_counts: &mut NonceCounts,
) -> Option<Request> {
    let (Some(username), Some(password)) = (trunk.username.as_deref(), trunk.password.as_deref())
    else {
        return None;
    };
    if !matches!(challenge.status, 401 | 407) {
        return None;
    }
    let found = match client::challenges(challenge) {
        Ok(found) => found,
        Err(e) => {
            warn!(trunk = %trunk.id, error = %e, "trunk challenge cannot be answered");
            return None;
        }
    };
    let answered_before = |c: &client::DigestChallenge| {
        request
            .headers
            .get_all(c.answer_header())
            .filter_map(|v| DigestCredentials::parse(v).ok())
            .any(|d| d.realm == c.realm)
    };
    if found.iter().any(|c| answered_before(c) && !c.stale) {
        warn!(trunk = %trunk.id, status = challenge.status, "trunk refused our credentials");
        return None;
    }
    let cseq = request.cseq().ok()?;
    let mut retry = request.clone();
    retry.headers.set(
        "CSeq",
        format!("{} {}", cseq.seq.checked_add(1)?, cseq.method),
    );
    if let Ok(mut via) = retry.top_via().cloned() {
        via.params
            .retain(|(k, _)| !k.eq_ignore_ascii_case("branch"));
        retry.headers.set("Via", via.to_string());
    }
    let cnonce = format!("{:016x}", fastrand::u64(..));
    client::authorize(
        &mut retry,
        &found,
        username,
        password,
        &cnonce,
        nonce_counts,
    );
    Some(retry)
}

#[cfg(test)]
mod tests;
