use std::collections::BTreeMap;

use crate::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn flags_add_to_lists_and_replace_single_values() {
    let mut p = parse_str(
        "[network]\nallow = [\"a.test\"]\n[limits]\nmemory = \"1G\"\npids = 10\n",
        "p.toml",
    )
    .unwrap();
    let add = Additions {
        workspace: Some("~/w".into()),
        allow_write: s(&["~/.cache"]),
        deny_read: s(&["~/secret"]),
        deny_read_names: s(&["*.sqlite"]),
        allow_domain: s(&["a.test", "*.b.test"]),
        deny_domain: s(&["c.test"]),
        allow_cidr: s(&["127.0.0.0/8"]),
        resolve: s(&["db.test:127.0.0.1"]),
        env: s(&["CI", "MODE=test", "EMPTY="]),
        audit_log: Some("/tmp/audit.jsonl".into()),
        fs_mode: Some(FsMode::Tmpfs),
        memory: Some("2G".into()),
        pids: None,
        cpus: Some(2.0),
        timeout: Some("90s".into()),
        tmp_size: Some("64M".into()),
        best_effort_limits: true,
    };
    p.extend(add).unwrap();
    let expected = Policy {
        version: 1,
        filesystem: Filesystem {
            workspace: Some("~/w".into()),
            allow_write: s(&["~/.cache"]),
            deny_read: s(&["~/secret"]),
            deny_read_names: s(&["*.sqlite"]),
            mode: Some(FsMode::Tmpfs),
            ..Filesystem::default()
        },
        network: Network {
            allow: s(&["a.test", "*.b.test"]),
            deny: s(&["c.test"]),
            allow_cidr: s(&["127.0.0.0/8"]),
            resolve: s(&["db.test:127.0.0.1"]),
            audit_log: Some("/tmp/audit.jsonl".into()),
            ..Network::default()
        },
        env: Env {
            pass: s(&["CI"]),
            set: BTreeMap::from([
                ("MODE".to_string(), "test".to_string()),
                ("EMPTY".to_string(), String::new()),
            ]),
        },
        limits: Limits {
            memory: Some("2G".into()),
            pids: Some(10),
            cpus: Some(2.0),
            timeout: Some("90s".into()),
            tmp_size: Some("64M".into()),
            best_effort: Some(true),
            ..Limits::default()
        },
        credentials: vec![],
    };
    assert_eq!(p, expected);
}

fn flag_error(add: Additions) -> String {
    let mut p = builtin_default();
    let before = p.clone();
    let e = p.extend(add).unwrap_err().to_string();
    assert_eq!(
        p, before,
        "a refused extension must leave the policy as it was"
    );
    e
}

#[test]
fn bad_flags_are_named() {
    let cases: Vec<(Additions, &str)> =
        vec![
        (
            Additions { allow_domain: s(&["ok.test", "*."]), ..Default::default() },
            "--allow-domain \"*.\": empty host name",
        ),
        (
            Additions { deny_domain: s(&["a b"]), ..Default::default() },
            "--deny-domain \"a b\": host name contains a character that is not allowed in a DNS \
             name",
        ),
        (
            Additions { allow_cidr: s(&["127.0.0.0/99"]), ..Default::default() },
            "--allow-cidr \"127.0.0.0/99\": prefix length must be at most 32",
        ),
        (
            Additions { resolve: s(&["db.test"]), ..Default::default() },
            "--resolve \"db.test\": expected HOST:ADDR",
        ),
        (
            Additions { env: s(&["OK", "9LIVES=x"]), ..Default::default() },
            "--env \"9LIVES=x\": a variable name must start with a letter or '_'",
        ),
        (
            Additions { memory: Some("lots".into()), ..Default::default() },
            "--memory \"lots\": expected a size such as 4096, 512M or 2G",
        ),
        (
            Additions { timeout: Some("0s".into()), ..Default::default() },
            "--timeout \"0s\": must be greater than 0",
        ),
        (
            Additions { tmp_size: Some("5Q".into()), ..Default::default() },
            "--tmp-size \"5Q\": unknown size suffix \"Q\" (use K, M, G or T)",
        ),
        (
            Additions { pids: Some(0), ..Default::default() },
            "--pids \"0\": must be greater than 0",
        ),
        (
            Additions { cpus: Some(f64::NAN), ..Default::default() },
            "--cpus \"NaN\": must be a number greater than 0",
        ),
        (
            Additions { allow_write: s(&["~root/x"]), ..Default::default() },
            "--allow-write \"~root/x\": ~user paths are not supported; write ~/ or a full path",
        ),
        (
            Additions { deny_read: s(&[""]), ..Default::default() },
            "--deny-read \"\": empty path",
        ),
        (
            Additions { deny_read_names: s(&["a/b"]), ..Default::default() },
            "--deny-read-name \"a/b\": a name pattern matches one file name and holds no '/'",
        ),
        (
            Additions { workspace: Some("".into()), ..Default::default() },
            "--workspace \"\": empty path",
        ),
        (
            Additions { audit_log: Some("~x".into()), ..Default::default() },
            "--audit-log \"~x\": ~user paths are not supported; write ~/ or a full path",
        ),
    ];
    for (add, expected) in cases {
        assert_eq!(flag_error(add), expected);
    }
}

#[test]
fn fs_mode_parses_from_flag_text() {
    assert_eq!("overlay".parse::<FsMode>(), Ok(FsMode::Overlay));
    assert_eq!("direct".parse::<FsMode>(), Ok(FsMode::Direct));
    assert_eq!(FsMode::Tmpfs.to_string(), "tmpfs");
    assert_eq!(
        "fast".parse::<FsMode>(),
        Err("\"fast\" is not one of: direct, overlay, tmpfs".to_string())
    );
}
