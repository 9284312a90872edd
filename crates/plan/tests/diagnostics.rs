//! One test per kind of config error, each with its exact `FILE:LINE:COL: error: ...`.

mod common;

use common::{compile_ok, errors};

const FORMS: &str = "  = hint: a destination is one of: hangup, busy, message:ID, voicemail:USER, queue:ID, ivr:ID, schedule:ID, user:ID, number:DIGITS";

#[test]
fn toml_syntax_error_is_the_only_error() {
    let e = errors("[server]\nname = \nbogus = 1\n[[did]]\nroute = \"nowhere\"\n");
    assert_eq!(
        e,
        vec![
            "v.toml:2:8: error: TOML syntax: string values must be quoted, expected literal string"
        ]
    );
}

#[test]
fn unknown_key_with_did_you_mean() {
    let e = errors("[[user]]\nid = \"a\"\nextention = \"1001\"\n");
    assert_eq!(
        e,
        vec![
            "v.toml:3:1: error: unknown key `extention` in [user]\n  = hint: did you mean `extension`?"
        ]
    );
}

#[test]
fn unknown_key_lists_valid_keys() {
    let e = errors("[server]\ncolour = \"blue\"\n");
    assert_eq!(
        e,
        vec![
            "v.toml:2:1: error: unknown key `colour` in [server]\n  = hint: valid keys: name, timezone, country_code, sip, media_address, rtp_ports, http, data_dir, sounds_dir, digest, media_realtime, rtp_timeout"
        ]
    );
}

#[test]
fn media_realtime_must_be_a_bool() {
    let e = errors("[server]\nmedia_realtime = \"yes\"\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("v.toml:2:18: error:") && e[0].contains("true or false"),
        "{e:?}"
    );
    assert!(
        compile_ok("[server]\nmedia_realtime = true\n")
            .server
            .media_realtime
    );
}

#[test]
fn rtp_timeout_is_a_duration_and_zero_turns_it_off() {
    let e = errors("[server]\nrtp_timeout = \"soon\"\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("v.toml:2:15: error:"), "{e:?}");
    let t = |toml: &str| compile_ok(toml).server.rtp_timeout;
    assert_eq!(
        t("[server]\nrtp_timeout = \"45s\"\n"),
        Some(std::time::Duration::from_secs(45))
    );
    assert_eq!(t("[server]\nrtp_timeout = \"0s\"\n"), None);
    assert_eq!(t("[server]\n"), None);
}

#[test]
fn unknown_section() {
    let e = errors("[[usr]]\nid = \"a\"\n");
    assert_eq!(
        e,
        vec!["v.toml:1:3: error: unknown section `usr`\n  = hint: did you mean `user`?"]
    );
}

#[test]
fn section_of_wrong_shape() {
    let e = errors("[user]\nid = \"a\"\n");
    assert_eq!(
        e,
        vec![
            "v.toml:1:1: error: `user` must be an array of tables\n  = hint: write each entry as [[user]]"
        ]
    );
}

#[test]
fn wrong_types() {
    let e = errors(
        "[[message]]\nid = \"m\"\nsound = \"closed.wav\"\nrepeat = \"2\"\nanswer = \"yes\"\n",
    );
    assert_eq!(
        e,
        vec![
            "v.toml:4:10: error: `repeat` must be a whole number, not a string",
            "v.toml:5:10: error: `answer` must be true or false, not a string",
        ]
    );
}

#[test]
fn negative_integer() {
    let e = errors("[[message]]\nid = \"m\"\nsound = \"closed.wav\"\nrepeat = -1\n");
    assert_eq!(
        e,
        vec!["v.toml:4:10: error: `repeat` must be a whole number from 0 to 4294967295"]
    );
}

#[test]
fn missing_required_key() {
    let e = errors("\n[[message]]\nid = \"m\"\n");
    assert_eq!(
        e,
        vec!["v.toml:2:1: error: [message] has no `sound`\n  = hint: add `sound = \"...\"`"]
    );
}

#[test]
fn bad_duration() {
    let e = errors("[[queue]]\nid = \"q\"\nmax_wait = \"5 minutes\"\n");
    assert_eq!(
        e,
        vec![
            "v.toml:3:12: error: bad duration for `max_wait`: missing unit after `5` in `5 minutes`\n  = hint: write durations like \"20s\", \"5m\" or \"1h30m\""
        ]
    );
}

#[test]
fn bad_destination() {
    let e = errors("[[did]]\nnumber = \"4610\"\nroute = \"queue-support\"\n");
    assert_eq!(
        e,
        vec![format!(
            "v.toml:3:9: error: bad destination for `route`: `queue-support` is not a destination\n{FORMS}"
        )]
    );
    let e = errors("[[did]]\nnumber = \"4610\"\nroute = \"room:5\"\n");
    assert_eq!(
        e,
        vec![format!(
            "v.toml:3:9: error: bad destination for `route`: unknown destination kind `room`\n{FORMS}"
        )]
    );
}

#[test]
fn unknown_references() {
    let e = errors(
        r#"[[queue]]
id = "q"
failover = "message:nope"
[[did]]
number = "4610"
route = "queue:sales"
"#,
    );
    assert_eq!(
        e,
        vec![
            "v.toml:3:12: error: `failover` refers to unknown message `nope`\n  = hint: there is no [[message]] in this file",
            "v.toml:6:9: error: `route` refers to unknown queue `sales`\n  = hint: known queue ids: q",
        ]
    );
}

#[test]
fn voicemail_of_user_without_box() {
    let e = errors("[[user]]\nid = \"a\"\n[[did]]\nnumber = \"4610\"\nroute = \"voicemail:a\"\n");
    assert_eq!(
        e,
        vec![
            "v.toml:5:9: error: `route` refers to the voicemail of user `a`, who has none\n  = hint: set `voicemail = true` on user `a`"
        ]
    );
    // A user's own forward to its box implies the box (example.toml's bertil) ...
    compile_ok("[[user]]\nid = \"b\"\nforward = { no_answer = \"voicemail:b\" }\n");
    // ... unless voicemail = false says otherwise.
    let e = errors(
        "[[user]]\nid = \"b\"\nvoicemail = false\nforward = { no_answer = \"voicemail:b\" }\n",
    );
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("v.toml:4:25: error: `no_answer` refers to the voicemail of user `b`")
    );
}

