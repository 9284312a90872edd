//! The media side of a bridged call: handing the caller's RTP port from the prompt player to
//! the relay and back, ring-back for callers already answered, and the relay following
//! re-INVITEs.

use super::*;
use crate::relay::{Side, Which};

impl Switch {
    /// Connects the caller's media to a leg's through the relay.
    pub(super) fn relay_to(&mut self, id: u64, leg: usize) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(m) = call.media.as_mut().filter(|m| m.offered) {
            // A late offer: the caller's answer (in its ACK) is needed first.
            m.pending_relay = Some(leg);
            return;
        }
        let (Some(media), Some(neg), Some(out)) = (
            call.media.as_ref(),
            call.negotiated.as_ref(),
            call.outgoing.as_mut(),
        ) else {
            return;
        };
        let Some(l) = out.legs.get(leg) else { return };
        let Some(ans) = l.answer.as_ref() else {
            return;
        };
        if out.relayed == Some(leg) {
            if out.ringback {
                out.ringback = false;
            }
            return;
        }
        out.relayed = Some(leg);
        out.ringback = false;
        let (a, b) = (side(&media.socket, neg), side(&l.socket, ans));
        // The caller's port stops playing prompts and reading digits: the relay owns it now.
        self.scheduler.send(Command::Stop { id });
        rtp_in::unpark(&media.socket);
        if let Some(m) = call.media.as_mut() {
            m.stop_reader();
            m.relayed = true;
            // Stop undid the connection, if any.
            m.connected = false;
        }
        debug!(call = id, leg, "media relayed");
        self.relay.bridge(id, a, b);
    }

    /// The relay heard nothing from one side of a bridged call for `rtp_timeout`: the B2BUA
    /// hangs up both (a phone gone without BYE would otherwise hold the call forever).
    pub(super) fn on_silent(&mut self, now: Instant, id: u64, which: crate::relay::Which) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(leg) = call.outgoing.as_ref().and_then(|o| o.relayed) else {
            return;
        };
        let side = match which {
            crate::relay::Which::A => vaxel_b2bua::Side::Caller,
            crate::relay::Which::B => vaxel_b2bua::Side::Leg(leg),
        };
        let secs = self.plan.server.rtp_timeout.map_or(0, |d| d.as_secs());
        call.span
            .in_scope(|| info!(?side, secs, "no RTP from a bridged side: hanging up"));
        self.feed_bridge(now, id, vaxel_b2bua::Event::MediaTimeout { side });
    }

    /// Stops relaying (the early-media leg went away).
    pub(super) fn unrelay(&mut self, id: u64) {
        if let Some(m) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) {
            m.pending_relay = None;
        }
        if let Some(out) = self.calls.get_mut(&id).and_then(|c| c.outgoing.as_mut()) {
            if out.relayed.take().is_some() {
                self.relay.unbridge(id);
            }
        }
    }

    /// Plays the ring-back tone to a caller who is already answered.
    pub(super) fn start_ringback(&mut self, id: u64) {
        let Some(out) = self.calls.get_mut(&id).and_then(|c| c.outgoing.as_mut()) else {
            return;
        };
        if out.ringback || out.relayed.is_some() {
            return;
        }
        out.ringback = true;
        self.stop_playback(id);
        self.scheduler.send(Command::Play {
            id,
            prompt: self.ringback_tone.clone(),
            times: u32::MAX,
        });
    }

    pub(super) fn stop_ringback(&mut self, id: u64) {
        let ringing = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.outgoing.as_mut())
            .is_some_and(|o| std::mem::take(&mut o.ringback));
        if ringing {
            self.stop_playback(id);
        }
    }

    /// Gives the caller's port back to the prompt player after the relay had it.
    pub(super) fn restart_prompts(&mut self, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let (Some(media), Some(neg)) = (call.media.as_mut(), call.negotiated.as_ref()) else {
            return;
        };
        if !media.relayed {
            return;
        }
        rtp_in::park(&media.socket);
        media.relayed = false;
        media.connected = false;
        self.scheduler.send(Command::Start {
            id,
            socket: media.socket.clone(),
            remote: Some(neg.remote),
            codec: neg.codec,
            rtp: RtpSender::new(
                fastrand::u32(..),
                fastrand::u16(..),
                fastrand::u32(..),
                neg.payload_type,
            ),
        });
        self.ensure_reader(id);
    }

    /// After a re-INVITE on one side, the relay learns the new address, codec or hold.
    pub(super) fn update_relay(&mut self, id: u64, which: Which) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(out) = call.outgoing.as_ref() else {
            return;
        };
        let Some(leg) = out.relayed else { return };
        let side = match which {
            Which::A => match (call.media.as_ref(), call.negotiated.as_ref()) {
                (Some(m), Some(n)) => side(&m.socket, n),
                _ => return,
            },
            Which::B => match out
                .legs
                .get(leg)
                .and_then(|l| Some((l, l.answer.as_ref()?)))
            {
                Some((l, n)) => side(&l.socket, n),
                None => return,
            },
        };
        self.relay.update(id, which, side);
    }
}

/// One side of the relay: our socket on that leg and what the leg's SDP said. Nothing is
/// sent to a side that holds (sendonly/inactive from it, or the old `c=0.0.0.0`).
fn side(socket: &Arc<std::net::UdpSocket>, n: &vaxel_sdp::Negotiated) -> Side {
    let sends = matches!(
        n.direction,
        vaxel_sdp::Direction::SendRecv | vaxel_sdp::Direction::SendOnly
    );
    Side {
        socket: socket.clone(),
        remote: n.remote,
        codec: n.codec,
        audio_pt: n.payload_type,
        event_pt: n.telephone_event,
        send: sends && !n.remote.ip().is_unspecified() && n.remote.port() != 0,
        receive: matches!(
            n.direction,
            vaxel_sdp::Direction::SendRecv | vaxel_sdp::Direction::RecvOnly
        ) && n.remote.port() != 0,
    }
}
