use vaxel_sip::*;
fn policy() -> UasPolicy {
    UasPolicy {
        allow: vec![
            Method::Invite,
            Method::Ack,
            Method::Bye,
            Method::Cancel,
            Method::Options,
            Method::Info,
        ],
        supported: vec![],
        accept: vec!["application/sdp".into()],
        schemes: vec!["sip".into(), "sips".into()],
    }
}
#[test]
fn explore() {
    for dir in ["rfc4475", "rfc5118"] {
        let d = format!(
            "{}/../../tests/conformance/{dir}",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        for n in names {
            if n.ends_with("tsv") || n.starts_with("SHA") {
                continue;
            }
            let b = std::fs::read(format!("{d}/{n}")).unwrap();
            let v = match parse(&b) {
                Ok(Message::Request(r)) => match check_request(&r, &policy()) {
                    Ok(()) => "Accept".to_string(),
                    Err(resp) => format!("Status({})", resp.status),
                },
                Ok(Message::Response(r)) => format!("Response {}", r.status),
                Err(e) => format!(
                    "Err {:?} resp={:?} fatal={} : {}",
                    e.kind(),
                    e.response().map(|r| r.status),
                    e.is_fatal_for_stream(),
                    e
                ),
            };
            println!("{dir}/{n}: {v}");
        }
    }
}
