//! Hot paths of a run: host-pattern matching and target normalisation (every proxied
//! request), the proxy's decision, the mount-plan build and policy loading (every start).
//!
//! `cargo bench -p palisade-bench`; CI only builds this.

use std::hint::black_box;
use std::path::Path;

use palisade_policy::host::{normalize_name, parse_host, HostPattern};
use palisade_proxy::decide::decide;
use palisade_proxy::target::{parse_authority, Entry};
use palisade_proxy::ProxyConfig;
use palisade_sandbox::plan::{build_fs_plan, FsInputs};

fn main() {
    divan::main();
}

/// An allow list of the size a real project carries: registries, forges, mirrors.
const ALLOW: &[&str] = &[
    "github.com",
    "*.github.com",
    "objects.githubusercontent.com",
    "raw.githubusercontent.com",
    "crates.io",
    "static.crates.io",
    "index.crates.io",
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "*.npmjs.org",
    "deb.debian.org",
    "security.debian.org",
    "proxy.golang.org",
    "sum.golang.org",
    "*.docker.io",
    "gitlab.com",
    "*.gitlab.com",
    "bitbucket.org",
    "api.example.com:8443",
    "10.1.2.3",
];

const TARGETS: &[&str] = &[
    "github.com:443",
    "objects.githubusercontent.com:443",
    "GitHub.COM.:443",
    "files.pythonhosted.org:443",
    "not-allowed.example.net:443",
    "api.example.com:8443",
    "xn--mnchen-3ya.de:443",
    "münchen.de:443",
    "127.0.0.1:8080",
    "[::1]:443",
];

mod host {
    use super::*;

    #[divan::bench(args = ["github.com", "GitHub.COM.", "münchen.de", "a.b.c.d.e.example.org"])]
    fn normalize(name: &str) -> bool {
        normalize_name(black_box(name)).is_ok()
    }

    #[divan::bench(args = ["127.0.0.1", "0x7f000001", "2130706433", "[::1]", "example.com"])]
    fn parse(raw: &str) -> bool {
        parse_host(black_box(raw)).is_ok()
    }

    #[divan::bench]
    fn parse_allow_list() -> usize {
        ALLOW
            .iter()
            .filter(|p| HostPattern::parse(black_box(p)).is_ok())
            .count()
    }

    /// One target against the whole list, as the proxy does per request.
    #[divan::bench(args = ["objects.githubusercontent.com", "not-allowed.example.net"])]
    fn match_list(bencher: divan::Bencher, name: &str) {
        let patterns: Vec<HostPattern> = ALLOW
            .iter()
            .filter_map(|p| HostPattern::parse(p).ok())
            .collect();
        let host = parse_host(name).ok();
        bencher.bench(|| {
            host.as_ref()
                .map(|h| black_box(&patterns).iter().any(|p| p.matches_host(h)))
        });
    }
}

mod names {
    use super::*;

    /// The per-file check of the workspace walk: one name against the built-in hidden-name
    /// globs.
    #[divan::bench(args = ["main.rs", ".env", "server.pem", "id_ed25519", "a-long-file-name.txt"])]
    fn hidden(bencher: divan::Bencher, name: &str) {
        let globs: Vec<String> = palisade_policy::BUILTIN_DENY_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect();
        bencher.bench(|| palisade_policy::is_name_hidden(black_box(&globs), black_box(name)));
    }
}

mod proxy {
    use super::*;

    #[divan::bench]
    fn parse_targets() -> usize {
        TARGETS
            .iter()
            .filter(|t| parse_authority(black_box(t), None).is_ok())
            .count()
    }

    /// Parse and decide, the proxy's per-connection work before resolving.
    #[divan::bench]
    fn parse_and_decide(bencher: divan::Bencher) {
        let cfg = config();
        bencher.bench(|| {
            TARGETS
                .iter()
                .filter_map(|t| parse_authority(black_box(t), None).ok())
                .filter(|t| decide(&cfg, t, Entry::Connect).is_ok())
                .count()
        });
    }

    fn config() -> ProxyConfig {
        let list = ALLOW
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "version = 1\n[network]\nallow = [{list}]\ndeny = [\"*.evil.example.com\"]\n\
             allow_cidr = [\"10.0.0.0/8\"]\n"
        );
        let policy = palisade_policy::load_str(&text, "bench.toml")
            .unwrap_or_else(|e| panic!("bench policy: {e}"));
        ProxyConfig::from_policy(&policy, "bench")
            .unwrap_or_else(|e| panic!("bench proxy config: {e}"))
    }
}

mod policy {
    use super::*;

    const FILE: &str = r#"
version = 1
[filesystem]
allow_write = ["~/.cache/pip", "/tmp/build"]
deny_read = ["~/.config/secret-tool"]
deny_read_names = ["*.key"]
protect = [".github/workflows"]
[network]
allow = ["github.com", "*.githubusercontent.com", "pypi.org", "files.pythonhosted.org"]
deny = ["gist.github.com"]
[limits]
memory = "2G"
pids = 512
timeout = "30m"
"#;

    #[divan::bench]
    fn load_file_text() -> bool {
        palisade_policy::load_str(black_box(FILE), "palisade.toml").is_ok()
    }

    #[divan::bench]
    fn builtin_default() -> palisade_policy::Policy {
        palisade_policy::builtin_default()
    }
}

mod plan {
    use super::*;

    /// A workspace of `files` files (50 per directory) with a `.git`, some `.env` files, and a
    /// home holding a few of the secret stores the built-in rules hide.
    fn fixture(files: usize) -> (tempfile::TempDir, FsInputs) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let home = dir.path().join("home");
        let ws = dir.path().join("ws");
        for d in [".ssh", ".aws", ".config/gcloud", ".cargo"] {
            mkdir(&home.join(d));
        }
        mkdir(&ws.join(".git/hooks"));
        for i in 0..files {
            let sub = ws.join(format!("src/d{:03}", i / 50));
            if i % 50 == 0 {
                mkdir(&sub);
            }
            let name = if i % 500 == 7 {
                ".env".to_string()
            } else {
                format!("f{i}.rs")
            };
            std::fs::write(sub.join(name), b"x").unwrap_or_else(|e| panic!("write: {e}"));
        }
        let ws = std::fs::canonicalize(&ws).unwrap_or_else(|e| panic!("canonicalize: {e}"));
        let expand = |list: &[&str]| {
            list.iter()
                .filter_map(|p| palisade_policy::expand_path(p, &home, &ws).ok())
                .collect::<Vec<_>>()
        };
        let inputs = FsInputs {
            home: home.clone(),
            workspace: ws.clone(),
            deny_read: expand(palisade_policy::BUILTIN_DENY_READ),
            home_protect: expand(palisade_policy::BUILTIN_HOME_PROTECT),
            protect_names: strings(palisade_policy::BUILTIN_PROTECT_NAMES),
            deny_names: strings(palisade_policy::BUILTIN_DENY_NAMES),
            ..FsInputs::default()
        };
        (dir, inputs)
    }

    fn mkdir(p: &Path) {
        std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[divan::bench(args = [0, 1_000, 10_000], sample_count = 20)]
    fn build(bencher: divan::Bencher, files: usize) {
        let (_dir, inputs) = fixture(files);
        bencher.bench(|| build_fs_plan(black_box(&inputs)).map(|p| p.ops.len()));
    }
}
