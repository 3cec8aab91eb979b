//! `palisade log FILE [--denied] [--follow]`: the audit log as a readable table.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot read {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Prints the log as a table; with `follow`, keeps printing lines as they are appended (until
/// the caller's process is interrupted).
pub fn print_log(
    path: &Path,
    denied_only: bool,
    follow: bool,
    out: &mut dyn Write,
) -> Result<(), LogError> {
    let file = File::open(path).map_err(|source| LogError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    writeln!(
        out,
        "{:<12} {:<7} {:<8} {:<6} {:<18} {:<32} DETAIL",
        "TIME", "ENTRY", "EVENT", "RESULT", "REASON", "TARGET"
    )?;
    let mut partial = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        if n == 0 {
            if !follow {
                // A last line without its newline is still shown.
                if !partial.is_empty() {
                    print_line(&partial, denied_only, out)?;
                }
                return Ok(());
            }
            out.flush()?;
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        partial.push_str(&line);
        if !partial.ends_with('\n') {
            continue; // a writer is mid-line; wait for the rest
        }
        print_line(&partial, denied_only, out)?;
        partial.clear();
    }
}

fn print_line(line: &str, denied_only: bool, out: &mut dyn Write) -> io::Result<()> {
    let line = line.trim_end();
    if line.is_empty() {
        return Ok(());
    }
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        if !denied_only {
            writeln!(out, "(unreadable line: {} bytes)", line.len())?;
        }
        return Ok(());
    };
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let decision = s("decision");
    if denied_only && decision != "deny" {
        return Ok(());
    }
    let ts = s("ts");
    let time = ts.get(11..23).unwrap_or(ts);
    let result = match (s("ev"), decision) {
        ("close", _) => "-",
        (_, "") => "-",
        (_, d) => d,
    };
    writeln!(
        out,
        "{:<12} {:<7} {:<8} {:<6} {:<18} {:<32} {}",
        time,
        s("entry"),
        s("ev"),
        result,
        s("reason"),
        target_text(&v),
        detail_text(&v)
    )
}

fn target_text(v: &Value) -> String {
    let t = v.get("target");
    let get = |k: &str| t.and_then(|t| t.get(k));
    match (
        get("host").and_then(Value::as_str),
        get("port").and_then(Value::as_u64),
    ) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        _ => get("raw")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string(),
    }
}

fn detail_text(v: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(h) = v.get("http") {
        let s = |k: &str| h.get(k).and_then(Value::as_str).unwrap_or("");
        let status = h
            .get("status")
            .and_then(Value::as_u64)
            .map(|c| c.to_string());
        parts.push(format!(
            "{} {} {}",
            s("method"),
            s("path"),
            status.unwrap_or_default()
        ));
    }
    if let Some(creds) = v.get("cred").and_then(Value::as_array) {
        for c in creds {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("?");
            parts.push(format!("cred {}:{}", s("id"), s("action")));
        }
    }
    if let Some(sni) = v.pointer("/target/sni").and_then(Value::as_str) {
        parts.push(format!("sni={sni}"));
    }
    if let Some(chosen) = v.pointer("/resolved/chosen").and_then(Value::as_str) {
        parts.push(format!("via {chosen}"));
    }
    if let Some(dropped) = v.pointer("/resolved/dropped").and_then(Value::as_object) {
        let d: Vec<String> = dropped.iter().map(|(k, n)| format!("{k}:{n}")).collect();
        if !d.is_empty() {
            parts.push(format!("dropped {}", d.join(",")));
        }
    }
    if let Some(b) = v.get("bytes") {
        let n = |k: &str| b.get(k).and_then(Value::as_u64).unwrap_or(0);
        parts.push(format!("up {} down {}", n("up"), n("down")));
    }
    if let Some(ms) = v.pointer("/ms/total").and_then(Value::as_u64) {
        parts.push(format!("{ms} ms"));
    }
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        parts.push(e.to_string());
    }
    parts.join("  ")
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
mod tests {
    use super::*;

    #[test]
    fn table_shows_decisions_and_filters_denied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let lines = [
            r#"{"ts":"2026-01-02T03:04:05.678901Z","v":1,"seq":1,"ev":"decision","entry":"connect","target":{"host":"evil.test","port":443},"decision":"deny","reason":"no_rule","error":"no allow entry matches"}"#,
            r#"{"ts":"2026-01-02T03:04:06.000000Z","v":1,"seq":2,"ev":"request","entry":"http","target":{"host":"ok.test","port":80},"decision":"allow","reason":"ok","http":{"ver":"HTTP/1.1","method":"GET","path":"/x","status":200},"cred":[{"id":"gh","action":"injected"}],"bytes":{"up":0,"down":12}}"#,
            "not json",
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let mut out = Vec::new();
        print_log(&path, false, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 4, "{text}");
        assert!(
            rows[1].starts_with("03:04:05.678 connect decision deny   no_rule"),
            "{text}"
        );
        assert!(rows[1].contains("evil.test:443"));
        assert!(
            rows[2].contains("GET /x 200  cred gh:injected") && rows[2].contains("up 0 down 12"),
            "{text}"
        );
        assert!(rows[3].contains("unreadable"));

        let mut out = Vec::new();
        print_log(&path, true, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("evil.test:443"));
    }
}
