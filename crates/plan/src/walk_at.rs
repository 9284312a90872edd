//! What the walker needs to decide schedules: the instant, the time zone and the one-day
//! overrides in force. The engine owns the clock and the override store; it lends them here.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::Plan;
use crate::graph::NodeId;
use crate::schedule_eval::{Override, Verdict, evaluate};

/// The instant a call is routed at, for [`crate::Walk::handle_at`] and [`Plan::trace_at`].
#[derive(Clone, Copy)]
pub struct WalkContext<'a> {
    /// Now (or the `--at`/`--now` instant of a dry run).
    pub at: Timestamp,
    /// `[server].timezone`, resolved by the caller.
    pub tz: &'a TimeZone,
    /// The one-day overrides of a schedule, by schedule id (past ones may be included; only
    /// the local date and the day before matter).
    pub overrides: &'a dyn Fn(&str) -> Vec<Override>,
}

impl std::fmt::Debug for WalkContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalkContext")
            .field("at", &self.at)
            .field("tz", &self.tz.iana_name())
            .finish_non_exhaustive()
    }
}

impl WalkContext<'_> {
    /// The verdict of schedule `index` of `plan` and where the call goes; None for an index
    /// from another plan.
    pub(crate) fn decide<S>(&self, plan: &Plan<S>, index: usize) -> Option<(Verdict, NodeId)> {
        let schedule = plan.schedules.get(index)?;
        let overrides = (self.overrides)(&schedule.id);
        let verdict = evaluate(schedule, self.tz, self.at, &overrides);
        let next = if verdict.open {
            schedule.when_open
        } else {
            schedule.when_closed
        };
        Some((verdict, next))
    }
}
