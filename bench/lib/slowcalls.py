"""Summarises `strace -f -ttt -T` output: wall span, and the slowest single syscalls.

Usage: slowcalls.py STRACE_FILE
"""

import re
import sys

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*?)\s+<(\d+\.\d+)>$")
NAME = re.compile(r"^(?:<\.\.\. )?([a-z_0-9]+)")


def main():
    calls, first, last = [], None, None
    for raw in open(sys.argv[1], errors="replace"):
        parts = raw.split(None, 2)
        if len(parts) >= 2:
            try:
                ts = float(parts[1])
                first = ts if first is None else first
                last = ts
            except ValueError:
                pass
        m = LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        pid, ts, text, dur = m.group(1), float(m.group(2)), m.group(3), float(m.group(4))
        name = NAME.match(text)
        calls.append((dur, pid, ts - (first or ts), name.group(1) if name else "?", text[:110]))
    if first is None:
        print("no strace lines")
        return
    print(f"wall span of the traced run: {(last - first) * 1000:.2f} ms, {len(calls)} syscalls")
    print("slowest single syscalls (duration ms, pid, start ms after the first call, call):")
    for dur, pid, rel, name, text in sorted(calls, reverse=True)[:15]:
        print(f"  {dur * 1000:8.3f}  {pid:>7}  {rel * 1000:8.2f}  {text}")


if __name__ == "__main__":
    main()
