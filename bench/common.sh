# Sourced by the bench scripts: builds what is missing, sets the result file.
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCH")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
RESULTS="${RESULTS:-$BENCH/results}"
mkdir -p "$RESULTS"
need_vaxel() {
  # Always: cargo returns at once when the binary is up to date, and a stale one would be measured.
  (cd "$REPO" && cargo build --release -p vaxel)
}
need_sink() {
  if [ ! -x "$CARGO_TARGET_DIR/release/vaxel-bench-sink" ] || [ "${REBUILD:-0}" = 1 ]; then
    cargo build --release --offline --manifest-path "$BENCH/sink/Cargo.toml" || cargo build --release --manifest-path "$BENCH/sink/Cargo.toml"
  fi
}
for tool in sipp python3; do command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }; done
