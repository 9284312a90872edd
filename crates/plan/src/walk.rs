//! The sans-IO call walker: where one call is in the graph, and what the engine must do next.
//!
//! It follows config.md's "On the wire" table: before the answer `busy`/`hangup` are final
//! responses (486/480), after it a busy tone or a BYE; a message with `answer = false` plays as
//! early media (183 once), with `answer = true` after a 200. An IVR answers, plays its
//! prompt and takes digits (see [`crate::menu`] for the menu itself); timers are actions the
//! engine carries out, so the walker stays free of clocks.

use std::time::Duration;

use crate::Plan;
use crate::graph::{Node, NodeId, SoundId};
use crate::menu::{Menu, Outcome};
use crate::schedule_eval::Verdict;
use crate::walk_at::WalkContext;

/// How long a user's phones ring when the user has no `no_answer` forward.
pub const USER_RING_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an external number may ring before the call gives up on it.
pub const NUMBER_RING_TIMEOUT: Duration = Duration::from_secs(180);

/// Message hops one call may take; compile rejects message loops, this only bounds the damage
/// of a loop through a schedule that stays closed (each hop still plays a sound).
const MAX_HOPS: u32 = 10_000;

/// What the engine must do for the call, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this final response (486 busy, 480 hangup / unsupported, 404 unknown).
    Reject(u16),
    /// Send 183 Session Progress with SDP (once per call) and start media.
    EarlyMedia,
    /// Send 200 OK (once per call).
    Answer,
    /// Play the sound `times` times back to back, then send [`Event::PlaybackDone`].
    Play {
        /// What to play.
        sound: SoundId,
        /// How many times (1 + repeat).
        times: u32,
    },
    /// The call is answered and busy: play a busy tone a few seconds, then send BYE.
    BusyTone,
    /// Send BYE.
    Hangup,
    /// Barge-in: drop whatever audio is playing or queued for the call, at once. No
    /// [`Event::PlaybackDone`] is sent for the dropped audio.
    StopPlayback,
    /// Send [`Event::Timer`] after this long; replaces any timer of the call still pending.
    SetTimer(Duration),
    /// Drop the pending timer of the call, if any (its [`Event::Timer`] must not come).
    CancelTimer,
    /// Ring the target (every registered phone of a user, or an external number through a
    /// trunk) for at most `timeout`, and bridge the caller to whoever answers. The engine
    /// reports back [`Event::Answered`] or [`Event::RingFailed`].
    Ring {
        /// Who to ring.
        target: RingTarget,
        /// Give up after this long without an answer.
        timeout: Duration,
    },
    /// A destination a later version implements: 480 before the answer, BYE after.
    Unsupported {
        /// The node reached.
        node: NodeId,
        /// Its kind (`queue`, `voicemail`, ...).
        what: &'static str,
    },
}

/// Who an [`Action::Ring`] rings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RingTarget {
    /// Every registered contact of the user (index into `Plan::users`) at once.
    User(usize),
    /// An external number, through a trunk.
    Number(String),
}

/// Why ringing ended without an answer; decides which forward (if any) applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingOutcome {
    /// The callee is busy (486/600).
    Busy,
    /// Nobody answered in time.
    NoAnswer,
    /// Not reachable: no registered phone, or an error status (404, 480, 503, 603 ...).
    Unavailable(u16),
}

impl RingOutcome {
    /// The status the caller gets when nothing else is configured.
    pub fn status(self) -> u16 {
        match self {
            RingOutcome::Busy => 486,
            RingOutcome::NoAnswer => 480,
            RingOutcome::Unavailable(s) => s,
        }
    }
}

/// What happened to the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The INVITE was accepted for routing; walk from the start node.
    Start,
    /// The last [`Action::Play`] finished.
    PlaybackDone,
    /// The caller pressed a key (`0`-`9`, `*`, `#`, `A`-`D`), by any DTMF method. Ignored
    /// unless the call is in an IVR menu.
    Digit(char),
    /// The timer of the last [`Action::SetTimer`] fired (and was not cancelled since).
    Timer,
    /// Someone rung by [`Action::Ring`] answered; the caller is bridged (and answered).
    Answered,
    /// Ringing ended without an answer (the caller is still there).
    RingFailed(RingOutcome),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    NotStarted,
    /// A message plays.
    Playing,
    /// In an IVR menu.
    Menu(Menu),
    /// Ringing a user or number.
    Ringing,
    /// Bridged to whoever answered: the walk has nothing more to do.
    Bridged,
    Ended,
}

