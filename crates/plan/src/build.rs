//! Shared state while a config is compiled: the sink, node layout, reference resolution, sounds.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use crate::SoundLoader;
use crate::dest::{DEST_FORMS, DestRef, parse_dest};
use crate::diag::Sink;
use crate::graph::{Node, NodeId, SoundId};
use crate::names::Names;

/// Where each section's nodes start; nodes are laid out before any section is read.
pub(crate) struct Layout {
    messages: usize,
    voicemail: Vec<Option<usize>>,
    queues: usize,
    ivrs: usize,
    schedules: usize,
    users: usize,
}

/// Compiler state shared by the section readers.
pub(crate) struct Builder<'s, 'l, L: SoundLoader> {
    pub(crate) sink: Sink<'s>,
    pub(crate) names: Names,
    pub(crate) nodes: Vec<Node>,
    layout: Layout,
    numbers: HashMap<String, NodeId>,
    /// Nodes a call passes through without the caller choosing (messages, schedules).
    pub(crate) passes: HashMap<NodeId, Pass>,
    loader: &'l mut L,
    pub(crate) sounds_dir: PathBuf,
    pub(crate) sounds: Vec<L::Sound>,
    loaded: HashMap<PathBuf, Result<SoundId, String>>,
    /// Every number that routes a call (extensions, queue numbers, DIDs), for the duplicate check.
    pub(crate) claims: Vec<Claim>,
}

/// A number some entry answers to.
pub(crate) struct Claim {
    /// Extension or queue number as written, or DID digits.
    pub(crate) number: String,
    pub(crate) span: Range<usize>,
    /// Who owns it, for messages ("extension of user `anna`").
    pub(crate) owner: String,
    pub(crate) is_did: bool,
}

fn id(i: usize) -> NodeId {
    NodeId(u32::try_from(i).unwrap_or(u32::MAX))
}

impl<'s, 'l, L: SoundLoader> Builder<'s, 'l, L> {
    pub(crate) fn new(sink: Sink<'s>, names: Names, counts: Counts, loader: &'l mut L) -> Self {
        let mut nodes = vec![Node::Busy, Node::Hangup];
        let messages = nodes.len();
        // Placeholders: each message node is filled in when its table is read.
        nodes.extend((0..counts.messages).map(|_| Node::Hangup));
        let voicemail = names
            .voicemail
            .iter()
            .enumerate()
            .map(|(user, has)| {
                has.then(|| {
                    nodes.push(Node::Voicemail { user });
                    nodes.len() - 1
                })
            })
            .collect();
        let queues = nodes.len();
        nodes.extend((0..counts.queues).map(|index| Node::Queue { index }));
        let ivrs = nodes.len();
        nodes.extend((0..counts.ivrs).map(|index| Node::Ivr { index }));
        let schedules = nodes.len();
        nodes.extend((0..counts.schedules).map(|index| Node::Schedule { index }));
        let users = nodes.len();
        nodes.extend((0..counts.users).map(|index| Node::User { index }));
        Builder {
            sink,
            names,
            nodes,
            layout: Layout {
                messages,
                voicemail,
                queues,
                ivrs,
                schedules,
                users,
            },
            numbers: HashMap::new(),
            passes: HashMap::new(),
            loader,
            sounds_dir: PathBuf::new(),
            sounds: Vec::new(),
            loaded: HashMap::new(),
            claims: Vec::new(),
        }
    }

    pub(crate) fn message_node(&self, i: usize) -> NodeId {
        id(self.layout.messages + i)
    }

    pub(crate) fn schedule_node(&self, i: usize) -> NodeId {
        id(self.layout.schedules + i)
    }

    pub(crate) fn queue_node(&self, i: usize) -> NodeId {
        id(self.layout.queues + i)
    }

    pub(crate) fn user_node(&self, i: usize) -> NodeId {
        id(self.layout.users + i)
    }

