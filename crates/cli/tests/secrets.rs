//! Secrets stay hidden: the built-in home list, secret file names inside the workspace, and
//! `--deny-read` paths. Hidden means reads fail and writes fail too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod common;

use common::*;

#[test]
fn home_secrets_are_unreadable() {
    let t = Scratch::new("home-secrets");
    write(&t.home.join(".ssh/id_rsa"), "PRIVATE KEY\n");
    write(&t.home.join(".ssh/config"), "Host x\n");
    write(&t.home.join(".aws/credentials"), "[default]\nkey=abc\n");
    write(
        &t.home.join(".git-credentials"),
        "https://u:p@example.invalid\n",
    );
    write(&t.home.join(".netrc"), "machine x login y password z\n");
    write(&t.home.join(".config/gcloud/creds.json"), "{}\n");
    write(&t.home.join("visible.txt"), "fine\n");
    let ops = [
        format!("read:{}", s(&t.home.join(".ssh/id_rsa"))),
        format!("read:{}", s(&t.home.join(".ssh/config"))),
        format!("list:{}", s(&t.home.join(".ssh"))),
        format!("read:{}", s(&t.home.join(".aws/credentials"))),
        format!("list:{}", s(&t.home.join(".aws"))),
        format!("read:{}", s(&t.home.join(".git-credentials"))),
        format!("read:{}", s(&t.home.join(".netrc"))),
        format!("read:{}", s(&t.home.join(".config/gcloud/creds.json"))),
    ];
    let visible = format!("read:{}", s(&t.home.join("visible.txt")));
    let mut all: Vec<&str> = ops.iter().map(String::as_str).collect();
    all.push(&visible);
    let p = t.probe(&[], &all);
    p.out.assert_ok();
    for op in &ops {
        if op.starts_with("list:") {
            // An empty listing is as good as a refusal: nothing of the contents shows.
            let got = p.get(op);
            assert!(
                got == "OK " || DENIED_READ.contains(&got),
                "{op}: got {got:?}\n{}",
                p.out
            );
        } else {
            p.expect(op, DENIED_READ);
        }
    }
    assert_eq!(p.ok_detail(&visible), "fine");
}

#[test]
fn home_secrets_are_unreadable_with_the_workspace_at_home() {
    let t = Scratch::new("home-secrets-ws-home");
    write(&t.home.join(".ssh/id_rsa"), "PRIVATE KEY\n");
    write(&t.home.join(".aws/credentials"), "[default]\n");
    let r1 = format!("read:{}", s(&t.home.join(".ssh/id_rsa")));
    let r2 = format!("read:{}", s(&t.home.join(".aws/credentials")));
    let w1 = format!("write:{}", s(&t.home.join(".ssh/authorized_keys")));
    let w2 = format!("write:{}", s(&t.home.join(".aws/config")));
    let p = t.probe(&["--workspace", &s(&t.home)], &[&r1, &r2, &w1, &w2]);
    p.out.assert_ok();
    p.expect(&r1, DENIED_READ).expect(&r2, DENIED_READ);
    p.expect(&w1, DENIED_WRITE).expect(&w2, DENIED_WRITE);
    assert!(!t.home.join(".ssh/authorized_keys").exists());
    assert!(!t.home.join(".aws/config").exists());
}

