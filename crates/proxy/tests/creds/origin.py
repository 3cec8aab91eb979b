# A TLS origin for the credential tests, on 127.0.0.1 (it prints its port first).
# /echo answers the request's headers as JSON; /redirect answers 302 to argv[4];
# /repo.git/... is git's smart HTTP (git http-backend); every request is appended to argv[3]
# as one JSON line {host, path, authorization}.
import http.server, json, os, ssl, subprocess, sys

cert, key, log, redirect_to, root = sys.argv[1:6]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        with open(log, "a") as f:
            f.write(json.dumps({"host": self.headers.get("Host"), "path": self.path,
                                "authorization": self.headers.get("Authorization")}) + "\n")
        body = self.body()
        path, _, query = self.path.partition("?")
        if path == "/echo":
            heads = {k.lower(): v for k, v in self.headers.items()}
            self.reply(200, json.dumps(heads).encode(), [("Content-Type", "application/json")])
        elif path == "/redirect":
            port = str(self.server.server_address[1])
            self.reply(302, b"", [("Location", redirect_to.replace("PORT", port))])
        elif path.startswith("/repo.git"):
            env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1",
                       REQUEST_METHOD=self.command, PATH_INFO=path, QUERY_STRING=query,
                       CONTENT_TYPE=self.headers.get("Content-Type", ""),
                       CONTENT_LENGTH=str(len(body)), REMOTE_ADDR="127.0.0.1",
                       GIT_PROTOCOL=self.headers.get("Git-Protocol", ""),
                       HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""))
            out = subprocess.run(["git", "http-backend"], input=body, env=env,
                                 capture_output=True).stdout
            sep = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
            head, _, rest = out.partition(sep)
            status, headers = 200, []
            for line in head.decode().splitlines():
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.split()[0])
                elif k:
                    headers.append((k, v.strip()))
            self.reply(status, rest, headers)
        else:
            self.reply(404, b"not found")

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