    /// Resolves a destination string, reporting bad forms and unknown ids at the value.
    pub(crate) fn dest(&mut self, key: &str, value: &Spanned<String>) -> Option<NodeId> {
        let span = value.span();
        let parsed = match parse_dest(value.get_ref()) {
            Ok(d) => d,
            Err(e) => {
                self.sink.hint(
                    &span,
                    format!("bad destination for `{key}`: {e}"),
                    format!("a destination is one of: {DEST_FORMS}"),
                );
                return None;
            }
        };
        let (kind, name, map) = match parsed {
            DestRef::Busy => return Some(NodeId(0)),
            DestRef::Hangup => return Some(NodeId(1)),
            DestRef::Number(digits) => {
                let next = id(self.nodes.len());
                let node = *self.numbers.entry(digits.clone()).or_insert(next);
                if node == next {
                    self.nodes.push(Node::Number { digits });
                }
                return Some(node);
            }
            DestRef::Message(n) => ("message", n, &self.names.messages),
            DestRef::Queue(n) => ("queue", n, &self.names.queues),
            DestRef::Ivr(n) => ("ivr", n, &self.names.ivrs),
            DestRef::Schedule(n) => ("schedule", n, &self.names.schedules),
            DestRef::User(n) => ("user", n, &self.names.users),
            DestRef::Voicemail(n) => ("voicemail", n, &self.names.users),
        };
        let Some(&index) = map.get(name) else {
            let section = if kind == "voicemail" { "user" } else { kind };
            let hint = known_ids(section, map);
            self.sink.hint(
                &span,
                format!("`{key}` refers to unknown {section} `{name}`"),
                hint,
            );
            return None;
        };
        let l = &self.layout;
        let node = match kind {
            "message" => l.messages + index,
            "queue" => l.queues + index,
            "ivr" => l.ivrs + index,
            "schedule" => l.schedules + index,
            "user" => l.users + index,
            _ => match l.voicemail.get(index).copied().flatten() {
                Some(n) => n,
                None => {
                    self.sink.hint(
                        &span,
                        format!("`{key}` refers to the voicemail of user `{name}`, who has none"),
                        format!("set `voicemail = true` on user `{name}`"),
                    );
                    return None;
                }
            },
        };
        Some(id(node))
    }

    /// Loads a sound once per file through the caller's loader; errors point at the value.
    pub(crate) fn sound(&mut self, key: &str, value: &Spanned<String>) -> Option<SoundId> {
        let span = value.span();
        if value.get_ref().trim().is_empty() {
            self.sink.error(&span, format!("`{key}` names no file"));
            return None;
        }
        let path = self.sounds_dir.join(value.get_ref());
        let result = match self.loaded.get(&path) {
            Some(r) => r.clone(),
            None => {
                let r = self.load(&path);
                self.loaded.insert(path.clone(), r.clone());
                r
            }
        };
        match result {
            Ok(id) => Some(id),
            Err(e) => {
                self.sink.hint(
                    &span,
                    format!("cannot load sound `{}`: {e}", value.get_ref()),
                    format!(
                        "looked for {} (sounds_dir is resolved against the config file's directory)",
                        path.display()
                    ),
                );
                None
            }
        }
    }

    fn load(&mut self, path: &Path) -> Result<SoundId, String> {
        let sound = self.loader.load(path)?;
        let id = SoundId(u32::try_from(self.sounds.len()).map_err(|_| "too many sounds")?);
        self.sounds.push(sound);
        Ok(id)
    }
}

/// A hint listing the ids a reference could have meant.
pub(crate) fn known_ids(section: &str, map: &HashMap<String, usize>) -> String {
    let mut known: Vec<&str> = map.keys().map(String::as_str).collect();
    known.sort_unstable();
    if known.is_empty() {
        format!("there is no [[{section}]] in this file")
    } else {
        format!("known {section} ids: {}", known.join(", "))
    }
}

/// A pass-through node: where it leads, for the loop check.
pub(crate) struct Pass {
    pub(crate) next: Vec<NodeId>,
    /// `message:closed`, for messages.
    pub(crate) label: String,
    /// The value that leads on (`then`, `when_open`), where a loop is reported.
    pub(crate) span: Range<usize>,
}

/// How many entries each node-owning section has.
pub(crate) struct Counts {
    pub(crate) messages: usize,
    pub(crate) queues: usize,
    pub(crate) ivrs: usize,
    pub(crate) schedules: usize,
    pub(crate) users: usize,
}

/// Reports the second and later uses of an id within one section.
pub(crate) fn check_unique(
    sink: &mut Sink<'_>,
    seen: &mut HashMap<String, Range<usize>>,
    section: &str,
    id: &Spanned<String>,
) {
    if id.get_ref().is_empty() {
        sink.error(&id.span(), format!("[{section}] id is empty"));
        return;
    }
    if let Some(first) = seen.get(id.get_ref()) {
        let at = sink.at(first);
        sink.hint(
            &id.span(),
            format!("duplicate {section} id `{}`", id.get_ref()),
            format!("the first [{section}] with this id is at {at}"),
        );
    } else {
        seen.insert(id.get_ref().clone(), id.span());
    }
}
