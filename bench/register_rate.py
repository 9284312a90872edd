"""One registration measurement: a fresh server (vaxel with N `[[user]]`s, or Kamailio as a
registrar with the same passwords), SIPp registering N different phones (one REGISTER,
401, REGISTER with MD5 digest, 200 each) at a fixed rate; successful/failed registrations,
achieved rate, server CPU per 1000 registrations, and vaxel's vaxel_registrations gauge.

usage: register_rate.py --target vaxel|kamailio --users N --rate RPS [--run K] [--out results.jsonl]
"""

import argparse
import os
import time

import benchlib as b
import phoneslib as pl


def epoch(s):
    return float(s.split("\t")[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", choices=["vaxel", "kamailio"], required=True)
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--gauge-wait", type=float, default=40.0,
                    help="seconds after vaxel's start to wait for vaxel_registrations to reach N")
    ap.add_argument("--out")
    a = ap.parse_args()

    n = a.users
    if a.target == "vaxel":
        server = pl.VaxelWith(lambda d: pl.server_section(d) + "\n" + pl.users_section(n), prefix="vaxel-register-")
        port = pl.VAXEL_SIP
    else:
        server = pl.KamailioWith("kamailio-register.cfg", children=int(os.environ.get("KAMAILIO_CHILDREN", "2")))
        port = pl.KAMAILIO_SIP
    extra = {}
    try:
        inf = os.path.join(server.dir, "users.csv")
        with open(inf, "w") as f:
            f.write("SEQUENTIAL\n")
            for i in range(n):
                uid = pl.user_id(i)
                pw = pl.password(uid)
                f.write(f"{uid};{pw};[authentication username={uid} password={pw}]\n")
        time.sleep(0.5)
        pids = server.pids()
        threads0 = pl.thread_cpu(server.pid) if a.target == "vaxel" else {}
        cpu0 = b.cpu_seconds(pids)
        h0 = b.host_cpu()
        drops0 = b.udp_socket_drops(port)
        stf = os.path.join(server.dir, "sipp-stat.csv")
        bound = int(n / a.rate * 3 + 60)
        cmd = ["sipp", "-sf", os.path.join(b.HERE, "register.xml"), f"127.0.0.1:{port}",
               "-inf", inf, "-i", "127.0.0.1", "-p", str(pl.SIPP_PORT), "-r", str(a.rate), "-rp", "1000",
               "-m", str(n), "-l", str(n), "-timeout", f"{bound}s", "-trace_stat", "-stf", stf, "-fd", "1",
               "-buff_size", "4194304", "-max_socket", "100", "-aa", "-nostdin",
               "-trace_err", "-error_file", os.path.join(server.dir, "sipp-err.log")]
        with open(os.path.join(server.dir, "sipp.out"), "w") as out:
            rc, sipp_cpu, wall = b.run_measured(cmd, timeout=bound + 10, stdout=out, stderr=out, cwd=server.dir)
        time.sleep(0.3)
        cpu1 = b.cpu_seconds(server.pids())
        if a.target == "vaxel":
            extra["threads_cpu_s"] = pl.thread_cpu_delta(threads0, pl.thread_cpu(server.pid))
        h1 = b.host_cpu()
        server_drops = b.udp_socket_drops(port) - drops0
        st = b.sipp_final_stats(stf)
        if server.died() is not None:
            extra["server_died"] = server.died()
        elif a.target == "vaxel":
            m = pl.metrics()
            extra["gauge_at_end"] = m.get("vaxel_registrations")
            # The gauge is refreshed by the qualify round (every 30 s from the start), not by
            # each REGISTER: wait for it, bounded.
            t = time.time()
            extra["gauge_after_wait"] = pl.wait_metric("vaxel_registrations", float(n), server.started + a.gauge_wait)
            extra["gauge_wait_s"] = round(time.time() - t, 1)
            extra["gauge_ok"] = extra["gauge_after_wait"] == float(n)
            m = pl.metrics()
            extra["sip_dropped"] = m.get("vaxel_sip_dropped_total")
    finally:
        rc_stop = server.stop()
    ok = int(st["SuccessfulCall(C)"])
    failed = int(st["FailedCall(C)"])
    elapsed = epoch(st["CurrentTime"]) - epoch(st["StartTime"])
    cpu = cpu1 - cpu0
    res = {
        "bench": "register", "target": a.target, "users": n, "rate": a.rate, "run": a.run,
        "sipp_rc": rc, "successful": ok, "failed": failed, "created": int(st["TotalCallCreated"]),
        "retransmissions": int(st["Retransmissions(C)"]), "elapsed_s": round(elapsed, 3),
        "achieved_rps": round(ok / max(elapsed, 0.001), 1),
        "server_cpu_s": round(cpu, 2), "server_cpu_ms_per_1000": round(cpu * 1e6 / max(ok, 1), 1),
        "server_cpu_pct": round(100 * cpu / elapsed, 1) if elapsed else 0,
        "server_socket_drops": server_drops, "sipp_cpu_s": round(sipp_cpu, 2),
        "sipp_cpu_pct": round(100 * sipp_cpu / wall, 1), "host_busy_pct": b.host_busy_pct(h0, h1),
        "loadavg1": b.loadavg1(), "nice": os.nice(0), "server_exit": rc_stop, "dir": server.dir,
    }
    res.update(extra)
    b.emit(res, a.out)


if __name__ == "__main__":
    main()
