"""Per-request round trip over one keep-alive connection, direct or through a CONNECT tunnel.

Usage: rtt.py ORIGIN_HOST ORIGIN_PORT PATH COUNT [PROXY_HOST|- PROXY_PORT|- [fresh]]
Prints one JSON object: per-request round-trip times in microseconds (after a warm-up).
By default the connection (and tunnel) is opened once, so the figure is the relay's cost per
round trip. With `fresh`, every request opens a new connection (and a new CONNECT tunnel), so
the figure includes the proxy's decision and upstream dial.
"""

import json
import socket
import sys
import time


def read_response(sock, buf):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        rest += chunk
    return head, rest[length:]


def connect(host, port, proxy):
    if proxy is None:
        sock = socket.create_connection((host, port), timeout=10)
        buf = b""
    else:
        sock = socket.create_connection(proxy, timeout=10)
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("proxy closed during CONNECT")
            buf += chunk
        status = buf.split(b"\r\n", 1)[0]
        if b" 200" not in status:
            raise ConnectionError(f"CONNECT refused: {status!r}")
        buf = buf.partition(b"\r\n\r\n")[2]
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock, buf


def main():
    host, port, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    proxy = None
    if len(sys.argv) > 6 and sys.argv[5] != "-":
        proxy = (sys.argv[5], int(sys.argv[6]))
    fresh = len(sys.argv) > 7 and sys.argv[7] == "fresh"
    req = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    samples = []
    sock, buf = (None, b"") if fresh else connect(host, port, proxy)
    for i in range(count + count // 10):
        t0 = time.perf_counter_ns()
        if fresh:
            sock, buf = connect(host, port, proxy)
        sock.sendall(req)
        head, buf = read_response(sock, buf)
        if fresh:
            sock.close()
        t1 = time.perf_counter_ns()
        if not head.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(f"bad status: {head[:40]!r}")
        if i >= count // 10:
            samples.append((t1 - t0) / 1000.0)
    if not fresh:
        sock.close()
    print(json.dumps({"rtt_us": samples, "fresh": fresh, "proxy": proxy is not None}))


if __name__ == "__main__":
    main()
