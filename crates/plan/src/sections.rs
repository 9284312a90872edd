//! Readers for `[[trunk]]`, `[[user]]`, `[[message]]`, `[[did]]` and `[[flow]]`.

use std::collections::HashMap;

use toml::Spanned;

use crate::SoundLoader;
use crate::build::{Builder, Pass, check_unique, known_ids};
use crate::cidr::Cidr;
use crate::graph::Node;
use crate::model::{Did, Flow, Forward, Message, Role, Trunk, User};
use crate::read::Table;

/// Digits only (extensions, queue numbers); reports otherwise.
pub(crate) fn digits<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    key: &str,
    v: Spanned<String>,
) -> Option<Spanned<String>> {
    let s = v.get_ref();
    if !s.is_empty() && s.len() <= 32 && s.bytes().all(|c| c.is_ascii_digit()) {
        Some(v)
    } else {
        b.sink.hint(
            &v.span(),
            format!("`{key}` must be digits, not `{s}`"),
            "internal numbers are written like \"1001\"",
        );
        None
    }
}

pub(crate) fn read_trunks<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    tables: &[Table<'_, '_>],
) -> Vec<Trunk> {
    const KEYS: &[&str] = &[
        "id",
        "allow",
        "uri",
        "username",
        "password",
        "register",
        "caller_id",
    ];
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for t in tables {
        t.check_keys(&mut b.sink, KEYS);
        let id = t.req_str(&mut b.sink, "id");
        if let Some(id) = &id {
            check_unique(&mut b.sink, &mut seen, "trunk", id);
        }
        let mut allow = Vec::new();
        for v in t.str_list(&mut b.sink, "allow") {
            match v.get_ref().parse::<Cidr>() {
                Ok(c) => allow.push(c),
                Err(e) => b.sink.hint(
                    &v.span(),
                    format!("bad CIDR `{}` in `allow`: {e}", v.get_ref()),
                    "write address blocks like \"192.0.2.0/24\" or \"2001:db8::/32\"",
                ),
            }
        }
        let uri = t.str(&mut b.sink, "uri");
        if let Some(u) = &uri {
            let s = u.get_ref();
            let ok = (s.starts_with("sip:") || s.starts_with("sips:")) && s.len() > 5;
            if !ok {
                b.sink.hint(
                    &u.span(),
                    format!("`{s}` is not a SIP URI"),
                    "write it like \"sip:192.0.2.1:5060\"",
                );
            }
        }
        let username = t.str(&mut b.sink, "username").map(Spanned::into_inner);
        let password = t.str(&mut b.sink, "password").map(Spanned::into_inner);
        let register = t.bool(&mut b.sink, "register");
        if register == Some(true) {
            let missing: Vec<&str> = [
                ("uri", uri.is_none()),
                ("username", username.as_deref().is_none_or(str::is_empty)),
                ("password", password.is_none()),
            ]
            .into_iter()
            .filter_map(|(key, absent)| absent.then_some(key))
            .collect();
            if let (Some(first), Some(v)) = (missing.first(), t.get("register")) {
                b.sink.hint(
                    &v.span(),
                    format!("`register = true` needs `{first}`"),
                    format!(
                        "registering at the operator takes the registrar in `uri` and the \
                         account in `username` and `password`; missing: {}",
                        missing.join(", ")
                    ),
                );
            }
        }
        let caller_id = t.str(&mut b.sink, "caller_id").and_then(|c| {
            let digits = c.get_ref().trim_start_matches('+');
            if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) {
                b.sink.hint(
                    &c.span(),
                    format!("`{}` is not a phone number", c.get_ref()),
                    "write the number to present, country code first, like \"46812345678\"",
                );
                return None;
            }
            Some(c.into_inner())
        });
        if let Some(id) = id {
            out.push(Trunk {
                id: id.into_inner(),
                allow,
                uri: uri.map(Spanned::into_inner),
                username,
                password,
                register,
                caller_id,
            });
        }
    }
    out
}

fn read_forward<L: SoundLoader>(b: &mut Builder<'_, '_, L>, t: &Table<'_, '_>) -> Forward {
    t.check_keys(
        &mut b.sink,
        &["unconditional", "busy", "no_answer", "after"],
    );
    let mut dest = |key: &str| {
        let v = t.str(&mut b.sink, key)?;
        b.dest(key, &v)
    };
    let unconditional = dest("unconditional");
    let busy = dest("busy");
    let no_answer = dest("no_answer");
    Forward {
        unconditional,
        busy,
        no_answer,
        after: t
            .duration(&mut b.sink, "after")
            .unwrap_or(std::time::Duration::from_secs(20)),
    }
}

