"""Shared helpers for vaxel's benchmarks (Python stdlib only).

Process CPU comes from /proc/PID/stat (utime+stime, clock ticks) summed over a process and
its children; the load generator's CPU from os.wait4's rusage. Everything talks to
127.0.0.1 (or, with HOSTS=2, two private namespaces) on the high ports below so it does not
clash with other tests on the machine.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TGT = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
VAXEL = os.environ.get("VAXEL_BIN", os.path.join(TGT, "release", "vaxel"))
# The RTP threads under SCHED_FIFO, as an operator would run a switchboard that must keep
# 20 ms pacing on a shared host (`[server] media_realtime`); MEDIA_REALTIME=0 turns it off.
# MEDIA_REALTIME=omit leaves the key out, for builds older than it.
MEDIA_REALTIME = {"0": "false", "omit": "omit"}.get(os.environ.get("MEDIA_REALTIME", "1"), "true")
SINK = os.environ.get("SINK_BIN", os.path.join(TGT, "release", "vaxel-bench-sink"))
SOUNDS = os.path.join(REPO, "sounds")

VAXEL_SIP = 25060
VAXEL_HTTP = 25080
KAMAILIO_SIP = 25070
SIPP_PORT = 25090
SINK_PORT = 42000
RTP_PORTS = "30000-41999"

DID_BUSY = "46101022294"
DID_PROMPT = "46101022295"

TICK = os.sysconf("SC_CLK_TCK")

# HOSTS=2 (set up by bench/two-hosts.sh): the switchboard and its peers (SIPp, the RTP sink)
# run as two hosts on one machine, network namespaces joined by a veth pair, each pinned to a
# core of its own, with RPS steering each side's received packets to its own core. Then the
# kernel's delivery of vaxel's RTP into the sink's socket is charged to the sink's host, as on
# a real network, instead of to vaxel's sends as on loopback; and vaxel has exactly one core.
# HOSTS=1 (default): everything on 127.0.0.1.
TWO_HOSTS = os.environ.get("HOSTS", "1") == "2"
SW_NS = "vxb-sw"  # bench/two-hosts.sh; the peers run in vxb-peer (prompt-streams.sh)
SW_ADDR = "10.77.0.1" if TWO_HOSTS else "127.0.0.1"
PEER_ADDR = "10.77.0.2" if TWO_HOSTS else "127.0.0.1"
# What vaxel is started under: its namespace and core in the two-host set-up.
SW_PREFIX = ["ip", "netns", "exec", SW_NS, "taskset", "-c", "0"] if TWO_HOSTS else []


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def proc_stat(pid):
    """(ppid, utime+stime ticks) of one process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime/stime are fields 14/15.
    return int(rest[1]), int(rest[11]) + int(rest[12])


def tree_pids(root):
    """root and all its descendants."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    total = 0
    for p in pids:
        st = proc_stat(p)
        if st:
            total += st[1]
    return total / TICK


def udp_rcvbuf_errors():
    """Host-wide UDP receive-buffer drops (from /proc/net/snmp); shared with other users."""
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:])).get("RcvbufErrors", 0))


def udp_socket_drops(port):
    """Receive-buffer drops of the UDP socket(s) bound to 127.0.0.1:port (/proc/net/udp)."""
    want = f"0100007F:{port:04X}"
    total = 0
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == want:
                total += int(cols[-1])
    return total


def host_cpu():
    """(busy, total) jiffies of the whole machine, to show how much else ran meanwhile."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def loadavg1():
    """The 1-minute load average: a coarse sign of what else ran on the shared machine."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def host_busy_pct(h0, h1):
    """CPU % of the whole machine over the interval (100 = one core busy), everything included:
    the server, the load generator, the sink and whatever else runs on the shared machine."""
    busy, total = h1[0] - h0[0], h1[1] - h0[1]
    ncpu = os.cpu_count() or 1
    return round(100 * ncpu * busy / total, 1) if total > 0 else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def vaxel_config(workdir, repeat):
    """A bench switchboard: one busy DID, one answered message DID with a long prompt."""
    data = os.path.join(workdir, "data")
    os.makedirs(data, exist_ok=True)
    cfg = os.path.join(workdir, "vaxel-bench.toml")
    with open(cfg, "w") as f:
        f.write(f"""[server]
name = "vaxel bench"
sip = ["udp://{SW_ADDR}:{VAXEL_SIP}"]
media_address = "{SW_ADDR}"
rtp_ports = "{RTP_PORTS}"
http = "{SW_ADDR}:{VAXEL_HTTP}"
data_dir = "{data}"
sounds_dir = "{SOUNDS}"
{"" if MEDIA_REALTIME == "omit" else f"media_realtime = {MEDIA_REALTIME}"}

[[trunk]]
id = "bench"
allow = ["{PEER_ADDR}/32"]
uri = "sip:{PEER_ADDR}:25099"

[[message]]
id = "long"
name = "Long prompt"
answer = true
repeat = {repeat}
sound = "closed.wav"
then = "hangup"

