#!/usr/bin/env bash
# Palisade against its peers, on this machine, in one run; writes BENCHMARKS.md.
#
#   bench/run.sh [--no-install] [--quick]     (PALISADE_BIN=path skips the build)
#
# Installs the peers (apt, npm), builds palisade (static musl if the target is installed),
# starts loopback-only servers (nginx origin, squid, tinyproxy, a connection holder) on
# ports below, runs every comparison with bounded counts and durations, and renders the
# results with bench/lib/report.py. Every server it starts is stopped by pid on exit.
# Nothing here talks to any address outside 127.0.0.0/8.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$REPO/bench
WORK=${BENCH_WORK:-/tmp/palisade-bench}
RES=$WORK/results
RUN=$WORK/run
PEERS=$WORK/peers
SRT_VERSION=${SRT_VERSION:-0.0.83}
PY=/usr/bin/python3
# Five loopback ports that are free now, below the ephemeral range.
read -r ORIGIN_PORT SQUID_PORT TINY_PORT HOLD_PORT TLS_PORT < <($PY -c '
import socket
free = []
for p in range(18080, 19000):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        free.append(p)
    except OSError:
        pass
    finally:
        s.close()
    if len(free) == 5:
        break
print(*free)')
ORIGIN=127.0.0.1:$ORIGIN_PORT

INSTALL=1
QUICK=0
for a in "$@"; do
    case $a in
        --no-install) INSTALL=0 ;;
        --quick) QUICK=1 ;;
        *) echo "usage: $0 [--no-install] [--quick]" >&2; exit 2 ;;
    esac
done
# Repetitions: startup runs, proxy repeats, tree size, tunnel count.
if [ $QUICK = 1 ]; then
    N_START=10 N_SLOW=3 N_REP=2 N_FILES=5000 N_TUNNELS=1000 WRK_S=3 BIG_MB=128
else
    N_START=40 N_SLOW=12 N_REP=5 N_FILES=50000 N_TUNNELS=10000 WRK_S=8 BIG_MB=512
fi

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
# Records a peer or step that could not run, with its error, for the report.
fail_note() { $PY - "$RES/failures.json" "$1" "$2" <<'EOF'
import json, os, sys
path, key, msg = sys.argv[1], sys.argv[2], sys.argv[3]
data = json.load(open(path)) if os.path.exists(path) else {}
data[key] = msg[-2000:]
json.dump(data, open(path, "w"), indent=1)
EOF
}

STARTED_PIDS=()
cleanup() {
    for p in "${STARTED_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT

rm -rf "$RES" "$RUN"
mkdir -p "$RES" "$RUN" "$PEERS" "$WORK/ws" "$WORK/www"
# squid and tinyproxy drop to their own users and write their logs here.
chmod 0777 "$RUN"
echo '{}' > "$RES/failures.json"

# ---------------------------------------------------------------- install
install_peers() {
    log "installing peers"
    apt-get update -qq >"$RUN/apt-update.log" 2>&1 || log "apt-get update failed"
    for p in bubblewrap hyperfine squid tinyproxy wrk socat ripgrep nginx-light time curl git \
        strace linux-perf musl-tools openssl runsc; do
        if ! apt-get install -y -qq "$p" >"$RUN/apt-$p.log" 2>&1; then
            fail_note "apt:$p" "$(tail -5 "$RUN/apt-$p.log")"
        fi
    done
    mkdir -p "$PEERS/srt"
    if ! (cd "$PEERS/srt" && npm install --no-audit --no-fund \
        "@anthropic-ai/sandbox-runtime@$SRT_VERSION" >"$RUN/npm.log" 2>&1); then
        fail_note "npm:srt" "$(tail -5 "$RUN/npm.log")"
    fi
}
[ $INSTALL = 1 ] && install_peers
SRT=$PEERS/srt/node_modules/.bin/srt

# ---------------------------------------------------------------- build
if [ -n "${PALISADE_BIN:-}" ]; then
    # A binary built elsewhere (e.g. while the tree does not compile); recorded as such.
    PAL=$PALISADE_BIN
    BUILD="given binary ($(file -b "$PAL" | cut -d, -f1-2))"
else
    # The committed HEAD, not the work tree: the figures then belong to one commit, and other
    # people's half-done edits in a shared tree cannot break or skew the build.
    log "building palisade (release) from HEAD"
    SRC=$WORK/src
    rm -rf "$SRC" && mkdir -p "$SRC"
    git -C "$REPO" archive HEAD | tar -x -C "$SRC"
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WORK/target}
    MUSL=x86_64-unknown-linux-musl
    if (cd "$SRC" && cargo build -q --release --target $MUSL -p palisade) >"$RUN/build.log" 2>&1
    then
        PAL=$CARGO_TARGET_DIR/$MUSL/release/palisade
        BUILD="musl static ($MUSL)"
    else
        fail_note "build:musl" "$(tail -5 "$RUN/build.log")"
        (cd "$SRC" && cargo build -q --release -p palisade) >"$RUN/build.log" 2>&1 || {
            cat "$RUN/build.log" >&2
            exit 1
        }
        PAL=$CARGO_TARGET_DIR/release/palisade
        BUILD="glibc (x86_64-unknown-linux-gnu)"
    fi
