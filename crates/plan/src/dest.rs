//! Destination strings (`hangup`, `message:ID`, `number:DIGITS`, ...) before they are resolved.

/// A destination as written, not yet checked against the plan's ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DestRef<'a> {
    Busy,
    Hangup,
    Message(&'a str),
    Voicemail(&'a str),
    Queue(&'a str),
    Ivr(&'a str),
    Schedule(&'a str),
    User(&'a str),
    Number(String),
}

/// The forms a destination can take, for hints.
pub(crate) const DEST_FORMS: &str = "hangup, busy, message:ID, voicemail:USER, queue:ID, ivr:ID, schedule:ID, user:ID, number:DIGITS";

/// Parses a destination string; the error is a message for a diagnostic.
pub(crate) fn parse_dest(s: &str) -> Result<DestRef<'_>, String> {
    match s {
        "busy" => return Ok(DestRef::Busy),
        "hangup" => return Ok(DestRef::Hangup),
        _ => {}
    }
    let Some((kind, arg)) = s.split_once(':') else {
        return Err(format!("`{s}` is not a destination"));
    };
    if arg.is_empty() {
        return Err(format!("`{s}` names no {kind}"));
    }
    Ok(match kind {
        "message" => DestRef::Message(arg),
        "voicemail" => DestRef::Voicemail(arg),
        "queue" => DestRef::Queue(arg),
        "ivr" => DestRef::Ivr(arg),
        "schedule" => DestRef::Schedule(arg),
        "user" => DestRef::User(arg),
        "number" => DestRef::Number(normalise_external(arg).ok_or_else(|| {
            format!("`{arg}` is not a phone number (digits, optionally a leading +)")
        })?),
        _ => return Err(format!("unknown destination kind `{kind}`")),
    })
}

/// `+46 70-123 45 67` -> `+46701234567`; None if anything but digits (and one leading `+`).
pub(crate) fn normalise_external(s: &str) -> Option<String> {
    let (plus, rest) = match s.strip_prefix('+') {
        Some(r) => ("+", r),
        None => ("", s),
    };
    let digits: String = rest.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{plus}{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(parse_dest("busy"), Ok(DestRef::Busy));
        assert_eq!(parse_dest("hangup"), Ok(DestRef::Hangup));
        assert_eq!(parse_dest("message:a"), Ok(DestRef::Message("a")));
        assert_eq!(parse_dest("voicemail:u"), Ok(DestRef::Voicemail("u")));
        assert_eq!(parse_dest("queue:q"), Ok(DestRef::Queue("q")));
        assert_eq!(parse_dest("ivr:i"), Ok(DestRef::Ivr("i")));
        assert_eq!(parse_dest("schedule:s"), Ok(DestRef::Schedule("s")));
        assert_eq!(parse_dest("user:u"), Ok(DestRef::User("u")));
        assert_eq!(
            parse_dest("number:+46 70-123"),
            Ok(DestRef::Number("+4670123".into()))
        );
    }

    #[test]
    fn rejects_bad() {
        assert!(parse_dest("hang-up").is_err());
        assert!(parse_dest("queue:").is_err());
        assert!(parse_dest("room:1").is_err());
        assert!(parse_dest("number:12a").is_err());
    }
}
