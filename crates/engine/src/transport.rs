//! SIP over UDP and TCP: listener tasks that frame and parse messages (so parsing runs in
//! parallel with the call logic) and hand them to the switch; the send side for the switch.
//!
//! Malformed requests are answered here, statelessly, with the 400 or 505 the parser builds;
//! anything hopeless is dropped with a debug log. A torn or abusive TCP stream only ever
//! closes its own connection.
//!
//! TCP connections go both ways: accepted from phones and trunks, and opened by us when a
//! request is for a TCP peer we hold no connection to (a trunk with `transport=tcp`, or a
//! peer whose connection closed). Messages sent while the connection is being set up wait in
//! its queue; if it cannot be set up they are dropped, and the transaction times out as it
//! would over UDP.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};
use vaxel_sip::{Message, StreamFramer, parse};
use vaxel_txn::{Peer, Transport};

use crate::metrics::Metrics;

/// Largest SIP message accepted, on any transport.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most TCP connections open at once; more are refused at accept.
const MAX_TCP_CONNECTIONS: usize = 4096;
/// A TCP connection with no traffic for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(300);
/// Kernel buffer asked for on every SIP UDP socket, each way: a burst of thousands of
/// requests must wait in the socket, not be dropped, while the switch catches up.
const UDP_BUFFER: usize = 8 * 1024 * 1024;
/// How long a connection whose reading ended stays writable for answers in flight.
const TCP_LINGER: Duration = Duration::from_millis(500);
/// A TCP connection holding half a message this long without progress is closed (RFC 4475 clerr).
const TCP_PARTIAL: Duration = Duration::from_secs(32);
/// How long we wait for a TCP connection we open (Timer B is 32 s; a trunk that does not
/// accept in this time is as good as down).
const TCP_CONNECT: Duration = Duration::from_secs(10);
/// Messages queued per TCP connection.
const TCP_QUEUE: usize = 256;
/// Connections we may be opening at once. A response whose connection closed also opens one
/// (RFC 3261 §18.2.2), so a client that connects, sends and hangs up in a loop could make us
/// dial it back; this bounds what that costs.
const TCP_OPENING: usize = 64;

/// A parsed message on its way to the switch.
#[derive(Debug)]
pub struct Inbound {
    /// The message.
    pub msg: Message,
    /// Who sent it, on which socket or connection.
    pub peer: Peer,
}

/// Our own address on one transport, for Via and Contact.
#[derive(Debug, Clone, Copy)]
pub struct Local {
    /// Transport.
    pub transport: Transport,
    /// Address to advertise (the listen address, or media_address for a wildcard listen).
    pub addr: SocketAddr,
}

/// Asks for [`UDP_BUFFER`] each way. The kernel caps it at net.core.rmem_max/wmem_max; on
/// Linux a process with CAP_NET_ADMIN may go past the cap (SO_RCVBUFFORCE), else it is worth
/// a warning (the operator can raise the limits).
fn size_buffers(sock: &UdpSocket) {
    let s = socket2::SockRef::from(sock);
    // Linux reports twice the size asked for (it counts its bookkeeping); others report it.
    let want = if cfg!(target_os = "linux") {
        2 * UDP_BUFFER
    } else {
        UDP_BUFFER
    };
    let _ = s.set_recv_buffer_size(UDP_BUFFER);
    let _ = s.set_send_buffer_size(UDP_BUFFER);
    #[cfg(target_os = "linux")]
    {
        if s.recv_buffer_size().is_ok_and(|r| r < want) {
            force_buffer(sock, libc::SO_RCVBUFFORCE);
        }
        if s.send_buffer_size().is_ok_and(|w| w < want) {
            force_buffer(sock, libc::SO_SNDBUFFORCE);
        }
    }
    match (s.recv_buffer_size(), s.send_buffer_size()) {
        (Ok(r), Ok(w)) if r >= want && w >= want => {}
        (Ok(r), Ok(w)) => warn!(
            asked = UDP_BUFFER,
            receive = r,
            send = w,
            "SIP UDP socket buffers capped by the kernel; raise net.core.rmem_max and \
             net.core.wmem_max to avoid drops under load"
        ),
        (Err(e), _) | (_, Err(e)) => warn!(error = %e, "could not read SIP socket buffer sizes"),
    }
}

