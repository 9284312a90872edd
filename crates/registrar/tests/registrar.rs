//! REGISTER processing (RFC 3261 §10.3) and the RFC 4475 REGISTER corpus.

use std::net::SocketAddr;

use vaxel_registrar::{Binding, Change, RegisterError, Registrar, RegistrarConfig, Transport};
use vaxel_sip::{Message, Request, SipMessage};

fn parse(text: &str) -> Request {
    match vaxel_sip::parse(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

/// A REGISTER with the given Call-ID, CSeq and extra header lines.
fn reg(call_id: &str, cseq: u32, extra: &[&str]) -> Request {
    let mut t = format!(
        "REGISTER sip:pbx.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1001@pbx.example.com>;tag=abc\r\n\
         To: <sip:1001@pbx.example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    for e in extra {
        t.push_str(e);
        t.push_str("\r\n");
    }
    t.push_str("Content-Length: 0\r\n\r\n");
    parse(&t)
}

fn src() -> SocketAddr {
    "203.0.113.5:40123".parse().unwrap()
}

fn registrar() -> Registrar {
    Registrar::new(RegistrarConfig::default())
}

fn contacts(r: &Registrar, now: u64) -> Vec<String> {
    let mut v: Vec<String> = r
        .contacts("1001", now)
        .into_iter()
        .map(|b| b.contact.clone())
        .collect();
    v.sort();
    v
}

#[test]
fn register_two_contacts_keeps_nat_source_and_transport() {
    let mut r = registrar();
    let req = reg(
        "c1",
        1,
        &[
            "Contact: <sip:1001@10.0.0.2:5060>;q=0.5, <sip:1001@10.0.0.2:5062>;expires=120",
            "Expires: 600",
        ],
    );
    let res = r
        .register(1000, "1001", &req, src(), Transport::Udp)
        .unwrap();
    assert_eq!(res.bindings_now.len(), 2);
    assert!(matches!(
        &res.changes[..],
        [Change::Added(_), Change::Added(_)]
    ));
    let b = &res.bindings_now[0];
    assert_eq!(b.contact, "sip:1001@10.0.0.2:5060");
    assert_eq!(b.source, src());
    assert_eq!(b.transport, Transport::Udp);
    assert_eq!(b.expires_at, 1600);
    assert_eq!(b.q, 500);
    assert_eq!(res.bindings_now[1].expires_at, 1120);
    assert_eq!(
        res.contact_values(1000),
        vec![
            "<sip:1001@10.0.0.2:5060>;expires=600;q=0.5".to_string(),
            "<sip:1001@10.0.0.2:5062>;expires=120".to_string()
        ]
    );
    // Forking order: highest q first.
    let order: Vec<u16> = r.contacts("1001", 1000).iter().map(|b| b.q).collect();
    assert_eq!(order, vec![1000, 500]);
    assert!(r.contacts("1002", 1000).is_empty());
}

#[test]
fn refresh_updates_expiry_and_source() {
    let mut r = registrar();
    r.register(
        1000,
        "1001",
        &reg("c1", 1, &["Contact: <sip:1001@10.0.0.2>"]),
        src(),
        Transport::Udp,
    )
    .unwrap();
    let new_src: SocketAddr = "203.0.113.5:40999".parse().unwrap();
    let res = r
        .register(
            1500,
            "1001",
            &reg("c1", 2, &["Contact: <sip:1001@10.0.0.2>", "Expires: 300"]),
            new_src,
            Transport::Tcp,
        )
        .unwrap();
    assert_eq!(res.bindings_now.len(), 1);
    let [Change::Refreshed(b)] = &res.changes[..] else {
        panic!("{:?}", res.changes)
    };
    assert_eq!(
        (b.expires_at, b.source, b.transport, b.cseq),
        (1800, new_src, Transport::Tcp, 2)
    );
    // A REGISTER without Contact is a query.
    let res = r
        .register(1600, "1001", &reg("c1", 3, &[]), src(), Transport::Udp)
        .unwrap();
    assert!(res.changes.is_empty());
    assert_eq!(res.bindings_now.len(), 1);
}

#[test]
fn expiry_limits_423_and_clamp() {
    let mut r = registrar();
    let e = r
        .register(
            1000,
            "1001",
            &reg("c1", 1, &["Contact: <sip:a@h>", "Expires: 30"]),
            src(),
            Transport::Udp,
        )
        .unwrap_err();
    assert_eq!(e, RegisterError::IntervalTooBrief { min_expires: 60 });
    assert_eq!(e.status(), 423);
    // The contact parameter wins over the header.
    let e = r
        .register(
            1000,
            "1001",
            &reg("c1", 2, &["Contact: <sip:a@h>;expires=59", "Expires: 600"]),
            src(),
            Transport::Udp,
        )
        .unwrap_err();
    assert_eq!(e.status(), 423);
    assert!(r.is_empty(), "nothing changes on error");
    let res = r
        .register(
            1000,
            "1001",
            &reg("c1", 3, &["Contact: <sip:a@h>;expires=99999999999"]),
            src(),
            Transport::Udp,
        )
        .unwrap();
    assert_eq!(res.bindings_now[0].expires_at, 1000 + 3600);
    // Default when nothing says.
    let mut r = registrar();
    let res = r
        .register(
            1000,
            "1001",
            &reg("c1", 1, &["Contact: <sip:a@h>"]),
            src(),
            Transport::Udp,
        )
        .unwrap();
    assert_eq!(res.bindings_now[0].expires_at, 4600);
}

#[test]
fn unregister_one_contact_then_star() {
    let mut r = registrar();
    r.register(
        1000,
        "1001",
        &reg("c1", 1, &["Contact: <sip:a@h>, <sip:b@h>, <sip:c@h>"]),
        src(),
        Transport::Udp,
    )
    .unwrap();
    let res = r
        .register(
            1001,
            "1001",
            &reg("c1", 2, &["Contact: <sip:b@h>;expires=0"]),
            src(),
            Transport::Udp,
        )
        .unwrap();
    assert!(matches!(&res.changes[..], [Change::Removed(b)] if b.contact == "sip:b@h"));
    assert_eq!(contacts(&r, 1001), vec!["sip:a@h", "sip:c@h"]);
    // Removing an unknown contact is a no-op.
    let res = r
        .register(
            1001,
            "1001",
            &reg("c1", 3, &["Contact: <sip:zz@h>", "Expires: 0"]),
            src(),
            Transport::Udp,
        )
        .unwrap();
    assert!(res.changes.is_empty());
    // `*` must be alone and with Expires: 0.
    // (The parser already refuses `*` beside other contacts; the registrar does not rely on it.)
    let mut mixed = reg("c1", 9, &["Contact: *", "Expires: 0"]);
    mixed.headers.push("Contact", "<sip:a@h>");
    for req in [
        reg("c1", 9, &["Contact: *"]),
        reg("c1", 9, &["Contact: *", "Expires: 60"]),
        mixed,
    ] {
        let e = r
            .register(1002, "1001", &req, src(), Transport::Udp)
            .unwrap_err();
        assert_eq!(e.status(), 400, "{req:?}");
    }
    let res = r
        .register(
            1002,
            "1001",
            &reg("c2", 1, &["Contact: *", "Expires: 0"]),
            src(),
            Transport::Udp,
        )
        .unwrap();
    assert_eq!(res.changes.len(), 2);
    assert!(res.changes.iter().all(|c| matches!(c, Change::Removed(_))));
    assert!(res.bindings_now.is_empty() && r.is_empty());
}

#[test]
fn call_id_and_cseq_ordering() {
    let mut r = registrar();
    r.register(
        1000,
        "1001",
        &reg("c1", 5, &["Contact: <sip:a@h>"]),
        src(),
        Transport::Udp,
    )
    .unwrap();
    for cseq in [5, 4] {
        let e = r
            .register(
                1001,
                "1001",
                &reg("c1", cseq, &["Contact: <sip:a@h>"]),
                src(),
                Transport::Udp,
            )
            .unwrap_err();
        assert_eq!(
            e,
            RegisterError::OutOfOrder {
                got: cseq,
                stored: 5
            }
        );
        assert_eq!(e.status(), 500);
    }
    // Star with the same Call-ID and a stale CSeq fails too, and changes nothing.
    let e = r
        .register(
            1001,
            "1001",
            &reg("c1", 5, &["Contact: *", "Expires: 0"]),
            src(),
            Transport::Udp,
        )
        .unwrap_err();
    assert_eq!(e.status(), 500);
    assert_eq!(r.len(), 1);
    // A different Call-ID (the phone rebooted) replaces, whatever its CSeq.
    let res = r
        .register(
            1002,
            "1001",
            &reg("c2", 1, &["Contact: <sip:a@h>"]),
            src(),
            Transport::Udp,
        )
        .unwrap();
    assert!(matches!(&res.changes[..], [Change::Refreshed(b)] if b.call_id == "c2" && b.cseq == 1));
}

#[test]
fn equal_uris_are_one_binding_and_duplicates_count_once() {
    let mut r = registrar();
    r.register(
        1000,
        "1001",
        &reg(
            "c1",
            1,
            &["Contact: <sip:alice@HOST.example;transport=UDP>"],
        ),
        src(),
        Transport::Udp,
    )
    .unwrap();
    let res = r
        .register(1000, "1001", &reg("c1", 2, &["Contact: <sip:%61lice@host.example;transport=udp>, <sip:alice@host.example;transport=udp>;expires=0"]), src(), Transport::Udp)
        .unwrap();
    assert!(
        matches!(&res.changes[..], [Change::Removed(_)]),
        "{:?}",
        res.changes
    );
    assert!(r.is_empty());
}

#[test]
fn contact_cap_and_bad_contacts() {
    let mut r = Registrar::new(RegistrarConfig {
        max_contacts: 2,
        ..RegistrarConfig::default()
    });
    let e = r
        .register(
            1000,
            "1001",
            &reg("c1", 1, &["Contact: <sip:a@h>, <sip:b@h>, <sip:c@h>"]),
            src(),
            Transport::Udp,
        )
        .unwrap_err();
    assert_eq!(e, RegisterError::TooManyContacts { max: 2 });
    let e = r
        .register(
            1000,
            "1001",
            &reg("c1", 2, &["Contact: <tel:+4611111>"]),
            src(),
            Transport::Udp,
        )
        .unwrap_err();
    assert_eq!(e.status(), 400);
    let e = r
        .register(
            1000,
            "1001",
            &reg("c1", 3, &["Contact: <sip:a@h>;q=2"]),
            src(),
            Transport::Udp,
        )
        .unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(r.is_empty());
}

#[test]
fn expire_and_restore_over_time() {
    let mut r = registrar();
    r.register(
        1000,
        "1001",
        &reg(
            "c1",
            1,
            &["Contact: <sip:a@h>;expires=60, <sip:b@h>;expires=600"],
        ),
        src(),
        Transport::Udp,
    )
    .unwrap();
    assert_eq!(contacts(&r, 1059), vec!["sip:a@h", "sip:b@h"]);
    assert_eq!(
        contacts(&r, 1060),
        vec!["sip:b@h"],
        "lapsed ones are not offered"
    );
    assert!(r.expire(1059).is_empty());
    let gone = r.expire(1060);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].contact, "sip:a@h");
    assert_eq!(r.len(), 1);
    // Store and load back, as across a restart.
    let rows: Vec<_> = r.iter().map(Binding::to_row).collect();
    let mut fresh = registrar();
    for row in rows {
        assert!(fresh.restore(Binding::from_row(row).unwrap(), 1100));
    }
    assert_eq!(contacts(&fresh, 1100), vec!["sip:b@h"]);
    let lapsed = fresh.iter().next().unwrap().clone();
    assert!(!fresh.restore(lapsed, 1600));
    // A lapsed binding found during a REGISTER is reported removed.
    let res = fresh
        .register(
            1700,
            "1001",
            &reg("c9", 1, &["Contact: <sip:c@h>"]),
            src(),
            Transport::Udp,
        )
        .unwrap();
    assert!(
        matches!(&res.changes[..], [Change::Removed(b), Change::Added(_)] if b.contact == "sip:b@h")
    );
}

