"""One busy-CPS measurement: a fresh server (vaxel or Kamailio), SIPp at a fixed rate through
busy.xml (INVITE -> 486 -> ACK) for a fixed number of calls, CPU of server and SIPp.

usage: busy_cps.py --target vaxel|kamailio --rate CPS --secs S [--run N] [--out results.jsonl]
"""

import argparse
import os
import time

import benchlib as b


def epoch(s):
    # SIPp writes "DATE<tab>TIME<tab>EPOCH.MICROS".
    return float(s.split("\t")[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", choices=["vaxel", "kamailio"], required=True)
    ap.add_argument("--rate", type=int, required=True)
    ap.add_argument("--secs", type=int, default=30)
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args()
    if b.TWO_HOSTS:
        # Kamailio and SIPp here talk over 127.0.0.1: the two-host set-up is prompt-streams' only.
        ap.error("HOSTS=2 applies to prompt-streams.sh only; run busy-cps with HOSTS=1")

    calls = a.rate * a.secs
    if a.target == "vaxel":
        server = b.Vaxel(repeat=0)
        port = b.VAXEL_SIP
    else:
        server = b.Kamailio(children=int(os.environ.get("KAMAILIO_CHILDREN", "2")))
        port = b.KAMAILIO_SIP
    try:
        time.sleep(0.5)
        pids = server.pids()
        cpu0 = b.cpu_seconds(pids)
        drops0 = b.udp_rcvbuf_errors()
        h0 = b.host_cpu()
        stf = os.path.join(server.dir, "sipp-stat.csv")
        cmd = ["sipp", "-sf", os.path.join(b.HERE, "busy.xml"), "-s", b.DID_BUSY, f"127.0.0.1:{port}",
               "-i", "127.0.0.1", "-p", str(b.SIPP_PORT), "-r", str(a.rate), "-rp", "1000", "-m", str(calls),
               "-l", str(max(a.rate * 2, 1000)), "-timeout", f"{a.secs * 3 + 30}s", "-trace_stat", "-stf", stf,
               "-fd", "1", "-buff_size", "4194304", "-max_socket", "100", "-nostdin", "-trace_err", "-error_file", os.path.join(server.dir, "sipp-err.log")]
        with open(os.path.join(server.dir, "sipp.out"), "w") as out:
            rc, sipp_cpu, wall = b.run_measured(cmd, timeout=a.secs * 3 + 40, stdout=out, stderr=out, cwd=server.dir)
        time.sleep(0.3)
        cpu1 = b.cpu_seconds(server.pids())
        h1 = b.host_cpu()
        drops = b.udp_rcvbuf_errors() - drops0
        server_drops = b.udp_socket_drops(port)
        st = b.sipp_final_stats(stf)
        extra = {}
        if a.target == "vaxel" and server.died() is not None:
            extra = {"vaxel_died": server.died()}
        elif a.target == "vaxel":
            m = b.metrics()
            extra = {"vaxel_calls_total": m.get("vaxel_calls_total"), "vaxel_sip_dropped_total": m.get("vaxel_sip_dropped_total"),
                     "vaxel_sip_received": m.get("vaxel_sip_messages_received_total")}
    finally:
        server.stop()
    ok = int(st["SuccessfulCall(C)"])
    failed = int(st["FailedCall(C)"])
    elapsed = epoch(st["CurrentTime"]) - epoch(st["StartTime"])
    cpu = cpu1 - cpu0
    res = {
        "bench": "busy-cps", "target": a.target, "rate": a.rate, "secs": a.secs, "run": a.run, "calls": calls,
        "sipp_rc": rc, "successful": ok, "failed": failed, "created": int(st["TotalCallCreated"]),
        "retransmissions": int(st["Retransmissions(C)"]), "elapsed_s": round(elapsed, 3),
        # The last call ends with the scenario's 0.1 s timewait, not part of the offered rate.
        "achieved_cps": round(ok / max(elapsed - 0.1, 0.001), 1),
        "server_cpu_s": round(cpu, 2), "server_cpu_ms_per_1000": round(cpu * 1e6 / max(ok, 1), 1),
        "server_cpu_pct": round(100 * cpu / elapsed, 1) if elapsed else 0,
        "udp_rcvbuf_drops": drops, "server_socket_drops": server_drops, "sipp_cpu_s": round(sipp_cpu, 2),
        "host_busy_pct": b.host_busy_pct(h0, h1), "loadavg1": b.loadavg1(), "sipp_cpu_pct": round(100 * sipp_cpu / wall, 1), "dir": server.dir,
    }
    res.update(extra)
    b.emit(res, a.out)


if __name__ == "__main__":
    main()
