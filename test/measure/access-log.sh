#!/usr/bin/env bash
# access-log.sh - what the access log costs: the same `forkfast serve` with the access log on
# (json to stdout, combined to a file) and off, side by side, in interleaved rounds (wrk).
#
# `bash test/measure/access-log.sh` after `npm run build`. BEFORE=<dir with dist/src/cli.js>
# adds the rows of another build (e.g. a checkout of the previous commit) with its default
# access log and with --log-level warn (the old way to turn it off).
# Knobs: DUR=3 WARM=1 RUNS=5 CONNS=32 THREADS=2 WORKERS=2 PORT_BASE=18380.
# Prints req/s per round and the median of the per-round ratios (on / off).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DUR=${DUR:-3} WARM=${WARM:-1} RUNS=${RUNS:-5} CONNS=${CONNS:-32} THREADS=${THREADS:-2} WORKERS=${WORKERS:-2}
PORT_BASE=${PORT_BASE:-18380}
BEFORE=${BEFORE:-}
command -v wrk >/dev/null || { echo "access-log.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

IDS=() PORTS=()
start() { # id cli-path extra-args...
  local id=$1 cli=$2; shift 2
  local port=$((PORT_BASE + ${#IDS[@]}))
  node "$cli" serve --listen "127.0.0.1:$port" --workers "$WORKERS" --public "$ROOT/public" --cgi-bin "$ROOT/cgi-bin" "$@" >"$TMP/$id.stdout" 2>"$TMP/$id.stderr" &
  PIDS+=($!)
  IDS+=("$id") PORTS+=("$port")
}
start on-json "$ROOT/dist/src/cli.js" --access-log json
start on-combined "$ROOT/dist/src/cli.js" --access-log combined --access-log-file "$TMP/access.log"
start off "$ROOT/dist/src/cli.js" --access-log off
if [ -n "$BEFORE" ]; then
  start before-on "$BEFORE/dist/src/cli.js"
  start before-warn "$BEFORE/dist/src/cli.js" --log-level warn
fi
for port in "${PORTS[@]}"; do
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/fcgi-bin/hello.mjs" && break; sleep 0.2; done
done

PATHS=(/index.html /fcgi-bin/hello.mjs)
declare -A RES
for round in $(seq "$RUNS"); do
  for path in "${PATHS[@]}"; do
    for i in "${!IDS[@]}"; do
      url="http://127.0.0.1:${PORTS[$i]}$path"
      wrk -t"$THREADS" -c"$CONNS" -d"${WARM}s" "$url" >/dev/null
      rps=$(wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" "$url" | awk '/Requests\/sec/ {print $2}')
      RES["$round,$path,${IDS[$i]}"]=$rps
      echo "round $round $path ${IDS[$i]} $rps req/s"
    done
  done
done

ratio() { # path a b -> median over rounds of a/b
  for round in $(seq "$RUNS"); do echo "${RES[$round,$1,$2]} ${RES[$round,$1,$3]}" | awk '{printf "%.4f\n", $1/$2}'; done | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
median() { # path id
  for round in $(seq "$RUNS"); do echo "${RES[$round,$1,$2]}"; done | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
echo
echo "| path | $(printf '%s | ' "${IDS[@]}")json/off | combined/off |$( [ -n "$BEFORE" ] && echo ' before on/warn |')"
for path in "${PATHS[@]}"; do
  row="| \`$path\` |"
  for id in "${IDS[@]}"; do row+=" $(median "$path" "$id") |"; done
  row+=" $(ratio "$path" on-json off) | $(ratio "$path" on-combined off) |"
  [ -n "$BEFORE" ] && row+=" $(ratio "$path" before-on before-warn) |"
  echo "$row"
done
