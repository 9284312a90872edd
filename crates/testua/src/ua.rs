//! The user agent: one UDP socket towards the server and an inbox of everything it sent us.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vaxel_media::Codec;

use crate::UaError;
use crate::call::Call;
use crate::msg::{self, Response, SipMessage};

/// How long [`Ua`] operations wait for an answer unless told otherwise. Generous: the
/// machines that run the tests are small and busy.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// When the datagram was read.
    pub at: Instant,
    /// Who sent it.
    pub from: SocketAddr,
    /// The message.
    pub msg: SipMessage,
}

#[derive(Default)]
struct Inbox {
    messages: Vec<Received>,
    /// Datagrams that did not parse, kept for failure output.
    garbage: Vec<Vec<u8>>,
}

pub(crate) struct Inner {
    pub(crate) sock: UdpSocket,
    pub(crate) local: SocketAddr,
    pub(crate) server: SocketAddr,
    inbox: Mutex<Inbox>,
    arrived: Condvar,
    counter: AtomicU64,
    seed: u64,
}

/// A SIP user agent over UDP for tests. Cheap to clone; every clone shares the socket and
/// the inbox. The reader thread ends when the last clone is dropped.
#[derive(Clone)]
pub struct Ua {
    pub(crate) inner: Arc<Inner>,
}

impl Ua {
    /// A UA on 127.0.0.1 with a free port, talking to `server`.
    pub fn new(server: SocketAddr) -> Result<Ua, UaError> {
        Ua::bind(IpAddr::V4(Ipv4Addr::LOCALHOST), server)
    }

    /// A UA on `local_ip` (e.g. 127.0.0.2, to come from outside a trunk's allow list).
    pub fn bind(local_ip: IpAddr, server: SocketAddr) -> Result<Ua, UaError> {
        let sock = UdpSocket::bind(SocketAddr::new(local_ip, 0))?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let local = sock.local_addr()?;
        let reader = sock.try_clone()?;
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default()
            ^ u64::from(local.port());
        let inner = Arc::new(Inner {
            sock,
            local,
            server,
            inbox: Mutex::new(Inbox::default()),
            arrived: Condvar::new(),
            counter: AtomicU64::new(0),
            seed,
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name(format!("testua-sip-{}", local.port()))
            .spawn(move || read_loop(reader, weak))?;
        Ok(Ua { inner })
    }

    /// Our SIP address.
    pub fn local(&self) -> SocketAddr {
        self.inner.local
    }

    /// The server's SIP address.
    pub fn server(&self) -> SocketAddr {
        self.inner.server
    }

    /// A token unique within this process run: branches, tags, Call-IDs.
    pub fn unique(&self, prefix: &str) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{:x}{n}", self.inner.seed & 0xffff_ffff)
    }

    /// Sends raw text to the server.
    pub fn send(&self, text: &str) -> Result<(), UaError> {
        self.inner
            .sock
            .send_to(text.as_bytes(), self.inner.server)?;
        Ok(())
    }

    /// Sends raw bytes to the server.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), UaError> {
        self.inner.sock.send_to(bytes, self.inner.server)?;
        Ok(())
    }

