//! The compiled plan: validated model plus the node graph and loaded sounds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::graph::{Node, NodeId, SoundId};
use crate::model::{Did, Flow, Ivr, Message, Queue, Schedule, ServerConfig, Trunk, User};
use crate::route::RouteKind;

static FALLBACK: Node = Node::Hangup;

/// A dial plan ready to route calls. Cheap to share behind an `Arc`; a reload builds a new one.
#[derive(Clone, Debug)]
pub struct Plan<S> {
    /// `[server]`
    pub server: ServerConfig,
    /// `[[trunk]]`
    pub trunks: Vec<Trunk>,
    /// `[[user]]`
    pub users: Vec<User>,
    /// `[[message]]`
    pub messages: Vec<Message>,
    /// `[[queue]]`
    pub queues: Vec<Queue>,
    /// `[[ivr]]`
    pub ivrs: Vec<Ivr>,
    /// `[[schedule]]`
    pub schedules: Vec<Schedule>,
    /// `[[did]]`
    pub dids: Vec<Did>,
    /// `[[flow]]`
    pub flows: Vec<Flow>,
    pub(crate) file: PathBuf,
    pub(crate) nodes: Vec<Node>,
    pub(crate) sounds: Vec<S>,
    /// Where user and queue nodes start.
    pub(crate) user_base: u32,
    pub(crate) queue_base: u32,
    /// Extensions and queue numbers, exactly as written.
    pub(crate) internal: HashMap<String, RouteKind>,
    /// DID digits -> index into `dids`.
    pub(crate) did_index: HashMap<String, usize>,
    /// User id, or extension -> index into `users`.
    pub(crate) user_index: HashMap<String, usize>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl<S> Plan<S> {
    /// The user a phone names itself by (digest user name, address of record): its id, or
    /// its extension. A hash lookup: registrars look users up on every REGISTER.
    pub fn user_named(&self, name: &str) -> Option<&User> {
        self.user_index.get(name).and_then(|&i| self.users.get(i))
    }

    /// The node behind an id; an id from another plan reads as `hangup`.
    pub fn node(&self, id: NodeId) -> &Node {
        self.nodes.get(id.0 as usize).unwrap_or(&FALLBACK)
    }

    /// How many nodes the graph has (ids are `0..len`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// A loaded sound.
    ///
    /// # Panics
    /// If `id` does not come from this plan; use [`Plan::get_sound`] when unsure.
    pub fn sound(&self, id: SoundId) -> &S {
        &self.sounds[id.0 as usize]
    }

    /// A loaded sound, or None for an id from another plan.
    pub fn get_sound(&self, id: SoundId) -> Option<&S> {
        self.sounds.get(id.0 as usize)
    }

    /// All loaded sounds, indexed by `SoundId`.
    pub fn sounds(&self) -> &[S] {
        &self.sounds
    }

    /// The config file this plan was compiled from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    pub(crate) fn user_node(&self, user: usize) -> NodeId {
        NodeId(
            self.user_base
                .saturating_add(u32::try_from(user).unwrap_or(u32::MAX)),
        )
    }

    pub(crate) fn queue_node(&self, queue: usize) -> NodeId {
        NodeId(
            self.queue_base
                .saturating_add(u32::try_from(queue).unwrap_or(u32::MAX)),
        )
    }

    /// The destination string of a node (`message:closed`, `voicemail:admin`, `busy`, ...).
    pub fn node_name(&self, id: NodeId) -> String {
        let id_of = |name: Option<&str>| name.unwrap_or("?").to_string();
        match self.node(id) {
            Node::Busy => "busy".into(),
            Node::Hangup => "hangup".into(),
            Node::Message { id, .. } => format!("message:{id}"),
            Node::Voicemail { user } => {
                format!(
                    "voicemail:{}",
                    id_of(self.users.get(*user).map(|u| u.id.as_str()))
                )
            }
            Node::Queue { index } => {
                format!(
                    "queue:{}",
                    id_of(self.queues.get(*index).map(|q| q.id.as_str()))
                )
            }
            Node::Ivr { index } => {
                format!(
                    "ivr:{}",
                    id_of(self.ivrs.get(*index).map(|q| q.id.as_str()))
                )
            }
            Node::Schedule { index } => format!(
                "schedule:{}",
                id_of(self.schedules.get(*index).map(|q| q.id.as_str()))
            ),
            Node::User { index } => {
                format!(
                    "user:{}",
                    id_of(self.users.get(*index).map(|q| q.id.as_str()))
                )
            }
            Node::Number { digits } => format!("number:{digits}"),
        }
    }

    /// The one-line report of `vaxel check` for a sound plan.
    pub fn summary(&self) -> String {
        format!(
            "{}: ok — {}, {}, {}, {}, {}, {}, {}, {}",
            self.file.display(),
            plural(self.dids.len(), "DID", "DIDs"),
            plural(self.users.len(), "user", "users"),
            plural(self.messages.len(), "message", "messages"),
            plural(self.queues.len(), "queue", "queues"),
            plural(self.ivrs.len(), "IVR", "IVRs"),
            plural(self.schedules.len(), "schedule", "schedules"),
            plural(self.flows.len(), "flow", "flows"),
            plural(self.sounds.len(), "sound", "sounds"),
        )
    }
}
