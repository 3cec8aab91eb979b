use std::collections::BTreeMap;

use crate::*;

fn err(text: &str) -> String {
    match parse_str(text, "palisade.toml") {
        Ok(p) => panic!("accepted: {p:?}"),
        Err(e) => e.to_string(),
    }
}

const FULL: &str = r#"
version = 1

[filesystem]
workspace = "~/src/app"
allow_write = ["~/.cache/pip", "/tmp/out"]
deny_read = ["~/private"]
allow_read = ["~/private/public"]
deny_read_names = ["*.sqlite", "!fixtures.sqlite"]
protect = ["Makefile"]
allow_unix_sockets = ["/run/user/1000/podman/podman.sock"]
builtin_rules = true
mode = "overlay"

[network]
allow = ["api.github.com", "*.crates.io", "registry.test:8443"]
deny = ["evil.test"]
allow_cidr = ["127.0.0.0/8", "::1/128"]
resolve = ["db.test:127.0.0.1", "cache.test:[::1]"]
audit_log = "~/palisade-audit.jsonl"
tls_terminate = "as_needed"

[env]
pass = ["CI", "RUST_LOG"]
set = { APP_ENV = "sandbox" }

[limits]
memory = "2G"
pids = 512
cpus = 1.5
timeout = "10m"
tmp_size = "512M"
open_files = 4096
file_size = "1G"
best_effort = true

[[credential]]
id = "github"
source = { env = "GITHUB_TOKEN" }
bind = { host = "api.github.com", scheme = "https", methods = ["GET", "POST"], path_prefixes = ["/repos/"] }
header = "authorization"
format = "Bearer {}"
placeholder = { env = "GITHUB_TOKEN", prefix = "ghp_" }
endpoint = { port = 18080, env = "GITHUB_API_URL" }

[[credential]]
id = "anthropic"
source.command = ["pass", "show", "anthropic"]
bind.host = "api.anthropic.test"
substitute = true
placeholder.env = "ANTHROPIC_API_KEY"
"#;

fn full_expected() -> Policy {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Policy {
        version: 1,
        filesystem: Filesystem {
            workspace: Some("~/src/app".into()),
            allow_write: s(&["~/.cache/pip", "/tmp/out"]),
            deny_read: s(&["~/private"]),
            allow_read: s(&["~/private/public"]),
            deny_read_names: s(&["*.sqlite", "!fixtures.sqlite"]),
            protect: s(&["Makefile"]),
            allow_unix_sockets: s(&["/run/user/1000/podman/podman.sock"]),
            builtin_rules: Some(true),
            mode: Some(FsMode::Overlay),
        },
        network: Network {
            allow: s(&["api.github.com", "*.crates.io", "registry.test:8443"]),
            deny: s(&["evil.test"]),
            allow_cidr: s(&["127.0.0.0/8", "::1/128"]),
            resolve: s(&["db.test:127.0.0.1", "cache.test:[::1]"]),
            audit_log: Some("~/palisade-audit.jsonl".into()),
            tls_terminate: Some("as_needed".into()),
            upstream_extra_ca: None,
        },
        env: Env {
            pass: s(&["CI", "RUST_LOG"]),
            set: BTreeMap::from([("APP_ENV".to_string(), "sandbox".to_string())]),
        },
        limits: Limits {
            memory: Some("2G".into()),
            pids: Some(512),
            cpus: Some(1.5),
            timeout: Some("10m".into()),
            tmp_size: Some("512M".into()),
            tmpfs_size: None,
            open_files: Some(4096),
            file_size: Some("1G".into()),
            best_effort: Some(true),
        },
        credentials: vec![
            Credential {
                id: "github".into(),
                source: CredentialSource {
                    env: Some("GITHUB_TOKEN".into()),
                    ..Default::default()
                },
                bind: CredentialBind {
                    scheme: Some("https".into()),
                    host: "api.github.com".into(),
                    port: None,
                    methods: s(&["GET", "POST"]),
                    path_prefixes: s(&["/repos/"]),
                },
                header: Some("authorization".into()),
                format: Some("Bearer {}".into()),
                substitute: None,
                placeholder: Some(Placeholder {
                    env: "GITHUB_TOKEN".into(),
                    prefix: Some("ghp_".into()),
                }),
                endpoint: Some(PlainEndpoint {
                    port: 18080,
                    env: "GITHUB_API_URL".into(),
                }),
            },
            Credential {
                id: "anthropic".into(),
                source: CredentialSource {
                    command: Some(s(&["pass", "show", "anthropic"])),
                    ..Default::default()
                },
                bind: CredentialBind {
                    host: "api.anthropic.test".into(),
                    ..Default::default()
                },
                substitute: Some(true),
                placeholder: Some(Placeholder {
                    env: "ANTHROPIC_API_KEY".into(),
                    prefix: None,
                }),
                ..Default::default()
            },
        ],
    }
}

