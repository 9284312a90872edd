//! Whole-plan checks: numbers used twice, and loops a call can never leave.

use std::collections::{HashMap, HashSet};

use crate::SoundLoader;
use crate::build::Builder;
use crate::graph::NodeId;
use crate::route::did_candidates;

/// Reports every number (DID, extension, queue number) that routes to two places.
pub(crate) fn duplicate_numbers<L: SoundLoader>(b: &mut Builder<'_, '_, L>, cc: Option<&str>) {
    let mut order: Vec<usize> = (0..b.claims.len()).collect();
    order.sort_by_key(|&i| b.claims.get(i).map_or(0, |c| c.span.start));
    let mut dids: HashMap<String, usize> = HashMap::new();
    let mut exact: HashMap<String, usize> = HashMap::new();
    let mut reach: HashMap<String, usize> = HashMap::new();
    let mut reports = Vec::new();
    for i in order {
        let Some(c) = b.claims.get(i) else { continue };
        let clash = if c.is_did {
            let clash = dids
                .get(&c.number)
                .or_else(|| reach.get(&c.number))
                .copied();
            dids.entry(c.number.clone()).or_insert(i);
            clash
        } else {
            let cands = did_candidates(&c.number, cc);
            let clash = exact
                .get(&c.number)
                .or_else(|| cands.iter().find_map(|n| dids.get(n)))
                .copied();
            exact.entry(c.number.clone()).or_insert(i);
            for n in cands {
                reach.entry(n).or_insert(i);
            }
            clash
        };
        if let Some(first) = clash.and_then(|f| b.claims.get(f)) {
            reports.push((
                c.span.clone(),
                format!("number `{}` is used twice", c.number),
                format!(
                    "it is already the {} at {}",
                    first.owner,
                    b.sink.at(&first.span)
                ),
            ));
        }
    }
    for (span, msg, hint) in reports {
        b.sink.hint(&span, msg, hint);
    }
}

/// Reports each cycle of messages/schedules from which no path leads to a node where the call
/// can end or the caller can act (hangup, busy, voicemail, queue, IVR, user, number).
pub(crate) fn trap_loops<L: SoundLoader>(b: &mut Builder<'_, '_, L>) {
    // ok = some path from the node leaves the pass-through nodes.
    let mut ok: HashSet<NodeId> = HashSet::new();
    let is_ok = |ok: &HashSet<NodeId>, n: &NodeId, passes: &HashMap<NodeId, _>| {
        !passes.contains_key(n) || ok.contains(n)
    };
    loop {
        let mut changed = false;
        for (n, p) in &b.passes {
            if !ok.contains(n) && p.next.iter().any(|m| is_ok(&ok, m, &b.passes)) {
                ok.insert(*n);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut trapped: Vec<NodeId> = b
        .passes
        .keys()
        .filter(|n| !ok.contains(n))
        .copied()
        .collect();
    trapped.sort();
    let mut done: HashSet<NodeId> = HashSet::new();
    let mut reports = Vec::new();
    for start in trapped {
        let mut path: Vec<NodeId> = Vec::new();
        let mut at = start;
        // Every trapped node has a trapped successor, so this ends at a repeat or a known node.
        while !done.contains(&at) && !path.contains(&at) {
            path.push(at);
            let Some(next) = b.passes.get(&at).and_then(|p| p.next.first()) else {
                break;
            };
            at = *next;
        }
        let cycle_start = path.iter().position(|n| *n == at);
        done.extend(path.iter().copied());
        let Some(pos) = cycle_start else { continue };
        let cycle = path.get(pos..).unwrap_or_default();
        let Some(first) = cycle
            .iter()
            .filter_map(|n| b.passes.get(n).map(|p| (n, p.span.start)))
            .min_by_key(|(_, s)| *s)
            .map(|(n, _)| *n)
        else {
            continue;
        };
        let rot = cycle.iter().position(|n| *n == first).unwrap_or(0);
        let mut labels: Vec<&str> = cycle
            .iter()
            .cycle()
            .skip(rot)
            .take(cycle.len())
            .filter_map(|n| b.passes.get(n).map(|p| p.label.as_str()))
            .collect();
        if let Some(l) = labels.first().copied() {
            labels.push(l);
        }
        if let Some(p) = b.passes.get(&first) {
            reports.push((
                p.span.clone(),
                format!(
                    "calls loop forever with no way out: {}",
                    labels.join(" -> ")
                ),
            ));
        }
    }
    for (span, msg) in reports {
        b.sink.hint(
            &span,
            msg,
            "route one step of the loop to hangup, busy, voicemail, a queue or an IVR",
        );
    }
}
