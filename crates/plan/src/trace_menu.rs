//! The dry run at an IVR menu: drives the real [`Walk`] with the caller's keys, each pressed
//! after the prompt has ended, and silence once the keys run out.

use crate::Plan;
use crate::duration::format_duration;
use crate::menu::{MenuPhase, resolve};
use crate::model::Ivr;
use crate::trace::TraceStep;
use crate::walk::{Action, Event, Walk};

/// Timeouts in a row after which the dry run stops counting (`retries` may be huge).
const MAX_TIMEOUTS: u32 = 1000;

/// `1st`, `2nd`, `3rd`, `4th`, ... `11th`, `21st`.
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

impl<S> Plan<S> {
    /// The choices of a menu and where no key or an invalid key leads, for a trace line.
    pub(crate) fn menu_detail(&self, ivr: &Ivr) -> String {
        let parts: Vec<String> = ivr
            .choices
            .iter()
            .map(|(c, n)| format!("{c} -> {}", self.node_name(*n)))
            .collect();
        let mut choices = match parts.len() {
            0 => "no choices".to_string(),
            _ => parts.join(", "),
        };
        if ivr.extensions {
            choices.push_str(", or dial an extension or queue number");
        }
        format!(
            "{choices}; no key within {} -> {}, invalid -> {}, each the {} time",
            format_duration(ivr.timeout),
            self.node_name(ivr.on_timeout),
            self.node_name(ivr.on_invalid),
            ordinal(ivr.retries.saturating_add(1))
        )
    }

    /// Follows the menu the walk has just entered (its prompt playing) until the call leaves
    /// it; returns the actions that entered the next node, or None when the dry run gives up.
    pub(crate) fn follow_menu(
        &self,
        walk: &mut Walk,
        handle: &dyn Fn(&mut Walk, Event) -> Vec<Action>,
        ivr: &Ivr,
        keys: &[char],
        used: &mut usize,
        steps: &mut Vec<TraceStep>,
    ) -> Option<Vec<Action>> {
        let node = walk.node();
        let entry = walk.hops();
        let left = |walk: &Walk| walk.hops() != entry || walk.menu().is_none();
        let offers = ivr.retries.saturating_add(1);
        loop {
            // The prompt (after the invalid prompt, if one plays) ends: the timer starts.
            for _ in 0..2 {
                let actions = handle(walk, Event::PlaybackDone);
                if left(walk) {
                    return Some(actions);
                }
                if actions.iter().any(|a| matches!(a, Action::SetTimer(_))) {
                    break;
                }
            }
            if keys.get(*used).is_none() {
                let mut times = 0;
                loop {
                    let actions = handle(walk, Event::Timer);
                    times += 1;
                    if left(walk) {
                        steps.push(TraceStep::Timeouts {
                            node,
                            after: ivr.timeout,
                            times,
                            next: Some(self.node_name(walk.node())),
                        });
                        return Some(actions);
                    }
                    if times >= MAX_TIMEOUTS {
                        steps.push(TraceStep::Timeouts {
                            node,
                            after: ivr.timeout,
                            times,
                            next: None,
                        });
                        return None;
                    }
                    handle(walk, Event::PlaybackDone);
                }
            }
            let invalid_before = walk.menu().map_or(0, |m| m.invalid);
            let mut pressed = String::new();
            let mut waited = None;
            let actions = loop {
                let actions = match keys.get(*used) {
                    Some(&k) => {
                        *used += 1;
                        pressed.push(k);
                        handle(walk, Event::Digit(k))
                    }
                    None => {
                        waited = Some(ivr.digit_timeout);
                        handle(walk, Event::Timer)
                    }
                };
                let collecting = !left(walk)
                    && walk
                        .menu()
                        .is_some_and(|m| matches!(m.phase, MenuPhase::Collecting(_)));
                if !collecting {
                    break actions;
                }
            };
            if left(walk) {
                // `#` closes an extension; alone it is a key of its own.
                let typed = match pressed.strip_suffix('#') {
                    Some(t) if !t.is_empty() => t,
                    _ => pressed.as_str(),
                };
                let invalid = resolve(self, ivr, typed)
                    .is_none()
                    .then(|| (invalid_before.saturating_add(1), offers));
                steps.push(TraceStep::Keys {
                    node,
                    keys: pressed,
                    waited,
                    invalid,
                    invalid_prompt: None,
                    next: Some(self.node_name(walk.node())),
                });
                return Some(actions);
            }
            steps.push(TraceStep::Keys {
                node,
                keys: pressed,
                waited,
                invalid: Some((walk.menu().map_or(0, |m| m.invalid), offers)),
                invalid_prompt: ivr.invalid_prompt_file.clone(),
                next: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .into_iter()
            .map(super::ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }
}
