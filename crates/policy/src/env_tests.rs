use super::*;

#[test]
fn ordinary_variables_pass() {
    let plain = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("HOME", "/home/dev"),
        ("TERM", "xterm-256color"),
        ("LANG", "en_US.UTF-8"),
        ("USER", "dev"),
        ("SHELL", "/bin/bash"),
        ("PWD", "/home/dev/project"),
        ("OLDPWD", "/home/dev"),
        ("EDITOR", "nvim"),
        ("GIT_AUTHOR_NAME", "Ada Lovelace"),
        ("GIT_AUTHOR_EMAIL", "ada@example.test"),
        ("GIT_COMMITTER_NAME", "Ada Lovelace"),
        ("AUTHOR", "Ada"),
        ("RUST_LOG", "debug"),
        ("CARGO_HOME", "/home/dev/.cargo"),
        ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ("TOKENIZERS_PARALLELISM", "false"),
        ("KEYMAP", "sk-qwerty"),
        ("LS_COLORS", "rs=0:di=01;34:*.tar=01;31:*.key=01;32"),
        ("HTTP_PROXY", "http://127.0.0.1:3128"),
        ("MONKEY", "banana"),
        ("DESKTOP_SESSION", "gnome"),
        ("NOTE", "task-runner and desk-top widgets"),
    ];
    for (name, value) in plain {
        assert!(
            !is_secret_env(name, value),
            "{name}={value} was taken for a secret"
        );
    }
}

#[test]
fn secret_names_are_caught() {
    let secret = [
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "CARGO_REGISTRY_TOKEN",
        "NPM_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SESSION_TOKEN",
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "STRIPE_APIKEY",
        "DB_PASSWORD",
        "PGPASSWORD",
        "MYSQL_PWD",
        "SMTP_PASSWD",
        "GPG_PASSPHRASE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AZURE_CLIENT_SECRET",
        "SSH_AUTH_SOCK",
        "GPG_AGENT_INFO",
        "KUBECONFIG",
        "DOCKER_AUTH_CONFIG",
        "VAULT_TOKEN",
        "NPM_CONFIG__AUTH",
        "GH_AUTH",
        "OAUTH_CLIENT",
        "HTTP_AUTHORIZATION",
        "SESSION_COOKIE",
        "FLASK_SESSION_KEY",
        "JWT_PRIVATE_KEY",
        "STRIPE_KEY",
        "AZURE_DEVOPS_EXT_PAT",
        "SENTRY_DSN",
        "DATABASE_URL",
        "github_token",
    ];
    for name in secret {
        assert!(is_secret_env(name, "x"), "{name} was passed through");
    }
}

#[test]
fn secret_values_are_caught_under_any_name() {
    let secret = [
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "glpat-xxxxxxxxxxxxxxxxxxxx",
        "sk-ant-api03-aaaaaaaaaaaaaaaaaaaaaaaa",
        "sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa",
        "xoxb-1234567890-1234567890123-abcdefghijkl",
        "AKIAABCDEFGHIJKLMNOP",
        "ASIAABCDEFGHIJKLMNOP",
        "AIzaSyA-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "ya29.a0AfH6SMaaaaaaaaaaaaaaaaaa",
        "npm_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "pypi-AgEIcHlwaS5vcmcaaaaaaaaaaaaa",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
        "Bearer ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "http.extraheader=Authorization: token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "postgres://app:hunter2@db.test:5432/app",
        "http://user:pw@127.0.0.1:3128",
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc==",
    ];
    for value in secret {
        assert!(
            is_secret_env("SOME_VAR", value),
            "value {value:?} was passed through"
        );
    }
}

#[test]
fn near_misses_in_values_pass() {
    let plain = [
        "sk-short",
        "ghp_",
        "AKIA",
        "https://example.test/path?user=a:b@c",
        "git@127.0.0.1:repo.git",
        "mailto:someone@example.test",
        "eyJ",
    ];
    for value in plain {
        assert!(
            !is_secret_env("SOME_VAR", value),
            "value {value:?} was taken for a secret"
        );
    }
}
