"""Time a CONNECT + TLS handshake + one GET per connection, through the sandbox's proxy.

Usage: tls_handshake.py PROXY_PORT PORT PATH COUNT NAME_TEMPLATE [CAFILE]
NAME_TEMPLATE has `{i}` for a new host name per connection (a leaf the proxy has not minted
yet) or none for the same name each time (the proxy's cached leaf). Prints JSON: times in µs.
"""

import json
import socket
import ssl
import sys
import time


def main():
    pport, port, path, count, template = (
        int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5])
    ctx = ssl.create_default_context(cafile=sys.argv[6] if len(sys.argv) > 6 else None)
    ctx.set_alpn_protocols(["http/1.1"])
    samples = []
    for i in range(count):
        host = template.format(i=i)
        t0 = time.perf_counter_ns()
        raw = socket.create_connection(("127.0.0.1", pport), timeout=10)
        raw.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = raw.recv(4096)
            if not chunk:
                raise ConnectionError("proxy closed during CONNECT")
            head += chunk
        if b" 200" not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"CONNECT refused: {head[:60]!r}")
        tls = ctx.wrap_socket(raw, server_hostname=host)
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
                    .encode())
        body = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            body += chunk
        tls.close()
        t1 = time.perf_counter_ns()
        if not body.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(f"bad answer: {body[:60]!r}")
        samples.append((t1 - t0) / 1000.0)
    print(json.dumps({"us": samples}))


if __name__ == "__main__":
    main()
