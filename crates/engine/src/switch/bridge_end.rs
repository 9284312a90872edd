//! How a call's outgoing legs end: released with their call (relay unbridged, dialogs and
//! ports freed), and the 2xx that still arrives on a leg already released (an "orphan"),
//! which is ACKed and BYEd so that no phone keeps a call nobody hears.

use super::bridge::{in_dialog, via_for};
use super::*;
use crate::call::Outgoing;

impl Switch {
    /// Forgets the legs once the bridge has nothing more to do: ports back to the pool, the
    /// relay stopped. A leg's INVITE transaction may still bring a stray 2xx later: it is
    /// ACKed and BYEd as an orphan.
    pub(super) fn drop_outgoing(&mut self, id: u64) {
        if let Some(out) = self.calls.get_mut(&id).and_then(|c| c.outgoing.take()) {
            self.release_legs(id, out);
        }
    }

    /// See [`Switch::drop_outgoing`]; for a call already taken out of the table.
    pub(super) fn release_legs(&mut self, id: u64, out: Outgoing) {
        if out.relayed.is_some() {
            self.relay.unbridge(id);
        }
        for l in out.legs {
            self.leg_txns.remove(&l.txn);
            if let Some(d) = &l.dialog {
                self.leg_dialogs
                    .remove(&(d.call_id.clone(), d.local_tag.clone()));
            }
            // Only a transaction that may still bring a 2xx needs watching; boxed, so the
            // table stays small and grows without copying whole requests.
            if matches!(
                self.core.state_of(l.txn.0),
                Some("Calling" | "Proceeding" | "Accepted")
            ) {
                self.orphans.insert(l.txn, Box::new((l.invite, l.peer)));
            }
            self.ports.release(l.port);
        }
        self.metrics
            .rtp_ports_free
            .store(self.ports.available() as i64, Ordering::Relaxed);
    }

    /// A 2xx on the INVITE of a call that is gone: ACK it and BYE it at once.
    pub(super) fn orphan_response(&mut self, now: Instant, txn: ClientTxn, response: &Response) {
        if !(200..300).contains(&response.status) {
            return;
        }
        if let Some(orphan) = self.orphans.get(&txn).cloned() {
            let (invite, peer) = *orphan;
            self.ack_and_bye_response(now, &invite, peer, response);
        }
    }

    /// ACKs a 2xx we do not want and BYEs the dialog it set up.
    pub(super) fn ack_and_bye_response(
        &mut self,
        now: Instant,
        invite: &Request,
        peer: Peer,
        response: &Response,
    ) {
        let (Ok(mut d), Some(local)) = (
            Dialog::new_uac(invite, response, peer),
            self.transports.local_for(&peer),
        ) else {
            return;
        };
        if let Ok(via) = Via::parse(&via_for(local)) {
            self.transports.send(peer, d.ack(via).to_bytes().into());
        }
        if let Some(bye) = in_dialog(&mut d, Method::Bye, local) {
            let _ = self.core.send_request(now, &bye, peer);
        }
        debug!(
            status = response.status,
            "late 2xx on a finished call: ACK and BYE"
        );
    }

    /// Drops orphans whose INVITE transaction the core no longer has.
    pub(super) fn sweep_orphans(&mut self) {
        let core = &self.core;
        self.orphans.retain(|t, _| core.state_of(t.0).is_some());
    }
}
