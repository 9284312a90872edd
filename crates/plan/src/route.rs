//! Which entry a dialled number (the Request-URI user part) reaches.

use crate::Plan;
use crate::graph::NodeId;

/// What kind of number matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// One of our DIDs (index into `Plan::dids`).
    Did {
        /// Index into `Plan::dids`.
        index: usize,
    },
    /// A user's extension (index into `Plan::users`).
    Extension {
        /// Index into `Plan::users`.
        user: usize,
    },
    /// A queue's internal number (index into `Plan::queues`).
    QueueNumber {
        /// Index into `Plan::queues`.
        queue: usize,
    },
}

/// Where a dialled number enters the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The first node of the call.
    pub node: NodeId,
    /// What matched.
    pub kind: RouteKind,
    /// Name of the DID, user or queue.
    pub name: String,
}

/// The DID digits a user part may stand for: itself, `+CC...` -> `CC...`, `00CC...` -> `CC...`,
/// and national `0...` -> `CC...` when a country code is set.
pub(crate) fn did_candidates(user_part: &str, cc: Option<&str>) -> Vec<String> {
    let s = user_part.split(';').next().unwrap_or_default().trim();
    let mut out = vec![s.to_string()];
    if let Some(rest) = s.strip_prefix('+') {
        out.push(rest.to_string());
    } else if let Some(rest) = s.strip_prefix("00") {
        out.push(rest.to_string());
    } else if let (Some(rest), Some(cc)) = (s.strip_prefix('0'), cc) {
        out.push(format!("{cc}{rest}"));
    }
    out.retain(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    out
}

impl<S> Plan<S> {
    /// Maps a Request-URI user part to its entry: an extension, a queue number, or a DID (with
    /// or without `+`, with the `00` prefix, or national `0...` when `country_code` is set).
    pub fn route_number(&self, user_part: &str) -> Option<Route> {
        let plain = user_part.split(';').next().unwrap_or_default().trim();
        if plain.is_empty() {
            return None;
        }
        let kind = match self.internal.get(plain) {
            Some(k) => *k,
            None => did_candidates(plain, self.server.country_code.as_deref())
                .iter()
                .find_map(|n| self.did_index.get(n))
                .map(|&index| RouteKind::Did { index })?,
        };
        let (node, name) = match kind {
            RouteKind::Did { index } => {
                let d = self.dids.get(index)?;
                (d.route, d.name.clone())
            }
            RouteKind::Extension { user } => {
                (self.user_node(user), self.users.get(user)?.name.clone())
            }
            RouteKind::QueueNumber { queue } => {
                (self.queue_node(queue), self.queues.get(queue)?.name.clone())
            }
        };
        Some(Route { node, kind, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates() {
        assert_eq!(did_candidates("+4610", Some("46")), vec!["4610"]);
        assert_eq!(did_candidates("004610", Some("46")), vec!["004610", "4610"]);
        assert_eq!(did_candidates("010", Some("46")), vec!["010", "4610"]);
        assert_eq!(did_candidates("010", None), vec!["010"]);
        assert_eq!(did_candidates("1000;phone-context=x", None), vec!["1000"]);
        assert!(did_candidates("abc", None).is_empty());
    }
}
