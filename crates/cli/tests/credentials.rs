//! Credentials through `palisade run`: the command calls an HTTPS origin (started here on
//! 127.0.0.1 under a made-up name, with a test CA from the `openssl` tool) with a key it
//! cannot read. While it runs, the secret is searched for in every /proc/*/cmdline and
//! /proc/*/environ, from inside the sandbox and from the host, in the files the sandbox can
//! read (workspace, home, /tmp, /etc) and in the audit log: zero hits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const HOST: &str = "api.cred.test";

/// Logs sha256(Authorization) per request (never the value: the log is readable inside).
const ORIGIN: &str = r#"
import hashlib, http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization") or ""
        with open(sys.argv[3], "a") as f:
            f.write(hashlib.sha256(auth.encode()).hexdigest() + "\n")
        body = b"origin ok"
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

/// Runs inside: every /proc/*/cmdline and environ, the environment, and every regular file
/// under the workspace, $HOME, /tmp and /etc, searched for NEEDLE_A + NEEDLE_B.
const SCAN: &str = r#"
import os
n = (os.environ["NEEDLE_A"] + os.environ["NEEDLE_B"]).encode()
hits = [k for k, v in os.environ.items() if n in v.encode()]
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for f in ("cmdline", "environ"):
            try:
                if n in open("/proc/%s/%s" % (pid, f), "rb").read():
                    hits.append("/proc/%s/%s" % (pid, f))
            except OSError:
                pass
files = 0
for top in (".", os.environ["HOME"], "/tmp", "/etc"):
    for dp, dn, fn in os.walk(top):
        for x in fn:
            p = os.path.join(dp, x)
            try:
                if os.path.islink(p) or not os.path.isfile(p) or os.path.getsize(p) > 1 << 26:
                    continue
                files += 1
                if n in open(p, "rb").read():
                    hits.append(p)
            except OSError:
                pass
print("inside hits=%r files_scanned=%d" % (hits, files))
"#;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "openssl {args:?}: {o:?}");
}

