//! TOML text -> validated model -> compiled graph, reporting every error at once.

use std::collections::HashMap;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::build::{Builder, Claim, Counts};
use crate::diag::{Diagnostic, Sink, suggest};
use crate::names::{Names, Sections};
use crate::read::{Table, tables};
use crate::route::RouteKind;
use crate::server::read_server;
use crate::{Plan, SoundLoader, checks, queue_ivr, schedule, sections};

const SECTIONS: &[&str] = &[
    "server", "trunk", "user", "message", "queue", "ivr", "schedule", "did", "flow",
];

/// Reads and compiles a config file. An unreadable file is one diagnostic at 1:1.
pub fn load_file<L: SoundLoader>(
    path: &Path,
    loader: &mut L,
) -> Result<Plan<L::Sound>, Vec<Diagnostic>> {
    match std::fs::read_to_string(path) {
        Ok(source) => compile(&source, path, loader),
        Err(e) => Err(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 1,
            col: 1,
            message: format!("cannot read config file: {e}"),
            hint: None,
        }]),
    }
}

/// Compiles config text; `file` names it in diagnostics and anchors relative directories.
pub fn compile<L: SoundLoader>(
    source: &str,
    file: &Path,
    loader: &mut L,
) -> Result<Plan<L::Sound>, Vec<Diagnostic>> {
    let mut sink = Sink::new(file, source);
    let doc = match DeTable::parse(source) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            sink.error(&span, format!("TOML syntax: {}", e.message().trim()));
            return Err(sink.finish());
        }
    };
    let root = doc.get_ref();
    let config_dir = file.parent().unwrap_or(Path::new(""));

    let mut server_table = None;
    let mut s = Sections::default();
    for (k, v) in root.iter() {
        let key: &str = k.get_ref();
        let list = |sink: &mut Sink<'_>, section| tables(sink, key, v, section);
        match key {
            "server" => match v.get_ref() {
                DeValue::Table(t) => server_table = Some(Table::new(t, v.span(), "server")),
                _ => crate::read::wrong_type(&mut sink, key, v, "a table ([server])"),
            },
            "trunk" => s.trunks = list(&mut sink, "trunk"),
            "user" => s.users = list(&mut sink, "user"),
            "message" => s.messages = list(&mut sink, "message"),
            "queue" => s.queues = list(&mut sink, "queue"),
            "ivr" => s.ivrs = list(&mut sink, "ivr"),
            "schedule" => s.schedules = list(&mut sink, "schedule"),
            "did" => s.dids = list(&mut sink, "did"),
            "flow" => s.flows = list(&mut sink, "flow"),
            other => sink.hint(
                &k.span(),
                format!("unknown section `{other}`"),
                suggest(other, SECTIONS).replace("valid keys", "sections are"),
            ),
        }
    }
    let server = read_server(&mut sink, server_table, config_dir);

    let names = Names::scan(&s);
    let counts = Counts {
        messages: s.messages.len(),
        queues: s.queues.len(),
        ivrs: s.ivrs.len(),
        schedules: s.schedules.len(),
        users: s.users.len(),
    };
    let mut b = Builder::new(sink, names, counts, loader);
    b.sounds_dir = server.sounds_dir.clone();

    let users = sections::read_users(&mut b, &s.users);
    let trunks = sections::read_trunks(&mut b, &s.trunks);
    let messages = sections::read_messages(&mut b, &s.messages);
    let queues = queue_ivr::read_queues(&mut b, &s.queues);
    let ivrs = queue_ivr::read_ivrs(&mut b, &s.ivrs);
    let schedules = schedule::read_schedules(&mut b, &s.schedules);
    let dids_spanned = sections::read_dids(&mut b, &s.dids);
    for (d, span) in &dids_spanned {
        b.claims.push(Claim {
            number: d.number.clone(),
            span: span.clone(),
            owner: format!("DID `{}` ({})", d.number, d.name),
            is_did: true,
        });
    }
    let dids: Vec<_> = dids_spanned.into_iter().map(|(d, _)| d).collect();
    let flows = sections::read_flows(&mut b, &s.flows, &dids);
    checks::duplicate_numbers(&mut b, server.country_code.as_deref());
    checks::trap_loops(&mut b);

    if !b.sink.is_empty() {
        return Err(b.sink.finish());
    }
    let mut internal = HashMap::new();
    for (user, u) in users.iter().enumerate() {
        if let Some(e) = &u.extension {
            internal.insert(e.clone(), RouteKind::Extension { user });
        }
    }
    for (queue, q) in queues.iter().enumerate() {
        if let Some(n) = &q.number {
            internal.insert(n.clone(), RouteKind::QueueNumber { queue });
        }
    }
    // A user by id, or by extension where that is not another user's id.
    let mut user_index: HashMap<String, usize> = HashMap::new();
    for (i, u) in users.iter().enumerate() {
        user_index.insert(u.id.clone(), i);
    }
    for (i, u) in users.iter().enumerate() {
        if let Some(ext) = &u.extension {
            user_index.entry(ext.clone()).or_insert(i);
        }
    }
    let did_index = dids
        .iter()
        .enumerate()
        .map(|(i, d)| (d.number.clone(), i))
        .collect();
    Ok(Plan {
        user_base: b.user_node(0).0,
        queue_base: b.queue_node(0).0,
        server,
        trunks,
        users,
        messages,
        queues,
        ivrs,
        schedules,
        dids,
        flows,
        file: file.to_path_buf(),
        nodes: b.nodes,
        sounds: b.sounds,
        internal,
        did_index,
        user_index,
    })
}