#[test]
fn full_file_parses_to_the_expected_value() {
    assert_eq!(parse_str(FULL, "palisade.toml").unwrap(), full_expected());
}

#[test]
fn loading_adds_the_builtin_lists_in_front() {
    let mut expected = full_expected();
    let own_deny = expected.filesystem.deny_read.clone();
    expected.filesystem.deny_read = BUILTIN_DENY_READ.iter().map(|s| s.to_string()).collect();
    expected.filesystem.deny_read.extend(own_deny);
    let own_names = expected.filesystem.deny_read_names.clone();
    expected.filesystem.deny_read_names =
        BUILTIN_DENY_NAMES.iter().map(|s| s.to_string()).collect();
    expected.filesystem.deny_read_names.extend(own_names);
    let own_protect = expected.filesystem.protect.clone();
    expected.filesystem.protect = BUILTIN_PROTECT_NAMES
        .iter()
        .chain(BUILTIN_HOME_PROTECT)
        .map(|s| s.to_string())
        .collect();
    expected.filesystem.protect.extend(own_protect);
    assert_eq!(load_str(FULL, "palisade.toml").unwrap(), expected);
}

#[test]
fn builtin_rules_false_keeps_only_the_files_lists() {
    let text = "[filesystem]\nbuiltin_rules = false\ndeny_read = [\"~/x\"]\n";
    let mut expected = Policy {
        version: 1,
        ..Policy::default()
    };
    expected.filesystem.builtin_rules = Some(false);
    expected.filesystem.deny_read = vec!["~/x".into()];
    assert_eq!(load_str(text, "p.toml").unwrap(), expected);
}

#[test]
fn empty_file_is_version_1_and_nothing_else() {
    let expected = Policy {
        version: 1,
        ..Policy::default()
    };
    assert_eq!(parse_str("", "p.toml").unwrap(), expected);
    assert_eq!(parse_str("version = 0\n", "p.toml").unwrap(), expected);
    assert_eq!(load_str("", "p.toml").unwrap(), builtin_default());
}

#[test]
fn load_file_reads_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("palisade.toml");
    std::fs::write(&path, "[network]\nallow = [\"a.test\"]\n").unwrap();
    let p = load_file(&path).unwrap();
    assert_eq!(p.network.allow, vec!["a.test".to_string()]);
    assert_eq!(p.filesystem.deny_read[0], "~/.ssh");

    std::fs::write(&path, "\n[network]\nallow = [\"a..test\"]\n").unwrap();
    let e = load_file(&path).unwrap_err().to_string();
    let expected = format!(
        "{}:3:10: network.allow[0]: \"a..test\": host name has an empty label (`..`, a leading \
         dot, or more than one trailing dot)",
        path.display()
    );
    assert_eq!(e, expected);

    let missing = dir.path().join("nope.toml");
    let e = load_file(&missing).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", missing.display())), "{e}");

    std::fs::write(&path, b"# caf\xe9\n").unwrap();
    let e = load_file(&path).unwrap_err().to_string();
    assert_eq!(e, format!("{}:1:6: not valid UTF-8", path.display()));
}