fi
# A copy outside the workspace and the target dir, so no run's mount plan depends on them.
cp "$PAL" "$WORK/palisade"
PAL=$WORK/palisade
log "palisade: $PAL ($BUILD)"

# ---------------------------------------------------------------- machine
$PY - "$RES/machine.json" "$BUILD" "$SRT" "$(git -C "$REPO" rev-parse --short HEAD)" "$N_FILES" \
    "$BIG_MB" <<'EOF'
import json, os, platform, subprocess, sys
def out(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr) else ""
    except Exception as e:
        return f"unavailable ({e})"
mem = next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump({
    "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
    "mem_gib": round(int(mem) / 1048576, 1),
    "os": out(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
    "palisade_build": sys.argv[2],
    "palisade_commit": sys.argv[4], "tree_files": int(sys.argv[5]), "big_mib": int(sys.argv[6]),
    "versions": {
        "bwrap": out(["bwrap", "--version"]), "hyperfine": out(["hyperfine", "--version"]),
        "squid": out(["squid", "-v"]), "tinyproxy": out(["tinyproxy", "-v"]),
        "wrk": out(["wrk", "-v"]), "nginx": out(["nginx", "-v"]),
        "runsc": out(["runsc", "--version"]), "srt": out([sys.argv[3], "--version"]),
        "node": out(["node", "--version"]), "curl": out(["curl", "--version"]),
        "git": out(["git", "--version"]), "python": platform.python_version(),
    },
}, open(sys.argv[1], "w"), indent=1)
EOF

# hyperfine NAME RUNS WARMUP CMD... : one command, JSON into $RES/NAME.json, error recorded.
hf() {
    local name=$1 runs=$2 warm=$3
    shift 3
    if ! hyperfine -N --style none --warmup "$warm" --runs "$runs" \
        --export-json "$RES/$name.json" -- "$*" >"$RUN/$name.log" 2>&1; then
        fail_note "$name" "$(tail -5 "$RUN/$name.log")"
    fi
}

# ---------------------------------------------------------------- startup
cd "$WORK/ws"
log "startup"
hf start-true "$N_START" 5 true
hf start-unshare "$N_START" 5 unshare -Urnpf true
hf start-bwrap "$N_START" 5 bwrap --unshare-all --ro-bind / / true
hf start-palisade "$N_START" 5 "$PAL" run -- true
hf start-srt "$N_SLOW" 2 "$SRT" true
hf start-runsc "$N_SLOW" 2 runsc --network=none do true

log "memory"
# GNU time's max RSS is the largest single process of the run (supervisor, init or `true`).
for i in $(seq 5); do
    /usr/bin/time -f '%M' -o "$RUN/maxrss.$i" "$PAL" run -- true
done
cat "$RUN"/maxrss.* | $PY -c 'import json,sys; json.dump([int(x) for x in sys.stdin.read().split()], open(sys.argv[1],"w"))' \
    "$RES/palisade-maxrss.json"
# Steady state: every process of the run except the command (`sleep`), sampled mid-run.
tree_rss() {
    local name=$1
    shift
    "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep 1.5
    $PY "$BENCH/lib/treerss.py" "$pid" sleep >"$RES/$name.json" || fail_note "$name" "sample failed"
    wait "$pid" || fail_note "$name" "exit $?"
}
tree_rss rss-palisade "$PAL" run -- sleep 3
"$PAL" run -- sh -c 'grep -E "^(Name|VmHWM|VmRSS)" /proc/1/status' >"$RES/rss-palisade-init.txt" 2>&1
[ -x "$SRT" ] && tree_rss rss-srt "$SRT" sleep 3

# ---------------------------------------------------------------- servers
log "starting loopback servers"
head -c 1024 /dev/zero | tr '\0' x >"$WORK/www/small.txt"
head -c $((BIG_MB * 1048576)) /dev/zero >"$WORK/www/big.bin"
fill() { sed -e "s#@PORT@#$2#g;s#@ROOT@#$WORK/www#g;s#@RUN@#$RUN#g" \
    -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g;s#@HOLD_PORT@#$HOLD_PORT#g;s#@TLS_PORT@#$TLS_PORT#g" \
    "$BENCH/conf/$1"; }
# A made-up CA and a leaf for names under bench.test (webpki refuses a self-signed CA as the
# server's own certificate, so the origin gets a real leaf).
(
    cd "$RUN" || exit 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3 \
        -subj "/CN=bench origin CA" -keyout bench-ca.key -out bench-ca.crt \
        && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj /CN=origin.bench.test -keyout origin.key -out origin.csr \
        && printf '%s\n' "subjectAltName=DNS:origin.bench.test,DNS:*.bench.test" \
            "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" >origin.ext \
        && openssl x509 -req -in origin.csr -CA bench-ca.crt -CAkey bench-ca.key \
            -CAcreateserial -days 3 -extfile origin.ext -out origin.pem
) >"$RUN/openssl.log" 2>&1 || fail_note tls-origin "$(tail -3 "$RUN/openssl.log")"
# The sandbox has a private /tmp: what the client inside reads goes in the workspace.
cp "$RUN/bench-ca.crt" "$WORK/ws/origin-ca.crt" # not *.pem, which the built-in rules hide
fill nginx.conf "$ORIGIN_PORT" >"$RUN/nginx.conf"
# Each server runs in the foreground as our child, so cleanup stops it by pid.
nginx -c "$RUN/nginx.conf" -e "$RUN/nginx-error.log" &
STARTED_PIDS+=($!)
fill squid.conf "$SQUID_PORT" >"$RUN/squid.conf"
squid -N -f "$RUN/squid.conf" >"$RUN/squid.log" 2>&1 &
STARTED_PIDS+=($!)
fill tinyproxy.conf "$TINY_PORT" >"$RUN/tinyproxy.conf"
printf '^127\\.0\\.0\\.1$\n' >"$RUN/tinyproxy.filter"
tinyproxy -d -c "$RUN/tinyproxy.conf" >"$RUN/tinyproxy.out" 2>&1 &
STARTED_PIDS+=($!)
wait_for() {
    local name=$1
    shift
    for _ in $(seq 100); do
        curl -s -o /dev/null --noproxy '' "$@" "http://$ORIGIN/small.txt" && return 0
        sleep 0.1
    done
    fail_note "$name" "no answer through it: $(tail -3 "$RUN/$name"* 2>/dev/null | tr '\n' ' ')"
    return 1
}
if ! wait_for nginx; then
    log "the origin did not start; see $RUN/nginx-error.log"
    $PY "$BENCH/lib/report.py" "$RES" "$REPO/BENCHMARKS.md"
    exit 1
fi
wait_for squid -x "127.0.0.1:$SQUID_PORT"
wait_for tinyproxy -x "127.0.0.1:$TINY_PORT"
# Palisade's proxy reaches the origin only because these flags allow exactly it.
PNET=(--allow-domain "$ORIGIN" --allow-cidr 127.0.0.0/8)

# ---------------------------------------------------------------- CONNECT tunnel
# The machine is shared, so every comparison runs in rounds, each round measuring every path
# once, in turn: a busy spell then hits all of them instead of one.
log "CONNECT throughput and round trips ($N_REP rounds)"
# curl's own download speed for big.bin; for Palisade the sandbox start is outside the figure.
dl="curl -s --noproxy '' \$PX -o /dev/null -w '%{speed_download}\n' http://$ORIGIN/big.bin"
rtt() {
    local name=$1
    shift
    "$@" >"$RES/$name.json" 2>"$RUN/$name.log" || fail_note "$name" "$(tail -3 "$RUN/$name.log")"
}
RTT=("$BENCH/lib/rtt.py" 127.0.0.1 "$ORIGIN_PORT" /small.txt)
for r in $(seq "$N_REP"); do
    PX="" sh -c "$dl" >>"$RES/tput-direct.txt" 2>>"$RUN/tput.log"
    "$PAL" run "${PNET[@]}" --env "PX=-p -x http://127.0.0.1:3128" -- sh -c "$dl" \
        >>"$RES/tput-palisade.txt" 2>>"$RUN/tput.log" || fail_note tput-palisade "$(tail -3 "$RUN/tput.log")"
    PX="-p -x http://127.0.0.1:$SQUID_PORT" sh -c "$dl" >>"$RES/tput-squid.txt" 2>>"$RUN/tput.log"
    PX="-p -x http://127.0.0.1:$TINY_PORT" sh -c "$dl" >>"$RES/tput-tinyproxy.txt" 2>>"$RUN/tput.log"

    rtt "rtt-direct.$r" $PY "${RTT[@]}" 1000
    rtt "rtt-palisade.$r" "$PAL" run "${PNET[@]}" -- $PY "${RTT[@]}" 1000 127.0.0.1 3128
    rtt "rtt-squid.$r" $PY "${RTT[@]}" 1000 127.0.0.1 "$SQUID_PORT"
    rtt "rtt-tinyproxy.$r" $PY "${RTT[@]}" 1000 127.0.0.1 "$TINY_PORT"
    rtt "new-direct.$r" $PY "${RTT[@]}" 100 - - fresh
    rtt "new-palisade.$r" "$PAL" run "${PNET[@]}" -- $PY "${RTT[@]}" 100 127.0.0.1 3128 fresh
    rtt "new-squid.$r" $PY "${RTT[@]}" 100 127.0.0.1 "$SQUID_PORT" fresh
    rtt "new-tinyproxy.$r" $PY "${RTT[@]}" 100 127.0.0.1 "$TINY_PORT" fresh
done

# ---------------------------------------------------------------- TLS termination
log "TLS: terminated against spliced tunnels ($N_REP rounds)"
# Same policy but for tls_terminate: "all" mints a leaf per host from the run's CA (the
# sandbox trusts it through the bound CA bundle) and re-encrypts to the origin, which the
# proxy trusts through upstream_extra_ca; "off" splices the client's own TLS to the origin.
tls_policy() {
    {
        echo 'version = 1'
        echo '[network]'
        echo "allow = [\"origin.bench.test:$TLS_PORT\", \"*.bench.test:$TLS_PORT\"]"
        echo 'allow_cidr = ["127.0.0.0/8"]'
        printf 'resolve = ["origin.bench.test:127.0.0.1"'
        for i in $(seq 0 99); do printf ', "h%d.bench.test:127.0.0.1"' "$i"; done
        echo ']'
        echo "tls_terminate = \"$1\""
        echo "upstream_extra_ca = \"$RUN/bench-ca.crt\""
    } >"$RUN/tls-$1.toml"
}
tls_policy all
tls_policy off
TLS_URL="https://origin.bench.test:$TLS_PORT/big.bin"
TDL="curl -s -p -x http://127.0.0.1:3128 --noproxy '' -o /dev/null -w '%{speed_download}\n'"
HS=("$BENCH/lib/tls_handshake.py" 3128 "$TLS_PORT" /small.txt)
for r in $(seq "$N_REP"); do
    "$PAL" run -q --config "$RUN/tls-all.toml" -- sh -c "$TDL $TLS_URL" \
        >>"$RES/tls-tput-terminated.txt" 2>>"$RUN/tls.log" || fail_note tls-terminated "$(tail -3 "$RUN/tls.log")"
    "$PAL" run -q --config "$RUN/tls-off.toml" -- sh -c "$TDL --cacert $WORK/ws/origin-ca.crt $TLS_URL" \
        >>"$RES/tls-tput-spliced.txt" 2>>"$RUN/tls.log" || fail_note tls-spliced "$(tail -3 "$RUN/tls.log")"
    # A new name per connection (a leaf to mint) against one name (the cached leaf). Every
    # run has a new CA and an empty leaf cache, so the names can repeat across rounds.
    rtt "tls-new-host.$r" "$PAL" run -q --config "$RUN/tls-all.toml" -- \
        $PY "${HS[@]}" 100 "h{i}.bench.test"
    rtt "tls-same-host.$r" "$PAL" run -q --config "$RUN/tls-all.toml" -- \
        $PY "${HS[@]}" 100 origin.bench.test
    rtt "tls-spliced-host.$r" "$PAL" run -q --config "$RUN/tls-off.toml" -- \
        $PY "${HS[@]}" 100 origin.bench.test "$WORK/ws/origin-ca.crt"
done

# ---------------------------------------------------------------- plain HTTP keep-alive
log "plain HTTP requests/s (wrk, ${WRK_S}s x $N_REP each)"
WRK=(wrk -t1 -c32 -d"${WRK_S}s" --timeout 5s -s "$BENCH/conf/proxy.lua")
export BENCH_ORIGIN=$ORIGIN BENCH_PATH=/small.txt
for i in $(seq "$N_REP"); do
    wrk -t1 -c32 -d"${WRK_S}s" "http://$ORIGIN/small.txt" >"$RES/wrk-direct.$i.txt" 2>&1
    "$PAL" run "${PNET[@]}" --env BENCH_ORIGIN --env BENCH_PATH -- \
        "${WRK[@]}" http://127.0.0.1:3128/ >"$RES/wrk-palisade.$i.txt" 2>&1
    "${WRK[@]}" "http://127.0.0.1:$SQUID_PORT/" >"$RES/wrk-squid.$i.txt" 2>&1
    "${WRK[@]}" "http://127.0.0.1:$TINY_PORT/" >"$RES/wrk-tinyproxy.$i.txt" 2>&1
done

# ---------------------------------------------------------------- scale
log "scale: $N_TUNNELS idle tunnels"
$PY "$BENCH/lib/hold_server.py" "$HOLD_PORT" 300 &
STARTED_PIDS+=($!)
sleep 0.5
scale() {
    local n=$1 status=$WORK/ws/tunnels.$1.json release=$WORK/ws/release.$1
    rm -f "$status" "$release"
    "$PAL" run --allow-domain "127.0.0.1:$HOLD_PORT" --allow-cidr 127.0.0.0/8 -- \
        $PY "$BENCH/lib/idle_tunnels.py" 3128 127.0.0.1 "$HOLD_PORT" "$n" "$status" "$release" 60 \
        >"$RUN/scale.$n.log" 2>&1 &
    local pid=$!
    for _ in $(seq 600); do [ -s "$status" ] && break; sleep 0.1; done
    sleep 0.5
    local rss hwm
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    touch "$release"
    local rc=0
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill "$pid" 2>/dev/null && rc=killed
    wait "$pid" || rc=$?
    $PY - "$RES/scale.$n.json" "$status" "${rss:-0}" "${hwm:-0}" "$rc" <<'EOF'
import json, os, sys
out, status, rss, hwm, rc = sys.argv[1:]
st = json.load(open(status)) if os.path.exists(status) else {"error": "no status file"}
st.update({"supervisor_rss_kib": int(rss), "supervisor_hwm_kib": int(hwm), "exit": rc})
json.dump(st, open(out, "w"), indent=1)
EOF
}
scale 1
scale "$N_TUNNELS"

# ---------------------------------------------------------------- work inside
log "work inside the sandbox: $N_FILES-file tree"
W=$WORK/work
rm -rf "$W"
mkdir -p "$W/untar"
$PY "$BENCH/lib/maketree.py" "$W/tree" "$N_FILES"
(cd "$W/tree" && git init -q && git add -A && git -c user.name=b -c user.email=b@b.invalid \
    commit -qm tree) >"$RUN/tree.log" 2>&1
tar -cf "$W/tree.tar" --exclude=.git -C "$W" tree/d00
# A hyperfine inside each environment (so sandbox start-up is not counted), one run of each
# command per round after one warm-up, environments in turn. The tarball is one tenth of the
# tree (a full unpack takes ~20 s here). runsc keeps no writes (in-memory overlay), so it
# reports on stdout; the others write a file.
WORKCMDS=(--prepare "rm -rf $W/untar/tree" "git -C $W/tree status --porcelain"
    "find $W/tree -name nomatch" "tar -xf $W/tree.tar -C $W/untar")
work_hf() {
    local name=$1 export=$2
    shift 2
    if ! "$@" hyperfine -N --style none --warmup 1 --runs 1 --export-json "$export" \
        "${WORKCMDS[@]}" >"$RUN/$name.out" 2>"$RUN/$name.log"; then
        fail_note "${name%.*}" "$(tail -5 "$RUN/$name.log")"
    fi
    if [ "$export" = /dev/stdout ]; then mv "$RUN/$name.out" "$RES/$name.json"; else
        mv "$export" "$RES/$name.json"; fi
}
cd "$W"
for r in $(seq "$N_REP"); do
    work_hf "work-host.$r" "$W/out.json"
    work_hf "work-palisade.$r" "$W/out.json" "$PAL" run --workspace "$W" --
    work_hf "work-bwrap.$r" "$W/out.json" \
        bwrap --unshare-all --ro-bind / / --bind "$W" "$W" --dev /dev --proc /proc --
    work_hf "work-runsc.$r" /dev/stdout runsc --network=none do
done
rm -rf "$W/untar/tree"
# The whole command, sandbox start included, and palisade's start in a big workspace.
hf wstart-git-host "$N_REP" 1 git -C "$W/tree" status --porcelain
hf wstart-git-palisade "$N_REP" 1 "$PAL" run --workspace "$W" -- git -C "$W/tree" status --porcelain
hf wstart-true-palisade "$N_REP" 1 "$PAL" run --workspace "$W" -- true
[ -x "$SRT" ] && hf wstart-true-srt 3 1 "$SRT" true

# ---------------------------------------------------------------- profile
log "profile"
cd "$WORK/ws"
if perf stat -e instructions true >"$RUN/perf-probe.log" 2>&1 \
    && ! grep -q 'not supported' "$RUN/perf-probe.log"; then
    echo "perf: hardware counters available" >"$RES/profile-perf.txt"
else
    echo "perf: no hardware counters in this VM (perf stat -e instructions: not supported);" \
        "sampling the software cpu-clock instead" >"$RES/profile-perf.txt"
fi
# Where the CPU time of 200 starts goes: per program and library, then kernel paths.
if perf record -q -e cpu-clock -F 10000 -g -o "$RUN/perf.data" -- \
    sh -c "for i in \$(seq 200); do $PAL run -- true; done" >"$RUN/perf.log" 2>&1; then
    {
        echo "share of samples by command and object (200 x palisade run -- true):"
        perf report -i "$RUN/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -10
        echo "kernel paths of the palisade processes, inclusive:"
        perf report -i "$RUN/perf.data" --children --comm palisade --sort sym --stdio -g none \
            2>/dev/null | grep -E 'create_new_namespaces|copy_net_ns|do_seccomp|sys_mount[[:space:]]*$|sys_readlink|sys_statx|sys_getdents64|sys_clone|sys_execve' \
            | head -12
    } >>"$RES/profile-perf.txt"
else
    echo "perf record failed: $(tail -2 "$RUN/perf.log")" >>"$RES/profile-perf.txt"
fi
strace -f -c -S calls -o "$RES/profile-strace-c.txt" "$PAL" run -- true 2>/dev/null \
    || echo "strace unavailable" >"$RES/profile-strace-c.txt"
strace -f -ttt -T -o "$RUN/strace-ttt.txt" "$PAL" run -- true 2>/dev/null \
    && $PY "$BENCH/lib/slowcalls.py" "$RUN/strace-ttt.txt" >"$RES/profile-slowcalls.txt"

# ---------------------------------------------------------------- micro-benchmarks
if [ -n "${SRC:-}" ] && [ "${BENCH_MICRO:-1}" = 1 ]; then
    log "micro-benchmarks (divan)"
    (cd "$SRC" && cargo bench -q -p palisade-bench) >"$RES/micro.txt" 2>"$RUN/micro.log" \
        || fail_note micro "$(tail -5 "$RUN/micro.log")"
fi

log "report"
cd "$REPO"
$PY "$BENCH/lib/report.py" "$RES" "$REPO/BENCHMARKS.md"
log "wrote $REPO/BENCHMARKS.md"
