//! The transaction layer: one table of transactions driven by `(now, input)`, emitting
//! transmissions and TU events, quinn-style (`handle_*`, `poll_output`, `poll_timeout`).

mod invite;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vaxel_sip::{Message, Method, Request, Response, SipMessage};

use crate::TxnError;
use crate::client::NonInviteClient;
use crate::invite_client::InviteClient;
use crate::key::{KeyMethod, TxnKey};
use crate::peer::Peer;
use crate::server::{InviteServer, NonInviteServer};
use crate::timer::{Fired, TimerConfig, TimerKind, TimerQueue};

/// Handle of a server transaction, given to the TU with each new request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerTxn(pub u64);

/// Handle of a client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTxn(pub u64);

/// What the transaction layer asks of the world.
// Events carry the request by value; it is moved once to the TU, so boxing would only add
// an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Output {
    /// Put these bytes on the wire to that peer.
    Send {
        /// Destination.
        peer: Peer,
        /// The serialized message; shared with the retransmission state.
        bytes: Arc<[u8]>,
    },
    /// Something for the transaction user (the call logic).
    Event(TuEvent),
}

/// Events for the transaction user.
#[derive(Debug)]
pub enum TuEvent {
    /// A new request (never ACK or CANCEL: those are handled here and reported below).
    Request {
        /// Answer it with [`Core::respond`].
        txn: ServerTxn,
        /// The request, its top Via already carrying `received`/`rport`.
        request: Request,
        /// Where it came from.
        peer: Peer,
    },
    /// The ACK of a 2xx (matched to its INVITE transaction if still known) or a stray ACK.
    Ack {
        /// The INVITE transaction it acknowledges, if it was found.
        txn: Option<ServerTxn>,
        /// The ACK.
        request: Request,
        /// Where it came from.
        peer: Peer,
    },
    /// A CANCEL matched an INVITE still in Proceeding; the 200 to the CANCEL is already
    /// sent. The TU must answer the INVITE with 487.
    Cancelled {
        /// The INVITE transaction.
        txn: ServerTxn,
    },
    /// No ACK came for a final response (Timer H, or Timer L after a 2xx).
    AckTimeout {
        /// The INVITE transaction.
        txn: ServerTxn,
        /// Whether the unacknowledged response was a 2xx (then the TU should send BYE).
        was_2xx: bool,
    },
    /// A response to a request sent with [`Core::send_request`], [`Core::send_invite`] or
    /// [`Core::cancel`].
    Response {
        /// The client transaction.
        txn: ClientTxn,
        /// The response.
        response: Response,
    },
    /// A client transaction timed out (Timer F or B, or no final response 64*T1 after a
    /// CANCEL): act as if a 408 had arrived.
    Timeout {
        /// The client transaction.
        txn: ClientTxn,
    },
}

#[derive(Debug)]
enum Kind {
    InviteServer(InviteServer),
    NonInviteServer(NonInviteServer),
    NonInviteClient(NonInviteClient),
    InviteClient(InviteClient),
}

#[derive(Debug)]
struct Txn {
    key: TxnKey,
    peer: Peer,
    generation: u32,
    kind: Kind,
}

/// Counters for metrics and leak tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Retransmissions sent (responses and requests).
    pub retransmissions: u64,
    /// Retransmitted requests absorbed or answered from state.
    pub absorbed: u64,
    /// Responses that matched no client transaction.
    pub stray_responses: u64,
}

/// The transaction table.
#[derive(Debug)]
pub struct Core {
    cfg: TimerConfig,
    /// Boxed: the table grows without moving whole transactions (a pause of the switch at
    /// tens of thousands of them).
    txns: HashMap<u64, Box<Txn>>,
    by_key: HashMap<TxnKey, u64>,
    accepted: HashMap<(String, u32), u64>,
    timers: TimerQueue,
    out: VecDeque<Output>,
    next_id: u64,
    stats: Stats,
    force_rport: bool,
}

impl Core {
    /// An empty table with these timer values.
    pub fn new(cfg: TimerConfig) -> Self {
        Self::with_capacity(cfg, 0)
    }

