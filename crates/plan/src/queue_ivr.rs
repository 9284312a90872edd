//! Readers for `[[queue]]` (with `[[queue.member]]`) and `[[ivr]]`.

use std::collections::HashMap;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

use crate::SoundLoader;
use crate::build::{Builder, Claim, check_unique, known_ids};
use crate::dest::normalise_external;
use crate::graph::NodeId;
use crate::model::{Ivr, Member, MemberKind, Queue, Strategy};
use crate::read::{Table, tables, wrong_type};
use crate::sections::digits;

fn read_member<L: SoundLoader>(b: &mut Builder<'_, '_, L>, t: &Table<'_, '_>) -> Option<Member> {
    t.check_keys(
        &mut b.sink,
        &["user", "external", "penalty", "paused", "wrapup"],
    );
    let user = t.str(&mut b.sink, "user");
    let external = t.str(&mut b.sink, "external");
    let penalty = t.u32(&mut b.sink, "penalty").unwrap_or(0);
    let paused = t.bool(&mut b.sink, "paused").unwrap_or(false);
    let wrapup = t.duration(&mut b.sink, "wrapup").unwrap_or(Duration::ZERO);
    let kind = match (user, external) {
        (Some(u), None) => match b.names.users.get(u.get_ref()) {
            Some(&i) => MemberKind::User(i),
            None => {
                b.sink.hint(
                    &u.span(),
                    format!("queue member refers to unknown user `{}`", u.get_ref()),
                    known_ids("user", &b.names.users),
                );
                return None;
            }
        },
        (None, Some(e)) => match normalise_external(e.get_ref()) {
            Some(n) => MemberKind::External(n),
            None => {
                b.sink.hint(
                    &e.span(),
                    format!("`{}` is not a phone number", e.get_ref()),
                    "write external members like \"+46701234567\"",
                );
                return None;
            }
        },
        (Some(_), Some(e)) => {
            b.sink.error(
                &e.span(),
                "a queue member has either `user` or `external`, not both",
            );
            return None;
        }
        (None, None) => {
            b.sink.hint(
                &t.span,
                "queue member has neither `user` nor `external`",
                "add `user = \"ID\"` or `external = \"+46...\"`",
            );
            return None;
        }
    };
    Some(Member {
        kind,
        penalty,
        paused,
        wrapup,
    })
}

pub(crate) fn read_queues<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    list: &[Table<'_, '_>],
) -> Vec<Queue> {
    const KEYS: &[&str] = &[
        "id",
        "name",
        "number",
        "strategy",
        "max_wait",
        "ring_timeout",
        "failover",
        "music",
        "member",
    ];
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for t in list {
        t.check_keys(&mut b.sink, KEYS);
        let id = t.req_str(&mut b.sink, "id");
        if let Some(id) = &id {
            check_unique(&mut b.sink, &mut seen, "queue", id);
        }
        let name = t.str(&mut b.sink, "name").map(Spanned::into_inner);
        let number = t
            .str(&mut b.sink, "number")
            .and_then(|v| digits(b, "number", v));
        if let (Some(id), Some(n)) = (&id, &number) {
            b.claims.push(Claim {
                number: n.get_ref().clone(),
                span: n.span(),
                owner: format!("number of queue `{}`", id.get_ref()),
                is_did: false,
            });
        }
        let strategy = match t.str(&mut b.sink, "strategy") {
            None => Some(Strategy::RingAll),
            Some(v) => {
                let s = Strategy::from_name(v.get_ref());
                if s.is_none() {
                    b.sink.hint(
                        &v.span(),
                        format!("unknown strategy `{}`", v.get_ref()),
                        format!("strategies are: {}", Strategy::NAMES.join(", ")),
                    );
                }
                s
            }
        };
        let max_wait = t.duration(&mut b.sink, "max_wait");
        let ring_timeout = t.duration(&mut b.sink, "ring_timeout");
        let failover = match t.str(&mut b.sink, "failover") {
            Some(v) => b.dest("failover", &v),
            None => Some(NodeId(1)),
        };
        let music = t.str(&mut b.sink, "music").map(|v| b.sound("music", &v));
        let mut members = Vec::new();
        if let Some(v) = t.get("member") {
            for m in tables(&mut b.sink, "member", v, "queue.member") {
                if let Some(m) = read_member(b, &m) {
                    members.push(m);
                }
            }
        }
        let (Some(id), Some(strategy), Some(failover)) = (id, strategy, failover) else {
            continue;
        };
        out.push(Queue {
            name: name.unwrap_or_else(|| id.get_ref().clone()),
            id: id.into_inner(),
            number: number.map(Spanned::into_inner),
            strategy,
            max_wait: max_wait.unwrap_or(Duration::from_secs(300)),
            ring_timeout: ring_timeout.unwrap_or(Duration::from_secs(20)),
            failover,
            music: music.flatten(),
            members,
        });
    }
    out
}

