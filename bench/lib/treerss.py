"""Sums VmRSS (and lists VmHWM) over a process and its descendants, skipping given commands.

Usage: treerss.py ROOT_PID [SKIP_COMM ...]
Prints JSON: {"total_kib": ..., "procs": [{"pid", "comm", "rss_kib", "hwm_kib"}...]}.
"""

import json
import os
import sys


def status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                out[key] = value.strip()
    except OSError:
        return None
    return out


def children(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return kids


def kib(value):
    return int(value.split()[0]) if value else 0


def main():
    root, skip = int(sys.argv[1]), set(sys.argv[2:])
    procs, todo = [], [root]
    while todo:
        pid = todo.pop()
        todo += children(pid)
        st = status(pid)
        if st is None or st.get("Name") in skip:
            continue
        procs.append(
            {
                "pid": pid,
                "comm": st.get("Name"),
                "rss_kib": kib(st.get("VmRSS")),
                "hwm_kib": kib(st.get("VmHWM")),
            }
        )
    print(json.dumps({"total_kib": sum(p["rss_kib"] for p in procs), "procs": procs}))


if __name__ == "__main__":
    main()
