"""Renders bench/run.sh's results directory as BENCHMARKS.md.

Usage: report.py RESULTS_DIR OUTPUT_MD
Every figure is computed from the files run.sh wrote; a missing file shows as "not run" with
the recorded error. bench/analysis.md (hand-written reading of a run) is appended verbatim.
"""

import glob
import json
import os
import re
import statistics
import sys

RES = sys.argv[1]
OUT = sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    path = os.path.join(RES, name)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


FAIL = load("failures.json") or {}


def why(key):
    msg = FAIL.get(key)
    if not msg:
        return "not run"
    return "failed: `" + " ".join(msg.split())[:300].replace("`", "'") + "`"


def mmm(values, scale=1.0, fmt="{:.2f}"):
    """median (min–max) of values times scale."""
    if not values:
        return None
    v = [x * scale for x in values]
    return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})"


def med(values):
    return statistics.median(values) if values else None


def ratio(a, b, fmt="{:.2f}×"):
    if a is None or b is None or b == 0:
        return "—"
    return fmt.format(a / b)


def hf_times(name, index=0):
    data = load(name + ".json")
    if not data or len(data.get("results", [])) <= index:
        return None
    r = data["results"][index]
    if any(c != 0 for c in r.get("exit_codes", [])):
        return None
    return r["times"]


def rounds(prefix):
    """The per-round JSON files PREFIX.1.json, PREFIX.2.json, ... in round order."""
    found = []
    for path in glob.glob(os.path.join(RES, f"{prefix}.*.json")):
        tail = path[len(os.path.join(RES, prefix)) + 1:-len(".json")]
        if tail.isdigit():
            data = load(os.path.basename(path))
            if data is not None:
                found.append((int(tail), data))
    return [d for _, d in sorted(found, key=lambda x: x[0])]


def work_times(env, index):
    """One time per round for command `index` in environment `env` (None if any run failed)."""
    out = []
    for d in rounds(env):
        r = d.get("results", [])
        if len(r) <= index or any(c != 0 for c in r[index].get("exit_codes", [])):
            return None
        out += r[index]["times"]
    return out or None


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


lines = []
w = lines.append
machine = load("machine.json") or {}
v = machine.get("versions", {})

w("# Benchmarks")
w("")
w("Palisade against the tools people use today, measured side by side on one machine in one "
  "run of `bench/run.sh` (which installs the peers, builds Palisade, starts loopback-only "
  "servers and writes this file). Figures are **median (min–max)** over the repeated runs "
  "named in each section; ratios compare medians. Only loopback addresses were used. The "
  "machine is a shared 2-core VM, so expect ±20 % between runs; ratios within one run are "
  "the meaningful part.")
w("")
w("## Machine and versions")
w("")
w(f"- CPU: {machine.get('cpu', '?')}, nproc {machine.get('nproc', '?')}, memory "
  f"{machine.get('mem_gib', '?')} GiB, kernel {machine.get('kernel', '?')}, "
  f"{machine.get('os', '?')}")
w(f"- Palisade: commit {machine.get('palisade_commit', '?')}, release build, "
  f"{machine.get('palisade_build', '?')}")
for k in ["bwrap", "srt", "runsc", "squid", "tinyproxy", "nginx", "wrk", "hyperfine", "curl",
          "git", "node", "python"]:
    if k in v:
        w(f"- {k}: {v[k]}")
w("")

# ------------------------------------------------------------------ startup
w("## Startup: run `true` in the sandbox")
w("")
w("`hyperfine -N` with warm-up, from an empty workspace directory. Palisade runs with the "
  "default policy and its proxy ready (listeners inside the sandbox's network namespace, "
  "proxy in the supervisor). srt (`@anthropic-ai/sandbox-runtime`, the agent sandbox) with no "
  "settings file; runsc is gVisor with `--network=none` (its default network mode would NAT "
  "to the uplink).")