#[test]
fn secret_names_in_the_workspace_are_unreadable() {
    let t = Scratch::new("ws-secrets");
    write(&t.ws.join(".env"), "API_KEY=1\n");
    write(&t.ws.join(".env.local"), "API_KEY=2\n");
    write(&t.ws.join("x.pem"), "-----BEGIN-----\n");
    write(&t.ws.join("deep/dir/server.key"), "KEY\n");
    write(&t.ws.join("svc-service-account.json"), "{}\n");
    write(&t.ws.join(".env.example"), "API_KEY=\n");
    write(&t.ws.join("main.py"), "print(1)\n");
    let p = t.probe(
        &[],
        &[
            "read:.env",
            "read:.env.local",
            "read:x.pem",
            "read:deep/dir/server.key",
            "read:svc-service-account.json",
            "write:.env:STOLEN=1",
            "write:x.pem:overwritten",
            "read:.env.example",
            "read:main.py",
        ],
    );
    p.out.assert_ok();
    for op in [
        "read:.env",
        "read:.env.local",
        "read:x.pem",
        "read:deep/dir/server.key",
        "read:svc-service-account.json",
    ] {
        p.expect(op, DENIED_READ);
    }
    p.expect("write:.env:STOLEN=1", DENIED_WRITE);
    p.expect("write:x.pem:overwritten", DENIED_WRITE);
    assert_eq!(p.ok_detail("read:.env.example"), "API_KEY=");
    assert_eq!(p.ok_detail("read:main.py"), "print(1)");
    assert_eq!(read(&t.ws.join(".env")), "API_KEY=1\n");
    assert_eq!(read(&t.ws.join("x.pem")), "-----BEGIN-----\n");
}

#[test]
fn write_into_a_hidden_dir_fails_and_lands_nowhere() {
    let t = Scratch::new("hidden-dir-write");
    write(&t.home.join(".ssh/known_hosts"), "h\n");
    let hidden = t.root.join("private");
    write(&hidden.join("data.txt"), "secret\n");
    let w1 = format!("write:{}:planted", s(&t.home.join(".ssh/new_key")));
    let w2 = format!("write:{}:planted", s(&hidden.join("new.txt")));
    let m = format!("mkdir:{}", s(&hidden.join("sub")));
    let r = format!("read:{}", s(&hidden.join("new.txt")));
    let p = t.probe(
        &["--deny-read", &s(&hidden), "--allow-write", &s(&hidden)],
        &[&w1, &w2, &m, &r],
    );
    p.out.assert_ok();
    p.expect(&w1, DENIED_WRITE);
    p.expect(&w2, DENIED_WRITE);
    p.expect(&m, DENIED_WRITE);
    p.expect(&r, DENIED_READ);
    assert!(!t.home.join(".ssh/new_key").exists());
    assert!(!hidden.join("new.txt").exists());
}

#[test]
fn deny_read_of_a_file_inside_the_workspace_stays_hidden() {
    let t = Scratch::new("deny-file-in-ws");
    write(&t.ws.join("conf/secret.txt"), "s3cret\n");
    write(&t.ws.join("conf/public.txt"), "public\n");
    let p = t.probe(
        &["--deny-read", "conf/secret.txt"],
        &[
            "read:conf/secret.txt",
            "write:conf/secret.txt:overwritten",
            "read:conf/public.txt",
            "write:conf/other.txt:new",
        ],
    );
    p.out.assert_ok();
    p.expect("read:conf/secret.txt", DENIED_READ);
    p.expect("write:conf/secret.txt:overwritten", DENIED_WRITE);
    assert_eq!(p.ok_detail("read:conf/public.txt"), "public");
    p.expect("write:conf/other.txt:new", &["OK"]);
    assert_eq!(read(&t.ws.join("conf/secret.txt")), "s3cret\n");
}

#[test]
fn deny_read_of_a_file_inside_an_allowed_dir_stays_hidden() {
    let t = Scratch::new("deny-file-in-allowed");
    let dir = t.root.join("shared");
    write(&dir.join("token"), "tok\n");
    write(&dir.join("ok.txt"), "ok\n");
    let token = s(&dir.join("token"));
    let r = format!("read:{token}");
    let ok = format!("read:{}", s(&dir.join("ok.txt")));
    let w = format!("write:{}", s(&dir.join("new.txt")));
    // Both flag orders: rules must not depend on the order they were given in.
    for flags in [
        ["--allow-write", &s(&dir), "--deny-read", &token],
        ["--deny-read", &token, "--allow-write", &s(&dir)],
    ] {
        let p = t.probe(&flags, &[&r, &ok, &w]);
        p.out.assert_ok();
        p.expect(&r, DENIED_READ);
        assert_eq!(p.ok_detail(&ok), "ok");
        p.expect(&w, &["OK"]);
    }
}
