#!/usr/bin/env bash
# Ceiling of the emulator in sink mode: `curl -T` of one file in a single `upload, finalize` request
# after a start, three times. Prints curl's rate and the emulator's CPU time per run (from /proc),
# whose inverse is the rate one idle core sustains whatever else the machine is doing.
#
#   emulator/bench/sink-ceiling.sh [FILE]      (default: a 1 GiB file of random bytes in $TMPDIR)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p gphotos-emulator
BIN="${CARGO_TARGET_DIR:-target}/release/gphotos-emulator"
FILE=${1:-${TMPDIR:-/tmp}/gphotos-emulator-1g.bin}
if [ ! -f "$FILE" ]; then
  head -c 1073741824 /dev/urandom > "$FILE"
fi
SIZE=$(stat -c %s "$FILE")
OUT=$(mktemp)
"$BIN" --sink --port 0 > "$OUT" &
PID=$!
trap 'kill -INT $PID; rm -f "$OUT"' EXIT
for _ in $(seq 100); do grep -q '^base URL' "$OUT" && break; sleep 0.1; done
BASE=$(sed -n 's/^base URL: *//p' "$OUT")
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
for run in 1 2 3; do
  URL=$(curl -s -D - -o /dev/null -X POST -H 'Authorization: Bearer t' -H 'Content-Length: 0' \
      -H 'X-Goog-Upload-Command: start' -H 'X-Goog-Upload-Content-Type: video/mp4' \
      -H 'X-Goog-Upload-Protocol: resumable' -H "X-Goog-Upload-Raw-Size: $SIZE" "${BASE}uploads" \
    | tr -d '\r' | sed -n 's/^[Xx]-[Gg]oog-[Uu]pload-[Uu][Rr][Ll]: //p')
  before=$(cpu_ticks)
  rate=$(curl -s -o /dev/null -w '%{http_code} %{speed_upload}' -T "$FILE" \
    -H 'X-Goog-Upload-Command: upload, finalize' -H 'X-Goog-Upload-Offset: 0' "$URL")
  after=$(cpu_ticks)
  awk -v r="$run" -v rate="$rate" -v t=$((after - before)) -v hz="$HZ" -v n="$SIZE" 'BEGIN {
    split(rate, f, " "); cpu = t / hz;
    printf "run %d: HTTP %s, curl -T %.0f MB/s; emulator CPU %.2f s = %.0f MB per CPU-second\n",
      r, f[1], f[2] / 1e6, cpu, (cpu > 0 ? n / cpu / 1e6 : 0) }'
done
