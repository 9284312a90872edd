#!/usr/bin/env bash
# Every benchmark with modest defaults (about 20 minutes on 2 cores): busy-cps in QUICK mode
# (5 s per rate), prompt-streams with ~21 s calls, and the issue 4 (phones) benches below, 3 runs
# each; medians printed at the end.
# Override with the env of busy-cps.sh / prompt-streams.sh (e.g. QUICK=0 for the long runs).
source "$(dirname "$0")/common.sh"
STAMP="$(date +%Y%m%d-%H%M%S)"
export RUNS="${RUNS:-3}"
QUICK="${QUICK:-1}" OUT="$RESULTS/busy-cps-$STAMP.jsonl" bash "$BENCH/busy-cps.sh" > /dev/null
QUICK="${QUICK:-1}" OUT="$RESULTS/prompt-streams-$STAMP.jsonl" bash "$BENCH/prompt-streams.sh" > /dev/null
# Issue 4 (phones): media relay at 500 and 2000 calls (10 s each), 20,000 registrations at
# 2,000/s (vaxel and Kamailio), call setup at 500 calls/s for 10 s. About 12 more minutes.
NS="${RELAY_NS:-500 2000}" SECS="${RELAY_SECS:-10}" OUT="$RESULTS/relay-$STAMP.jsonl" bash "$BENCH/relay-bench.sh" > /dev/null \
  || echo "run-all: relay-bench failed" >&2
USERS="${REGISTER_USERS:-20000}" RATE="${REGISTER_RATE:-2000}" OUT="$RESULTS/register-$STAMP.jsonl" bash "$BENCH/register-rate.sh" > /dev/null \
  || echo "run-all: register-rate failed" >&2
RATE="${SETUP_RATE_CPS:-500}" SECS="${SETUP_SECS:-10}" OUT="$RESULTS/setup-latency-$STAMP.jsonl" bash "$BENCH/setup-latency.sh" > /dev/null \
  || echo "run-all: setup-latency failed" >&2
{
  echo "## vaxel bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(git -C "$REPO" rev-parse --short HEAD)"
  echo
  python3 "$BENCH/summarize.py" "$RESULTS/busy-cps-$STAMP.jsonl" "$RESULTS/prompt-streams-$STAMP.jsonl"
  python3 "$BENCH/summarize_phones.py" "$RESULTS/relay-$STAMP.jsonl" "$RESULTS/register-$STAMP.jsonl" \
    "$RESULTS/setup-latency-$STAMP.jsonl"
} | tee "$RESULTS/summary-$STAMP.md"
