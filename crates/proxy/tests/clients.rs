//! Real clients through the proxy, configured only by `sandbox_env` (as inside a sandbox),
//! against servers started here on 127.0.0.1. Made-up names map to 127.0.0.1 through the static
//! resolve map plus `allow_cidr 127.0.0.0/8`; the resolver knows no names and the dialer
//! refuses anything but loopback. A missing tool skips its test with the reason printed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use common::servers::{self, python};
use common::*;
use serde_json::Value;

fn real_proxy(allow: &[String], names: &[&str]) -> TestProxy {
    let allow: Vec<&str> = allow.iter().map(String::as_str).collect();
    let resolve: Vec<String> = names.iter().map(|n| format!("{n}:127.0.0.1")).collect();
    let resolve: Vec<&str> = resolve.iter().map(String::as_str).collect();
    let p = policy(&allow, &[], &["127.0.0.0/8"], &resolve);
    let resolver = Arc::new(FakeResolver::default());
    TestProxy::start(
        vec![TestProxy::bind()],
        p,
        resolver,
        Arc::new(LoopbackConnector),
        |_| {},
    )
}

fn example_exe() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("proxy_connect")
}

/// A command with a clean environment: PATH, a throwaway HOME, and the sandbox proxy env.
fn client(program: impl AsRef<std::ffi::OsStr>, proxy: &TestProxy, home: &Path) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(palisade_proxy::sandbox_env(
            proxy.addr.port(),
            &example_exe(),
        ))
        .stdin(Stdio::null());
    c
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn lines_for(p: &TestProxy, host: &str) -> Vec<Value> {
    p.lines()
        .into_iter()
        .filter(|l| l["target"]["host"] == host)
        .collect()
}

