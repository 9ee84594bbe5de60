#!/usr/bin/env bash
# peers.sh - forkfast side by side with its peers (nginx, fcgiwrap, Apache mod_cgid, php-fpm), one run, ratios.
#
# `npm run bench:peers` (after `npm run build`). Starts every server first, then loads the
# scenarios with wrk on 127.0.0.1 in rounds (round 1: each scenario once, in order; round 2: the
# same...), so that the two rows of a ratio are measured minutes apart at most in every round.
# Prints each scenario's median and the issue-6 targets as the median of the per-round ratios
# (compare ratios, not absolute figures: shared machines move 10-30 % between runs).
#
# It installs nothing: a peer that is not installed is skipped with a message. On Debian 12:
#   apt-get install -y wrk nginx-light fcgiwrap spawn-fcgi php-fpm apache2 curl
# and, for the node:http + send static row, `npm install --no-save send`.
# Everything lives in a mktemp -d directory (configs from test/measure/peers/conf, workloads from
# cgi-bin/ or test/measure/peers/workloads); every server started is stopped by its pid (trap).
#
# Knobs (environment):
#   DUR=5 WARM=1 RUNS=1   measured seconds, warm-up seconds (before each measurement), rounds
#   CONNS=32 THREADS=2    wrk concurrency
#   WORKERS=4             forkfast --workers, php-fpm pm.max_children (pm static), fcgiwrap -c
#   PORT_BASE=18180       uses PORT_BASE..PORT_BASE+3 on 127.0.0.1
#   ONLY=regex            run only scenarios whose id matches (e.g. ONLY='static')
#   QUIET_BUDGET=20*RUNS  seconds in all to wait for a quiet machine (busy rows are marked)
#   KEEP_TMP=1            keep the temp dir (configs, logs)
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS=$HERE/peers
DUR=${DUR:-5}
WARM=${WARM:-1}
RUNS=${RUNS:-1}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-4}
PORT_BASE=${PORT_BASE:-18180}
ONLY=${ONLY:-}
KEEP_TMP=${KEEP_TMP:-0}

NODE=$(command -v node || true)
CLI=$ROOT/dist/src/cli.js
WRK=$(command -v wrk || true)
CURL=$(command -v curl || true)
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)
APACHE=$(command -v apache2 || ls /usr/sbin/apache2 2>/dev/null || true)
FCGIWRAP=$(command -v fcgiwrap || ls /usr/sbin/fcgiwrap 2>/dev/null || true)
SPAWN_FCGI=$(command -v spawn-fcgi || true)
PHP_FPM=$(ls /usr/sbin/php-fpm* 2>/dev/null | sort -V | tail -n 1 || true)

PORT_FF=$PORT_BASE
PORT_NGINX=$((PORT_BASE + 1))
PORT_APACHE=$((PORT_BASE + 2))
PORT_SEND=$((PORT_BASE + 3))

die() { echo "peers: $*" >&2; exit 1; }
skip() { echo "peers: skip $1: $2" >&2; }

[ -n "$WRK" ] || die "wrk is required (apt-get install wrk); nothing measured"
[ -n "$CURL" ] || die "curl is required (apt-get install curl)"
[ -n "$NODE" ] || die "node is not on PATH"
[ -f "$CLI" ] || die "forkfast is not built: run npm run build first"
for p in "$PORT_FF" "$PORT_NGINX" "$PORT_APACHE" "$PORT_SEND"; do
  if ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then die "port $p is in use on this machine; set PORT_BASE"; fi
done

# ---------------------------------------------------------------- temp dir --
T=$(mktemp -d -t forkfast-peers.XXXXXX)
chmod 755 "$T"   # nginx/apache/fpm workers run as nobody/www-data when we are root
mkdir -p "$T"/{www,cgi-bin,conf,run,logs,tmp}