#[test]
fn missing_and_undecodable_sounds() {
    let e = errors(
        r#"[[message]]
id = "m"
sound = "missing.wav"
[[ivr]]
id = "i"
prompt = "broken.wav"
[[queue]]
id = "q"
music = "missing.wav"
"#,
    );
    assert_eq!(
        e,
        vec![
            "v.toml:3:9: error: cannot load sound `missing.wav`: no such file\n  = hint: looked for sounds/missing.wav (sounds_dir is resolved against the config file's directory)",
            "v.toml:6:10: error: cannot load sound `broken.wav`: not a WAV, FLAC, MP3 or Ogg file\n  = hint: looked for sounds/broken.wav (sounds_dir is resolved against the config file's directory)",
            "v.toml:9:9: error: cannot load sound `missing.wav`: no such file\n  = hint: looked for sounds/missing.wav (sounds_dir is resolved against the config file's directory)",
        ]
    );
}

#[test]
fn duplicate_ids() {
    let e = errors("[[queue]]\nid = \"q\"\n[[queue]]\nid = \"q\"\n");
    assert_eq!(
        e,
        vec![
            "v.toml:4:6: error: duplicate queue id `q`\n  = hint: the first [queue] with this id is at 2:6"
        ]
    );
}

#[test]
fn duplicate_dids_after_normalisation() {
    let e = errors(
        "[[did]]\nnumber = \"+4610\"\nroute = \"busy\"\n[[did]]\nnumber = \"4610\"\nroute = \"hangup\"\n",
    );
    assert_eq!(
        e,
        vec![
            "v.toml:5:10: error: number `4610` is used twice\n  = hint: it is already the DID `4610` (4610) at 2:10"
        ]
    );
}

#[test]
fn duplicate_extension_queue_number_and_did() {
    let e = errors(
        r#"[server]
country_code = "46"
[[user]]
id = "a"
extension = "1001"
[[user]]
id = "b"
extension = "0101"
[[queue]]
id = "q"
number = "1001"
[[did]]
number = "46101"
route = "busy"
"#,
    );
    assert_eq!(
        e,
        vec![
            "v.toml:11:10: error: number `1001` is used twice\n  = hint: it is already the extension of user `a` at 5:13",
            "v.toml:13:10: error: number `46101` is used twice\n  = hint: it is already the extension of user `b` at 8:13",
        ]
    );
}