w("")
w("| command | runs | wall ms, median (min–max) | Palisade ÷ this |")
w("| --- | --- | --- | --- |")
start = [
    ("start-true", "`true`"),
    ("start-unshare", "`unshare -Urnpf true`"),
    ("start-bwrap", "`bwrap --unshare-all --ro-bind / / true`"),
    ("start-palisade", "`palisade run -- true`"),
    ("start-srt", "`srt true`"),
    ("start-runsc", "`runsc --network=none do true`"),
]
pal_start = med(hf_times("start-palisade") or [])
for key, label in start:
    t = hf_times(key)
    if t is None:
        w(f"| {label} | — | {why(key)} | — |")
        continue
    w(f"| {label} | {len(t)} | {mmm(t, 1000)} | {ratio(pal_start, med(t))} |")
w("")
srt_t = med(hf_times("start-srt") or [])
if pal_start and srt_t:
    w(f"Palisade starts **{srt_t / pal_start:.0f}× faster** than srt.")
    w("")

w("### Memory")
w("")
maxrss = load("palisade-maxrss.json")
if maxrss:
    w(f"- Largest single process of `palisade run -- true` (GNU `time` max RSS, "
      f"{len(maxrss)} runs): {mmm(maxrss, 1 / 1024)} MiB.")
tree = load("rss-palisade.json")
if tree:
    procs = ", ".join(f"{p['comm']} {p['rss_kib'] / 1024:.1f} MiB (peak {p['hwm_kib'] / 1024:.1f})"
                      for p in tree["procs"])
    w(f"- All of Palisade's processes during `palisade run -- sleep 3` (the command excluded), "
      f"VmRSS sampled at 1.5 s: **{tree['total_kib'] / 1024:.1f} MiB** ({procs}).")
init = os.path.join(RES, "rss-palisade-init.txt")
if os.path.exists(init):
    txt = " ".join(open(init).read().split())
    w(f"- The sandbox's init seen from inside (`/proc/1/status`): `{txt}`.")
srt_tree = load("rss-srt.json")
if srt_tree:
    w(f"- srt's processes during `srt sleep 3` (command excluded): "
      f"**{srt_tree['total_kib'] / 1024:.1f} MiB** across {len(srt_tree['procs'])} processes "
      f"({', '.join(sorted({p['comm'] for p in srt_tree['procs']}))}).")
else:
    w(f"- srt process tree: {why('rss-srt')}")
w("")

# ------------------------------------------------------------------ tunnel
w("## CONNECT tunnel through the proxy")
w("")
w(f"Origin: nginx on 127.0.0.1 serving {machine.get('big_mib', '?')} MiB of zeros (`big.bin`) and a 1 KiB file. The "
  "Palisade client runs inside one `palisade run` (the sandbox starts once; the loop is "
  "inside), reaching the proxy at 127.0.0.1:3128 in the sandbox's namespace. squid and "
  "tinyproxy clients run on the host against their loopback ports.")
w("")
w("### Bulk throughput (curl `speed_download`, one download of big.bin per path per round)")
w("")
w("| path | runs | MiB/s, median (min–max) | ÷ direct |")
w("| --- | --- | --- | --- |")


def tput(name):
    path = os.path.join(RES, f"tput-{name}.txt")
    if not os.path.exists(path):
        return None
    vals = [float(x) for x in open(path).read().split() if re.match(r"^[0-9.]+$", x)]
    vals = [x for x in vals if x > 0]
    return vals or None


direct_tput = med(tput("direct") or [])
for name, label in [("direct", "direct loopback"), ("palisade", "Palisade CONNECT"),
                    ("squid", "squid CONNECT"), ("tinyproxy", "tinyproxy CONNECT")]:
    t = tput(name)
    if t is None:
        w(f"| {label} | — | {why('tput-' + name)} | — |")
        continue
    w(f"| {label} | {len(t)} | {mmm(t, 1 / 1048576, '{:.0f}')} | "
      f"{ratio(med(t), direct_tput, '{:.0%}')} |")
