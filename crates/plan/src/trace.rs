//! Dry run of a call (`vaxel trace`): node by node, with why, driven by the real [`Walk`].

use std::fmt;
use std::time::Duration;

use crate::duration::format_duration;
use crate::graph::{Node, NodeId};
use crate::route::{Route, RouteKind};
use crate::schedule_eval::{Override, Verdict};
use crate::walk::{Action, Event, Walk};
use crate::walk_at::WalkContext;
use crate::{Plan, Strategy};

/// One line of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceStep {
    /// The dialled number matched an entry.
    Entry {
        /// As dialled.
        dialled: String,
        /// The DID digits, extension or queue number that matched.
        matched: String,
        /// What matched.
        route: Route,
        /// Destination string of the first node.
        target: String,
    },
    /// Nothing matches: the call gets 404.
    NotFound {
        /// As dialled.
        number: String,
    },
    /// A message plays.
    Message {
        /// The node.
        node: NodeId,
        /// `message:ID`
        target: String,
        /// The message name.
        name: String,
        /// What the engine sends first: `Some("200 OK")`, `Some("183 Session Progress")` or None.
        signal: Option<&'static str>,
        /// The sound file as written.
        sound: String,
        /// How many times it plays.
        times: u32,
        /// Destination string of `then`.
        then: String,
    },
    /// The call ends here.
    End {
        /// The node.
        node: NodeId,
        /// `busy` or `hangup`.
        target: String,
        /// What goes on the wire.
        wire: &'static str,
    },
    /// A node a later version walks; the dry run stops with a description.
    Stop {
        /// The node.
        node: NodeId,
        /// Destination string.
        target: String,
        /// What the node is and where it can lead.
        detail: String,
    },
    /// A schedule decided where the call goes (only in [`Plan::trace_at`]).
    Schedule {
        /// The node.
        node: NodeId,
        /// `schedule:ID`
        target: String,
        /// The schedule name.
        name: String,
        /// Open or closed, and why.
        verdict: Verdict,
        /// Destination string of `when_open` or `when_closed`, whichever applies.
        next: String,
    },
    /// The caller reaches an IVR menu and hears its prompt.
    Menu {
        /// The node.
        node: NodeId,
        /// `ivr:ID`
        target: String,
        /// The menu name.
        name: String,
        /// `Some("200 OK")` when entering the menu answers the call.
        signal: Option<&'static str>,
        /// The prompt file as written.
        prompt: String,
        /// The choices and where no key / an invalid key leads.
        detail: String,
    },
    /// The caller pressed keys at a menu (each after the prompt ended).
    Keys {
        /// The menu node.
        node: NodeId,
        /// As pressed, a closing `#` included.
        keys: String,
        /// Set when the walker waited this long for another digit before deciding.
        waited: Option<Duration>,
        /// For an invalid choice or unknown extension: the invalid count and the most the
        /// menu takes (`retries + 1`).
        invalid: Option<(u32, u32)>,
        /// The `invalid_prompt` played before the menu is offered again.
        invalid_prompt: Option<String>,
        /// Destination string of where the call goes; None: the menu is offered again.
        next: Option<String>,
    },
    /// The caller pressed nothing more: the menu timed out `times` times in a row.
    Timeouts {
        /// The menu node.
        node: NodeId,
        /// The menu's `timeout`.
        after: Duration,
        /// How many timeouts.
        times: u32,
        /// Destination string of where the call goes; None: the dry run gave up counting.
        next: Option<String>,
    },
    /// Keys left over when the call left the last menu.
    UnusedKeys {
        /// As given.
        keys: String,
    },
    /// The call came back to a node it passed: it would loop from here.
    Loop {
        /// The node.
        node: NodeId,
        /// Destination string.
        target: String,
    },
}