/// One call's position in the graph.
#[derive(Clone, Debug)]
pub struct Walk {
    node: NodeId,
    answered: bool,
    early: bool,
    phase: Phase,
    hops: u32,
    decisions: Vec<(NodeId, Verdict)>,
    /// A number outside the plan that a phone dialled: rung through a trunk.
    external: Option<String>,
}

impl Walk {
    /// A call that will enter the graph at `start` (from [`Plan::route_number`]).
    pub fn new(start: NodeId) -> Self {
        Walk {
            node: start,
            answered: false,
            early: false,
            phase: Phase::NotStarted,
            hops: 0,
            decisions: Vec::new(),
            external: None,
        }
    }

    /// A call from one of our phones to a number the plan does not know (an outside
    /// number): it rings through a trunk, and a failure goes back to the phone as is.
    pub fn external(digits: &str) -> Self {
        let mut w = Walk::new(NodeId::HANGUP);
        w.external = Some(digits.to_string());
        w
    }

    /// Feeds one event; returns what to do. Events that make no sense now yield nothing.
    /// Schedules are [`Action::Unsupported`] here; [`Walk::handle_at`] decides them.
    pub fn handle<S>(&mut self, plan: &Plan<S>, event: Event) -> Vec<Action> {
        self.step(plan, event, None)
    }

    /// Like [`Walk::handle`], but follows each schedule node to `when_open` or `when_closed`
    /// as it is at `ctx.at`, recording the verdict (see [`Walk::decisions`]).
    pub fn handle_at<S>(
        &mut self,
        plan: &Plan<S>,
        event: Event,
        ctx: &WalkContext<'_>,
    ) -> Vec<Action> {
        self.step(plan, event, Some(ctx))
    }

    /// Every schedule passed so far, in order, with why it sent the call where it did.
    pub fn decisions(&self) -> &[(NodeId, Verdict)] {
        &self.decisions
    }