w("")

w("### Round trip per request")
w("")
w("`bench/lib/rtt.py`: a 1 KiB GET, timed from send to the last body byte. *Kept-alive*: one "
  "connection (one tunnel), 1,000 requests per round, so the figure is what the relay adds "
  "per round trip. *New tunnel*: a new connection, CONNECT and GET each time, 100 per round "
  "(the proxy's parse, decision and upstream dial). The first 10 % of each round's samples "
  "are warm-up and dropped. Figures are the median over rounds of each round's median, with "
  "the lowest and highest round median; p99 is over all samples; *added* is the median over "
  "rounds of (this path's round median − direct's round median).")
w("")
w("| path | mode | rounds | µs, median of round medians (min–max) | p99 µs | added vs direct |")
w("| --- | --- | --- | --- | --- | --- |")
RTT_ADDED = {}
for prefix, mode in [("rtt", "kept-alive"), ("new", "new tunnel")]:
    base = [med(d["rtt_us"]) for d in rounds(f"{prefix}-direct")]
    for name in ["direct", "palisade", "squid", "tinyproxy"]:
        data = rounds(f"{prefix}-{name}")
        if not data:
            w(f"| {name} | {mode} | — | {why(prefix + '-' + name)} | | |")
            continue
        meds = [med(d["rtt_us"]) for d in data]
        every = [x for d in data for x in d["rtt_us"]]
        added = ""
        if name != "direct" and len(base) == len(meds):
            RTT_ADDED[(prefix, name)] = med([m - b for m, b in zip(meds, base)])
            added = f"{RTT_ADDED[(prefix, name)]:+.1f} µs"
        w(f"| {name} | {mode} | {len(meds)} | {mmm(meds, 1, '{:.1f}')} | "
          f"{pct(every, 0.99):.1f} | {added} |")
w("")

# ------------------------------------------------------------------ plain HTTP
w("## Plain HTTP with keep-alive: requests per second")
w("")
w("`wrk -t1 -c32` for the stated seconds per run, absolute-form requests "
  "(`GET http://127.0.0.1:PORT/small.txt`, set by `bench/conf/proxy.lua`) sent to each "
  "proxy; for Palisade wrk runs inside `palisade run`. nginx direct is the ceiling. Non-2xx "
  "responses and wrk's socket errors are summed over the runs; tinyproxy answers each request "
  "with `Connection: close`, so wrk sees one read error (the close) per request and "
  "reconnects: its figure is without client keep-alive.")
w("")


def wrk(name):
    rps, files = [], sorted(glob.glob(os.path.join(RES, f"wrk-{name}.*.txt")))
    non2xx, sock = 0, [0, 0, 0, 0]
    for f in files:
        txt = open(f).read()
        m = re.search(r"Requests/sec:\s+([0-9.]+)", txt)
        if m:
            rps.append(float(m.group(1)))
        for e in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", txt):
            non2xx += int(e)
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", txt)
        if m:
            sock = [a + int(b) for a, b in zip(sock, m.groups())]
    errs = f"{non2xx} / {sock[0]}, {sock[1]}, {sock[2]}, {sock[3]}"
    return rps, errs, files


w("| target | runs | requests/s, median (min–max) | non-2xx / socket errors (connect, read, write, timeout) | Palisade ÷ this |")
w("| --- | --- | --- | --- | --- |")
pal_rps = med(wrk("palisade")[0])
for name, label in [("direct", "nginx direct (no proxy)"), ("palisade", "Palisade proxy"),
                    ("squid", "squid"), ("tinyproxy", "tinyproxy")]:
    rps, errs, files = wrk(name)
    if not rps:
        detail = open(files[0]).read().strip()[-200:] if files else why("wrk-" + name)
        w(f"| {label} | — | no result: `{' '.join(detail.split())}` | — | — |")
        continue
    w(f"| {label} | {len(rps)} | {mmm(rps, 1, '{:.0f}')} | {errs} | {ratio(pal_rps, med(rps))} |")