#[test]
fn unknown_keys_are_located() {
    let top = "palisade.toml:1:1: versio: unknown key; expected one of: version, filesystem, \
               network, env, limits, credential";
    assert_eq!(err("versio = 1\n"), top);
    let table = "palisade.toml:2:2: foo: unknown key; expected one of: version, filesystem, \
                 network, env, limits, credential";
    assert_eq!(err("\n[foo]\nx = 1\n"), table);
    let nested = "palisade.toml:3:1: filesystem.alow_write: unknown key; expected one of: \
                  workspace, allow_write, deny_read, allow_read, deny_read_names, protect, \
                  allow_unix_sockets, builtin_rules, mode";
    assert_eq!(
        err("[filesystem]\nallow_write = []\nalow_write = [\"x\"]\n"),
        nested
    );
    let dotted = "palisade.toml:6:6: credential[0].bind.prt: unknown key; expected one of: \
                  scheme, host, port, methods, path_prefixes";
    let text = "[[credential]]\nid = \"gh\"\nheader = \"authorization\"\n\
                source.env = \"GH\"\nbind.host = \"api.github.com\"\nbind.prt = 3\n";
    assert_eq!(err(text), dotted);
    let inline = "palisade.toml:2:24: credential[0].source.fil: unknown key; expected one of: \
                  env, file, command";
    assert_eq!(
        err("[[credential]]\nsource = { env = \"GH\", fil = \"x\" }\n"),
        inline
    );
}

#[test]
fn wrong_types_are_located() {
    assert_eq!(
        err("[network]\nallow = \"x\"\n"),
        "palisade.toml:2:9: network.allow: wrong type: expected an array, found string \"x\""
    );
    assert_eq!(
        err("version = \"1\"\n"),
        "palisade.toml:1:11: version: wrong type: expected a non-negative integer, found \
         string \"1\""
    );
    assert_eq!(
        err("[filesystem]\nmode = \"fast\"\n"),
        "palisade.toml:2:8: filesystem.mode: \"fast\" is not one of: direct, overlay, tmpfs"
    );
    assert_eq!(
        err("[[credential]]\nbind.port = 70000\n"),
        "palisade.toml:2:13: credential[0].bind.port: out of range: expected an integer from \
         0 to 65535, found integer `70000`"
    );
    assert_eq!(
        err("network = 3\n"),
        "palisade.toml:1:11: network: wrong type: expected a table, found integer `3`"
    );
}

#[test]
fn wrong_table_kinds_are_named_in_toml_terms() {
    assert_eq!(
        err("[credential]\nid = \"gh\"\n"),
        "palisade.toml:1:1: credential: wrong type: expected an array, found a table"
    );
    assert_eq!(
        err("[limits]\npids = 1.5\n"),
        "palisade.toml:2:8: limits.pids: wrong type: expected a non-negative integer, found \
         float `1.5`"
    );
    assert_eq!(
        err("[limits]\npids = -1\n"),
        "palisade.toml:2:8: limits.pids: out of range: expected a non-negative integer, found \
         integer `-1`"
    );
    // An integer is a fine number of CPUs.
    assert_eq!(
        parse_str("[limits]\ncpus = 2\n", "p.toml")
            .unwrap()
            .limits
            .cpus,
        Some(2.0)
    );
}

#[test]
fn inline_arrays_of_tables_are_located_too() {
    let text = "credential = [\n  { id = \"a\", source.env = \"A\", bind.host = \"a.test\", \
                header = \"x\" },\n  { id = \"b\", sorce = 1 },\n]\n";
    assert_eq!(
        err(text),
        "palisade.toml:3:15: credential[1].sorce: unknown key; expected one of: id, source, \
         bind, header, format, substitute, placeholder, endpoint"
    );
    let text = "credential = [\n  { id = \"a\", source.env = \"A\", bind.host = \"a.test\", \
                header = \"x\" },\n  { id = \"a\" },\n]\n";
    assert_eq!(
        err(text),
        "palisade.toml:3:10: credential[1].id: duplicate id \"a\" (first used by credential[0])"
    );
}

