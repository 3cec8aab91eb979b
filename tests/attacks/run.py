#!/usr/bin/env python3
"""Runs the escape corpus (../shared/attacks) under Palisade and checks every case.

Uses the corpus's own harness (harness/selftest.py --wrap) for the canaries, services, keys
and post-checks, once as root and once as an unprivileged user. A case passes when its verdict
is CONTAINED. Case 04 also passes when Palisade refused to start because a policy path is a
symlink leading out of the workspace (the corpus README scores that as CONTAINED); the refusal
is tested in crates/sandbox/src/plan/fs_tests.rs. Prints `N passed, N failed` and exits non-zero on any failure.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ROW = re.compile(r"^(\d\d-\S+)\s+[\d.]+s\s+(.*)$")


def find_corpus():
    for c in (os.environ.get("PALISADE_ATTACKS"), os.path.join(REPO, "..", "shared", "attacks")):
        if c and os.path.isfile(os.path.join(c, "harness", "selftest.py")):
            return os.path.abspath(c)
    sys.exit("attack corpus not found (set PALISADE_ATTACKS)")


def staged(binary):
    """Copies the binary and the wrapper where an unprivileged user can run them."""
    d = tempfile.mkdtemp(prefix="palisade-attacks-", dir="/var/tmp")
    os.chmod(d, 0o755)
    for src in (binary, os.path.join(HERE, "wrap.sh")):
        dst = os.path.join(d, os.path.basename(src))
        shutil.copy2(src, dst)
        os.chmod(dst, 0o755)
    return d


def run(corpus, stage, user, only, resources):
    cmd = [sys.executable, os.path.join(corpus, "harness", "selftest.py"),
           "--wrap", os.path.join(stage, "wrap.sh"), "--tmp-base", "/var/tmp",
           "--python", "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable]
    if user:
        cmd += ["--user", user]
    if only:
        cmd += ["--only", only]
    if resources:
        cmd += ["--wrap-resources"]
    env = dict(os.environ, PALISADE=os.path.join(stage, "palisade"))
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
    return p.stdout.decode(errors="replace")


def judge(output):
    results = []
    for line in output.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        case, verdict = m.group(1), m.group(2)
        ok = verdict.startswith("CONTAINED")
        if case.startswith("04-") and "rc=125" in verdict:
            # Palisade refused the symlinked policy path before running anything; the refusal
            # message itself is asserted by the sandbox's plan tests.
            ok = True
        if verdict.startswith("not run"):
            continue
        results.append((case, ok, verdict))
    post = [l for l in output.splitlines() if l.startswith("post-checks:")]
    return results, post


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--palisade", default=os.environ.get("PALISADE_BIN",
                    os.path.join(REPO, "target", "debug", "palisade")))
    ap.add_argument("--user", action="append", default=None,
                    help="run as root ('') and/or these users; default: root and nobody")
    ap.add_argument("--only", default="")
    ap.add_argument("--resources", action="store_true", help="also run 33-35 with limits")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    corpus = find_corpus()
    stage = staged(a.palisade)
    users = a.user if a.user is not None else (["", "nobody"] if os.geteuid() == 0 else [""])
    passed = failed = 0
    try:
        for user in users:
            who = user or "root"
            out = run(corpus, stage, user or None, a.only, a.resources)
            if a.verbose:
                print(out)
            results, post = judge(out)
            if not results:
                print("[%s] no case ran; harness output:\n%s" % (who, out))
                failed += 1
            for case, ok, verdict in results:
                print("[%s] %-40s %s %s" % (who, case, "ok  " if ok else "FAIL", verdict[:140]))
                passed += ok
                failed += not ok
            for p in post:
                clean = "clean" in p
                print("[%s] %s" % (who, p))
                passed += clean
                failed += not clean
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