/// Default longest pause between the digits of an extension dialled in a menu.
pub(crate) const DIGIT_TIMEOUT: Duration = Duration::from_secs(3);

fn read_choices<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    t: &Table<'_, '_>,
) -> Vec<(char, NodeId)> {
    let Some(v) = t.get("choices") else {
        return Vec::new();
    };
    let DeValue::Table(choices) = v.get_ref() else {
        wrong_type(&mut b.sink, "choices", v, "a table of digit = destination");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in choices.iter() {
        let key: &str = k.get_ref();
        let digit = match key.chars().collect::<Vec<_>>().as_slice() {
            [c] if c.is_ascii_digit() || *c == '*' || *c == '#' => *c,
            _ => {
                b.sink.hint(
                    &k.span(),
                    format!("`{key}` is not a key on a phone"),
                    "choices are \"0\"-\"9\", \"*\" and \"#\"",
                );
                continue;
            }
        };
        let DeValue::String(s) = v.get_ref() else {
            wrong_type(&mut b.sink, key, v, "a destination string");
            continue;
        };
        if let Some(n) = b.dest("choices", &Spanned::new(v.span(), s.to_string())) {
            out.push((digit, n));
        }
    }
    out.sort_by_key(|(c, _)| *c);
    out
}

pub(crate) fn read_ivrs<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    list: &[Table<'_, '_>],
) -> Vec<Ivr> {
    const KEYS: &[&str] = &[
        "id",
        "name",
        "prompt",
        "timeout",
        "retries",
        "choices",
        "on_timeout",
        "on_invalid",
        "extensions",
        "invalid_prompt",
        "digit_timeout",
    ];
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for t in list {
        t.check_keys(&mut b.sink, KEYS);
        let id = t.req_str(&mut b.sink, "id");
        if let Some(id) = &id {
            check_unique(&mut b.sink, &mut seen, "ivr", id);
        }
        let name = t.str(&mut b.sink, "name").map(Spanned::into_inner);
        let prompt_file = t.req_str(&mut b.sink, "prompt");
        let prompt = prompt_file.as_ref().and_then(|v| b.sound("prompt", v));
        let invalid_file = t.str(&mut b.sink, "invalid_prompt");
        let invalid_prompt = invalid_file.as_ref().map(|v| b.sound("invalid_prompt", v));
        let timeout = t.duration(&mut b.sink, "timeout");
        let digit_timeout = t.duration(&mut b.sink, "digit_timeout");
        let retries = t.u32(&mut b.sink, "retries").unwrap_or(2);
        let choices = read_choices(b, t);
        let mut dest = |key: &str| match t.str(&mut b.sink, key) {
            Some(v) => b.dest(key, &v),
            None => Some(NodeId(1)),
        };
        let on_timeout = dest("on_timeout");
        let on_invalid = dest("on_invalid");
        let extensions = t.bool(&mut b.sink, "extensions").unwrap_or(false);
        let (Some(id), Some(prompt), Some(prompt_file), Some(on_timeout), Some(on_invalid)) =
            (id, prompt, prompt_file, on_timeout, on_invalid)
        else {
            continue;
        };
        // A named but unloadable invalid prompt was reported; the plan is refused anyway.
        let (invalid_prompt, invalid_prompt_file) = match (invalid_prompt, invalid_file) {
            (Some(Some(sound)), Some(file)) => (Some(sound), Some(file.into_inner())),
            (Some(None), _) => continue,
            _ => (None, None),
        };
        out.push(Ivr {
            name: name.unwrap_or_else(|| id.get_ref().clone()),
            id: id.into_inner(),
            prompt,
            prompt_file: prompt_file.into_inner(),
            invalid_prompt,
            invalid_prompt_file,
            timeout: timeout.unwrap_or(Duration::from_secs(5)),
            digit_timeout: digit_timeout.unwrap_or(DIGIT_TIMEOUT),
            retries,
            choices,
            on_timeout,
            on_invalid,
            extensions,
        });
    }
    out
}