    /// An empty table with room for `transactions` before any of its maps grows. A busy
    /// switch holds every transaction for up to 32 s (Timers J, K, H, M): growing a table of
    /// tens of thousands at once stalls every call for milliseconds.
    pub fn with_capacity(cfg: TimerConfig, transactions: usize) -> Self {
        Core {
            cfg,
            txns: HashMap::with_capacity(transactions),
            by_key: HashMap::with_capacity(transactions),
            accepted: HashMap::with_capacity(transactions / 4),
            timers: TimerQueue::with_capacity(transactions * 2),
            out: VecDeque::new(),
            next_id: 1,
            stats: Stats::default(),
            force_rport: false,
        }
    }

    /// Answer every request at its source address and port, as if it carried `rport`
    /// (RFC 3581). Phones behind NAT need it, and it is what Asterisk (`force_rport`) and
    /// Kamailio (`force_rport()`) do for them; without it, §18.2.2 sends UDP responses to
    /// the Via's sent-by port.
    pub fn set_force_rport(&mut self, on: bool) {
        self.force_rport = on;
    }

    /// Timer values in force.
    pub fn timers(&self) -> &TimerConfig {
        &self.cfg
    }

    /// Live transactions; returns to 0 when traffic stops and timers run out.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    /// True when no transaction is alive.
    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The state name of a transaction, for tests and logs.
    pub fn state_of(&self, id: u64) -> Option<&'static str> {
        self.txns.get(&id).map(|t| match &t.kind {
            Kind::InviteServer(s) => s.name(),
            Kind::NonInviteServer(s) => s.name(),
            Kind::NonInviteClient(s) => s.name(),
            Kind::InviteClient(s) => s.name(),
        })
    }

    /// Next output to carry out.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Core::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// A message arrived from `peer`.
    pub fn handle_message(&mut self, now: Instant, msg: Message, peer: Peer) {
        match msg {
            Message::Request(req) => self.handle_request(now, req, peer),
            Message::Response(resp) => self.handle_response(now, resp),
        }
    }

    /// A request arrived from `peer`.
    pub fn handle_request(&mut self, now: Instant, mut req: Request, peer: Peer) {
        stamp_received(&mut req, &peer, self.force_rport);
        let Some(key) = TxnKey::for_request(&req) else {
            // No usable Via: nowhere to send an answer (RFC 3261 §18.2.1 drops it).
            return;
        };
        match req.method {
            Method::Ack => self.handle_ack(now, key, req, peer),
            Method::Cancel => self.handle_cancel(now, key, req, peer),
            _ => self.handle_new_or_retransmit(now, key, req, peer),
        }
    }

    fn handle_new_or_retransmit(&mut self, now: Instant, key: TxnKey, req: Request, peer: Peer) {
        if let Some(&id) = self.by_key.get(&key) {
            self.stats.absorbed += 1;
            let resend = self.txns.get(&id).and_then(|t| match &t.kind {
                Kind::InviteServer(s) => s.retransmission(),
                Kind::NonInviteServer(s) => s.retransmission(),
                Kind::NonInviteClient(_) | Kind::InviteClient(_) => None,
            });
            if let (Some(bytes), Some(t)) = (resend, self.txns.get(&id)) {
                self.out.push_back(Output::Send {
                    peer: t.peer,
                    bytes,
                });
            }
            return;
        }
        let id = self.alloc();
        let kind = if req.method == Method::Invite {
            // Kept unserialized: most INVITEs are answered before Timer Trying fires.
            let trying = Box::new(Response::for_request(&req, 100));
            self.timers
                .arm(now + self.cfg.trying, id, 0, TimerKind::Trying);
            Kind::InviteServer(InviteServer::Proceeding {
                last_provisional: None,
                trying: Some(trying),
            })
        } else {
            Kind::NonInviteServer(NonInviteServer::Trying)
        };
        self.insert_server(id, key, &req, peer, kind);
        self.out.push_back(Output::Event(TuEvent::Request {
            txn: ServerTxn(id),
            request: req,
            peer,
        }));
    }

    fn handle_ack(&mut self, now: Instant, key: TxnKey, req: Request, peer: Peer) {
        if let Some(&id) = self.by_key.get(&key) {
            let reliable = peer.transport.is_reliable();
            if let Some(t) = self.txns.get_mut(&id) {
                match &t.kind {
                    Kind::InviteServer(InviteServer::Completed { .. }) => {
                        t.generation += 1;
                        t.kind = Kind::InviteServer(InviteServer::Confirmed);
                        if reliable {
                            self.remove(id);
                        } else {
                            let g = t.generation;
                            self.timers.arm(now + self.cfg.t4, id, g, TimerKind::I);
                        }
                        return;
                    }
                    Kind::InviteServer(InviteServer::Confirmed) => {
                        self.stats.absorbed += 1;
                        return;
                    }
                    _ => {}
                }
            }
        }
        // An ACK for a 2xx has a branch of its own: match it on Call-ID and CSeq.
        let ack_key = match (req.call_id(), req.cseq()) {
            (Ok(c), Ok(s)) => Some((c.to_string(), s.seq)),
            _ => None,
        };
        let txn = ack_key.and_then(|k| self.accepted.get(&k).copied());
        if let Some(id) = txn {
            if let Some(t) = self.txns.get_mut(&id) {
                if let Kind::InviteServer(InviteServer::Accepted { acked, .. }) = &mut t.kind {
                    if *acked {
                        self.stats.absorbed += 1;
                        return;
                    }
                    *acked = true;
                    // Stop the 2xx retransmissions; linger T4 to absorb INVITE retransmits.
                    t.generation += 1;
                    let g = t.generation;
                    self.timers.arm(now + self.cfg.t4, id, g, TimerKind::L);
                }
            }
        }
        self.out.push_back(Output::Event(TuEvent::Ack {
            txn: txn.map(ServerTxn),
            request: req,
            peer,
        }));
    }

    fn handle_cancel(&mut self, now: Instant, key: TxnKey, req: Request, peer: Peer) {
        if self.by_key.contains_key(&key) {
            // A retransmitted CANCEL: its own transaction answers it again.
            self.handle_new_or_retransmit(now, key, req, peer);
            return;
        }
        let invite_key = TxnKey {
            method: KeyMethod::Invite,
            ..key.clone()
        };
        let invite = self.by_key.get(&invite_key).copied();
        let proceeding = invite
            .and_then(|id| self.txns.get(&id))
            .is_some_and(|t| matches!(t.kind, Kind::InviteServer(InviteServer::Proceeding { .. })));
        let status = if invite.is_some() { 200 } else { 481 };
        let response = Response::for_request(&req, status);
        let id = self.alloc();
        let kind = Kind::NonInviteServer(NonInviteServer::Trying);
        self.insert_server(id, key, &req, peer, kind);
        // Cannot fail: the transaction was just inserted in Trying.
        let _ = self.respond(now, ServerTxn(id), response);
        if let (Some(invite), true) = (invite, proceeding) {
            self.out.push_back(Output::Event(TuEvent::Cancelled {
                txn: ServerTxn(invite),
            }));
        }
    }

    /// The TU answers a request of a server transaction.
    pub fn respond(
        &mut self,
        now: Instant,
        txn: ServerTxn,
        response: Response,
    ) -> Result<(), TxnError> {
        let id = txn.0;
        let t = self.txns.get_mut(&id).ok_or(TxnError::NoSuchTransaction)?;
        let reliable = t.peer.transport.is_reliable();
        let status = response.status;
        let bytes: Arc<[u8]> = response.to_bytes().into();
        let peer = t.peer;
        let mut arm: Vec<(Duration, TimerKind)> = Vec::new();
        let mut remove = false;
        match &mut t.kind {
            Kind::InviteServer(InviteServer::Proceeding {
                last_provisional,
                trying,
            }) => {
                if status < 200 {
                    *last_provisional = Some(bytes.clone());
                    *trying = None;
                } else if status < 300 {
                    let ack_key = match (response.call_id(), response.cseq()) {
                        (Ok(c), Ok(s)) => (c.to_string(), s.seq),
                        _ => return Err(TxnError::MalformedResponse),
                    };
                    t.generation += 1;
                    self.accepted.insert(ack_key.clone(), id);
                    t.kind = Kind::InviteServer(InviteServer::Accepted {
                        response: bytes.clone(),
                        interval: self.cfg.t1,
                        acked: false,
                        ack_key,
                    });
                    if !reliable {
                        arm.push((self.cfg.t1, TimerKind::Retransmit2xx));
                    }
                    arm.push((self.cfg.t64(), TimerKind::L));
                } else {
                    t.generation += 1;
                    t.kind = Kind::InviteServer(InviteServer::Completed {
                        response: bytes.clone(),
                        interval: self.cfg.t1,
                    });
                    if !reliable {
                        arm.push((self.cfg.t1, TimerKind::G));
                    }
                    arm.push((self.cfg.t64(), TimerKind::H));
                }
            }
            Kind::NonInviteServer(NonInviteServer::Trying | NonInviteServer::Proceeding { .. }) => {
                if status < 200 {
                    t.kind = Kind::NonInviteServer(NonInviteServer::Proceeding {
                        last: bytes.clone(),
                    });
                } else {
                    t.generation += 1;
                    t.kind = Kind::NonInviteServer(NonInviteServer::Completed {
                        response: bytes.clone(),
                    });
                    if reliable {
                        remove = true;
                    } else {
                        arm.push((self.cfg.t64(), TimerKind::J));
                    }
                }
            }
            _ => return Err(TxnError::WrongState),
        }
        let g = t.generation;
        for (after, kind) in arm {
            self.timers.arm(now + after, id, g, kind);
        }
        self.out.push_back(Output::Send { peer, bytes });
        if remove {
            self.remove(id);
        }
        Ok(())
    }

    /// Answers once and forgets the transaction: no retransmissions, no state kept. For
    /// requests from sources we do not serve (a scanner's INVITEs get one 403 each, never
    /// ten retransmissions over 32 s).
    pub fn respond_stateless(
        &mut self,
        txn: ServerTxn,
        response: Response,
    ) -> Result<(), TxnError> {
        let t = self.txns.get(&txn.0).ok_or(TxnError::NoSuchTransaction)?;
        let peer = t.peer;
        self.remove(txn.0);
        self.out.push_back(Output::Send {
            peer,
            bytes: response.to_bytes().into(),
        });
        Ok(())
    }

    /// Sends a non-INVITE request (e.g. BYE) in a new client transaction. The request must
    /// carry a top Via whose branch comes from [`new_branch`](crate::new_branch).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: &Request,
        peer: Peer,
    ) -> Result<ClientTxn, TxnError> {
        let via = request.top_via().map_err(|_| TxnError::MalformedRequest)?;
        let branch = via.branch().ok_or(TxnError::MalformedRequest)?.to_string();
        if request.method == Method::Invite || request.method == Method::Ack {
            return Err(TxnError::WrongState);
        }
        let id = self.alloc();
        self.start_non_invite(now, id, &branch, request, peer);
        Ok(ClientTxn(id))
    }

    /// Inserts a non-INVITE client transaction under a known id and sends its request.
    fn start_non_invite(
        &mut self,
        now: Instant,
        id: u64,
        branch: &str,
        request: &Request,
        peer: Peer,
    ) {
        let key = TxnKey::for_response(branch, &request.method);
        let bytes: Arc<[u8]> = request.to_bytes().into();
        self.arm_client(now, id, &peer, TimerKind::E, TimerKind::F);
        self.insert(
            id,
            Txn {
                key,
                peer,
                generation: 0,
                kind: Kind::NonInviteClient(NonInviteClient::Trying {
                    request: bytes.clone(),
                    interval: self.cfg.t1,
                }),
            },
        );
        self.out.push_back(Output::Send { peer, bytes });
    }

    fn handle_response(&mut self, now: Instant, resp: Response) {
        let (Ok(via), Ok(cseq)) = (resp.top_via(), resp.cseq()) else {
            self.stats.stray_responses += 1;
            return;
        };
        let Some(branch) = via.branch() else {
            self.stats.stray_responses += 1;
            return;
        };
        let key = TxnKey::for_response(branch, &cseq.method);
        let Some(&id) = self.by_key.get(&key) else {
            self.stats.stray_responses += 1;
            return;
        };
        let Some(t) = self.txns.get_mut(&id) else {
            return;
        };
        if matches!(t.kind, Kind::InviteClient(_)) {
            self.on_invite_response(now, id, resp);
            return;
        }
        let reliable = t.peer.transport.is_reliable();
        let Kind::NonInviteClient(state) = &mut t.kind else {
            self.stats.stray_responses += 1;
            return;
        };
        match state {
            NonInviteClient::Trying { request, .. } | NonInviteClient::Proceeding { request } => {
                if resp.status < 200 {
                    let request = request.clone();
                    *state = NonInviteClient::Proceeding { request };
                    return;
                }
                t.generation += 1;
                t.kind = Kind::NonInviteClient(NonInviteClient::Completed);
                let g = t.generation;
                if reliable {
                    self.remove(id);
                } else {
                    self.timers.arm(now + self.cfg.t4, id, g, TimerKind::K);
                }
                self.out.push_back(Output::Event(TuEvent::Response {
                    txn: ClientTxn(id),
                    response: resp,
                }));
            }
            NonInviteClient::Completed => self.stats.absorbed += 1,
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(fired) = self.timers.pop_due(now) {
            self.fire(now, fired);
        }
    }

    fn fire(&mut self, now: Instant, f: Fired) {
        let Some(t) = self.txns.get_mut(&f.txn) else {
            return;
        };
        if t.generation != f.generation {
            return;
        }
        if matches!(t.kind, Kind::InviteClient(_)) {
            self.fire_invite(now, f);
            return;
        }
        let t2 = self.cfg.t2;
        let peer = t.peer;
        let id = f.txn;
        match (&mut t.kind, f.kind) {
            (Kind::InviteServer(InviteServer::Proceeding { trying, .. }), TimerKind::Trying) => {
                if let Some(resp) = trying.take() {
                    let bytes: Arc<[u8]> = resp.to_bytes().into();
                    self.out.push_back(Output::Send {
                        peer,
                        bytes: bytes.clone(),
                    });
                    t.kind = Kind::InviteServer(InviteServer::Proceeding {
                        last_provisional: Some(bytes),
                        trying: None,
                    });
                }
            }
            (Kind::InviteServer(InviteServer::Completed { response, interval }), TimerKind::G)
            | (
                Kind::InviteServer(InviteServer::Accepted {
                    response, interval, ..
                }),
                TimerKind::Retransmit2xx,
            ) => {
                self.out.push_back(Output::Send {
                    peer,
                    bytes: response.clone(),
                });
                self.stats.retransmissions += 1;
                *interval = (*interval * 2).min(t2);
                let at = now + *interval;
                self.timers.arm(at, id, f.generation, f.kind);
            }
            (Kind::InviteServer(InviteServer::Completed { .. }), TimerKind::H) => {
                self.remove(id);
                self.out.push_back(Output::Event(TuEvent::AckTimeout {
                    txn: ServerTxn(id),
                    was_2xx: false,
                }));
            }
            (Kind::InviteServer(InviteServer::Accepted { acked, .. }), TimerKind::L) => {
                let acked = *acked;
                self.remove(id);
                if !acked {
                    self.out.push_back(Output::Event(TuEvent::AckTimeout {
                        txn: ServerTxn(id),
                        was_2xx: true,
                    }));
                }
            }
            (Kind::InviteServer(InviteServer::Confirmed), TimerKind::I)
            | (Kind::NonInviteServer(NonInviteServer::Completed { .. }), TimerKind::J)
            | (Kind::NonInviteClient(NonInviteClient::Completed), TimerKind::K) => self.remove(id),
            (
                Kind::NonInviteClient(NonInviteClient::Trying { request, interval }),
                TimerKind::E,
            ) => {
                self.out.push_back(Output::Send {
                    peer,
                    bytes: request.clone(),
                });
                self.stats.retransmissions += 1;
                *interval = (*interval * 2).min(t2);
                let at = now + *interval;
                self.timers.arm(at, id, f.generation, TimerKind::E);
            }
            (Kind::NonInviteClient(NonInviteClient::Proceeding { request }), TimerKind::E) => {
                self.out.push_back(Output::Send {
                    peer,
                    bytes: request.clone(),
                });
                self.stats.retransmissions += 1;
                self.timers.arm(now + t2, id, f.generation, TimerKind::E);
            }
            (Kind::NonInviteClient(_), TimerKind::F) => {
                self.remove(id);
                self.out
                    .push_back(Output::Event(TuEvent::Timeout { txn: ClientTxn(id) }));
            }
            _ => {}
        }
    }

    fn alloc(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A new server transaction: its answers go to the source (force_rport) or per
    /// §18.2.2 to the Via.
    fn insert_server(&mut self, id: u64, key: TxnKey, req: &Request, from: Peer, kind: Kind) {
        let peer = if self.force_rport {
            from
        } else {
            response_peer(req, from)
        };
        self.insert(
            id,
            Txn {
                key,
                peer,
                generation: 0,
                kind,
            },
        );
    }

    /// Arms a client transaction's first timers: `retransmit` at T1 (datagrams only) and
    /// `timeout` at 64*T1 (E/F for non-INVITE, A/B for INVITE).
    fn arm_client(
        &mut self,
        now: Instant,
        id: u64,
        peer: &Peer,
        retransmit: TimerKind,
        timeout: TimerKind,
    ) {
        if !peer.transport.is_reliable() {
            self.timers.arm(now + self.cfg.t1, id, 0, retransmit);
        }
        self.timers.arm(now + self.cfg.t64(), id, 0, timeout);
    }

    fn insert(&mut self, id: u64, txn: Txn) {
        self.by_key.insert(txn.key.clone(), id);
        self.txns.insert(id, Box::new(txn));
    }

    fn remove(&mut self, id: u64) {
        if let Some(t) = self.txns.remove(&id) {
            if self.by_key.get(&t.key) == Some(&id) {
                self.by_key.remove(&t.key);
            }
            if let Kind::InviteServer(InviteServer::Accepted { ack_key, .. }) = &t.kind {
                if self.accepted.get(ack_key) == Some(&id) {
                    self.accepted.remove(ack_key);
                }
            }
        }
    }
}

/// RFC 3261 §18.2.1 and RFC 3581: mark the top Via with the address the request really came
/// from, so that responses built from it find their way back (§18.2.2).
fn stamp_received(req: &mut Request, peer: &Peer, force_rport: bool) {
    let Ok(top) = req.top_via() else { return };
    let mut top = top.clone();
    let ip = peer.addr.ip().to_string();
    let host = top.host.trim_start_matches('[').trim_end_matches(']');
    let mut changed = false;
    if host != ip {
        top.set_param("received", Some(ip));
        changed = true;
    }
    if force_rport || matches!(top.rport(), Some(None)) {
        top.set_param("rport", Some(peer.addr.port().to_string()));
        changed = true;
    }
    if changed {
        req.headers.replace_top_via(top);
    }
}

/// Where a response to this request goes over UDP (RFC 3261 §18.2.2, RFC 3581): the source
/// address when `rport` is present, else the source IP with the Via's sent-by port.
pub fn response_peer(req: &Request, from: Peer) -> Peer {
    if from.transport.is_reliable() {
        return from;
    }
    match req.top_via() {
        Ok(via) if via.rport().is_none() => {
            let port = via.port.unwrap_or(5060);
            Peer {
                addr: std::net::SocketAddr::new(from.addr.ip(), port),
                ..from
            }
        }
        _ => from,
    }
}
