//! Helper servers for the real-client tests, all on 127.0.0.1: a TLS origin, a smart-HTTP git
//! server (`git http-backend` behind a small Python CGI shim), a static PEP 503 index, sshd.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when the test ends.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real interpreter behind `python3` (pyenv shims need the caller's HOME).
pub fn python() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Runs a Python server script that prints its port on the first line.
pub fn spawn_py(dir: &Path, name: &str, script: &str, args: &[&str]) -> (Child, u16) {
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    let mut child = Command::new(python().unwrap())
        .arg(&path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name} printed {line:?}"));
    (Child(child), port)
}

const TLS_ORIGIN: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"TLS-ORIGIN " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// A TLS origin for `host`, with a test CA; returns (server, port, CA PEM path).
pub fn tls_origin(dir: &Path, host: &str) -> (Child, u16, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "palisade test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec![host.to_string()]).unwrap();
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    );
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    let (child, port) = spawn_py(
        dir,
        "tls_origin.py",
        TLS_ORIGIN,
        &[cert.to_str().unwrap(), key.to_str().unwrap()],
    );
    (child, port, ca)
}

const GIT_HTTP: &str = r#"
import http.server, os, subprocess, sys
root = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self): self.cgi()
    def do_POST(self): self.cgi()
    def cgi(self):
        path, _, query = self.path.partition("?")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
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
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// A bare repository `repo.git` under `root` with one commit holding `README`.
pub fn make_repo(dir: &Path) -> PathBuf {
    let root = dir.join("repos");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("README"), "palisade proxy test repo\n").unwrap();
    let git = |args: &[&str], cwd: &Path| {
        let st = Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"], &work);
    git(&["add", "README"], &work);
    git(
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "init",
        ],
        &work,
    );
    std::fs::create_dir_all(&root).unwrap();
    git(
        &["clone", "-q", "--bare", work.to_str().unwrap(), "repo.git"],
        &root,
    );
    root
}

pub fn git_http(dir: &Path, root: &Path) -> (Child, u16) {
    spawn_py(dir, "git_http.py", GIT_HTTP, &[root.to_str().unwrap()])
}

const STATIC: &str = r#"
import functools, http.server, sys
H = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
H.log_message = lambda *a: None
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

const WHEEL: &str = r#"
import base64, hashlib, os, sys, zipfile
root, name, ver = sys.argv[1], "palisade_probe", "0.1"
files = {
    f"{name}/__init__.py": b"MARK = 'palisade-probe-installed'\n",
    f"{name}-{ver}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: palisade-probe\nVersion: {ver}\n".encode(),
    f"{name}-{ver}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for p, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record += f"{p},sha256={digest},{len(data)}\n"
record += f"{name}-{ver}.dist-info/RECORD,,\n"
whl = f"{name}-{ver}-py3-none-any.whl"
os.makedirs(f"{root}/files", exist_ok=True)
os.makedirs(f"{root}/simple/palisade-probe", exist_ok=True)
with zipfile.ZipFile(f"{root}/files/{whl}", "w") as z:
    for p, data in files.items():
        z.writestr(p, data)
    z.writestr(f"{name}-{ver}.dist-info/RECORD", record)
with open(f"{root}/simple/palisade-probe/index.html", "w") as f:
    f.write(f'<html><body><a href="../../files/{whl}">{whl}</a></body></html>\n')
with open(f"{root}/simple/index.html", "w") as f:
    f.write('<html><body><a href="palisade-probe/">palisade-probe</a></body></html>\n')

"#;

/// Builds a one-file wheel and a PEP 503 simple index for it; serves them.
pub fn wheel_index(dir: &Path) -> (Child, u16) {
    let root = dir.join("index");
    let script = dir.join("mkwheel.py");
    std::fs::write(&script, WHEEL).unwrap();
    let st = Command::new(python().unwrap())
        .arg(&script)
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success());
    spawn_py(dir, "static.py", STATIC, &[root.to_str().unwrap()])
}

/// sshd on 127.0.0.1 with a fresh host key and one authorised client key; (server, port,
/// client key). `None` (with the reason printed) when sshd cannot run here.
pub fn sshd(dir: &Path) -> Option<(Child, u16, PathBuf)> {
    let sshd = Path::new("/usr/sbin/sshd");
    if !sshd.exists() {
        eprintln!("SKIPPED ssh: /usr/sbin/sshd is not installed (apt-get install openssh-server)");
        return None;
    }
    // sshd refuses to start without its privilege-separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let keygen = |path: &Path| {
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success());
    };
    let (host_key, client_key) = (dir.join("host_key"), dir.join("client_key"));
    keygen(&host_key);
    keygen(&client_key);
    let auth = dir.join("authorized_keys");
    std::fs::copy(dir.join("client_key.pub"), &auth).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("sshd_config");
    std::fs::write(
        &cfg,
        format!(
            "ListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nPermitRootLogin prohibit-password\nAllowUsers *\n",
            host_key.display(),
            dir.join("sshd.pid").display(),
            auth.display()
        ),
    )
    .unwrap();
    let child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(&cfg)
        .args(["-p", &port.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Child(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            eprintln!("SKIPPED ssh: sshd did not start");
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((child, port, client_key))
}