    fn step<S>(
        &mut self,
        plan: &Plan<S>,
        event: Event,
        ctx: Option<&WalkContext<'_>>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        match (event, &mut self.phase) {
            (Event::Start, Phase::NotStarted) => match &self.external {
                Some(digits) => {
                    self.phase = Phase::Ringing;
                    out.push(Action::Ring {
                        target: RingTarget::Number(digits.clone()),
                        timeout: NUMBER_RING_TIMEOUT,
                    });
                }
                None => self.enter(plan, &mut out, ctx),
            },
            (Event::PlaybackDone, Phase::Playing) => {
                if let Node::Message { then, .. } = plan.node(self.node) {
                    self.node = *then;
                    self.enter(plan, &mut out, ctx);
                } else {
                    self.end(&mut out);
                }
            }
            (Event::PlaybackDone | Event::Digit(_) | Event::Timer, Phase::Menu(menu)) => {
                let Some(ivr) = plan.ivrs.get(menu.index) else {
                    self.end(&mut out);
                    return out;
                };
                let outcome = match event {
                    Event::Digit(key) => menu.digit(plan, ivr, key, &mut out),
                    Event::Timer => menu.timer(plan, ivr, &mut out),
                    _ => {
                        menu.playback_done(ivr, &mut out);
                        Outcome::Stay
                    }
                };
                if let Outcome::Go(next) = outcome {
                    self.node = next;
                    self.enter(plan, &mut out, ctx);
                }
            }
            (Event::Answered, Phase::Ringing) => {
                self.answered = true;
                self.phase = Phase::Bridged;
            }
            (Event::RingFailed(outcome), Phase::Ringing) => match self.forward_for(plan, outcome) {
                Some(next) => {
                    self.node = next;
                    self.enter(plan, &mut out, ctx);
                }
                None => {
                    self.phase = Phase::Ended;
                    out.push(match (self.answered, outcome) {
                        (true, RingOutcome::Busy) => Action::BusyTone,
                        (true, _) => Action::Hangup,
                        (false, o) => Action::Reject(o.status()),
                    });
                }
            },
            _ => {}
        }
        out
    }

    /// Where a user's call forwarding sends a call that rang in vain. A phone that is not
    /// reachable at all counts as not answering.
    fn forward_for<S>(&self, plan: &Plan<S>, outcome: RingOutcome) -> Option<NodeId> {
        let Node::User { index } = plan.node(self.node) else {
            return None;
        };
        let f = plan.users.get(*index)?.forward.as_ref()?;
        match outcome {
            RingOutcome::Busy => f.busy,
            RingOutcome::NoAnswer | RingOutcome::Unavailable(_) => f.no_answer,
        }
    }

    /// The menu state, while the call is in an IVR.
    pub(crate) fn menu(&self) -> Option<&Menu> {
        match &self.phase {
            Phase::Menu(m) => Some(m),
            _ => None,
        }
    }

    /// Nodes entered so far (a re-entered node counts again).
    pub(crate) fn hops(&self) -> u32 {
        self.hops
    }

    /// Whether a 200 OK has been sent.
    pub fn is_answered(&self) -> bool {
        self.answered
    }

    /// Whether a 183 with SDP has been sent (and no 200 yet).
    pub fn is_early_media(&self) -> bool {
        self.early && !self.answered
    }

    /// Whether the walk has reached its end (a final response, BYE or an unsupported node).
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Whether keys pressed now mean something (an IVR menu): the engine reads the caller's
    /// RTP for DTMF only then, which spares every prompt-only call a reader.
    pub fn wants_digits(&self) -> bool {
        matches!(self.phase, Phase::Menu(_))
    }

    /// Whether the call is bridged to someone who answered.
    pub fn is_bridged(&self) -> bool {
        self.phase == Phase::Bridged
    }

    /// The node the call is at.
    pub fn node(&self) -> NodeId {
        self.node
    }

    fn end(&mut self, out: &mut Vec<Action>) {
        self.phase = Phase::Ended;
        out.push(if self.answered {
            Action::Hangup
        } else {
            Action::Reject(480)
        });
    }

    fn enter<S>(&mut self, plan: &Plan<S>, out: &mut Vec<Action>, ctx: Option<&WalkContext<'_>>) {
        self.hops = self.hops.saturating_add(1);
        if self.hops > MAX_HOPS {
            self.end(out);
            return;
        }
        // Schedules and unconditional forwards lead straight on; more of them in a row than
        // the plan has is a loop.
        let mut passed = 0usize;
        loop {
            match (ctx, plan.node(self.node)) {
                (Some(ctx), Node::Schedule { index }) => {
                    passed += 1;
                    let Some((verdict, next)) = ctx
                        .decide(plan, *index)
                        .filter(|_| passed <= plan.schedules.len() + plan.users.len())
                    else {
                        self.end(out);
                        return;
                    };
                    self.decisions.push((self.node, verdict));
                    self.node = next;
                }
                (_, Node::User { index }) => {
                    let always = plan
                        .users
                        .get(*index)
                        .and_then(|u| u.forward.as_ref())
                        .and_then(|f| f.unconditional);
                    let Some(next) = always else { break };
                    passed += 1;
                    if passed > plan.schedules.len() + plan.users.len() {
                        self.end(out);
                        return;
                    }
                    self.node = next;
                }
                _ => break,
            }
        }
        match plan.node(self.node) {
            Node::Busy => {
                self.phase = Phase::Ended;
                out.push(if self.answered {
                    Action::BusyTone
                } else {
                    Action::Reject(486)
                });
            }
            Node::Hangup => self.end(out),
            Node::Message {
                answer,
                repeat,
                sound,
                ..
            } => {
                if !self.answered {
                    if *answer {
                        self.answered = true;
                        out.push(Action::Answer);
                    } else if !self.early {
                        self.early = true;
                        out.push(Action::EarlyMedia);
                    }
                }
                self.phase = Phase::Playing;
                out.push(Action::Play {
                    sound: *sound,
                    times: repeat.saturating_add(1),
                });
            }
            Node::Ivr { index } => match plan.ivrs.get(*index) {
                Some(ivr) => {
                    if !self.answered {
                        self.answered = true;
                        out.push(Action::Answer);
                    }
                    self.phase = Phase::Menu(Menu::enter(*index, ivr, out));
                }
                None => self.end(out),
            },
            Node::User { index } => {
                let timeout = plan
                    .users
                    .get(*index)
                    .and_then(|u| u.forward.as_ref())
                    .filter(|f| f.no_answer.is_some())
                    .map_or(USER_RING_TIMEOUT, |f| f.after);
                self.phase = Phase::Ringing;
                out.push(Action::Ring {
                    target: RingTarget::User(*index),
                    timeout,
                });
            }
            Node::Number { digits } => {
                self.phase = Phase::Ringing;
                out.push(Action::Ring {
                    target: RingTarget::Number(digits.clone()),
                    timeout: NUMBER_RING_TIMEOUT,
                });
            }
            other => {
                self.phase = Phase::Ended;
                out.push(Action::Unsupported {
                    node: self.node,
                    what: other.kind(),
                });
            }
        }
    }
}
