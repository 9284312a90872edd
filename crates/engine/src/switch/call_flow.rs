//! A call's way through its plan on the wire: carrying out the walker's actions, answering,
//! media, hanging up and the call record.

use super::*;

impl Switch {
    pub(super) fn apply(&mut self, now: Instant, id: u64, actions: Vec<Action>) {
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
                    let sdp = self.early_media_sdp(id);
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
                Action::Ring { target, timeout } => self.ring(now, id, target, timeout),
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
    pub(super) fn contact(&self, peer: &Peer) -> String {
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
    pub(super) fn respond(&mut self, now: Instant, id: u64, status: u16, sdp: Option<String>) {
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
            if let Some(secs) = call.session_expires {
                resp.headers
                    .push("Session-Expires", format!("{secs};refresher=uac"));
                resp.headers.push("Require", "timer");
            }
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
    pub(super) fn start_media(&mut self, now: Instant, id: u64) -> bool {
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        if call.media.is_some() {
            return true;
        }
        let neg = call.negotiated.clone();
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
        let socket_kept = socket.clone();
        rtp_in::park(&socket);
        // A late offer (no SDP in the INVITE): we offer every law we speak, in the 200; the
        // caller answers in its ACK (`on_caller_ack`), and the stream waits until then.
        let sdp = match &neg {
            Some(neg) => vaxel_sdp::answer(neg, self.media_ip, port, id, 1),
            None => vaxel_sdp::offer(CODECS, Some(101), self.media_ip, port, id, 1),
        };
        let codec = neg.as_ref().map_or(Codec::Pcmu, |n| n.codec);
        let rtp = RtpSender::new(
            fastrand::u32(..),
            fastrand::u16(..),
            fastrand::u32(..),
            neg.as_ref()
                .map_or(codec.payload_type(), |n| n.payload_type),
        );
        self.scheduler.send(Command::Start {
            id,
            socket,
            remote: neg.as_ref().map(|n| n.remote),
            codec,
            rtp,
        });
        if let Some(c) = self.calls.get_mut(&id) {
            c.media = Some(Media {
                port,
                socket: socket_kept,
                reader: None,
                relayed: false,
                connected: false,
                offered: neg.is_none(),
                pending_relay: None,
                answer: sdp,
            });
        }
        // A DID that opens on a menu wants keys from the first packet.
        self.ensure_reader(id);
        true
    }

    /// Starts reading the caller's RTP for DTMF once the walk wants keys (an IVR menu) and
    /// the call has a port the relay does not hold. Until then the socket stays parked
    /// ([`rtp_in::park`]); a key pressed outside a menu meant nothing to the walk anyway.
    /// A parked socket is connected to the caller (`Command::Connect`: cheaper sends), and
    /// disconnected again before a reader starts, so the reader hears every source.
    pub(super) fn ensure_reader(&mut self, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let wants_digits = call.walk.wants_digits();
        let (Some(media), Some(neg)) = (call.media.as_mut(), call.negotiated.as_ref()) else {
            return;
        };
        if media.relayed || media.reader.is_some() {
            return;
        }
        let connect = !wants_digits;
        if media.connected != connect {
            media.connected = connect;
            self.scheduler.send(Command::Connect { id, on: connect });
        }
        if !wants_digits {
            return;
        }
        let mode = DtmfMode {
            telephone_event: neg.telephone_event,
            codec: neg.codec,
            audio_pt: neg.payload_type,
        };
        media.reader = Some(rtp_in::spawn(
            id,
            media.socket.clone(),
            mode,
            self.media_events.clone(),
            self.metrics.clone(),
        ));
    }

    /// The SDP of a 183: our answer, or none when ours would be an offer (a late offer; an
    /// offer may not go in an unreliable provisional response, RFC 3261 §13.2.1). Then early
    /// media plays silently (prompts still take their time before the plan goes on) and the
    /// caller hears its own ring-back.
    pub(super) fn early_media_sdp(&mut self, id: u64) -> Option<String> {
        let media = self.calls.get(&id)?.media.as_ref()?;
        if !media.offered {
            return Some(media.answer.clone());
        }
        self.scheduler.send(Command::Retarget {
            id,
            remote: None,
            codec: Codec::Pcmu,
            payload_type: Codec::Pcmu.payload_type(),
        });
        None
    }

    /// The ACK of our 2xx. For a late offer it carries the caller's answer: media starts,
    /// and a bridge waiting for it relays. An ACK without a usable answer ends the call
    /// (RFC 3264: the offer in a 2xx must be answered in the ACK).
    pub(super) fn on_caller_ack(&mut self, now: Instant, id: u64, ack: &Request) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.media.as_ref().is_some_and(|m| m.offered) {
            return;
        }
        let answer = std::str::from_utf8(&ack.body)
            .ok()
            .filter(|b| !b.trim().is_empty())
            .and_then(|b| SessionDescription::parse(b).ok())
            .map(|sdp| negotiate(&sdp, CODECS));
        let neg = match answer {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                call.span.in_scope(
                    || info!(error = %e, "the answer in the ACK is not usable: hanging up"),
                );
                self.hang_up(now, id, EndReason::Failed);
                return;
            }
            None => {
                call.span
                    .in_scope(|| info!("our offer was not answered in the ACK: hanging up"));
                self.hang_up(now, id, EndReason::Failed);
                return;
            }
        };
        call.span.in_scope(
            || info!(codec = ?neg.codec, remote = %neg.remote, "late offer answered in the ACK"),
        );
        self.scheduler.send(Command::Retarget {
            id,
            remote: Some(neg.remote),
            codec: neg.codec,
            payload_type: neg.payload_type,
        });
        call.negotiated = Some(neg);
        let pending = call.media.as_mut().and_then(|m| {
            m.offered = false;
            m.pending_relay.take()
        });
        self.ensure_reader(id);
        if let Some(leg) = pending {
            self.relay_to(id, leg);
        }
    }

    pub(super) fn answer(&mut self, now: Instant, id: u64) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.session_expires = bridge::session_interval(&c.invite);
        }
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
    pub(super) fn hang_up(&mut self, now: Instant, id: u64, reason: EndReason) {
        self.abort_legs(now, id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match call.phase {
            Phase::Answered => {
                self.bye_caller(now, id);
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

    /// Sends a BYE to the caller on the call's dialog.
    pub(super) fn bye_caller(&mut self, now: Instant, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let local = self.transports.local_for(&call.peer);
        let (Some(dialog), Some(local)) = (call.dialog.as_mut(), local) else {
            return;
        };
        let peer = dialog.peer;
        if let Some(bye) = bridge::in_dialog(dialog, Method::Bye, local) {
            if let Ok(t) = self.core.send_request(now, &bye, peer) {
                self.byes.insert(t, id);
            }
        }
    }

    /// Forgets the call: media stopped, port back in the pool, record written.
    pub(super) fn end(&mut self, id: u64, reason: EndReason, status: Option<u16>) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        if let Some(out) = call.outgoing.take() {
            self.release_legs(id, out);
        }
        self.by_txn.remove(&call.txn);
        if let Some(d) = &call.dialog {
            self.by_dialog
                .remove(&(d.call_id.clone(), d.local_tag.clone()));
        }
        if let Some(m) = call.media.as_mut() {
            self.scheduler.send(Command::Stop { id });
            m.stop_reader();
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
}
