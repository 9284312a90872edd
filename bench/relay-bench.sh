#!/usr/bin/env bash
# The media relay under N bridged calls (2N RTP streams in, 2N out, 20 ms PCMU): loss, added
# jitter, CPU of the relay threads; the same load sent phone to phone without the relay
# (the load generator's own cost), and a mixed run with half the calls PCMU<->PCMA. The relay
# runs on io_uring where it can; the modes epoll and mixed-epoll force its epoll fallback.
#   bash bench/relay-bench.sh                 # N = 500 1000 2000, 20 s each, 3 runs
#   NS="2000" SECS=10 RUNS=1 bash bench/relay-bench.sh
# env: NS="500 1000 2000" SECS=20 RUNS=3 MODES="direct relay mixed" OUT=file.jsonl
#      (MODES may also name epoll, mixed-epoll); FLAGS="..." extra relay_bench flags
source "$(dirname "$0")/common.sh"
# The measured processes run at nice BENCH_NICE (default -10 when root): the machine is shared,
# and other tenants' compilers would otherwise decide the figures. 0 turns it off.
BENCH_NICE="${BENCH_NICE:-$([ "$(id -u)" = 0 ] && echo -10 || echo 0)}"
niced() { if [ "$BENCH_NICE" != 0 ]; then nice -n "$BENCH_NICE" "$@"; else "$@"; fi; }
NS="${NS:-500 1000 2000}"
SECS="${SECS:-20}"
RUNS="${RUNS:-3}"
MODES="${MODES:-direct relay mixed}"
OUT="${OUT:-$RESULTS/relay-$(date +%Y%m%d-%H%M%S).jsonl}"
# NO_BUILD=1 measures the binary already built (e.g. from a snapshot of the tree).
[ "${NO_BUILD:-0}" = 1 ] || (cd "$REPO" && cargo build --release -p vaxel-engine --example relay_bench)
BIN="$CARGO_TARGET_DIR/release/examples/relay_bench"
echo "relay-bench: N [$NS], ${SECS}s each, $RUNS runs, modes [$MODES], nice $BENCH_NICE -> $OUT" >&2
for run in $(seq 1 "$RUNS"); do
  for n in $NS; do
    for mode in $MODES; do
      case "$mode" in
        direct) flags="--direct" ;;
        relay) flags="" ;;
        mixed) flags="--mixed" ;;
        epoll) flags="--epoll" ;;
        mixed-epoll) flags="--mixed --epoll" ;;
        *) echo "unknown mode $mode" >&2; exit 2 ;;
      esac
      # Bounded: the run itself stops after SECS (+ set-up and a 0.5 s drain).
      if line="$(niced timeout "$((SECS * 3 + 60))" "$BIN" --calls "$n" --secs "$SECS" $flags ${FLAGS:-} --label "run$run")"; then
        echo "$line" >> "$OUT"
        echo "$line" >&2
      else
        echo "relay-bench: N=$n $mode failed (run $run)" >&2
      fi
    done
  done
done
python3 "$BENCH/summarize_phones.py" "$OUT"