w("")

# ------------------------------------------------------------------ scale
w("## Scale: concurrent idle CONNECT tunnels")
w("")
w("`bench/lib/idle_tunnels.py` inside `palisade run` opens N tunnels (256 dials at a time) to "
  "a loopback server that holds connections, waits until all attempts finished, then the "
  "host samples the supervisor's VmRSS (the proxy runs in the supervisor), releases the "
  "client and waits for the run to end.")
w("")
w("| N requested | opened | refused (first reason) | failed | supervisor VmRSS MiB | peak (VmHWM) MiB | exit |")
w("| --- | --- | --- | --- | --- | --- | --- |")
scale_rows = []
for p in glob.glob(os.path.join(RES, "scale.*.json")):
    d = load(os.path.basename(p)) or {}
    scale_rows.append(d)
scale_rows.sort(key=lambda d: d.get("requested", 0))
for d in scale_rows:
    if "error" in d:
        w(f"| ? | — | {d['error']} | | | | {d.get('exit')} |")
        continue
    w(f"| {d['requested']} | {d['opened']} | {d['refused']} ({d.get('first_refusal') or '—'}) | "
      f"{d['failed']} {('(' + d['first_error'][:80] + ')') if d.get('first_error') else ''} | "
      f"{d['supervisor_rss_kib'] / 1024:.1f} | {d['supervisor_hwm_kib'] / 1024:.1f} | {d['exit']} |")
if len(scale_rows) >= 2 and all("opened" in d for d in scale_rows):
    a, b = scale_rows[0], scale_rows[-1]
    if b["opened"] > a["opened"]:
        per = (b["supervisor_rss_kib"] - a["supervisor_rss_kib"]) / (b["opened"] - a["opened"])
        w("")
        w(f"Marginal cost: **{per:.1f} KiB per open tunnel** (both directions' buffers and two "
          f"sockets); 10,000 tunnels at that rate ≈ "
          f"{(a['supervisor_rss_kib'] + per * (10000 - a['opened'])) / 1024:.0f} MiB.")
w("")

# ------------------------------------------------------------------ work
w("## Work inside the sandbox")
w("")
w(f"A committed git repository of {machine.get('tree_files', '?')} small files (100 per "
  "directory), a tarball of its first 10,000, and three commands: `git status --porcelain`, "
  "`find TREE -name nomatch`, `tar -xf` of the tarball (into a fresh directory, removed before "
  "each run by hyperfine's `--prepare`). A `hyperfine` runs *inside* each environment, so "
  "sandbox start-up is not counted; each round runs every command once per environment after "
  "one warm-up, environments in turn. bwrap is "
  "`bwrap --unshare-all --ro-bind / / --bind W W --dev /dev --proc /proc`. runsc keeps writes "
  "in its in-memory overlay, so its `tar` does not touch the disk.")
w("")
cmds = ["git status", "find", "tar -x"]
envs = [("work-host", "host (no sandbox)"), ("work-palisade", "Palisade"),
        ("work-bwrap", "bwrap"), ("work-runsc", "gVisor runsc")]
w("| command | " + " | ".join(lbl for _, lbl in envs) + " |")
w("| --- | " + " | ".join("---" for _ in envs) + " |")
for i, c in enumerate(cmds):
    host = med(work_times("work-host", i) or [])
    cells = []
    for key, _ in envs:
        t = work_times(key, i)
        if t is None:
            cells.append(why(key.split(".")[0]) if i == 0 else "—")
            continue
        r = ""
        if key != "work-host" and host:
            r = f", {(med(t) / host - 1) * 100:+.1f} % vs host"
        cells.append(f"{mmm(t, 1000)} ms{r}")
    w(f"| `{c}` | " + " | ".join(cells) + " |")
n_rounds = len(work_times("work-host", 0) or [])
if n_rounds:
    w("")
    w(f"Rounds: {n_rounds}.")