impl fmt::Display for TraceStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceStep::Entry {
                dialled,
                matched,
                route,
                target,
            } => {
                if dialled != matched {
                    write!(f, "{dialled} = ")?;
                }
                let kind = match route.kind {
                    RouteKind::Did { .. } => "DID",
                    RouteKind::Extension { .. } => "extension",
                    RouteKind::QueueNumber { .. } => "queue number",
                };
                write!(f, "{kind} {matched} '{}' -> {target}", route.name)
            }
            TraceStep::NotFound { number } => write!(
                f,
                "{number}: no DID, extension or queue number -> 404 Not Found"
            ),
            TraceStep::Message {
                target,
                name,
                signal,
                sound,
                times,
                then,
                ..
            } => {
                write!(f, "{target} '{name}' (")?;
                match *signal {
                    Some("200 OK") => write!(f, "answered, ")?,
                    Some(s) => write!(f, "early media with {s}, ")?,
                    None => {}
                }
                let count = match times {
                    1 => "once".to_string(),
                    n => format!("{n} times"),
                };
                write!(f, "plays {sound} {count}) -> {then}")
            }
            TraceStep::End { target, wire, .. } => write!(f, "{target}: {wire}"),
            TraceStep::Stop { target, detail, .. } => write!(
                f,
                "{target}: {detail} [not walked by this version: the engine answers 480, or BYE once answered]"
            ),
            TraceStep::Schedule {
                target,
                name,
                verdict,
                next,
                ..
            } => write!(f, "{target} '{name}' is {verdict} -> {next}"),
            TraceStep::Menu {
                target,
                name,
                signal,
                prompt,
                detail,
                ..
            } => {
                let answered = if signal.is_some() { "answered, " } else { "" };
                write!(f, "{target} '{name}' ({answered}plays {prompt}): {detail}")
            }
            TraceStep::Keys {
                keys,
                waited,
                invalid,
                invalid_prompt,
                next,
                ..
            } => {
                write!(f, "caller presses {keys}")?;
                if let Some(w) = waited {
                    write!(f, ", then nothing for {}", format_duration(*w))?;
                }
                if let Some((n, of)) = invalid {
                    write!(f, ": invalid choice {n} of {of}")?;
                }
                match (next, invalid_prompt) {
                    (Some(next), _) => write!(f, " -> {next}"),
                    (None, Some(p)) => write!(f, " -> plays {p}, menu again"),
                    (None, None) => write!(f, " -> menu again"),
                }
            }
            TraceStep::Timeouts {
                after, times, next, ..
            } => {
                write!(f, "no key within {}", format_duration(*after))?;
                if *times != 1 {
                    write!(f, ", {times} times")?;
                }
                match next {
                    Some(next) => write!(f, " -> {next}"),
                    None => write!(f, "; the dry run stops counting here"),
                }
            }
            TraceStep::UnusedKeys { keys } => {
                write!(f, "keys {keys} not used: no menu was waiting for them")
            }
            TraceStep::Loop { target, .. } => {
                write!(f, "{target} again: the call would loop from here")
            }
        }
    }
}

fn strategy_name(s: Strategy) -> &'static str {
    let all = [
        Strategy::RingAll,
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::LeastTalkTime,
        Strategy::Random,
        Strategy::Linear,
    ];
    all.iter()
        .position(|x| *x == s)
        .and_then(|i| Strategy::NAMES.get(i).copied())
        .unwrap_or("?")
}

impl<S> Plan<S> {
    /// Dry run of a call to `number`: where it enters, each node, and why it goes on.
    /// Stops at a schedule; [`Plan::trace_at`] decides schedules.
    pub fn trace(&self, number: &str) -> Vec<TraceStep> {
        self.trace_with(number, None, "")
    }

    /// Dry run of a call to `number` at the instant `at` (wall clock of `tz`), with the
    /// one-day `overrides` of each schedule id: also says why each schedule is open or closed.
    pub fn trace_at(
        &self,
        number: &str,
        at: jiff::Timestamp,
        tz: &jiff::tz::TimeZone,
        overrides: &dyn Fn(&str) -> Vec<Override>,
    ) -> Vec<TraceStep> {
        self.trace_with(number, Some(&WalkContext { at, tz, overrides }), "")
    }

