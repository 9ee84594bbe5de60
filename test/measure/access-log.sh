#!/usr/bin/env bash
# access-log.sh - what the access log costs: the same `forkfast serve` with the access log on
# (json to stdout, combined to a file) and off, side by side, in interleaved rounds (wrk).
#
# `bash test/measure/access-log.sh` after `npm run build`. BEFORE=<dir with dist/src/cli.js>
# adds the rows of another build (e.g. a checkout of the previous commit) with its default
# access log and with --log-level warn (the old way to turn it off).
# Knobs: AA=1 (see below) DUR=3 WARM=1 RUNS=5 CONNS=32 THREADS=2 WORKERS=2 PORT_BASE=18380.
# Prints req/s and server CPU per request (utime + stime of the front and its pool workers, from
# /proc, divided by the requests wrk completed) per round, and the medians of the per-round
# ratios. On a shared machine CPU per request moves less than req/s: compare both.
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
# AA=1: a second identical "off" server, to see how far two identical instances differ here.
[ -n "${AA:-}" ] && start off-2 "$ROOT/dist/src/cli.js" --access-log off
if [ -n "$BEFORE" ]; then
  start before-on "$BEFORE/dist/src/cli.js"
  start before-warn "$BEFORE/dist/src/cli.js" --log-level warn
fi
for port in "${PORTS[@]}"; do
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/fcgi-bin/hello.mjs" && break; sleep 0.2; done
done

TICK=$(getconf CLK_TCK)
cputicks() { # pid -> utime+stime of it and its children (the pool workers)
  local total=0 p
  for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    total=$((total + $(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0)))
  done
  echo "$total"
}

PATHS=(/index.html /fcgi-bin/hello.mjs)
declare -A RES CPU
for round in $(seq "$RUNS"); do
  for path in "${PATHS[@]}"; do
    for i in "${!IDS[@]}"; do
      url="http://127.0.0.1:${PORTS[$i]}$path"
      wrk -t"$THREADS" -c"$CONNS" -d"${WARM}s" "$url" >/dev/null
      before=$(cputicks "${PIDS[$i]}")
      out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" "$url")
      after=$(cputicks "${PIDS[$i]}")
      rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
      n=$(echo "$out" | awk '/requests in/ {print $1}')
      us=$(awk -v t=$((after - before)) -v hz="$TICK" -v n="$n" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
      RES["$round,$path,${IDS[$i]}"]=$rps
      CPU["$round,$path,${IDS[$i]}"]=$us
      echo "round $round $path ${IDS[$i]} $rps req/s $us us/req"
    done
  done
done

ratio() { # table path a b -> median over rounds of a/b
  local -n tab=$1
  for round in $(seq "$RUNS"); do echo "${tab[$round,$2,$3]} ${tab[$round,$2,$4]}" | awk '{printf "%.3f\n", $1/$2}'; done | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
median() { # table path id
  local -n tab=$1
  for round in $(seq "$RUNS"); do echo "${tab[$round,$2,$3]}"; done | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
for what in RES CPU; do
  echo
  [ "$what" = RES ] && echo "req/s (median of $RUNS rounds; ratios: median of the per-round ratios)" || echo "server CPU us per request (median of $RUNS rounds)"
  echo "| path | $(printf '%s | ' "${IDS[@]}")json/off | combined/off |$( [ -n "$BEFORE" ] && echo ' before on/warn |')"
  for path in "${PATHS[@]}"; do
    row="| \`$path\` |"
    for id in "${IDS[@]}"; do row+=" $(median $what "$path" "$id") |"; done
    row+=" $(ratio $what "$path" on-json off) | $(ratio $what "$path" on-combined off) |"
    [ -n "${AA:-}" ] && row+=" off-2/off $(ratio $what "$path" off-2 off) |"
    [ -n "$BEFORE" ] && row+=" $(ratio $what "$path" before-on before-warn) |"
    echo "$row"
  done
done