#[test]
fn bad_rtp_ports() {
    let e = errors("[server]\nrtp_ports = \"30000-20000\"\n");
    assert_eq!(
        e,
        vec![
            "v.toml:2:13: error: bad rtp_ports: the range 30000-20000 is empty or reversed\n  = hint: write a range like \"20000-29999\""
        ]
    );
    let e = errors("[server]\nrtp_ports = \"20000\"\n");
    assert!(e[0].starts_with("v.toml:2:13: error: bad rtp_ports: `20000` is not LOW-HIGH"));
}

#[test]
fn bad_listen_uris() {
    let e = errors("[server]\nsip = [\"udp://127.0.0.1\", \"sctp://127.0.0.1:5060\"]\n");
    assert_eq!(
        e,
        vec![
            "v.toml:2:8: error: bad listen address: `127.0.0.1` is not IP:PORT (IPv6 in brackets: [::1]:5060)\n  = hint: write listen addresses like \"udp://0.0.0.0:5060\" or \"tcp://[::]:5060\"",
            "v.toml:2:27: error: bad listen address: unknown transport `sctp`\n  = hint: write listen addresses like \"udp://0.0.0.0:5060\" or \"tcp://[::]:5060\"",
        ]
    );
}

#[test]
fn bad_server_addresses() {
    let e = errors(
        "[server]\nmedia_address = \"0.0.0.0\"\nhttp = \"localhost\"\ncountry_code = \"046\"\ntimezone = \"Mars/Olympus\"\n",
    );
    assert_eq!(
        e,
        vec![
            "v.toml:2:17: error: media_address `0.0.0.0` cannot be reached by phones\n  = hint: it is written into SDP: use the address phones and trunks send RTP to",
            "v.toml:3:8: error: `localhost` is not IP:PORT\n  = hint: like \"127.0.0.1:8080\"",
            "v.toml:4:16: error: `046` is not a country calling code\n  = hint: 1 to 3 digits without leading 0, like \"46\"",
            "v.toml:5:12: error: unknown time zone `Mars/Olympus`\n  = hint: use an IANA name like \"Europe/Stockholm\" or \"UTC\"",
        ]
    );
}

#[test]
fn bad_cidrs() {
    let e = errors("[[trunk]]\nid = \"t\"\nallow = [\"10.0.0.1/8\", \"10.0.0.0/40\"]\n");
    assert_eq!(
        e,
        vec![
            "v.toml:3:10: error: bad CIDR `10.0.0.1/8` in `allow`: host bits set: did you mean `10.0.0.0/8`?\n  = hint: write address blocks like \"192.0.2.0/24\" or \"2001:db8::/32\"",
            "v.toml:3:24: error: bad CIDR `10.0.0.0/40` in `allow`: bad prefix length `40`\n  = hint: write address blocks like \"192.0.2.0/24\" or \"2001:db8::/32\"",
        ]
    );
}

#[test]
fn unknown_roles() {
    let e = errors("[[user]]\nid = \"a\"\nroles = [\"flow-user\", \"admin\"]\n");
    assert_eq!(
        e,
        vec![
            "v.toml:3:23: error: unknown role `admin`\n  = hint: roles are \"flow-admin\" and \"flow-user\""
        ]
    );
}

#[test]
fn flow_references() {
    let e = errors(
        r#"[[user]]
id = "a"
[[did]]
number = "4610"
route = "busy"
[[flow]]
id = "f"
did = "4699"
objects = ["queue:nope", "hangup"]
supervisors = ["a", "zed"]
"#,
    );
    assert_eq!(
        e,
        vec![
            "v.toml:8:7: error: flow refers to unknown DID `4699`\n  = hint: known DIDs: 4610",
            "v.toml:9:12: error: `objects` refers to unknown queue `nope`\n  = hint: there is no [[queue]] in this file",
            "v.toml:9:26: error: `hangup` is not an object a supervisor can change\n  = hint: objects are messages, queues, IVRs, schedules, users and voicemail boxes",
            "v.toml:10:21: error: unknown supervisor `zed`\n  = hint: known user ids: a",
        ]
    );
}

