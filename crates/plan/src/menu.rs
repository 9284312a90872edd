//! One call inside an `[[ivr]]` menu: the prompt, barge-in, the `timeout` and the inter-digit
//! timers, the two retry counts, and extension dialling. Time-free: timers are
//! [`Action::SetTimer`]s the engine runs and reports back as [`crate::Event::Timer`].
//!
//! Semantics (also in docs/config.md): the invalid-key count and the timeout count are kept
//! apart, each allows `retries` more offers of the menu; both start at 0 whenever the call
//! enters the menu (also from its own `on_invalid`/`on_timeout`/`choices`).

use crate::Plan;
use crate::graph::NodeId;
use crate::model::Ivr;
use crate::route::RouteKind;
use crate::walk::Action;

/// Where in the menu the call is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MenuPhase {
    /// The `invalid_prompt` plays; the menu prompt follows it.
    Invalid,
    /// The menu prompt plays.
    Prompt,
    /// The prompt has ended; the `timeout` timer runs.
    Waiting,
    /// The digits of an extension so far; the inter-digit timer runs.
    Collecting(String),
}

/// The menu state of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Menu {
    /// Index into `Plan::ivrs`.
    pub(crate) index: usize,
    pub(crate) phase: MenuPhase,
    /// Invalid keys (or unknown extensions) since the call entered the menu.
    pub(crate) invalid: u32,
    /// Timeouts since the call entered the menu.
    pub(crate) timeouts: u32,
}

/// What an event did to the menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The call stays in the menu.
    Stay,
    /// The call leaves the menu for this node.
    Go(NodeId),
}

/// What `keys` (a choice key, or the digits of an extension, without `#`) select in `ivr`:
/// a single key that is a choice selects it; anything else is looked up among extensions
/// and queue numbers when `extensions = true`. None is an invalid choice.
pub(crate) fn resolve<S>(plan: &Plan<S>, ivr: &Ivr, keys: &str) -> Option<NodeId> {
    let mut chars = keys.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && let Some((_, dest)) = ivr.choices.iter().find(|(k, _)| *k == c)
    {
        return Some(*dest);
    }
    if !ivr.extensions {
        return None;
    }
    plan.route_number(keys)
        .filter(|r| {
            matches!(
                r.kind,
                RouteKind::Extension { .. } | RouteKind::QueueNumber { .. }
            )
        })
        .map(|r| r.node)
}

/// Whether some extension or queue number is longer than `keys` and starts with them.
fn continues<S>(plan: &Plan<S>, keys: &str) -> bool {
    plan.internal
        .keys()
        .any(|n| n.len() > keys.len() && n.starts_with(keys))
}

impl Menu {
    /// Enters the menu: the prompt plays, counts start at 0.
    pub(crate) fn enter(index: usize, ivr: &Ivr, out: &mut Vec<Action>) -> Menu {
        out.push(Action::Play {
            sound: ivr.prompt,
            times: 1,
        });
        Menu {
            index,
            phase: MenuPhase::Prompt,
            invalid: 0,
            timeouts: 0,
        }
    }

    /// Whether a timer of this menu is pending at the engine.
    fn timer_pending(&self) -> bool {
        matches!(self.phase, MenuPhase::Waiting | MenuPhase::Collecting(_))
    }

    /// The current sound ended: after the invalid prompt the menu prompt plays; after the
    /// menu prompt the `timeout` timer starts.
    pub(crate) fn playback_done(&mut self, ivr: &Ivr, out: &mut Vec<Action>) {
        match self.phase {
            MenuPhase::Invalid => self.offer(ivr, out),
            MenuPhase::Prompt => {
                self.phase = MenuPhase::Waiting;
                out.push(Action::SetTimer(ivr.timeout));
            }
            // A late report of audio the walker already stopped.
            MenuPhase::Waiting | MenuPhase::Collecting(_) => {}
        }
    }