ALL_PIDS=()
cleanup() {
  local p
  for p in "${ALL_PIDS[@]:-}"; do [ -n "$p" ] && stop_server "$p"; done
  if [ "$KEEP_TMP" = 1 ]; then echo "peers: kept temp dir $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Servers get a daemon-like environment (as under systemd), not this shell's: the same for all.
CLEAN=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME="$T")
if [ "$(id -u)" = 0 ]; then
  AP_USER="User www-data
Group www-data"
  FPM_USER="user = www-data
group = www-data"
  SPAWN_USER=(-u www-data -g www-data)
else
  AP_USER=""; FPM_USER=""; SPAWN_USER=()
fi

fill() { # template dst [placeholder value]...
  local src=$1 dst=$2 s; shift 2
  s=$(<"$src")
  s=${s//@TMP@/$T}
  while [ $# -gt 0 ]; do s=${s//"$1"/$2}; shift 2; done
  printf '%s\n' "$s" >"$dst"
}

# ---------------------------------------------------------------- workloads --
# The repo's examples when present (what users run), else the copies next to this script.
for f in hello.sh hello.mjs; do
  if [ -f "$ROOT/cgi-bin/$f" ]; then cp "$ROOT/cgi-bin/$f" "$T/cgi-bin/"; else cp "$PEERS/workloads/$f" "$T/cgi-bin/"; fi
done
cp "$PEERS/workloads/hello.php" "$T/cgi-bin/"
chmod 755 "$T/cgi-bin/hello.sh"
chmod 644 "$T/cgi-bin/hello.mjs" "$T/cgi-bin/hello.php"   # a module, not a program: no execute bit
head -c 1024 /dev/zero | tr '\0' 'a' >"$T/www/1k.txt"
chmod 644 "$T/www/1k.txt"

# ---------------------------------------------------------------- helpers --
SERVER_PID=
start_server() { # name cmd... ; sets SERVER_PID; setsid: its own process group
  local name=$1; shift
  setsid "${CLEAN[@]}" "$@" >"$T/logs/$name.out" 2>&1 </dev/null &
  SERVER_PID=$!
  ALL_PIDS+=("$SERVER_PID")
}

descendants() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done; }

stop_server() { # pid: TERM, up to 5 s, KILL; then leftover descendants, by pid
  local pid=$1 kids k i keep=()
  for k in "${ALL_PIDS[@]:-}"; do [ "$k" = "$pid" ] || keep+=("$k"); done
  ALL_PIDS=("${keep[@]:-}")
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kids=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for k in $kids; do kill -0 "$k" 2>/dev/null && kill -KILL "$k" 2>/dev/null || true; done
}


wait_ready() { # url: up to 10 s for HTTP 200
  local url=$1 i code=
  for i in $(seq 1 100); do
    code=$("$CURL" -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  echo "peers: not ready: $url (last HTTP code '$code'); last log lines:" >&2
  tail -n 5 "$T"/logs/* >&2 || true
  return 1
}

wanted() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }
any_wanted() { local id; for id in "$@"; do wanted "$id" && return 0; done; return 1; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}}'; }

cpu_busy() { # whole-machine CPU busy percent over 0.5 s, from /proc/stat
  local u n s i w x y z a1 b1 a2 b2
  read -r _ u n s i w x y z _ </proc/stat; a1=$((u + n + s + x + y + z)); b1=$((a1 + i + w))
  sleep 0.5
  read -r _ u n s i w x y z _ </proc/stat; a2=$((u + n + s + x + y + z)); b2=$((a2 + i + w))
  echo $(( b2 > b1 ? 100 * (a2 - a1) / (b2 - b1) : 0 ))
}

BUSY_NOTE=
QUIET_BUDGET=${QUIET_BUDGET:-$((20 * RUNS))}   # seconds this run may spend in all waiting for a quiet machine
wait_quiet() { # a shared machine: wait (bounded) for other load to stop, else say so in the row
  local b i
  BUSY_NOTE=
  for i in $(seq 1 15); do
    b=$(cpu_busy)
    [ "$b" -le 15 ] && return 0
    [ "$QUIET_BUDGET" -gt 0 ] || break
    QUIET_BUDGET=$((QUIET_BUDGET - 1)); sleep 0.5
  done
  BUSY_NOTE=" [machine ${b}% busy before this row]"
  echo "peers: warning: machine ${b}% busy before this scenario; its figures may be low" >&2
}

ROUNDS=$T/rounds.tsv   # round id rps p50 p99 errs busy
: >"$ROUNDS"

# The scenarios whose server is up and answers as expected, in the order they are measured.
S_ID=(); S_URL=(); S_NOTE=()
scenario() { # id url expected-body-substring note
  local got
  wanted "$1" || return 0
  got=$("$CURL" -s --max-time 10 "$2" || true)
  if [[ $got != *"$3"* ]]; then echo "peers: $1: bad body from $2: '${got:0:200}'; skipped" >&2; return 0; fi
  S_ID+=("$1"); S_URL+=("$2"); S_NOTE+=("$4")
}

measure() { # round index: one warm-up and one measured wrk run of scenario index
  local r=$1 i=$2 id=${S_ID[$2]} url=${S_URL[$2]} out line rps p50 p99 e busy=0
  wait_quiet
  [ -z "$BUSY_NOTE" ] || busy=1
  if [ "$WARM" != 0 ]; then timeout $((WARM + 15)) "$WRK" -t"$THREADS" -c"$CONNS" -d"${WARM}s" --timeout 10s "$url" >/dev/null 2>&1 || true; fi
  out=$(timeout $((DUR + 20)) "$WRK" -t"$THREADS" -c"$CONNS" -d"${DUR}s" --timeout 10s -s "$PEERS/conf/wrk-report.lua" "$url" 2>&1 || true)
  line=$(grep '^RESULT' <<<"$out" || true)
  if [ -z "$line" ]; then echo "peers: wrk failed for $id: $out" >&2; return 0; fi
  rps=$(sed -E 's/.*rps=([^ ]+).*/\1/' <<<"$line")
  p50=$(sed -E 's/.*p50=([^ ]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.*p99=([^ ]+).*/\1/' <<<"$line")
  e=$(sed -E 's/.*errs=([^ ]+).*/\1/' <<<"$line")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$id" "$rps" "$p50" "$p99" "$e" "$busy" >>"$ROUNDS"
  printf '  round %-3s %-26s %10.0f req/s  p50 %8.2f ms  p99 %8.2f ms  errors %s\n' "$r" "$id" "$rps" "$p50" "$p99" "$e" >&2
}

FF=http://127.0.0.1:$PORT_FF
NG=http://127.0.0.1:$PORT_NGINX
AP=http://127.0.0.1:$PORT_APACHE
SD=http://127.0.0.1:$PORT_SEND
echo "peers: temp dir $T; wrk -t$THREADS -c$CONNS -d${DUR}s after ${WARM}s warm-up, $RUNS round(s); $WORKERS workers" >&2

# ------------------------------------------------- start every server first --
# Idle servers cost nothing measurable; having them all up lets the rounds interleave.
if any_wanted ff-static-1k ff-cgi-sh ff-fcgi-sh ff-cgi-mjs ff-fcgi-mjs; then
  # --log-level warn: no access log, like nginx's access_log off.
  start_server forkfast "$NODE" "$CLI" serve --listen "127.0.0.1:$PORT_FF" --public "$T/www" --cgi-bin "$T/cgi-bin" \
    --workers "$WORKERS" --log-level warn
  if wait_ready "$FF/1k.txt"; then
    scenario ff-static-1k "$FF/1k.txt"             aaaa  "forkfast serve, static 1 KiB"
    scenario ff-cgi-sh    "$FF/cgi-bin/hello.sh"   hello "forkfast /cgi-bin/, fork per request, /bin/sh"
    scenario ff-fcgi-sh   "$FF/fcgi-bin/hello.sh"  hello "forkfast /fcgi-bin/, pool worker forks per request, /bin/sh"
    scenario ff-cgi-mjs   "$FF/cgi-bin/hello.mjs"  hello "forkfast /cgi-bin/, a fresh node per request"
    scenario ff-fcgi-mjs  "$FF/fcgi-bin/hello.mjs" hello "forkfast /fcgi-bin/, resident handler module, $WORKERS workers"
  fi
fi

if [ -z "$NGINX" ]; then
  skip "nginx scenarios" "nginx is not installed (apt-get install nginx-light)"
elif any_wanted nginx-static-1k nginx-fcgiwrap-sh nginx-fpm nginx-fpm-keepconn nginx-ffpool-mjs nginx-ffpool-mjs-keepconn nginx-ffuwsgi-mjs nginx-ffscgi-mjs; then
  fill "$PEERS/conf/nginx.conf" "$T/conf/nginx.conf" @PORT@ "$PORT_NGINX"
  "$NGINX" -t -q -p "$T" -c "$T/conf/nginx.conf" -e "$T/logs/nginx-error.log" 2>>"$T/logs/nginx-t.out" || die "nginx -t failed: $(cat "$T/logs/nginx-t.out")"
  start_server nginx "$NGINX" -p "$T" -c "$T/conf/nginx.conf" -e "$T/logs/nginx-error.log"
  wait_ready "$NG/1k.txt" || die "nginx did not start"
  scenario nginx-static-1k "$NG/1k.txt" aaaa "nginx static 1 KiB, worker_processes 2, sendfile, access_log off"

  if ! any_wanted nginx-fcgiwrap-sh; then :
  elif [ -z "$FCGIWRAP" ] || [ -z "$SPAWN_FCGI" ]; then skip nginx-fcgiwrap-sh "fcgiwrap or spawn-fcgi is not installed"
  else
    start_server fcgiwrap "$SPAWN_FCGI" -n -s "$T/run/fcgiwrap.sock" -M 0666 "${SPAWN_USER[@]}" -- "$FCGIWRAP" -c "$WORKERS"
    wait_ready "$NG/cgi-bin/hello.sh" && scenario nginx-fcgiwrap-sh "$NG/cgi-bin/hello.sh" hello "nginx + fcgiwrap -c $WORKERS, fork+exec per request, /bin/sh"
  fi

  if ! any_wanted nginx-fpm nginx-fpm-keepconn; then :
  elif [ -z "$PHP_FPM" ]; then skip nginx-fpm "php-fpm is not installed (apt-get install php-fpm)"
  else
    # Two instances: nginx's kept connections pin php-fpm children, so the keep-alive scenario
    # gets its own, and never starves the other between rounds.
    for name in php-fpm php-fpm-ka; do
      fill "$PEERS/conf/php-fpm.conf" "$T/conf/$name.conf" @NAME@ "$name" @CHILDREN@ "$WORKERS" @USERLINES@ "$FPM_USER"
      start_server "$name" "$PHP_FPM" -F -y "$T/conf/$name.conf"
    done
    if wanted nginx-fpm && wait_ready "$NG/fpm/hello.php"; then
      scenario nginx-fpm "$NG/fpm/hello.php" hello "nginx + php-fpm pm=static max_children=$WORKERS, new FastCGI conn per request"
    fi
    if wanted nginx-fpm-keepconn && wait_ready "$NG/fpmka/hello.php"; then
      scenario nginx-fpm-keepconn "$NG/fpmka/hello.php" hello "as nginx-fpm + fastcgi_keep_conn, upstream keepalive 1 (its own php-fpm)"
    fi
  fi

  if any_wanted nginx-ffpool-mjs nginx-ffpool-mjs-keepconn; then
    # nginx workers run as nobody when we are root: open the socket to them as php-fpm's
    # listen.mode = 0666 does for the php-fpm rows.
    start_server forkfast-pool "$NODE" "$CLI" pool --listen "$T/run/forkfast-pool.sock" --listen-mode 0666 --cgi-bin "$T/cgi-bin" --workers "$WORKERS" --log-level warn
    if wait_ready "$NG/ffpool/hello.mjs"; then
      scenario nginx-ffpool-mjs          "$NG/ffpool/hello.mjs"   hello "nginx + forkfast pool --workers $WORKERS, new FastCGI conn per request"
      scenario nginx-ffpool-mjs-keepconn "$NG/ffpoolka/hello.mjs" hello "as nginx-ffpool-mjs + fastcgi_keep_conn, upstream keepalive 32"
    fi
  fi

  # The same pool speaking uwsgi and SCGI (uwsgi_pass, scgi_pass: a connection per request).
  for proto in uwsgi scgi; do
    wanted "nginx-ff$proto-mjs" || continue
    start_server "forkfast-pool-$proto" "$NODE" "$CLI" pool --protocol "$proto" --listen "$T/run/forkfast-pool-$proto.sock" --listen-mode 0666 --cgi-bin "$T/cgi-bin" --workers "$WORKERS" --log-level warn
    wait_ready "$NG/ff$proto/hello.mjs" && scenario "nginx-ff$proto-mjs" "$NG/ff$proto/hello.mjs" hello "nginx + forkfast pool --protocol $proto --workers $WORKERS"
  done
fi

if ! any_wanted apache-cgid-sh; then :
elif [ -z "$APACHE" ] || [ ! -f /usr/lib/apache2/modules/mod_cgid.so ]; then
  skip apache-cgid-sh "apache2 with mod_cgid is not installed (apt-get install apache2)"
else
  fill "$PEERS/conf/apache2.conf" "$T/conf/apache2.conf" @PORT@ "$PORT_APACHE" @USERLINES@ "$AP_USER"
  start_server apache2 "$APACHE" -f "$T/conf/apache2.conf" -DFOREGROUND
  wait_ready "$AP/cgi-bin/hello.sh" && scenario apache-cgid-sh "$AP/cgi-bin/hello.sh" hello "apache2 mpm_event + mod_cgid, /bin/sh"
fi

if ! wanted node-send-1k; then :
elif ! SEND_DIR=$(cd "$ROOT" && "$NODE" -p "require('node:path').dirname(require.resolve('send/package.json'))" 2>/dev/null); then
  skip node-send-1k "the send package is not installed here (npm install --no-save send)"
else
  # NODE_PATH through env -i: the daemon-like environment has none.
  start_server node-send env NODE_PATH="$(dirname "$SEND_DIR")" "$NODE" "$PEERS/workloads/node-send-static.cjs" "$PORT_SEND" "$T/www"
  wait_ready "$SD/1k.txt" && scenario node-send-1k "$SD/1k.txt" aaaa "node:http + send (serve-static's engine), 1 process"
fi

# ------------------------------------------------------------------ rounds --
for r in $(seq 1 "$RUNS"); do
  for i in "${!S_ID[@]}"; do measure "$r" "$i"; done
done
for p in "${ALL_PIDS[@]:-}"; do [ -n "$p" ] && stop_server "$p"; done

# ------------------------------------------------------------------ tables --
ROWS=$T/results.tsv
: >"$ROWS"
for i in "${!S_ID[@]}"; do
  id=${S_ID[$i]}
  awk -F'\t' -v id="$id" '$2 == id' "$ROUNDS" >"$T/one.tsv"
  [ -s "$T/one.tsv" ] || continue
  errs=$(awk -F'\t' '$6 != "0" {printf "%sr%s:%s", (n++ ? ";" : ""), $1, $6}' "$T/one.tsv")
  busy=$(awk -F'\t' '$7 == 1 {n++} END {if (n) printf " [machine busy before %d of its runs]", n}' "$T/one.tsv")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$(cut -f3 "$T/one.tsv" | median)" "$(cut -f4 "$T/one.tsv" | median)" \
    "$(cut -f5 "$T/one.tsv" | median)" "${errs:-0}" "${S_NOTE[$i]}$busy" >>"$ROWS"
done

printf '\n%-26s %10s %9s %9s  %-8s %s\n' scenario 'req/s' 'p50 ms' 'p99 ms' errors notes
printf '%s\n' "-------------------------- ---------- --------- ---------  -------- -----"
awk -F'\t' '{printf "%-26s %10.0f %9.2f %9.2f  %-8s %s\n", $1, $2, $3, $4, $5, $6}' "$ROWS"

# The issue-6 targets: in each round, the ratio of two rows measured in that round; the median
# over the rounds (and the range when there are several).
awk -F'\t' '
  { rps[$1 SUBSEP $2] = $3; if ($1 > rounds) rounds = $1 }
  function row(what, a, b, target,   r, n, i, j, t, v, lo, hi, verdict) {
    n = 0
    for (r = 1; r <= rounds; r++)
      if (((r SUBSEP a) in rps) && ((r SUBSEP b) in rps) && rps[r SUBSEP b] > 0) v[++n] = rps[r SUBSEP a] / rps[r SUBSEP b]
    if (n == 0) { printf "%-58s %8s  (needs %s and %s)\n", what, "-", a, b; return }
    for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    verdict = m >= target ? "meets" : "MISSES"
    if (n > 1) printf "%-58s %8.2f  target >= %-5s %-6s (%d rounds: %.2f-%.2f)\n", what, m, target, verdict, n, v[1], v[n]
    else printf "%-58s %8.2f  target >= %-5s %s\n", what, m, target, verdict
  }
  END {
    print ""
    printf "%-58s %8s\n", "ratio (median of the rounds of this run)", "value"
    print "---------------------------------------------------------- --------"
    row("forkfast /cgi-bin/hello.sh / nginx+fcgiwrap hello.sh", "ff-cgi-sh", "nginx-fcgiwrap-sh", 1)
    row("forkfast /fcgi-bin/hello.mjs / nginx+php-fpm hello.php", "ff-fcgi-mjs", "nginx-fpm", 1)
    row("nginx+forkfast pool hello.mjs / nginx+php-fpm hello.php", "nginx-ffpool-mjs", "nginx-fpm", 1)
    row("  pool as examples/nginx.conf (keep_conn) / fpm as its docs", "nginx-ffpool-mjs-keepconn", "nginx-fpm", 1)
    row("  the same, both with fastcgi_keep_conn (pool keepalive 32)", "nginx-ffpool-mjs-keepconn", "nginx-fpm-keepconn", 1)
    row("nginx+forkfast pool over uwsgi / nginx+php-fpm hello.php", "nginx-ffuwsgi-mjs", "nginx-fpm", 1)
    row("nginx+forkfast pool over SCGI / nginx+php-fpm hello.php", "nginx-ffscgi-mjs", "nginx-fpm", 1)
    row("  pool over uwsgi / pool over FastCGI (both a conn per request)", "nginx-ffuwsgi-mjs", "nginx-ffpool-mjs", 0)
    row("  pool over SCGI / pool over FastCGI (both a conn per request)", "nginx-ffscgi-mjs", "nginx-ffpool-mjs", 0)
    row("forkfast static 1 KiB / nginx static 1 KiB", "ff-static-1k", "nginx-static-1k", 0.5)
    row("forkfast static 1 KiB / node:http + send static 1 KiB", "ff-static-1k", "node-send-1k", 1)
    row("forkfast resident/fork for hello.mjs (fcgi / cgi)", "ff-fcgi-mjs", "ff-cgi-mjs", 20)
    row("forkfast /cgi-bin/hello.sh / apache mod_cgid hello.sh", "ff-cgi-sh", "apache-cgid-sh", 1)
  }' "$ROUNDS"

echo
echo "versions: node $("$NODE" --version); $("$WRK" --version 2>&1 | head -n 1 | cut -d' ' -f1-2)${NGINX:+; $("$NGINX" -v 2>&1)}${PHP_FPM:+; $("$PHP_FPM" -v 2>/dev/null | head -n 1 | cut -d' ' -f1-2)}${APACHE:+; $("$APACHE" -v 2>/dev/null | head -n 1)}"
if command -v dpkg-query >/dev/null; then
  echo "packages: $(dpkg-query -W -f '${Package} ${Version}, ' wrk nginx-light nginx fcgiwrap apache2 'php*-fpm' 2>/dev/null | sed 's/, $//')"
fi
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'); $(uname -sr)"