    /// Waits until a message matching `pred` arrives (or is already in the inbox), removes
    /// it from the inbox and returns it.
    pub fn wait_message(
        &self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&SipMessage) -> bool,
    ) -> Result<Received, UaError> {
        let deadline = Instant::now() + timeout;
        let mut inbox = lock(&self.inner.inbox);
        loop {
            if let Some(i) = inbox.messages.iter().position(|r| pred(&r.msg)) {
                return Ok(inbox.messages.remove(i));
            }
            let now = Instant::now();
            if now >= deadline {
                let seen: Vec<String> = inbox
                    .messages
                    .iter()
                    .map(|r| summary(&r.msg))
                    .chain(
                        inbox
                            .garbage
                            .iter()
                            .map(|g| format!("garbage {:?}", String::from_utf8_lossy(g))),
                    )
                    .collect();
                return Err(UaError::Timeout {
                    what: format!("{what} (unclaimed in inbox: {seen:?})"),
                    after: timeout,
                });
            }
            inbox = match self.inner.arrived.wait_timeout(inbox, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// True if any message matching `pred` is waiting in the inbox (not removed).
    pub fn has_message(&self, pred: impl Fn(&SipMessage) -> bool) -> bool {
        lock(&self.inner.inbox)
            .messages
            .iter()
            .any(|r| pred(&r.msg))
    }

    /// Sends an out-of-dialog request (OPTIONS, REGISTER, ...) to `user`@server and waits
    /// for its final response (provisionals are skipped).
    pub fn request(
        &self,
        method: &str,
        user: &str,
        extra_headers: &str,
        timeout: Duration,
    ) -> Result<Response, UaError> {
        let call_id = self.unique("c");
        let branch = self.unique("z9hG4bK");
        let tag = self.unique("t");
        let server = self.inner.server;
        let local = self.inner.local;
        let ruri = if user.is_empty() {
            format!("sip:{server}")
        } else {
            format!("sip:{user}@{server}")
        };
        let text = format!(
            "{method} {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:testua@{local}>;tag={tag}\r\n\
             To: <{ruri}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 {method}\r\n\
             Contact: <sip:testua@{local}>\r\n\
             {extra_headers}\
             Content-Length: 0\r\n\r\n"
        );
        self.send(&text)?;
        let got = self.wait_message(&format!("final response to {method}"), timeout, |m| {
            matches!(m, SipMessage::Response(r) if r.status >= 200) && m.call_id() == Some(&call_id)
        })?;
        match got.msg {
            SipMessage::Response(r) => Ok(r),
            SipMessage::Request(_) => Err(UaError::State("matched a request".into())),
        }
    }

    /// OPTIONS to the server; its final response.
    pub fn options(&self) -> Result<Response, UaError> {
        self.request("OPTIONS", "", "", DEFAULT_WAIT)
    }

    /// Starts a call to `number` offering `codecs` (plus telephone-event 101).
    pub fn invite(&self, number: &str, codecs: &[Codec]) -> Result<Call, UaError> {
        Call::start(self.clone(), number, Offer::Codecs(codecs.to_vec()))
    }

    /// Starts a call to `number` without SDP (a late offer: the server offers in its 2xx and
    /// the answer goes in the ACK, [`Call::ack_with_answer`]).
    pub fn invite_without_sdp(&self, number: &str) -> Result<Call, UaError> {
        Call::start(self.clone(), number, Offer::None)
    }

    /// Starts a call to `number` with a hand-written SDP body; `{ip}` and `{port}` in it
    /// are replaced with the call's RTP address.
    pub fn invite_with_sdp(&self, number: &str, sdp_template: &str) -> Result<Call, UaError> {
        Call::start(
            self.clone(),
            number,
            Offer::Template(sdp_template.to_string()),
        )
    }
}

/// What an INVITE offers.
pub(crate) enum Offer {
    Codecs(Vec<Codec>),
    Template(String),
    None,
}

fn summary(m: &SipMessage) -> String {
    match m {
        SipMessage::Request(r) => format!("{} {}", r.method, r.uri),
        SipMessage::Response(r) => format!(
            "{} {} ({})",
            r.status,
            r.reason,
            r.headers.get("CSeq").unwrap_or("")
        ),
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_loop(sock: UdpSocket, inner: Weak<Inner>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let got = sock.recv_from(&mut buf);
        let Some(inner) = inner.upgrade() else { return };
        let (n, from) = match got {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            // ICMP unreachable surfaces as ConnectionRefused on some systems: keep reading.
            Err(_) => continue,
        };
        let at = Instant::now();
        let data = buf.get(..n).unwrap_or_default();
        let mut inbox = lock(&inner.inbox);
        match msg::parse(data) {
            Ok(msg) => inbox.messages.push(Received { at, from, msg }),
            Err(_) => inbox.garbage.push(data.to_vec()),
        }
        drop(inbox);
        inner.arrived.notify_all();
    }
}