w("")
w("The whole command from the host, sandbox start included (workspace = the directory holding "
  "the tree, so Palisade's plan walks it for hidden-name rules):")
w("")
w("| command | wall ms, median (min–max) |")
w("| --- | --- |")
for key, label in [("wstart-git-host", "`git status` on the host"),
                   ("wstart-git-palisade", "`palisade run -- git status`"),
                   ("wstart-true-palisade", "`palisade run -- true` in that workspace"),
                   ("wstart-true-srt", "`srt true` in that workspace")]:
    t = hf_times(key)
    w(f"| {label} | {mmm(t, 1000) if t else why(key)} |")
w("")

# ------------------------------------------------------------------ TLS
w("## TLS termination")
w("")
w("An nginx TLS origin on 127.0.0.1 with a leaf for `*.bench.test` from a CA made up by the "
  "script; names map to 127.0.0.1 with `resolve`. *Terminated*: `tls_terminate = \"all\"`, "
  "the proxy mints a leaf per host from the run's CA (trusted inside through the bound CA "
  "bundle) and opens its own TLS to the origin (`upstream_extra_ca` = the made-up CA). "
  "*Spliced*: `tls_terminate = \"off\"`, the client's TLS goes to the origin through the "
  "tunnel. Client inside `palisade run` in both cases.")
w("")
w("| path | runs | MiB/s, median (min–max) | ÷ spliced |")
w("| --- | --- | --- | --- |")
def tput_file(name):
    path = os.path.join(RES, f"{name}.txt")
    if not os.path.exists(path):
        return None
    vals = [float(x) for x in open(path).read().split() if re.match(r"^[0-9.]+$", x)]
    return [x for x in vals if x > 0] or None


spl = med(tput_file("tls-tput-spliced") or [])
term = med(tput_file("tls-tput-terminated") or [])
for name, label in [("spliced", "spliced tunnel (client TLS to origin)"),
                    ("terminated", "terminated (leaf from the run's CA, proxy TLS to origin)")]:
    t = tput_file(f"tls-tput-{name}")
    if t is None:
        w(f"| {label} | — | {why('tls-' + name)} | — |")
        continue
    w(f"| {label} | {len(t)} | {mmm(t, 1 / 1048576, '{:.0f}')} | {ratio(med(t), spl, '{:.0%}')} |")
w("")
w("Connection set-up (`bench/lib/tls_handshake.py`: CONNECT, TLS handshake, one 1 KiB GET, "
  "close; 100 per round, each round a new `palisade run`, so a new CA and an empty leaf "
  "cache). *New host*: a different name each time, so every connection needs a new leaf; "
  "*same host*: one name, leaf minted once and cached. The difference of the two is the "
  "cost of minting a leaf as a client sees it.")
w("")
w("| case | rounds | µs, median of round medians (min–max) |")
w("| --- | --- | --- |")
hs = {}
for key, label in [("tls-new-host", "terminated, new host each time"),
                   ("tls-same-host", "terminated, same host"),
                   ("tls-spliced-host", "spliced, same host")]:
    data = rounds(key)
    if not data:
        w(f"| {label} | — | {why(key)} |")
        continue
    hs[key] = [med(d["us"]) for d in data]
    w(f"| {label} | {len(data)} | {mmm(hs[key], 1, '{:.0f}')} |")
LEAF = None
if "tls-new-host" in hs and "tls-same-host" in hs and len(hs["tls-new-host"]) == len(hs["tls-same-host"]):
    LEAF = med([a - b for a, b in zip(hs["tls-new-host"], hs["tls-same-host"])])
    w("")
    w(f"Leaf minting as seen by a client (median over rounds of new − same): **{LEAF:.0f} µs**.")
w("")

# ------------------------------------------------------------------ targets
w("## Targets (issue 6)")
w("")
w("| target | result | met |")
w("| --- | --- | --- |")


def row(target, result, ok):
    w(f"| {target} | {result} | {'yes' if ok else ('no' if ok is not None else 'n/a')} |")


