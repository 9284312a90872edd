//! Driving INVITE client transactions: sending the INVITE, CANCEL (deferred until a
//! provisional per §9.1), responses and the timers A, B, D, M and the CANCEL guard.

use std::mem;
use std::sync::Arc;
use std::time::Instant;

use vaxel_sip::{Method, Request, Response, SipMessage};

use super::{ClientTxn, Core, Kind, Output, TuEvent, Txn};
use crate::TxnError;
use crate::invite_client::{
    InviteClient, build_ack, build_cancel, note_provisional, provisional_fingerprint,
};
use crate::key::TxnKey;
use crate::peer::Peer;
use crate::timer::{Fired, TimerKind};

impl Core {
    /// Sends an INVITE in a new client transaction. The request must carry a top Via whose
    /// branch comes from [`new_branch`](crate::new_branch), and a CSeq. Every provisional
    /// (retransmissions absorbed) and every 2xx (forks included) reaches the TU as
    /// [`TuEvent::Response`]; the TU ACKs 2xx itself (see [`Dialog::ack`](crate::Dialog::ack)),
    /// while a 300-699 is ACKed here. A transaction that hears a provisional then waits for
    /// the final response without a timer of its own: the TU ends ringing with
    /// [`Core::cancel`].
    pub fn send_invite(
        &mut self,
        now: Instant,
        request: &Request,
        peer: Peer,
    ) -> Result<ClientTxn, TxnError> {
        if request.method != Method::Invite {
            return Err(TxnError::WrongState);
        }
        let via = request.top_via().map_err(|_| TxnError::MalformedRequest)?;
        let branch = via.branch().ok_or(TxnError::MalformedRequest)?;
        request.cseq().map_err(|_| TxnError::MalformedRequest)?;
        let key = TxnKey::for_response(branch, &Method::Invite);
        let bytes: Arc<[u8]> = request.to_bytes().into();
        let id = self.alloc();
        self.arm_client(now, id, &peer, TimerKind::A, TimerKind::B);
        self.insert(
            id,
            Txn {
                key,
                peer,
                generation: 0,
                kind: Kind::InviteClient(InviteClient::Calling {
                    invite: Box::new(request.clone()),
                    bytes: bytes.clone(),
                    interval: self.cfg.t1,
                    pending_cancel: None,
                }),
            },
        );
        self.out.push_back(Output::Send { peer, bytes });
        Ok(ClientTxn(id))
    }

    /// Cancels an INVITE client transaction (§9.1): returns the CANCEL's own client
    /// transaction, whose 200 comes as a [`TuEvent::Response`]; the INVITE then normally
    /// ends with a 487, ACKed here. Before any provisional the CANCEL is held back and sent
    /// when the first one arrives; if the INVITE ends first (a final response, Timer B),
    /// it is never sent and its handle sees no event. `WrongState` once a final response
    /// came or after a first `cancel`.
    pub fn cancel(&mut self, now: Instant, invite: ClientTxn) -> Result<ClientTxn, TxnError> {
        let t = self
            .txns
            .get(&invite.0)
            .ok_or(TxnError::NoSuchTransaction)?;
        let calling = match &t.kind {
            Kind::InviteClient(InviteClient::Calling {
                pending_cancel: None,
                ..
            }) => true,
            Kind::InviteClient(InviteClient::Proceeding {
                cancelled: false, ..
            }) => false,
            _ => return Err(TxnError::WrongState),
        };
        let cancel_id = self.alloc();
        if calling {
            if let Some(Txn {
                kind: Kind::InviteClient(InviteClient::Calling { pending_cancel, .. }),
                ..
            }) = self.txns.get_mut(&invite.0).map(|t| &mut **t)
            {
                *pending_cancel = Some(cancel_id);
            }
        } else {
            self.send_cancel(now, invite.0, cancel_id);
        }
        Ok(ClientTxn(cancel_id))
    }