    /// The timer this menu set has fired.
    pub(crate) fn timer<S>(&mut self, plan: &Plan<S>, ivr: &Ivr, out: &mut Vec<Action>) -> Outcome {
        match std::mem::replace(&mut self.phase, MenuPhase::Waiting) {
            MenuPhase::Waiting => {
                self.timeouts = self.timeouts.saturating_add(1);
                if self.timeouts <= ivr.retries {
                    self.offer(ivr, out);
                    Outcome::Stay
                } else {
                    Outcome::Go(ivr.on_timeout)
                }
            }
            MenuPhase::Collecting(keys) => self.finish(plan, ivr, &keys, out),
            // No timer runs while a prompt plays: a stale report.
            phase @ (MenuPhase::Invalid | MenuPhase::Prompt) => {
                self.phase = phase;
                Outcome::Stay
            }
        }
    }

    /// The caller pressed `key`. A key during a prompt stops it (barge-in); a key that leaves
    /// the menu or offers it again cancels the pending timer.
    pub(crate) fn digit<S>(
        &mut self,
        plan: &Plan<S>,
        ivr: &Ivr,
        key: char,
        out: &mut Vec<Action>,
    ) -> Outcome {
        let had_timer = self.timer_pending();
        if !had_timer {
            out.push(Action::StopPlayback);
        }
        let mut then = Vec::new();
        let outcome = match std::mem::replace(&mut self.phase, MenuPhase::Waiting) {
            MenuPhase::Collecting(keys) if key == '#' => self.finish(plan, ivr, &keys, &mut then),
            MenuPhase::Collecting(mut keys) => {
                keys.push(key);
                self.collect(plan, ivr, keys, &mut then)
            }
            _ if ivr.extensions => self.collect(plan, ivr, key.to_string(), &mut then),
            _ => match resolve(plan, ivr, &key.to_string()) {
                Some(dest) => Outcome::Go(dest),
                None => self.invalid(ivr, &mut then),
            },
        };
        let rearmed = then.iter().any(|a| matches!(a, Action::SetTimer(_)));
        if had_timer && !rearmed {
            out.push(Action::CancelTimer);
        }
        out.append(&mut then);
        outcome
    }

    /// `keys` so far of a possible extension: done when they select something no longer
    /// number continues, invalid when nothing can follow, else wait for the next digit.
    fn collect<S>(
        &mut self,
        plan: &Plan<S>,
        ivr: &Ivr,
        keys: String,
        out: &mut Vec<Action>,
    ) -> Outcome {
        if continues(plan, &keys) {
            self.phase = MenuPhase::Collecting(keys);
            out.push(Action::SetTimer(ivr.digit_timeout));
            return Outcome::Stay;
        }
        self.finish(plan, ivr, &keys, out)
    }

    /// The keys are complete (`#`, the inter-digit timeout, or nothing longer matches).
    fn finish<S>(
        &mut self,
        plan: &Plan<S>,
        ivr: &Ivr,
        keys: &str,
        out: &mut Vec<Action>,
    ) -> Outcome {
        match resolve(plan, ivr, keys) {
            Some(dest) => Outcome::Go(dest),
            None => self.invalid(ivr, out),
        }
    }

    /// An invalid key or an unknown extension: offer the menu again (after the invalid
    /// prompt) while the count allows, else leave for `on_invalid`.
    fn invalid(&mut self, ivr: &Ivr, out: &mut Vec<Action>) -> Outcome {
        self.invalid = self.invalid.saturating_add(1);
        if self.invalid > ivr.retries {
            return Outcome::Go(ivr.on_invalid);
        }
        match ivr.invalid_prompt {
            Some(sound) => {
                self.phase = MenuPhase::Invalid;
                out.push(Action::Play { sound, times: 1 });
            }
            None => self.offer(ivr, out),
        }
        Outcome::Stay
    }

    /// Plays the menu prompt again.
    fn offer(&mut self, ivr: &Ivr, out: &mut Vec<Action>) {
        self.phase = MenuPhase::Prompt;
        out.push(Action::Play {
            sound: ivr.prompt,
            times: 1,
        });
    }
}