[[did]]
number = "{DID_BUSY}"
name = "busy"
route = "busy"

[[did]]
number = "{DID_PROMPT}"
name = "prompt"
route = "message:long"
""")
    return cfg


def http_get(path, timeout=2.0):
    with urllib.request.urlopen(f"http://{SW_ADDR}:{VAXEL_HTTP}{path}", timeout=timeout) as r:
        return r.read().decode()


def metrics():
    out = {}
    for line in http_get("/metrics").splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.partition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


class Server:
    """A server process a bench started (`p`, `pid`, `logf`, `dir`): what every run asks of
    it, whatever the server. Stopped with SIGTERM, killed after `STOP_WAIT` seconds."""

    STOP_WAIT = 10

    def pids(self):
        return [self.pid]

    def died(self):
        """None while running; else how it ended (it should only end when we stop it)."""
        return self.p.poll()

    def kill(self):
        self.p.kill()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(self.STOP_WAIT)
            except subprocess.TimeoutExpired:
                self.kill()
                self.p.wait()
        self.logf.close()
        return self.p.returncode


class Vaxel(Server):
    """vaxel run on the bench config, stopped with SIGTERM (killed after 10 s)."""

    def __init__(self, repeat=1, log_level=None):
        self.dir = tempfile.mkdtemp(prefix="vaxel-bench-")
        self.cfg = vaxel_config(self.dir, repeat)
        env = dict(os.environ)
        env["RUST_LOG"] = log_level or os.environ.get("VAXEL_LOG", "warn")
        self.logf = open(os.path.join(self.dir, "vaxel.log"), "w")
        self.p = subprocess.Popen(SW_PREFIX + [VAXEL, "run", "--config", self.cfg], stdout=self.logf, stderr=self.logf, env=env)
        self.pid = self.p.pid
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"vaxel exited {self.p.returncode}; see {self.dir}/vaxel.log")
            try:
                http_get("/health", timeout=0.5)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("vaxel did not come up within 15 s")


class Kamailio(Server):
    """Kamailio on a config file of bench/ (`kamailio-busy.cfg`: a stateful 486 responder),
    2 UDP children by default. Up when it answers an OPTIONS on `sip_port` and `ready(pid)`
    (if given) agrees, e.g. that the port is really this Kamailio's."""

    MODULES = ["/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules", "/usr/lib64/kamailio/modules"]

    def __init__(self, children=2, cfg_name="kamailio-busy.cfg", sip_port=None, prefix="kamailio-bench-", ready=None):
        sip_port = sip_port or KAMAILIO_SIP
        self.dir = tempfile.mkdtemp(prefix=prefix)
        mpath = next((m for m in self.MODULES if os.path.isdir(m)), self.MODULES[0])
        self.logf = open(os.path.join(self.dir, "kamailio.log"), "w")
        cmd = ["kamailio", "-f", os.path.join(HERE, cfg_name), "-DD", "-E", "-n", str(children),
               "-m", os.environ.get("KAMAILIO_SHM_MB", "1024"), "-M", "16", "-Y", self.dir, "-P", os.path.join(self.dir, "k.pid"), "-L", mpath]
        self.p = subprocess.Popen(cmd, stdout=self.logf, stderr=self.logf)
        self.pid = self.p.pid
        # Up when it answers a probe (sipp not needed: a raw OPTIONS gets an answer).
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.3)
        s.bind(("127.0.0.1", 0))
        msg = (f"OPTIONS sip:probe@127.0.0.1:{sip_port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{s.getsockname()[1]};branch=z9hG4bKprobe\r\n"
               "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>\r\nCall-ID: probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
        deadline = time.time() + 10
        try:
            while time.time() < deadline:
                if self.p.poll() is not None:
                    raise RuntimeError(f"kamailio exited {self.p.returncode}; see {self.dir}/kamailio.log")
                s.sendto(msg, ("127.0.0.1", sip_port))
                try:
                    s.recvfrom(4096)
                except OSError:
                    continue
                if ready is None or ready(self.pid):
                    return
                time.sleep(0.2)
            self.stop()
            raise RuntimeError("kamailio did not come up within 10 s")
        finally:
            s.close()

    def pids(self):
        return tree_pids(self.pid)

    def kill(self):
        for p in tree_pids(self.pid):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def run_measured(cmd, timeout, **kw):
    """Runs cmd to completion; returns (returncode, cpu seconds of it and its children, wall s)."""
    t0 = time.time()
    p = subprocess.Popen(cmd, **kw)
    deadline = t0 + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_utime + ru.ru_stime, time.time() - t0


def sipp_final_stats(csv_path):
    """The last row of a SIPp -trace_stat CSV as a dict."""
    with open(csv_path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    head = lines[0].split(";")
    last = lines[-1].split(";")
    return dict(zip(head, last))


def emit(result, path=None):
    line = json.dumps(result, sort_keys=True)
    print(line, flush=True)
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