#[test]
fn queue_ivr_schedule_values() {
    let e = errors(
        r#"[[queue]]
id = "q"
strategy = "ring-some"
[[queue.member]]
user = "nobody"
[[queue.member]]
penalty = 1
[[ivr]]
id = "i"
prompt = "main-menu.wav"
choices = { "1" = "hangup", "12" = "busy" }
[[schedule]]
id = "s"
open = ["mon-fry 08:00-17:00"]
holidays = "no"
closed_on = ["2026-02-30"]
when_open = "hangup"
when_closed = "busy"
"#,
    );
    assert_eq!(
        e,
        vec![
            "v.toml:3:12: error: unknown strategy `ring-some`\n  = hint: strategies are: ring-all, longest-idle, round-robin, fewest-calls, least-talk-time, random, linear",
            "v.toml:5:8: error: queue member refers to unknown user `nobody`\n  = hint: there is no [[user]] in this file",
            "v.toml:6:1: error: queue member has neither `user` nor `external`\n  = hint: add `user = \"ID\"` or `external = \"+46...\"`",
            "v.toml:11:29: error: `12` is not a key on a phone\n  = hint: choices are \"0\"-\"9\", \"*\" and \"#\"",
            "v.toml:14:9: error: bad opening hours: unknown day `fry` (use mon, tue, wed, thu, fri, sat, sun)\n  = hint: write periods like \"mon-fri 08:00-17:00\" or \"fri 22:00-02:00\"",
            "v.toml:15:12: error: unknown holiday calendar `no`\n  = hint: the only calendar is \"se\" (Swedish public holidays)",
            "v.toml:16:14: error: bad date in `closed_on`: `2026-02-30` is not a day in the calendar\n  = hint: write dates like \"2026-12-24\"",
        ]
    );
}

#[test]
fn message_loop_without_exit() {
    let e = errors(
        r#"[[message]]
id = "a"
sound = "closed.wav"
then = "message:b"
[[message]]
id = "b"
sound = "closed.wav"
then = "message:a"
"#,
    );
    assert_eq!(
        e,
        vec![
            "v.toml:4:8: error: calls loop forever with no way out: message:a -> message:b -> message:a\n  = hint: route one step of the loop to hangup, busy, voicemail, a queue or an IVR"
        ]
    );
}

#[test]
fn schedule_loop_where_both_branches_cycle() {
    let e = errors(
        r#"[[message]]
id = "m"
sound = "closed.wav"
then = "schedule:s"
[[schedule]]
id = "s"
when_open = "schedule:s"
when_closed = "message:m"
"#,
    );
    assert_eq!(
        e,
        vec![
            "v.toml:7:13: error: calls loop forever with no way out: schedule:s -> schedule:s\n  = hint: route one step of the loop to hangup, busy, voicemail, a queue or an IVR"
        ]
    );
}

#[test]
fn loops_with_a_way_out_compile() {
    // Through an IVR the caller can press keys; a schedule with one open branch can leave.
    compile_ok(
        r#"[[message]]
id = "a"
sound = "closed.wav"
then = "ivr:i"
[[ivr]]
id = "i"
prompt = "main-menu.wav"
on_invalid = "message:a"
on_timeout = "message:a"
[[message]]
id = "closed"
sound = "closed.wav"
then = "schedule:s"
[[schedule]]
id = "s"
when_open = "ivr:i"
when_closed = "message:closed"
"#,
    );
}

#[test]
fn every_error_is_reported() {
    let e = errors(
        r#"[server]
rtp_ports = "1-0"
[[user]]
id = "a"
roles = ["boss"]
[[did]]
number = "46x"
route = "message:none"
"#,
    );
    assert_eq!(e.len(), 4, "{e:#?}");
    let at: Vec<&str> = e
        .iter()
        .map(|l| l.split(": error").next().unwrap())
        .collect();
    assert_eq!(
        at,
        vec!["v.toml:2:13", "v.toml:5:10", "v.toml:7:10", "v.toml:8:9"]
    );
}

#[test]
fn truncated_and_mangled_configs_never_panic() {
    let src = common::example_source();
    let mut loader = common::FixtureLoader::default();
    let path = std::path::Path::new("v.toml");
    for (i, _) in src.char_indices() {
        let _ = vaxel_plan::compile(&src[..i], path, &mut loader);
        let mangled = format!("{}\"{}", &src[..i], &src[i..]);
        let _ = vaxel_plan::compile(&mangled, path, &mut loader);
    }
}
