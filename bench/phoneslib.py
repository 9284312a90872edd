"""Helpers for the issue 4 (phones) benchmarks: vaxel started on a config the bench writes
(users, trunks, DIDs), Kamailio on a config from this directory, and SIP digest (MD5) for
the Python phones. Python stdlib only; builds on benchlib (ports, /proc readers, emit).
"""

import hashlib
import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import benchlib as b

# Ports of their own, apart from benchlib's (busy-cps, prompt-streams), so these benches and
# those can run at the same time without one measuring the other's server.
VAXEL_SIP = 25160
VAXEL_HTTP = 25180
KAMAILIO_SIP = 25170  # as in kamailio-register.cfg
SIPP_PORT = 25190
RTP_PORTS = "14000-19999"


def http_get(path, timeout=2.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{VAXEL_HTTP}{path}", timeout=timeout) as r:
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


def udp_port_owner_ok(pid, port, ip="127.0.0.1"):
    """Whether process `pid` holds the UDP socket bound to ip:port (from /proc/net/udp inodes)."""
    want = "%08X:%04X" % (int.from_bytes(socket.inet_aton(ip), "little"), port)
    inodes = set()
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == want:
                inodes.add(cols[9])
    if not inodes:
        return False
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def server_section(workdir, digest='["MD5"]', rtp_ports=RTP_PORTS):
    data = os.path.join(workdir, "data")
    os.makedirs(data, exist_ok=True)
    return f"""[server]
name = "vaxel bench"
sip = ["udp://127.0.0.1:{VAXEL_SIP}"]
media_address = "127.0.0.1"
rtp_ports = "{rtp_ports}"
http = "127.0.0.1:{VAXEL_HTTP}"
data_dir = "{data}"
sounds_dir = "{b.SOUNDS}"
# SIPp answers only the first challenge, and only MD5.
digest = {digest}
"""


def user_id(i):
    return f"u{i:05d}"


def password(uid):
    """Every bench user's password (the Kamailio registrar config derives it the same way)."""
    return f"pw-{uid}"


def users_section(n, first_extension=200000):
    out = []
    for i in range(n):
        uid = user_id(i)
        out.append(f'[[user]]\nid = "{uid}"\nextension = "{first_extension + i}"\npassword = "{password(uid)}"\n')
    return "\n".join(out)


class VaxelWith(b.Server):
    """vaxel on a config given as text (written to a temp dir), stopped with SIGTERM."""

    STOP_WAIT = 15

    def __init__(self, make_config, prefix="vaxel-phones-", log_level=None, ready_timeout=30):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.cfg = os.path.join(self.dir, "vaxel-bench.toml")
        with open(self.cfg, "w") as f:
            f.write(make_config(self.dir))
        env = dict(os.environ)
        env["RUST_LOG"] = log_level or os.environ.get("VAXEL_LOG", "warn")
        self.logf = open(os.path.join(self.dir, "vaxel.log"), "w")
        self.started = time.time()
        self.p = subprocess.Popen([b.VAXEL, "run", "--config", self.cfg], stdout=self.logf, stderr=self.logf, env=env)
        self.pid = self.p.pid
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"vaxel exited {self.p.returncode}; see {self.dir}/vaxel.log")
            try:
                http_get("/health", timeout=0.5)
            except OSError:
                time.sleep(0.1)
                continue
            # Something answers: make sure it is this vaxel, not another one on the port.
            if udp_port_owner_ok(self.pid, VAXEL_SIP):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"vaxel did not come up on ports {VAXEL_SIP}/{VAXEL_HTTP} within {ready_timeout} s "
                           f"(taken by another process?); see {self.dir}/vaxel.log")


def KamailioWith(cfg_name, children=2):
    """Kamailio on a config file of bench/ on this module's port, up once the port is its own."""
    return b.Kamailio(children=children, cfg_name=cfg_name, sip_port=KAMAILIO_SIP, prefix="kamailio-phones-",
                      ready=lambda pid: any(udp_port_owner_ok(p, KAMAILIO_SIP) for p in b.tree_pids(pid)))


def thread_cpu(pid):
    """CPU seconds per thread name of process `pid` (threads of the same name summed)."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        rest = st[st.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(rest[11]) + int(rest[12])) / b.TICK
    return out


def thread_cpu_delta(t0, t1):
    return {k: round(v - t0.get(k, 0), 2) for k, v in sorted(t1.items()) if round(v - t0.get(k, 0), 2) > 0}


def md5hex(s):
    return hashlib.md5(s.encode()).hexdigest()


def parse_challenge(value):
    """The parameters of a `Digest ...` challenge header value."""
    v = value.strip()
    if v.lower().startswith("digest"):
        v = v[6:]
    out, i, n = {}, 0, len(v)
    while i < n:
        while i < n and v[i] in " ,\t":
            i += 1
        j = v.find("=", i)
        if j < 0:
            break
        key = v[i:j].strip().lower()
        i = j + 1
        if i < n and v[i] == '"':
            k = v.find('"', i + 1)
            out[key] = v[i + 1:k]
            i = k + 1
        else:
            k = v.find(",", i)
            k = n if k < 0 else k
            out[key] = v[i:k].strip()
            i = k
    return out


def digest_authorization(ch, method, uri, user, pw, nc=1, cnonce="0a4f113b"):
    """An Authorization header value answering challenge `ch` (MD5, with or without qop)."""
    realm, nonce = ch.get("realm", ""), ch.get("nonce", "")
    ha1 = md5hex(f"{user}:{realm}:{pw}")
    ha2 = md5hex(f"{method}:{uri}")
    qops = [q.strip() for q in ch.get("qop", "").split(",") if q.strip()]
    parts = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', "algorithm=MD5"]
    if "auth" in qops:
        ncs = f"{nc:08x}"
        resp = md5hex(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        parts += [f'response="{resp}"', "qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        parts.append(f'response="{md5hex(f"{ha1}:{nonce}:{ha2}")}"')
    if "opaque" in ch:
        parts.append(f'opaque="{ch["opaque"]}"')
    return "Digest " + ", ".join(parts)


def wait_metric(name, want, until, every=0.5):
    """Polls vaxel's /metrics until `name` == want or time `until`; returns the last value."""
    val = None
    while True:
        try:
            val = metrics().get(name)
        except OSError:
            val = None
        if val == want or time.time() >= until:
            return val
        time.sleep(every)
