#!/usr/bin/env bash
# status-cost.sh - what status and metrics cost /fcgi-bin/hello.mjs: `serve` with them on and off, one run.
#
# After `npm run build`. Starts two `forkfast serve` (--status on, --status off; 2 workers each),
# then loads /fcgi-bin/hello.mjs with wrk in alternated rounds (on, off, on, off...), so that the
# two rows of the ratio are measured seconds apart. The "on" server also answers a scrape of
# /-/metrics and /-/status?full once a second during its rounds, as a Prometheus and a dashboard
# would. Prints each round and the medians of the per-round ratios on/off: throughput, and the
# CPU time the server's processes (front and workers, from /proc) spent per request, which a
# shared machine disturbs less than throughput.
# Knobs: DUR=5 ROUNDS=6 CONNS=32 THREADS=2 PORT_BASE=18380. Needs wrk and curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${DUR:-5} ROUNDS=${ROUNDS:-6} CONNS=${CONNS:-32} THREADS=${THREADS:-2} PORT_BASE=${PORT_BASE:-18380}
command -v wrk >/dev/null || { echo "status-cost: wrk is not installed" >&2; exit 1; }
ON=$PORT_BASE OFF=$((PORT_BASE + 1))
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
node dist/src/cli.js serve -l "127.0.0.1:$ON" --workers 2 --log-level warn --status on >/dev/null & pids+=($!)
node dist/src/cli.js serve -l "127.0.0.1:$OFF" --workers 2 --log-level warn --status off >/dev/null & pids+=($!)
for port in $ON $OFF; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/fcgi-bin/hello.mjs" >/dev/null && break; sleep 0.1; done
done
# CPU ticks (utime + stime) of a server: the front and its pool workers (its children).
ticks() { local t=0 p; for p in "$1" $(ps -o pid= --ppid "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
# "req/s cpu-us-per-request" for one wrk run against the server of pid $2 on port $1.
rate() {
  local before after out
  before=$(ticks "$2")
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$1/fcgi-bin/hello.mjs")
  after=$(ticks "$2")
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" '/requests in/ {n = $1} /Requests\/sec/ {r = $2} END {printf "%s %.1f", r, t / hz * 1e6 / n}' <<<"$out"
}
scrape() { while true; do curl -s "http://127.0.0.1:$ON/-/metrics" >/dev/null; curl -s "http://127.0.0.1:$ON/-/status?full" >/dev/null; sleep 1; done; }
wrk -t"$THREADS" -c"$CONNS" -d1s "http://127.0.0.1:$ON/fcgi-bin/hello.mjs" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d1s "http://127.0.0.1:$OFF/fcgi-bin/hello.mjs" >/dev/null
ratios=() cpus=()
for r in $(seq "$ROUNDS"); do
  scrape & sp=$!
  read -r on onc <<<"$(rate $ON "${pids[0]}")"
  kill $sp; wait $sp 2>/dev/null || true
  read -r off offc <<<"$(rate $OFF "${pids[1]}")"
  ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')")
  cpus+=("$(awk -v a="$onc" -v b="$offc" 'BEGIN { printf "%.3f", a / b }')")
  echo "round $r: on $on req/s ${onc} us CPU/req; off $off req/s ${offc} us CPU/req; throughput on/off ${ratios[-1]}, CPU per request on/off ${cpus[-1]}"
done
median() { sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f", m }'; }
echo "median throughput on/off: $(printf '%s\n' "${ratios[@]}" | median); median CPU per request on/off: $(printf '%s\n' "${cpus[@]}" | median) ($ROUNDS rounds)"
