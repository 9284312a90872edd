//! The compiled graph: nodes addressed by index, never by name.

/// Index of a node in a [`crate::Plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The `busy` node every plan has.
    pub const BUSY: NodeId = NodeId(0);
    /// The `hangup` node every plan has.
    pub const HANGUP: NodeId = NodeId(1);
}

/// Index of a loaded sound in a [`crate::Plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SoundId(pub u32);

/// One place a call can be. Indices point into the plan's `users`, `queues`, `ivrs`, `schedules`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// `busy`: 486 before the answer, busy tone after.
    Busy,
    /// `hangup`: 480 before the answer, BYE after.
    Hangup,
    /// `message:ID`: play a sound, then go on.
    Message {
        /// The message id.
        id: String,
        /// Answer before playing (else early media).
        answer: bool,
        /// Extra plays.
        repeat: u32,
        /// What to play.
        sound: SoundId,
        /// Where to go afterwards.
        then: NodeId,
    },
    /// `voicemail:USER`
    Voicemail {
        /// Index into `Plan::users`.
        user: usize,
    },
    /// `queue:ID`
    Queue {
        /// Index into `Plan::queues`.
        index: usize,
    },
    /// `ivr:ID`
    Ivr {
        /// Index into `Plan::ivrs`.
        index: usize,
    },
    /// `schedule:ID`
    Schedule {
        /// Index into `Plan::schedules`.
        index: usize,
    },
    /// `user:ID`: ring the user's phones.
    User {
        /// Index into `Plan::users`.
        index: usize,
    },
    /// `number:DIGITS`: an external number, dialled through a trunk.
    Number {
        /// `+` and digits, or digits.
        digits: String,
    },
}

impl Node {
    /// The config kind (`message`, `queue`, ...), for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Busy => "busy",
            Node::Hangup => "hangup",
            Node::Message { .. } => "message",
            Node::Voicemail { .. } => "voicemail",
            Node::Queue { .. } => "queue",
            Node::Ivr { .. } => "ivr",
            Node::Schedule { .. } => "schedule",
            Node::User { .. } => "user",
            Node::Number { .. } => "number",
        }
    }
}