    /// Sends the CANCEL of an INVITE in Proceeding and arms the §9.1 guard on the INVITE.
    fn send_cancel(&mut self, now: Instant, invite_id: u64, cancel_id: u64) {
        let Some(t) = self.txns.get_mut(&invite_id) else {
            return;
        };
        let Kind::InviteClient(InviteClient::Proceeding {
            invite, cancelled, ..
        }) = &mut t.kind
        else {
            return;
        };
        *cancelled = true;
        let cancel = build_cancel(invite);
        let (peer, generation) = (t.peer, t.generation);
        let branch = cancel
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_string));
        let Some(branch) = branch else {
            return;
        };
        self.timers.arm(
            now + self.cfg.t64(),
            invite_id,
            generation,
            TimerKind::CancelGuard,
        );
        self.start_non_invite(now, cancel_id, &branch, &cancel, peer);
    }

    /// A response matched an INVITE client transaction.
    pub(super) fn on_invite_response(&mut self, now: Instant, id: u64, resp: Response) {
        let Some(t) = self.txns.get_mut(&id) else {
            return;
        };
        let Kind::InviteClient(state) = &mut t.kind else {
            return;
        };
        let peer = t.peer;
        let status = resp.status;
        let txn = ClientTxn(id);
        match state {
            InviteClient::Calling { .. } | InviteClient::Proceeding { .. } if status < 200 => {
                let fingerprint = provisional_fingerprint(&resp);
                let (fresh, pending_cancel) = match mem::replace(state, InviteClient::Accepted) {
                    InviteClient::Calling {
                        invite,
                        pending_cancel,
                        ..
                    } => {
                        // Stops Timers A and B.
                        t.generation += 1;
                        *state = InviteClient::Proceeding {
                            invite,
                            seen: vec![fingerprint],
                            cancelled: false,
                        };
                        (true, pending_cancel)
                    }
                    InviteClient::Proceeding {
                        invite,
                        mut seen,
                        cancelled,
                    } => {
                        let fresh = note_provisional(&mut seen, fingerprint);
                        *state = InviteClient::Proceeding {
                            invite,
                            seen,
                            cancelled,
                        };
                        (fresh, None)
                    }
                    other => {
                        *state = other;
                        (false, None)
                    }
                };
                if let Some(cancel_id) = pending_cancel {
                    self.send_cancel(now, id, cancel_id);
                }
                if fresh {
                    self.out.push_back(Output::Event(TuEvent::Response {
                        txn,
                        response: resp,
                    }));
                } else {
                    self.stats.absorbed += 1;
                }
            }
            InviteClient::Calling { .. } | InviteClient::Proceeding { .. } if status < 300 => {
                t.generation += 1;
                *state = InviteClient::Accepted;
                let generation = t.generation;
                self.timers
                    .arm(now + self.cfg.t64(), id, generation, TimerKind::M);
                self.out.push_back(Output::Event(TuEvent::Response {
                    txn,
                    response: resp,
                }));
            }
            InviteClient::Calling { invite, .. } | InviteClient::Proceeding { invite, .. } => {
                let ack: Arc<[u8]> = build_ack(invite, &resp).to_bytes().into();
                t.generation += 1;
                *state = InviteClient::Completed { ack: ack.clone() };
                let generation = t.generation;
                self.out.push_back(Output::Send { peer, bytes: ack });
                if peer.transport.is_reliable() {
                    self.remove(id);
                } else {
                    self.timers
                        .arm(now + self.cfg.timer_d(), id, generation, TimerKind::D);
                }
                self.out.push_back(Output::Event(TuEvent::Response {
                    txn,
                    response: resp,
                }));
            }
            InviteClient::Completed { ack } if status >= 300 => {
                self.stats.absorbed += 1;
                let bytes = ack.clone();
                self.out.push_back(Output::Send { peer, bytes });
            }
            // RFC 6026 §8.4: every 2xx in Accepted goes to the TU, which ACKs it (a
            // retransmission, or the answer of another fork).
            InviteClient::Accepted if (200..300).contains(&status) => {
                self.out.push_back(Output::Event(TuEvent::Response {
                    txn,
                    response: resp,
                }));
            }
            _ => self.stats.absorbed += 1,
        }
    }

    /// A timer of an INVITE client transaction fired (its generation already checked).
    pub(super) fn fire_invite(&mut self, now: Instant, f: Fired) {
        let Some(t) = self.txns.get_mut(&f.txn) else {
            return;
        };
        let peer = t.peer;
        let Kind::InviteClient(state) = &mut t.kind else {
            return;
        };
        match (state, f.kind) {
            (
                InviteClient::Calling {
                    bytes, interval, ..
                },
                TimerKind::A,
            ) => {
                self.out.push_back(Output::Send {
                    peer,
                    bytes: bytes.clone(),
                });
                self.stats.retransmissions += 1;
                // §17.1.1.2: Timer A doubles with no T2 cap; Timer B ends it first.
                *interval *= 2;
                let at = now + *interval;
                self.timers.arm(at, f.txn, f.generation, TimerKind::A);
            }
            (InviteClient::Calling { .. }, TimerKind::B)
            | (
                InviteClient::Proceeding {
                    cancelled: true, ..
                },
                TimerKind::CancelGuard,
            ) => {
                self.remove(f.txn);
                self.out.push_back(Output::Event(TuEvent::Timeout {
                    txn: ClientTxn(f.txn),
                }));
            }
            (InviteClient::Completed { .. }, TimerKind::D)
            | (InviteClient::Accepted, TimerKind::M) => self.remove(f.txn),
            _ => {}
        }
    }
}
