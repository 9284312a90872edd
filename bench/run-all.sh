#!/usr/bin/env bash
# Every benchmark with modest defaults (about 8-9 minutes on 2 cores): busy-cps in QUICK mode
# (5 s per rate) and prompt-streams with ~21 s calls, 3 runs each; medians printed at the end.
# Override with the env of busy-cps.sh / prompt-streams.sh (e.g. QUICK=0 for the long runs).
source "$(dirname "$0")/common.sh"
STAMP="$(date +%Y%m%d-%H%M%S)"
export RUNS="${RUNS:-3}"
QUICK="${QUICK:-1}" OUT="$RESULTS/busy-cps-$STAMP.jsonl" bash "$BENCH/busy-cps.sh" > /dev/null
QUICK="${QUICK:-1}" OUT="$RESULTS/prompt-streams-$STAMP.jsonl" bash "$BENCH/prompt-streams.sh" > /dev/null
{
  echo "## vaxel bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(git -C "$REPO" rev-parse --short HEAD)"
  echo
  python3 "$BENCH/summarize.py" "$RESULTS/busy-cps-$STAMP.jsonl" "$RESULTS/prompt-streams-$STAMP.jsonl"
} | tee "$RESULTS/summary-$STAMP.md"
