#!/usr/bin/env bash
# Registrations with digest: USERS phones (one [[user]] each) registering at RATE REGISTER/s
# through SIPp (401, then MD5 digest), vaxel vs Kamailio (registrar + auth, no database).
#   bash bench/register-rate.sh            # 20,000 phones at 2,000/s, 3 runs
# env: USERS=20000 RATE=2000 RUNS=3 TARGETS="vaxel kamailio" OUT=file.jsonl
source "$(dirname "$0")/common.sh"
# The measured processes run at nice BENCH_NICE (default -10 when root): the machine is shared,
# and other tenants' compilers would otherwise decide the figures. 0 turns it off.
BENCH_NICE="${BENCH_NICE:-$([ "$(id -u)" = 0 ] && echo -10 || echo 0)}"
niced() { if [ "$BENCH_NICE" != 0 ]; then nice -n "$BENCH_NICE" "$@"; else "$@"; fi; }
USERS="${USERS:-20000}"
RATE="${RATE:-2000}"
RUNS="${RUNS:-3}"
TARGETS="${TARGETS:-vaxel kamailio}"
OUT="${OUT:-$RESULTS/register-$(date +%Y%m%d-%H%M%S).jsonl}"
command -v kamailio >/dev/null || TARGETS="${TARGETS//kamailio/}"
[ "${NO_BUILD:-0}" = 1 ] || need_vaxel  # NO_BUILD=1: measure the binary already built
echo "register-rate: $USERS phones at $RATE/s, $RUNS runs, targets [$TARGETS], nice $BENCH_NICE -> $OUT" >&2
for run in $(seq 1 "$RUNS"); do
  for target in $TARGETS; do
    niced timeout "$((USERS / RATE * 3 + 150))" python3 "$BENCH/register_rate.py" --target "$target" --users "$USERS" --rate "$RATE" \
      --run "$run" --out "$OUT" >&2 || echo "register-rate: $target failed (run $run)" >&2
  done
done
python3 "$BENCH/summarize_phones.py" "$OUT"