pub(crate) fn read_users<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    tables: &[Table<'_, '_>],
) -> Vec<User> {
    const KEYS: &[&str] = &[
        "id",
        "name",
        "extension",
        "password",
        "email",
        "voicemail",
        "roles",
        "forward",
    ];
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for t in tables {
        t.check_keys(&mut b.sink, KEYS);
        let id = t.req_str(&mut b.sink, "id");
        if let Some(id) = &id {
            check_unique(&mut b.sink, &mut seen, "user", id);
        }
        let name = t.str(&mut b.sink, "name").map(Spanned::into_inner);
        let extension = t
            .str(&mut b.sink, "extension")
            .and_then(|v| digits(b, "extension", v));
        let password = t.str(&mut b.sink, "password").map(Spanned::into_inner);
        let email = t.str(&mut b.sink, "email").map(Spanned::into_inner);
        t.bool(&mut b.sink, "voicemail");
        let voicemail = crate::names::has_voicemail(t);
        let mut roles = Vec::new();
        for r in t.str_list(&mut b.sink, "roles") {
            match r.get_ref().as_str() {
                "flow-admin" => roles.push(Role::FlowAdmin),
                "flow-user" => roles.push(Role::FlowUser),
                other => b.sink.hint(
                    &r.span(),
                    format!("unknown role `{other}`"),
                    "roles are \"flow-admin\" and \"flow-user\"",
                ),
            }
        }
        let forward = t
            .table(&mut b.sink, "forward", "user.forward")
            .map(|f| read_forward(b, &f));
        if let (Some(id), Some(ext)) = (&id, &extension) {
            b.claims.push(crate::build::Claim {
                number: ext.get_ref().clone(),
                span: ext.span(),
                owner: format!("extension of user `{}`", id.get_ref()),
                is_did: false,
            });
        }
        if let Some(id) = id {
            out.push(User {
                name: name.unwrap_or_else(|| id.get_ref().clone()),
                id: id.into_inner(),
                extension: extension.map(Spanned::into_inner),
                password,
                email,
                voicemail,
                roles,
                forward,
            });
        }
    }
    out
}

pub(crate) fn read_messages<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    tables: &[Table<'_, '_>],
) -> Vec<Message> {
    const KEYS: &[&str] = &[
        "id",
        "name",
        "answer",
        "repeat",
        "sound",
        "then",
        "description",
    ];
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        t.check_keys(&mut b.sink, KEYS);
        let id = t.req_str(&mut b.sink, "id");
        if let Some(id) = &id {
            check_unique(&mut b.sink, &mut seen, "message", id);
        }
        let name = t.str(&mut b.sink, "name").map(Spanned::into_inner);
        let answer = t.bool(&mut b.sink, "answer").unwrap_or(false);
        let repeat = t.u32(&mut b.sink, "repeat").unwrap_or(0);
        let sound_file = t.req_str(&mut b.sink, "sound");
        let sound = sound_file.as_ref().and_then(|s| b.sound("sound", s));
        let then_v = t.str(&mut b.sink, "then");
        let then = match &then_v {
            Some(v) => b.dest("then", v),
            None => Some(crate::NodeId(1)),
        };
        let description = t.str(&mut b.sink, "description").map(Spanned::into_inner);
        let node = b.message_node(i);
        if let (Some(id), Some(then)) = (&id, then) {
            let pass = Pass {
                next: vec![then],
                label: format!("message:{}", id.get_ref()),
                span: then_v.map_or_else(|| t.span.clone(), |v| v.span()),
            };
            b.passes.insert(node, pass);
        }
        let (Some(id), Some(sound_file), Some(sound), Some(then)) = (id, sound_file, sound, then)
        else {
            continue;
        };
        if let Some(slot) = b.nodes.get_mut(node.0 as usize) {
            *slot = Node::Message {
                id: id.get_ref().clone(),
                answer,
                repeat,
                sound,
                then,
            };
        }
        out.push(Message {
            name: name.unwrap_or_else(|| id.get_ref().clone()),
            id: id.into_inner(),
            answer,
            repeat,
            sound_file: sound_file.into_inner(),
            sound,
            then,
            description,
        });
    }
    out
}

/// A DID as digits without `+`, or None.
pub(crate) fn did_digits(s: &str) -> Option<String> {
    let d = s.strip_prefix('+').unwrap_or(s);
    (!d.is_empty() && d.len() <= 32 && d.bytes().all(|c| c.is_ascii_digit())).then(|| d.to_string())
}

/// Reads DIDs; also returns each number's span for the duplicate-number check.
pub(crate) fn read_dids<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    tables: &[Table<'_, '_>],
) -> Vec<(Did, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    for t in tables {
        t.check_keys(&mut b.sink, &["number", "name", "route"]);
        let number = t.req_str(&mut b.sink, "number").and_then(|v| {
            let d = did_digits(v.get_ref());
            if d.is_none() {
                b.sink.hint(
                    &v.span(),
                    format!("DID `{}` is not a phone number", v.get_ref()),
                    "write DIDs as digits, country code first, like \"46101022290\"",
                );
            }
            d.map(|d| Spanned::new(v.span(), d))
        });
        let name = t.str(&mut b.sink, "name").map(Spanned::into_inner);
        let route = t
            .req_str(&mut b.sink, "route")
            .and_then(|v| b.dest("route", &v));
        if let (Some(number), Some(route)) = (number, route) {
            let span = number.span();
            let number = number.into_inner();
            out.push((
                Did {
                    name: name.unwrap_or_else(|| number.clone()),
                    number,
                    route,
                },
                span,
            ));
        }
    }
    out
}