/// A test CA and a leaf for HOST; returns the CA path.
fn certs(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=palisade test origin CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend(["-keyout", "leaf.key", "-out", "leaf.csr", "-subj"]);
    let subj = format!("/CN={HOST}");
    csr.push(&subj);
    openssl(dir, &csr);
    let ext = format!(
        "subjectAltName=DNS:{HOST}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    );
    std::fs::write(dir.join("leaf.ext"), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
}

fn origin(dir: &Path, log: &Path) -> (Killed, u16) {
    let script = dir.join("origin.py");
    std::fs::write(&script, ORIGIN).unwrap();
    let mut child = Command::new(python())
        .arg(&script)
        .arg(dir.join("leaf.pem"))
        .arg(dir.join("leaf.key"))
        .arg(log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().unwrap();
    (Killed(child), port)
}

fn sha256_hex(s: &str) -> String {
    let o = Command::new(python())
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(sys.stdin.read().encode()).hexdigest())",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(s.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn policy(t: &Scratch, port: u16, var: &str, audit: &Path) -> std::path::PathBuf {
    policy_with(t, port, var, audit, "")
}

fn policy_with(t: &Scratch, port: u16, var: &str, audit: &Path, more: &str) -> std::path::PathBuf {
    let text = format!(
        "[network]\n\
         allow = [\"{HOST}:{port}\"]\n\
         allow_cidr = [\"127.0.0.0/8\"]\n\
         resolve = [\"{HOST}:127.0.0.1\"]\n\
         upstream_extra_ca = \"{ca}\"\n\
         audit_log = \"{audit}\"\n\
         \n\
         [[credential]]\n\
         id = \"demo\"\n\
         source = {{ env = \"{var}\" }}\n\
         bind = {{ host = \"{HOST}\", port = {port} }}\n\
         header = \"authorization\"\n\
         format = \"Bearer {{}}\"\n\
         placeholder = {{ env = \"DEMO_API_KEY\" }}\n\
         {more}\n",
        ca = t.root.join("ca.pem").display(),
        audit = audit.display(),
    );
    let p = t.root.join("policy.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Every /proc/*/cmdline and /proc/*/environ this process can read that holds `needle`.
fn proc_hits(needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for f in ["cmdline", "environ"] {
            let path = e.path().join(f);
            if let Ok(data) = std::fs::read(&path) {
                if data.windows(needle.len()).any(|w| w == needle) {
                    hits.push(path.display().to_string());
                }
            }
        }
    }
    hits
}

fn ready(test: &str) -> bool {
    for tool in ["openssl", "curl"] {
        if which(tool).is_none() {
            skip(test, &format!("no {tool}"));
            return false;
        }
    }
    if !Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        skip(test, "no /etc/ssl/certs/ca-certificates.crt");
        return false;
    }
    true
}

#[test]
fn a_credentialed_command_uses_a_key_it_cannot_find_anywhere() {
    if !ready("credential scan") {
        return;
    }
    let t = Scratch::new("cred-scan");
    certs(&t.root);
    let origin_log = t.root.join("origin.log");
    std::fs::write(&origin_log, "").unwrap();
    let (_origin, port) = origin(&t.root, &origin_log);
    let secret = format!("sk-ant-api03-{}-SCANME-{}", token(), token());
    let var = "PALISADE_TEST_CRED_SCAN";
    let audit = t.root.join("audit.jsonl");
    let pol = policy(&t, port, var, &audit);
    // Inside: one credentialed call, then a search of everything reachable (the needle is
    // joined in memory from two halves, so no argv or environment holds it whole), then wait
    // for the host's scan to finish (the `go` file) so the processes stay alive meanwhile.
    let script = format!(
        "curl -sS --fail https://{HOST}:{port}/ -H \"Authorization: Bearer $DEMO_API_KEY\" \
           > ws-curl.out 2>&1 || echo CURL_FAILED >> ws-curl.out\n\
         {py} -c \"$SCAN\"\n\
         touch scanned\n\
         i=0; while [ ! -e go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n",
        py = python()
    );
    let (head, tail) = secret.split_at(secret.len() / 2);
    let mut c = t.palisade();
    c.env(var, &secret)
        .args(["run", "--config"])
        .arg(&pol)
        .args(["--env", &format!("NEEDLE_A={head}")])
        .args(["--env", &format!("NEEDLE_B={tail}")])
        .args(["--env", &format!("SCAN={SCAN}")])
        .args(["--", "/bin/sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !t.ws.join("scanned").exists() {
        assert!(
            Instant::now() < deadline,
            "the command never finished its scan"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let host_hits = proc_hits(secret.as_bytes());
    std::fs::write(t.ws.join("go"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let curl = std::fs::read_to_string(t.ws.join("ws-curl.out")).unwrap();
    assert_eq!(curl, "origin ok", "{curl}\n{stderr}");
    // The origin got the real key (compared by hash) ...
    let seen = std::fs::read_to_string(&origin_log).unwrap();
    assert_eq!(seen.trim(), sha256_hex(&format!("Bearer {secret}")));
    // ... and nothing anywhere held it.
    assert_eq!(host_hits, Vec::<String>::new());
    assert!(stdout.contains("inside hits=[] files_scanned="), "{stdout}");
    assert!(!stdout.contains("files_scanned=0\n"), "{stdout}");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(!log.contains(&secret));
    assert!(log.contains("\"cred\":[{\"id\":\"demo\",\"action\":\"client_value_replaced\"}]"));
    assert!(!stderr.contains(&secret));
}

#[test]
fn a_missing_credential_source_stops_the_run_before_anything_starts() {
    let t = Scratch::new("cred-missing");
    let audit = t.root.join("audit.jsonl");
    let pol = policy(&t, 443, "PALISADE_TEST_SURELY_UNSET", &audit);
    let mut c = t.palisade();
    c.env_remove("PALISADE_TEST_SURELY_UNSET")
        .args(["run", "--config"])
        .arg(&pol)
        .args(["--", "touch", "ran"]);
    let out = output(c);
    out.assert_code(125);
    assert!(
        out.stderr.contains(
            "credential `demo`: the host environment variable PALISADE_TEST_SURELY_UNSET is \
             not set"
        ),
        "{out}"
    );
    assert!(!t.ws.join("ran").exists());
    assert!(!audit.exists(), "the proxy started");
}

#[test]
fn endpoint_and_system_bundle_work_inside_without_any_ca_variable() {
    if !ready("credential endpoint inside") {
        return;
    }
    let t = Scratch::new("cred-endpoint");
    certs(&t.root);
    let origin_log = t.root.join("origin.log");
    std::fs::write(&origin_log, "").unwrap();
    let (_origin, port) = origin(&t.root, &origin_log);
    let secret = format!("sk-ant-api03-{}-ENDPOINT", token());
    // The placeholder takes the source variable's name, as tools expect.
    let var = "DEMO_API_KEY";
    let audit = t.root.join("audit.jsonl");
    let more = "endpoint = { port = 8089, env = \"ANTHROPIC_BASE_URL\" }";
    let pol = policy_with(&t, port, var, &audit, more);
    // Once through the endpoint (base URL), once through a terminated tunnel with the CA
    // found only in the system bundle path (every CA variable removed), once from python.
    let script = format!(
        "echo \"$ANTHROPIC_BASE_URL\" \"$(echo \"$DEMO_API_KEY\" | cut -c1-13)\" ${{#DEMO_API_KEY}}\n\
         curl -sS --fail \"$ANTHROPIC_BASE_URL/\"; echo\n\
         env -u SSL_CERT_FILE -u CURL_CA_BUNDLE curl -sS --fail https://{HOST}:{port}/; echo\n\
         env -u SSL_CERT_FILE -u REQUESTS_CA_BUNDLE {py} -c \"import urllib.request; \
           print(urllib.request.urlopen('https://{HOST}:{port}/').read().decode())\"\n",
        py = python()
    );
    let mut c = t.palisade();
    c.env(var, &secret)
        .args(["run", "--config"])
        .arg(&pol)
        .args(["--", "/bin/sh", "-c", &script]);
    let out = output(c);
    out.assert_ok();
    assert_eq!(
        out.stdout,
        format!(
            "http://127.0.0.1:8089 sk-ant-api03- {}\norigin ok\norigin ok\norigin ok\n",
            secret.len()
        ),
        "{out}"
    );
    let want = sha256_hex(&format!("Bearer {secret}"));
    let seen: Vec<String> = std::fs::read_to_string(&origin_log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(seen, vec![want.clone(), want.clone(), want], "{out}");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains("\"entry\":\"endpoint\""), "{log}");
    assert!(!log.contains(&secret));
}

#[test]
fn a_credential_file_is_hidden_from_the_sandbox() {
    let t = Scratch::new("cred-file-hidden");
    let key = t.home.join(".config/fake/key");
    mkdirs(key.parent().unwrap());
    write(&key, "tok_file_secret_0123456789\n");
    let config = t.home.join("policy.toml");
    write(
        &config,
        &format!(
            "[network]\nallow = [\"api.example.test\"]\n\n[[credential]]\nid = \"fake\"\n\
             source = {{ file = \"{}\" }}\nbind = {{ host = \"api.example.test\" }}\n\
             header = \"authorization\"\nformat = \"Bearer {{}}\"\n",
            s(&key)
        ),
    );
    let p = t.probe(&["--config", &s(&config)], &[&format!("read:{}", s(&key))]);
    p.expect(&format!("read:{}", s(&key)), &["EACCES", "ENOENT"]);
}