bw = med(hf_times("start-bwrap") or [])
row("`palisade run -- true` no slower than bwrap --unshare-all",
    f"{pal_start * 1000:.1f} ms vs {bw * 1000:.1f} ms" if pal_start and bw else "missing",
    (pal_start <= bw) if pal_start and bw else None)
row("≥ 100× faster than srt",
    f"{srt_t / pal_start:.0f}×" if pal_start and srt_t else "missing",
    (srt_t / pal_start >= 100) if pal_start and srt_t else None)
if tree:
    row("Palisade's processes < 10 MiB RSS", f"{tree['total_kib'] / 1024:.1f} MiB",
        tree["total_kib"] < 10 * 1024)
pt = med(tput("palisade") or [])
row("CONNECT bulk ≥ 90 % of direct",
    f"{pt / direct_tput:.0%}" if pt and direct_tput else "missing",
    (pt / direct_tput >= 0.9) if pt and direct_tput else None)
if ("rtt", "palisade") in RTT_ADDED:
    added = RTT_ADDED[("rtt", "palisade")]
    row("≤ 30 µs added per round trip (median)", f"{added:+.1f} µs", added <= 30)
sq, tp = med(wrk("squid")[0]), med(wrk("tinyproxy")[0])
if pal_rps and sq and tp:
    row("plain HTTP ≥ 2× squid and tinyproxy", f"{pal_rps / sq:.2f}× squid, {pal_rps / tp:.2f}× "
        "tinyproxy", pal_rps >= 2 * sq and pal_rps >= 2 * tp)
row("TLS: a new host's leaf in < 100 µs", f"{LEAF:.0f} µs" if LEAF is not None else "missing",
    (LEAF < 100) if LEAF is not None else None)
row("TLS: terminated throughput ≥ 70 % of a spliced tunnel",
    f"{term / spl:.0%}" if term and spl else "missing", (term / spl >= 0.7) if term and spl else None)
worst = None
for i in range(3):
    h, p = med(work_times("work-host", i) or []), med(work_times("work-palisade", i) or [])
    if h and p:
        worst = max(worst or -1e9, p / h - 1)
if worst is not None:
    row("work inside within 3 % of outside", f"worst {worst * 100:+.1f} %", worst <= 0.03)
big = scale_rows[-1] if scale_rows else None
if big and "opened" in big:
    ok = big["opened"] >= 10000 and big["supervisor_rss_kib"] < 200 * 1024
    row("10,000 idle tunnels < 200 MiB",
        f"{big['opened']} opened of {big['requested']}, {big['supervisor_rss_kib'] / 1024:.1f} MiB",
        ok)
w("")

# ------------------------------------------------------------------ profile
w("## Profile of `palisade run -- true`")
w("")
for name in ["profile-perf.txt", "profile-slowcalls.txt", "profile-strace-c.txt"]:
    p = os.path.join(RES, name)
    if os.path.exists(p):
        body = open(p).read().rstrip()
        if name == "profile-strace-c.txt":
            body = "\n".join(body.splitlines()[:22])
        w(f"`{name}`:")
        w("")
        w("```")
        w(body)
        w("```")
        w("")

micro = os.path.join(RES, "micro.txt")
w("## Micro-benchmarks")
w("")
if os.path.exists(micro) and os.path.getsize(micro) > 0:
    w("`cargo bench -p palisade-bench` (divan; `bench/micro/benches/hot_paths.rs`), same commit:")
    w("")
    w("```")
    w(open(micro).read().rstrip())
    w("```")
else:
    w(why("micro"))
w("")

if FAIL:
    w("## Peers or steps that could not run")
    w("")
    for k, msg in FAIL.items():
        w(f"- `{k}`: `{' '.join(msg.split())[:400]}`")
    w("")

notes = os.path.join(HERE, "..", "analysis.md")
if os.path.exists(notes):
    w(open(notes).read().rstrip())
    w("")

with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