pub(crate) fn read_flows<L: SoundLoader>(
    b: &mut Builder<'_, '_, L>,
    tables: &[Table<'_, '_>],
    dids: &[Did],
) -> Vec<Flow> {
    const KEYS: &[&str] = &["id", "name", "description", "did", "objects", "supervisors"];
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for t in tables {
        t.check_keys(&mut b.sink, KEYS);
        let id = t.req_str(&mut b.sink, "id");
        if let Some(id) = &id {
            check_unique(&mut b.sink, &mut seen, "flow", id);
        }
        let name = t.str(&mut b.sink, "name").map(Spanned::into_inner);
        let description = t.str(&mut b.sink, "description").map(Spanned::into_inner);
        let did = t.str(&mut b.sink, "did").and_then(|v| {
            let d = did_digits(v.get_ref());
            let found = d
                .as_ref()
                .and_then(|d| dids.iter().position(|x| &x.number == d));
            if found.is_none() {
                let known: Vec<&str> = dids.iter().map(|d| d.number.as_str()).collect();
                b.sink.hint(
                    &v.span(),
                    format!("flow refers to unknown DID `{}`", v.get_ref()),
                    format!("known DIDs: {}", known.join(", ")),
                );
            }
            found
        });
        let mut objects = Vec::new();
        for v in t.str_list(&mut b.sink, "objects") {
            if matches!(v.get_ref().as_str(), "busy" | "hangup")
                || v.get_ref().starts_with("number:")
            {
                b.sink.hint(
                    &v.span(),
                    format!("`{}` is not an object a supervisor can change", v.get_ref()),
                    "objects are messages, queues, IVRs, schedules, users and voicemail boxes",
                );
                continue;
            }
            if let Some(n) = b.dest("objects", &v) {
                objects.push(n);
            }
        }
        let mut supervisors = Vec::new();
        for v in t.str_list(&mut b.sink, "supervisors") {
            match b.names.users.get(v.get_ref()) {
                Some(&i) => supervisors.push(i),
                None => {
                    b.sink.hint(
                        &v.span(),
                        format!("unknown supervisor `{}`", v.get_ref()),
                        known_ids("user", &b.names.users),
                    );
                }
            }
        }
        if let Some(id) = id {
            out.push(Flow {
                name: name.unwrap_or_else(|| id.get_ref().clone()),
                id: id.into_inner(),
                description,
                did,
                objects,
                supervisors,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::{SoundLoader, compile};

    struct NoSounds;

    impl SoundLoader for NoSounds {
        type Sound = ();

        fn load(&mut self, _path: &Path) -> Result<(), String> {
            Ok(())
        }
    }

    fn trunk(body: &str) -> Result<Vec<crate::Trunk>, Vec<String>> {
        let src = format!("[[trunk]]\nid = \"op\"\n{body}");
        compile(&src, &PathBuf::from("v.toml"), &mut NoSounds)
            .map(|p| p.trunks)
            .map_err(|d| d.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn registration_keys_are_read() {
        let t = trunk(
            "uri = \"sip:192.0.2.1:5080\"\nusername = \"u\"\npassword = \"p\"\nregister = true\n",
        )
        .unwrap();
        let t = &t[0];
        assert_eq!(t.uri.as_deref(), Some("sip:192.0.2.1:5080"));
        assert_eq!(t.username.as_deref(), Some("u"));
        assert_eq!(t.password.as_deref(), Some("p"));
        assert_eq!(t.register, Some(true));
        // Credentials without registration: for digest on outbound calls only.
        let t = trunk("uri = \"sip:192.0.2.1\"\nusername = \"u\"\npassword = \"p\"\n").unwrap();
        assert_eq!(t[0].register, None);
    }

    #[test]
    fn register_without_its_keys_is_an_error_at_register() {
        let e = trunk("uri = \"sip:192.0.2.1\"\nregister = true\n").unwrap_err();
        assert_eq!(
            e,
            [
                "v.toml:4:12: error: `register = true` needs `username`\n  = hint: registering at \
              the operator takes the registrar in `uri` and the account in `username` and \
              `password`; missing: username, password"
            ]
        );
        let e = trunk("username = \"\"\npassword = \"p\"\nregister = true\n").unwrap_err();
        assert!(
            e[0].contains("needs `uri`") && e[0].ends_with("missing: uri, username"),
            "{e:?}"
        );
        assert!(trunk("register = false\n").is_ok());
    }
}