#[test]
fn curl_plain_connect_and_socks5h() {
    if !have("curl", "curl") {
        return;
    }
    let origin = Origin::start("curl");
    let dir = tempfile::tempdir().unwrap();
    let (_tls, tls_port, ca) = servers::tls_origin(dir.path(), "tls.test");
    let op = origin.addr.port();
    let allow = [format!("plain.test:{op}"), format!("tls.test:{tls_port}")];
    let p = real_proxy(&allow, &["plain.test", "tls.test", "denied.test"]);
    let curl = |args: &[&str]| {
        let mut c = client("curl", &p, dir.path());
        c.args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
            .args(args);
        c.output().unwrap()
    };

    let o = curl(&[&format!("http://plain.test:{op}/hello")]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ORIGIN curl /hello\n200"
    );

    let o = curl(&[&format!("http://denied.test:{op}/x")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.ends_with("403"), "{}", text(&o));
    assert!(out.contains("no_rule") && out.contains(&format!("--allow-domain denied.test:{op}")));

    let tls_url = format!("https://tls.test:{tls_port}/tls");
    let o = curl(&["--cacert", ca.to_str().unwrap(), &tls_url]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "TLS-ORIGIN /tls\n200");

    let o = curl(&[&format!("https://denied.test:{tls_port}/")]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("403"),
        "{}",
        text(&o)
    );

    let socks = format!("socks5h://{}", p.addr);
    let o = curl(&["-x", &socks, &format!("http://plain.test:{op}/s5")]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ORIGIN curl /s5"));
    let o = curl(&["-x", &socks, "--cacert", ca.to_str().unwrap(), &tls_url]);
    assert!(o.status.success(), "{}", text(&o));
    let o = curl(&["-x", &socks, &format!("http://denied.test:{op}/")]);
    assert!(!o.status.success(), "{}", text(&o));

    let entries: Vec<(String, String)> = p
        .lines()
        .iter()
        .filter(|l| is_verdict(l))
        .map(|l| {
            (
                l["entry"].as_str().unwrap().into(),
                l["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("http", "ok"),
        ("http", "no_rule"),
        ("connect", "ok"),
        ("connect", "no_rule"),
        ("socks5", "ok"),
        ("socks5", "ok"),
        ("socks5", "no_rule"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(entries, want);

    // Domain fronting with a real TLS client: SNI names another host than the CONNECT.
    if have("openssl", "openssl s_client") {
        let o = client("openssl", &p, dir.path())
            .args(["s_client", "-proxy", &p.addr.to_string()])
            .args([
                "-connect",
                &format!("tls.test:{tls_port}"),
                "-servername",
                "evil.test",
            ])
            .output()
            .unwrap();
        // The handshake never completes: no server certificate reaches the client.
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("BEGIN CERTIFICATE"),
            "{}",
            text(&o)
        );
        let tls = lines_for(&p, "tls.test");
        assert!(
            tls.iter().any(|l| l["reason"] == "sni_mismatch"),
            "{tls:#?}"
        );
    }
}

#[test]
fn python_urllib_plain_and_https() {
    let Some(py) = python() else {
        eprintln!("SKIPPED python: python3 is not installed");
        return;
    };
    let origin = Origin::start("py");
    let dir = tempfile::tempdir().unwrap();
    let (_tls, tls_port, ca) = servers::tls_origin(dir.path(), "tls.test");
    let op = origin.addr.port();
    let allow = [format!("plain.test:{op}"), format!("tls.test:{tls_port}")];
    let p = real_proxy(&allow, &["plain.test", "tls.test"]);
    let script = format!(
        "import ssl, urllib.request, urllib.error\n\
         print(urllib.request.urlopen('http://plain.test:{op}/py', timeout=20).read().decode())\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         print(urllib.request.urlopen('https://tls.test:{tls_port}/pys', context=ctx, timeout=20).read().decode())\n\
         try:\n    urllib.request.urlopen('http://denied.test:{op}/', timeout=20)\n\
         except urllib.error.HTTPError as e:\n    print(e.code, e.headers['x-palisade-denied'])\n"
    );
    let o = client(&py, &p, dir.path())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows,
        [
            "ORIGIN py /py",
            "TLS-ORIGIN /pys",
            &format!("403 no_rule; target=denied.test:{op}")
        ]
    );
}

/// `NODE_USE_ENV_PROXY` exists from Node 24.5 and 22.21; older Node has no built-in way for
/// `fetch` to use a proxy. Core `http` through the proxy works on every version.
#[test]
fn node_through_the_proxy() {
    if !have("node", "node") {
        return;
    }
    let origin = Origin::start("node");
    let dir = tempfile::tempdir().unwrap();
    let op = origin.addr.port();
    let p = real_proxy(&[format!("plain.test:{op}")], &["plain.test"]);
    let version = Command::new("node").arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout)
        .trim()
        .trim_start_matches('v')
        .to_string();
    let mut parts = version.split('.').map(|x| x.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let env_proxy = major > 24 || (major == 24 && minor >= 5) || (major == 22 && minor >= 21);
    if env_proxy {
        let js =
            format!("fetch('http://plain.test:{op}/fetch').then(r => r.text()).then(console.log)");
        let o = client("node", &p, dir.path())
            .args(["-e", &js])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "ORIGIN node /fetch",
            "{}",
            text(&o)
        );
    } else {
        eprintln!(
            "SKIPPED node fetch: node {version} has no NODE_USE_ENV_PROXY (needs >= 22.21 or 24.5)"
        );
    }
    let js = format!(
        "const u = new URL(process.env.HTTP_PROXY);\n\
         require('http').get({{host: u.hostname, port: u.port, path: 'http://plain.test:{op}/core',\n\
           headers: {{host: 'plain.test:{op}'}}}}, r => {{ let b = ''; r.on('data', d => b += d);\n\
           r.on('end', () => console.log(r.statusCode, b)); }});"
    );
    let o = client("node", &p, dir.path())
        .args(["-e", &js])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "200 ORIGIN node /core",
        "{}",
        text(&o)
    );
}

#[test]
fn git_clone_over_smart_http() {
    if !have("git", "git http") || python().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = servers::make_repo(dir.path());
    let (_srv, port) = servers::git_http(dir.path(), &root);
    let p = real_proxy(&[format!("git.test:{port}")], &["git.test"]);
    let dest = dir.path().join("clone");
    let o = client("git", &p, dir.path())
        .args(["clone", "-q", &format!("http://git.test:{port}/repo.git")])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let readme = std::fs::read_to_string(dest.join("README")).unwrap();
    assert_eq!(readme, "palisade proxy test repo\n");
    let reqs = lines_for(&p, "git.test");
    assert!(
        reqs.iter()
            .any(|l| l["http"]["path"] == "/repo.git/git-upload-pack"),
        "{reqs:#?}"
    );
    assert!(reqs.iter().all(|l| l["reason"] == "ok"));
}

#[test]
fn pip_installs_a_wheel_from_a_local_index() {
    let Some(py) = python() else {
        eprintln!("SKIPPED pip: python3 is not installed");
        return;
    };
    let has_pip = Command::new(&py).args(["-m", "pip", "--version"]).output();
    if !has_pip.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "SKIPPED pip: `{} -m pip` is not available (apt-get install python3-pip)",
            py.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_srv, port) = servers::wheel_index(dir.path());
    let p = real_proxy(&[format!("pypi.test:{port}")], &["pypi.test"]);
    let target = dir.path().join("site");
    let o = client(&py, &p, dir.path())
        .env("PIP_CONFIG_FILE", "/dev/null")
        .args([
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "-q",
        ])
        .args(["--index-url", &format!("http://pypi.test:{port}/simple/")])
        .args(["--trusted-host", "pypi.test", "--target"])
        .arg(&target)
        .arg("palisade-probe")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let init = std::fs::read_to_string(target.join("palisade_probe/__init__.py")).unwrap();
    assert!(init.contains("palisade-probe-installed"));
    let reqs = lines_for(&p, "pypi.test");
    assert!(reqs
        .iter()
        .any(|l| l["http"]["path"].as_str().unwrap_or("").ends_with(".whl")));
}

#[test]
fn git_over_ssh_through_proxy_connect() {
    if !have("ssh", "git over ssh") || !have("git", "git over ssh") {
        return;
    }
    if !example_exe().exists() {
        eprintln!(
            "SKIPPED git over ssh: {} not built",
            example_exe().display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some((_sshd, port, key)) = servers::sshd(dir.path()) else {
        return;
    };
    let root = servers::make_repo(dir.path());
    let p = real_proxy(&[format!("ssh.test:{port}")], &["ssh.test"]);
    let env = palisade_proxy::sandbox_env(p.addr.port(), &example_exe());
    let base = env
        .iter()
        .find(|(k, _)| k == "GIT_SSH_COMMAND")
        .unwrap()
        .1
        .clone();
    let ssh_cmd = format!(
        "{base} -F /dev/null -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o BatchMode=yes",
        key.display()
    );
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let url = format!("ssh://{user}@ssh.test:{port}{}/repo.git", root.display());
    let dest = dir.path().join("ssh-clone");
    let o = client("git", &p, dir.path())
        .env("GIT_SSH_COMMAND", ssh_cmd)
        .args(["clone", "-q", &url])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(dest.join("README").exists());
    let lines = lines_for(&p, "ssh.test");
    assert!(
        lines
            .iter()
            .any(|l| l["entry"] == "connect" && l["reason"] == "ok"),
        "{lines:#?}"
    );

    // Denied: the ProxyCommand prints the proxy's reason and ssh fails.
    let o = client("git", &p, dir.path())
        .args([
            "ls-remote",
            &format!("ssh://{user}@other.test:{port}/x.git"),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no_rule"),
        "{}",
        text(&o)
    );
}
