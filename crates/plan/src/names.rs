//! Ids of every section, scanned before the full read so references may point forward.

use std::collections::HashMap;

use toml::de::DeValue;

use crate::read::Table;

/// The tables of each array section, in file order; indices here are indices in the plan.
#[derive(Default)]
pub(crate) struct Sections<'t, 'i> {
    pub(crate) trunks: Vec<Table<'t, 'i>>,
    pub(crate) users: Vec<Table<'t, 'i>>,
    pub(crate) messages: Vec<Table<'t, 'i>>,
    pub(crate) queues: Vec<Table<'t, 'i>>,
    pub(crate) ivrs: Vec<Table<'t, 'i>>,
    pub(crate) schedules: Vec<Table<'t, 'i>>,
    pub(crate) dids: Vec<Table<'t, 'i>>,
    pub(crate) flows: Vec<Table<'t, 'i>>,
}

/// Id -> index per section (first one wins; duplicates are reported when read).
#[derive(Default)]
pub(crate) struct Names {
    pub(crate) messages: HashMap<String, usize>,
    pub(crate) users: HashMap<String, usize>,
    pub(crate) queues: HashMap<String, usize>,
    pub(crate) ivrs: HashMap<String, usize>,
    pub(crate) schedules: HashMap<String, usize>,
    /// Users with a voicemail box (see [`has_voicemail`]).
    pub(crate) voicemail: Vec<bool>,
}

fn id_of(t: &Table<'_, '_>) -> Option<String> {
    match t.get("id").map(|v| v.get_ref()) {
        Some(DeValue::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn index(tables: &[Table<'_, '_>]) -> HashMap<String, usize> {
    let mut map = HashMap::new();
    for (i, t) in tables.iter().enumerate() {
        if let Some(id) = id_of(t) {
            map.entry(id).or_insert(i);
        }
    }
    map
}

/// `voicemail = true`, or no `voicemail` key and the user's own `forward` sends calls to
/// `voicemail:<own id>` (forwarding to one's own box implies having one, as in example.toml).
pub(crate) fn has_voicemail(t: &Table<'_, '_>) -> bool {
    match t.get("voicemail").map(|v| v.get_ref()) {
        Some(DeValue::Boolean(b)) => *b,
        Some(_) => false,
        None => {
            let Some(id) = id_of(t) else { return false };
            let own = format!("voicemail:{id}");
            match t.get("forward").map(|v| v.get_ref()) {
                Some(DeValue::Table(f)) => f
                    .iter()
                    .any(|(_, v)| matches!(v.get_ref(), DeValue::String(s) if *s == own)),
                _ => false,
            }
        }
    }
}

impl Names {
    pub(crate) fn scan(s: &Sections<'_, '_>) -> Self {
        Names {
            messages: index(&s.messages),
            users: index(&s.users),
            queues: index(&s.queues),
            ivrs: index(&s.ivrs),
            schedules: index(&s.schedules),
            voicemail: s.users.iter().map(has_voicemail).collect(),
        }
    }
}