    /// Dry run of a call to `number`, deciding schedules at `ctx` if given, where the caller
    /// presses `digits` at the IVR menus: each key after the prompt has ended, `#` ends an
    /// extension early, and at a menu with no keys left the caller stays silent (timeouts,
    /// then `on_timeout`). Whitespace in `digits` is skipped.
    pub fn trace_with(
        &self,
        number: &str,
        ctx: Option<&WalkContext<'_>>,
        digits: &str,
    ) -> Vec<TraceStep> {
        let keys: Vec<char> = digits.chars().filter(|c| !c.is_whitespace()).collect();
        let mut used = 0;
        let mut steps = self.run(number, ctx, &keys, &mut used);
        if let Some(rest) = keys.get(used..).filter(|r| !r.is_empty()) {
            steps.push(TraceStep::UnusedKeys {
                keys: rest.iter().collect(),
            });
        }
        steps
    }

    fn run(
        &self,
        number: &str,
        ctx: Option<&WalkContext<'_>>,
        keys: &[char],
        used: &mut usize,
    ) -> Vec<TraceStep> {
        let Some(route) = self.route_number(number) else {
            return vec![TraceStep::NotFound {
                number: number.to_string(),
            }];
        };
        let matched = match route.kind {
            RouteKind::Did { index } => self.dids.get(index).map(|d| d.number.clone()),
            _ => None,
        }
        .unwrap_or_else(|| number.to_string());
        let mut steps = vec![TraceStep::Entry {
            dialled: number.to_string(),
            matched,
            target: self.node_name(route.node),
            route: route.clone(),
        }];
        let mut walk = Walk::new(route.node);
        // A node passed again with no more keys pressed since is a loop.
        let mut seen: Vec<(NodeId, usize)> = Vec::new();
        let handle = |walk: &mut Walk, event| match ctx {
            Some(ctx) => walk.handle_at(self, event, ctx),
            None => walk.handle(self, event),
        };
        let mut actions = handle(&mut walk, Event::Start);
        let mut decided = 0;
        'walk: loop {
            for (node, verdict) in walk.decisions().iter().skip(decided) {
                let (node, verdict) = (*node, *verdict);
                decided += 1;
                let target = self.node_name(node);
                if seen.contains(&(node, *used)) {
                    steps.push(TraceStep::Loop { node, target });
                    break 'walk;
                }
                seen.push((node, *used));
                if let Node::Schedule { index } = self.node(node) {
                    let s = self.schedules.get(*index);
                    let next = s.map(|s| {
                        if verdict.open {
                            s.when_open
                        } else {
                            s.when_closed
                        }
                    });
                    steps.push(TraceStep::Schedule {
                        node,
                        target,
                        name: s.map(|s| s.name.clone()).unwrap_or_default(),
                        verdict,
                        next: next.map(|n| self.node_name(n)).unwrap_or_default(),
                    });
                }
            }
            let node = walk.node();
            let target = self.node_name(node);
            if seen.contains(&(node, *used)) {
                steps.push(TraceStep::Loop { node, target });
                break;
            }
            seen.push((node, *used));
            let mut signal = None;
            let mut played = None;
            let mut wire = None;
            for a in &actions {
                match a {
                    Action::Answer => signal = Some("200 OK"),
                    Action::EarlyMedia => signal = Some("183 Session Progress"),
                    Action::Play { times, .. } => played = Some(*times),
                    Action::Reject(486) => wire = Some("486 Busy Here"),
                    Action::Reject(480) => wire = Some("480 Temporarily Unavailable"),
                    Action::Reject(_) => wire = Some("rejected"),
                    Action::BusyTone => wire = Some("busy tone for a few seconds, then BYE"),
                    Action::Hangup => wire = Some("BYE"),
                    Action::Unsupported { .. }
                    | Action::Ring { .. }
                    | Action::StopPlayback
                    | Action::SetTimer(_)
                    | Action::CancelTimer => {}
                }
            }
            match (played, self.node(node)) {
                (Some(times), Node::Message { id, then, .. }) => {
                    let msg = self.messages.iter().find(|m| &m.id == id);
                    steps.push(TraceStep::Message {
                        node,
                        target,
                        name: msg.map(|m| m.name.clone()).unwrap_or_default(),
                        signal,
                        sound: msg.map(|m| m.sound_file.clone()).unwrap_or_default(),
                        times,
                        then: self.node_name(*then),
                    });
                    actions = handle(&mut walk, Event::PlaybackDone);
                }
                (Some(_), Node::Ivr { index }) if walk.menu().is_some() => {
                    let Some(ivr) = self.ivrs.get(*index) else {
                        break;
                    };
                    steps.push(TraceStep::Menu {
                        node,
                        target,
                        name: ivr.name.clone(),
                        signal,
                        prompt: ivr.prompt_file.clone(),
                        detail: self.menu_detail(ivr),
                    });
                    match self.follow_menu(&mut walk, &handle, ivr, keys, used, &mut steps) {
                        Some(next) => actions = next,
                        None => break,
                    }
                }
                _ => {
                    steps.push(match wire {
                        Some(wire) => TraceStep::End { node, target, wire },
                        None => TraceStep::Stop {
                            node,
                            target,
                            detail: self.describe(node),
                        },
                    });
                    break;
                }
            }
        }
        steps
    }

    /// What a node a later version walks is, and where it leads.
    fn describe(&self, node: NodeId) -> String {
        match self.node(node) {
            Node::Schedule { index } => self.schedules.get(*index).map_or_else(String::new, |s| {
                let open: Vec<String> = s.open.iter().map(ToString::to_string).collect();
                let mut d = format!("schedule '{}', open {}", s.name, open.join("; "));
                if s.holidays.is_some() {
                    d.push_str(", closed on Swedish public holidays");
                }
                if !s.closed_on.is_empty() {
                    let days: Vec<String> = s.closed_on.iter().map(ToString::to_string).collect();
                    d.push_str(&format!(", closed {}", days.join(", ")));
                }
                format!(
                    "{d}; open -> {}, closed -> {}",
                    self.node_name(s.when_open),
                    self.node_name(s.when_closed)
                )
            }),
            Node::Ivr { index } => self.ivrs.get(*index).map_or_else(String::new, |i| {
                format!("menu '{}': {}", i.name, self.menu_detail(i))
            }),
            Node::Queue { index } => self.queues.get(*index).map_or_else(String::new, |q| {
                format!(
                    "queue '{}' ({}, {} members, max wait {}) failover -> {}",
                    q.name,
                    strategy_name(q.strategy),
                    q.members.len(),
                    format_duration(q.max_wait),
                    self.node_name(q.failover)
                )
            }),
            Node::Voicemail { user } => self
                .users
                .get(*user)
                .map_or_else(String::new, |u| format!("voicemail box of '{}'", u.name)),
            Node::User { index } => self.users.get(*index).map_or_else(String::new, |u| {
                let mut d = format!("rings '{}'", u.name);
                if let Some(f) = &u.forward {
                    for (what, dest) in [
                        ("always", f.unconditional),
                        ("busy", f.busy),
                        ("no answer", f.no_answer),
                    ] {
                        if let Some(dest) = dest {
                            d.push_str(&format!(", {what} -> {}", self.node_name(dest)));
                        }
                    }
                }
                d
            }),
            Node::Number { digits } => format!("dials {digits} through a trunk"),
            Node::Busy | Node::Hangup | Node::Message { .. } => String::new(),
        }
    }
}