#[test]
fn sub_tables_of_array_entries_are_located() {
    let text = "[[credential]]\nid = \"gh\"\n\n[credential.source]\nfil = \"x\"\n";
    assert_eq!(
        err(text),
        "palisade.toml:5:1: credential[0].source.fil: unknown key; expected one of: env, file, \
         command"
    );
    let text = "[[credential]]\nid = \"gh\"\n[credential.source]\nenv = \"A\"\n\
                [credential.bind]\nhost = \"h.test\"\nmethods = [\"GET\", \"BAD METHOD\"]\n\
                [[credential]]\nid = \"x\"\n";
    assert_eq!(
        err(text),
        "palisade.toml:7:19: credential[0].bind.methods[1]: \"BAD METHOD\": not an HTTP method"
    );
}

#[test]
fn syntax_errors_have_no_key() {
    assert_eq!(
        err("[network\n"),
        "palisade.toml:1:9: invalid table header; expected `.`, `]`"
    );
    assert_eq!(
        err("a = 1\na = 2\n"),
        "palisade.toml:2:1: duplicate key `a` in document root"
    );
}

#[test]
fn bad_values_are_located() {
    assert_eq!(
        err("[network]\nallow = [\"a.test\", \"*.\"]\n"),
        "palisade.toml:2:20: network.allow[1]: \"*.\": empty host name"
    );
    assert_eq!(
        err("[network]\ndeny = [\"a.test:99999\"]\n"),
        "palisade.toml:2:9: network.deny[0]: \"a.test:99999\": invalid port `99999`"
    );
    assert_eq!(
        err("[limits]\nmemory = \"12X\"\n"),
        "palisade.toml:2:10: limits.memory: \"12X\": unknown size suffix \"X\" (use K, M, G or T)"
    );
    assert_eq!(
        err("[limits]\ntimeout = \"10x\"\n"),
        "palisade.toml:2:11: limits.timeout: \"10x\": unknown duration unit \"x\" (use ms, s, m, \
         h or d)"
    );
    assert_eq!(
        err("[network]\nresolve = [\"db.test:nope\"]\n"),
        "palisade.toml:2:12: network.resolve[0]: \"db.test:nope\": \"nope\" is not an IP address \
         (expected HOST:ADDR)"
    );
    assert_eq!(
        err("[network]\nallow_cidr = [\"127.0.0.1/8\"]\n"),
        "palisade.toml:2:15: network.allow_cidr[0]: \"127.0.0.1/8\": host bits set below the \
         prefix; did you mean 127.0.0.0/8?"
    );
    assert_eq!(
        err("\n\n  [filesystem]\n  deny_read = [\n    \"~/ok\",\n    \"~bob/x\",\n  ]\n"),
        "palisade.toml:6:5: filesystem.deny_read[1]: \"~bob/x\": ~user paths are not supported; \
         write ~/ or a full path"
    );
    assert_eq!(
        err("[filesystem]\nallow_write = [\"\"]\n"),
        "palisade.toml:2:16: filesystem.allow_write[0]: \"\": empty path"
    );
    assert_eq!(
        err("[env]\npass = [\"GOOD\", \"BAD-NAME\"]\n"),
        "palisade.toml:2:17: env.pass[1]: \"BAD-NAME\": a variable name may hold only letters, \
         digits and '_'"
    );
    assert_eq!(
        err("[env.set]\n\"1X\" = \"v\"\n"),
        "palisade.toml:2:8: env.set.1X: \"1X\": a variable name must start with a letter or '_'"
    );
    assert_eq!(
        err("[limits]\npids = 0\n"),
        "palisade.toml:2:8: limits.pids: must be greater than 0"
    );
    assert_eq!(
        err("[limits]\ncpus = -1.0\n"),
        "palisade.toml:2:8: limits.cpus: must be a number greater than 0"
    );
    assert_eq!(
        err("[limits]\ntmp_size = \"0\"\n"),
        "palisade.toml:2:12: limits.tmp_size: \"0\": must be greater than 0"
    );
    assert_eq!(
        err("version = 2\n"),
        "palisade.toml:1:11: version: unsupported version 2 (only version 1 exists)"
    );
    assert_eq!(
        err("[network]\ntls_terminate = \"some\"\n"),
        "palisade.toml:2:17: network.tls_terminate: \"some\": expected off, as_needed or all"
    );
}

#[path = "load_credential_tests.rs"]
mod credentials;