fn corpus(name: &str) -> Request {
    let path = format!(
        "{}/../../tests/conformance/rfc4475/{name}.dat",
        env!("CARGO_MANIFEST_DIR")
    );
    match vaxel_sip::parse(&std::fs::read(path).unwrap()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("{name} is not a request"),
    }
}

fn register_corpus(name: &str) -> (Registrar, Vec<Binding>) {
    let req = corpus(name);
    let user = req.to().unwrap().uri.user.clone().unwrap();
    let mut r = registrar();
    let res = r
        .register(1000, &user, &req, src(), Transport::Udp)
        .unwrap();
    (r, res.bindings_now)
}

#[test]
fn rfc4475_cparam01_contact_param_is_not_a_uri_param() {
    let (r, b) = register_corpus("cparam01");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].contact, "sip:+19725552222@gw1.example.net");
    assert!(!b[0].contact_value(1000).contains("unknownparam"));
    assert_eq!(r.contacts("watson", 1000)[0].contact, b[0].contact);
}

#[test]
fn rfc4475_cparam02_uri_param_is_kept() {
    let (r, b) = register_corpus("cparam02");
    assert_eq!(
        b[0].contact,
        "sip:+19725552222@gw1.example.net;unknownparam"
    );
    assert_eq!(
        r.contacts("watson", 1000)[0].contact_value(1000),
        "<sip:+19725552222@gw1.example.net;unknownparam>;expires=3600"
    );
}

#[test]
fn rfc4475_regescrt_escaped_route_stays_in_the_contact() {
    let (_, b) = register_corpus("regescrt");
    assert_eq!(b.len(), 1);
    assert_eq!(
        b[0].contact,
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );
    assert_eq!(b[0].user, "user");
}

#[test]
fn rfc4475_escnull_makes_two_bindings() {
    let (r, b) = register_corpus("escnull");
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].user, "null-%00-null");
    let mut c: Vec<&str> = b.iter().map(|b| b.contact.as_str()).collect();
    c.sort();
    assert_eq!(
        c,
        vec!["sip:%00%00@host5.example.com", "sip:%00@host5.example.com"]
    );
    assert_eq!(r.contacts("null-%00-null", 1000).len(), 2);
}