/// Sets a buffer size past the sysctl cap; fails quietly without CAP_NET_ADMIN.
#[cfg(target_os = "linux")]
fn force_buffer(sock: &UdpSocket, option: libc::c_int) {
    use std::os::fd::AsRawFd;
    let size = UDP_BUFFER as libc::c_int;
    // SAFETY: a valid socket fd for the duration of the call and a c_int option value of
    // the length passed.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The sockets the switch sends on.
pub struct Transports {
    udp: Vec<(Arc<UdpSocket>, Local)>,
    tcp: Vec<Local>,
    conns: DashMap<u64, mpsc::Sender<Arc<[u8]>>>,
    /// The open connection from each remote address, so a call can reach a phone that
    /// registered over TCP on the connection it keeps open.
    by_addr: DashMap<SocketAddr, u64>,
    next_conn: AtomicU64,
    metrics: Arc<Metrics>,
    /// Where messages read from connections we open go (set by `spawn_readers`).
    inbound: OnceLock<mpsc::Sender<Inbound>>,
    /// Ourselves, for the tasks of connections opened from `send`.
    me: Weak<Transports>,
    /// Connections being opened now (see [`TCP_OPENING`]).
    opening: AtomicUsize,
}

impl Transports {
    /// Binds every listen address; `advertise` replaces wildcard addresses in Via/Contact.
    pub async fn bind(
        udp: &[SocketAddr],
        tcp: &[SocketAddr],
        advertise: IpAddr,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Arc<Transports>, Vec<TcpListener>)> {
        let fix = |a: SocketAddr| {
            if a.ip().is_unspecified() {
                SocketAddr::new(advertise, a.port())
            } else {
                a
            }
        };
        let mut socks = Vec::new();
        for a in udp {
            let s = UdpSocket::bind(a).await?;
            size_buffers(&s);
            let local = Local {
                transport: Transport::Udp,
                addr: fix(s.local_addr()?),
            };
            socks.push((Arc::new(s), local));
        }
        let mut listeners = Vec::new();
        let mut tcp_locals = Vec::new();
        for a in tcp {
            let l = TcpListener::bind(a).await?;
            tcp_locals.push(Local {
                transport: Transport::Tcp,
                addr: fix(l.local_addr()?),
            });
            listeners.push(l);
        }
        let t = Arc::new_cyclic(|me| Transports {
            udp: socks,
            tcp: tcp_locals,
            conns: DashMap::new(),
            by_addr: DashMap::new(),
            next_conn: AtomicU64::new(1),
            metrics,
            inbound: OnceLock::new(),
            me: me.clone(),
            opening: AtomicUsize::new(0),
        });
        Ok((t, listeners))
    }

    /// Our address on the transport of `peer` (the socket it used, for UDP).
    pub fn local_for(&self, peer: &Peer) -> Option<Local> {
        match peer.transport {
            Transport::Udp => {
                let i = peer.conn.unwrap_or(0) as usize;
                self.udp
                    .get(i)
                    .or_else(|| self.udp.first())
                    .map(|(_, l)| *l)
            }
            Transport::Tcp => self.tcp.first().copied(),
        }
    }

    /// The open TCP connection from `addr`, if any.
    pub fn conn_from(&self, addr: SocketAddr) -> Option<u64> {
        self.by_addr.get(&addr).map(|c| *c)
    }

    /// A TCP peer at `addr`: on the connection we hold to it, or one opened by the first
    /// message sent.
    pub fn tcp_peer(&self, addr: SocketAddr) -> Peer {
        Peer {
            transport: Transport::Tcp,
            addr,
            conn: self.conn_from(addr),
        }
    }

    /// Whether there is a TCP listener (to put in Via and Contact of what we send over TCP).
    pub fn has_tcp(&self) -> bool {
        !self.tcp.is_empty()
    }

    /// Sends without waiting: UDP straight from the socket (a full buffer defers to a task),
    /// TCP through the connection's writer.
    pub fn send(&self, peer: Peer, bytes: Arc<[u8]>) {
        self.metrics.sip_sent.fetch_add(1, Ordering::Relaxed);
        match peer.transport {
            Transport::Udp => {
                let i = peer.conn.unwrap_or(0) as usize;
                let Some((sock, _)) = self.udp.get(i).or_else(|| self.udp.first()) else {
                    return;
                };
                match sock.try_send_to(&bytes, peer.addr) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        let sock = sock.clone();
                        tokio::spawn(async move {
                            let _ = sock.send_to(&bytes, peer.addr).await;
                        });
                    }
                    Err(e) => debug!(peer = %peer.addr, error = %e, "udp send failed"),
                }
            }
            Transport::Tcp => {
                let conn = peer
                    .conn
                    .filter(|c| self.conns.contains_key(c))
                    .or_else(|| self.conn_from(peer.addr));
                match conn.and_then(|c| self.conns.get(&c)) {
                    Some(tx) => {
                        if tx.try_send(bytes).is_err() {
                            debug!(conn, "tcp connection gone or stalled; message dropped");
                        }
                    }
                    // A peer we never had a connection to (a trunk) is worth a warning if it
                    // cannot be reached; one whose connection closed (a scanner, say) is not.
                    None => self.open(peer.addr, bytes, peer.conn.is_none()),
                }
            }
        }
    }

    /// Opens a TCP connection to `addr` with `first` queued on it. Registered at once, so
    /// what is sent meanwhile queues behind it; forgotten (and its queue dropped) if the
    /// connection cannot be made.
    fn open(&self, addr: SocketAddr, first: Arc<[u8]>, loud: bool) {
        let (Some(me), Some(tx)) = (self.me.upgrade(), self.inbound.get().cloned()) else {
            return;
        };
        if self.opening.fetch_add(1, Ordering::Relaxed) >= TCP_OPENING {
            self.opening.fetch_sub(1, Ordering::Relaxed);
            debug!(peer = %addr, "too many tcp connections being opened; message dropped");
            return;
        }
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (wtx, wrx) = mpsc::channel::<Arc<[u8]>>(TCP_QUEUE);
        let _ = wtx.try_send(first);
        self.conns.insert(id, wtx);
        self.by_addr.insert(addr, id);
        tokio::spawn(async move {
            let connected = tokio::time::timeout(TCP_CONNECT, TcpStream::connect(addr)).await;
            me.opening.fetch_sub(1, Ordering::Relaxed);
            match connected {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    debug!(peer = %addr, conn = id, "tcp connection opened");
                    me.serve(stream, addr, id, wrx, tx).await;
                }
                Ok(Err(e)) if loud => {
                    warn!(peer = %addr, error = %e, "cannot open a SIP TCP connection");
                    me.forget(addr, id);
                }
                Err(_) if loud => {
                    warn!(peer = %addr, "SIP TCP connection not accepted in time");
                    me.forget(addr, id);
                }
                _ => {
                    debug!(peer = %addr, "could not reopen a closed SIP TCP connection");
                    me.forget(addr, id);
                }
            }
        });
    }

    fn forget(&self, addr: SocketAddr, id: u64) {
        self.conns.remove(&id);
        self.by_addr.remove_if(&addr, |_, c| *c == id);
    }

    /// Starts the reader tasks: every parsed message goes to `tx`.
    pub fn spawn_readers(self: &Arc<Self>, listeners: Vec<TcpListener>, tx: mpsc::Sender<Inbound>) {
        let _ = self.inbound.set(tx.clone());
        for (i, (sock, _)) in self.udp.iter().enumerate() {
            let me = self.clone();
            let sock = sock.clone();
            let tx = tx.clone();
            tokio::spawn(async move { me.udp_loop(i as u64, sock, tx).await });
        }
        let limit = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
        for l in listeners {
            let me = self.clone();
            let tx = tx.clone();
            let limit = limit.clone();
            tokio::spawn(async move { me.accept_loop(l, tx, limit).await });
        }
    }

    async fn udp_loop(
        self: Arc<Self>,
        index: u64,
        sock: Arc<UdpSocket>,
        tx: mpsc::Sender<Inbound>,
    ) {
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, from) = match sock.recv_from(&mut buf).await {
                Ok(x) => x,
                // ICMP port unreachable and the like surface here on some systems: keep going.
                Err(e) => {
                    debug!(error = %e, "udp recv error");
                    continue;
                }
            };
            self.metrics.sip_received.fetch_add(1, Ordering::Relaxed);
            let peer = Peer {
                transport: Transport::Udp,
                addr: from,
                conn: Some(index),
            };
            let Some(data) = buf.get(..n) else { continue };
            if n > MAX_MESSAGE {
                self.metrics
                    .sip_parse_errors
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if data.iter().all(|b| b.is_ascii_whitespace()) {
                continue; // RFC 5626 keep-alive
            }
            match parse(data) {
                Ok(msg) => {
                    if tx.try_send(Inbound { msg, peer }).is_err() {
                        self.metrics.sip_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => self.reject(peer, &e),
            }
        }
    }

    fn reject(&self, peer: Peer, e: &vaxel_sip::ParseError) {
        self.metrics
            .sip_parse_errors
            .fetch_add(1, Ordering::Relaxed);
        debug!(peer = %peer.addr, error = %e, "unparsable SIP message");
        if let Some(resp) = e.response() {
            self.send(peer, resp.to_bytes().into());
        }
    }

    async fn accept_loop(
        self: Arc<Self>,
        listener: TcpListener,
        tx: mpsc::Sender<Inbound>,
        limit: Arc<Semaphore>,
    ) {
        loop {
            let (stream, from) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    debug!(error = %e, "tcp accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let Ok(permit) = limit.clone().try_acquire_owned() else {
                debug!(peer = %from, "too many tcp connections; refused");
                continue;
            };
            let me = self.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                me.connection(stream, from, tx).await;
                drop(permit);
            });
        }
    }

    async fn connection(
        self: Arc<Self>,
        stream: TcpStream,
        from: SocketAddr,
        tx: mpsc::Sender<Inbound>,
    ) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (wtx, wrx) = mpsc::channel::<Arc<[u8]>>(TCP_QUEUE);
        self.conns.insert(id, wtx);
        self.by_addr.insert(from, id);
        self.serve(stream, from, id, wrx, tx).await;
    }

    /// Reads and writes one registered connection (accepted or opened) until it ends.
    async fn serve(
        self: Arc<Self>,
        stream: TcpStream,
        from: SocketAddr,
        id: u64,
        mut wrx: mpsc::Receiver<Arc<[u8]>>,
        tx: mpsc::Sender<Inbound>,
    ) {
        let (mut rd, mut wr) = stream.into_split();
        let writer = tokio::spawn(async move {
            while let Some(b) = wrx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    break;
                }
            }
        });
        let peer = Peer::tcp(from, id);
        let mut framer = StreamFramer::new(MAX_MESSAGE);
        let mut buf = vec![0u8; 16 * 1024];
        let mut last_progress = Instant::now();
        'read: loop {
            let wait = if framer.buffered() > 0 {
                TCP_PARTIAL.saturating_sub(last_progress.elapsed())
            } else {
                TCP_IDLE
            };
            let n = match tokio::time::timeout(wait, rd.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(n)) => n,
            };
            let Some(data) = buf.get(..n) else { break };
            framer.push(data);
            while let Some(result) = framer.next_message() {
                last_progress = Instant::now();
                self.metrics.sip_received.fetch_add(1, Ordering::Relaxed);
                match result {
                    Ok(msg) => {
                        if tx.send(Inbound { msg, peer }).await.is_err() {
                            break 'read;
                        }
                    }
                    Err(e) => {
                        self.reject(peer, &e);
                        if e.is_fatal_for_stream() {
                            break 'read;
                        }
                    }
                }
            }
            if framer.buffered() == 0 {
                last_progress = Instant::now();
            }
        }
        // Answers to the requests already handed to the switch are still on their way (RFC
        // 4475 dblreq: good requests, then junk): keep the connection writable a moment.
        tokio::time::sleep(TCP_LINGER).await;
        self.forget(from, id);
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        debug!(peer = %from, conn = id, "tcp connection closed");
    }
}
