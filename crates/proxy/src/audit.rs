//! The JSON-lines audit log (schema v1) and the denied-target tally for the exit summary.
//!
//! One line per decision, per plain-HTTP request and per tunnel close. Never logged: header
//! values, bodies, query strings, userinfo, secrets.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::decide::{Mode, Reason};
use crate::target::{Entry, Target};

#[derive(Debug, Default, Serialize)]
pub struct TargetLog {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
}

impl TargetLog {
    pub fn of(t: &Target) -> Self {
        TargetLog {
            host: Some(t.host.to_string()),
            port: Some(t.port),
            kind: Some(t.kind()),
            ..TargetLog::default()
        }
    }

    pub fn raw(raw: &str) -> Self {
        TargetLog {
            raw: Some(raw.to_string()),
            ..TargetLog::default()
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct ResolvedLog {
    pub addrs: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dropped: BTreeMap<&'static str, u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct HttpLog {
    pub ver: &'static str,
    pub method: String,
    /// The path without its query string.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// What happened to one credential on one request: its id and the action, never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredLog {
    pub id: String,
    /// `injected`, `client_value_replaced` or `blocked_scope`.
    pub action: &'static str,
}

impl CredLog {
    pub fn new(id: &str, action: &'static str) -> Self {
        CredLog {
            id: id.to_string(),
            action,
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct BytesLog {
    pub up: u64,
    pub down: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct MsLog {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// One audit line minus the common header fields.
#[derive(Debug, Default, Serialize)]
pub struct Event {
    /// `decision`, `request` or `close`.
    pub ev: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub req: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetLog>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<ResolvedLog>,
    /// `allow` or `deny`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// A [`Reason`] code on decisions and requests; how the tunnel ended on close lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpLog>,
    /// Credentials acted on, one entry each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cred: Vec<CredLog>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<BytesLog>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<MsLog>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    v: u8,
    seq: u64,
    sandbox: &'a str,
    policy_gen: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// One denied target in the exit summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedTarget {
    /// `host:port`, or the escaped raw target when it did not parse.
    pub target: String,
    pub reason: Reason,
    pub count: u64,
}

pub struct Audit {
    file: Option<Mutex<File>>,
    seq: AtomicU64,
    sandbox: String,
    policy_gen: String,
    denied: Mutex<BTreeMap<(String, Reason), u64>>,
    warned: AtomicBool,
}

impl Audit {
    /// Opens (appends to) the log file, created 0600; `None` keeps only the denied tally.
    pub fn open(path: Option<&Path>, sandbox: &str, policy_gen: &str) -> io::Result<Self> {
        let file = match path {
            Some(p) => Some(Mutex::new(
                File::options()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(p)?,
            )),
            None => None,
        };
        Ok(Audit {
            file,
            seq: AtomicU64::new(0),
            sandbox: sandbox.to_string(),
            policy_gen: policy_gen.to_string(),
            denied: Mutex::new(BTreeMap::new()),
            warned: AtomicBool::new(false),
        })
    }

    /// Writes one line; a denial is also counted for [`Audit::denied`].
    pub fn record(&self, event: &Event, denied: Option<(String, Reason)>) {
        if let Some(key) = denied {
            let mut map = self.denied.lock().unwrap_or_else(|e| e.into_inner());
            *map.entry(key).or_default() += 1;
        }
        let Some(file) = &self.file else { return };
        let line = Line {
            ts: rfc3339_micros(SystemTime::now()),
            v: 1,
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            sandbox: &self.sandbox,
            policy_gen: &self.policy_gen,
            event,
        };
        let Ok(mut text) = serde_json::to_vec(&line) else {
            return;
        };
        text.push(b'\n');
        let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
        // One write per line on an O_APPEND file, so a reader never sees a torn line.
        if let Err(e) = f.write_all(&text) {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!("audit log write failed: {e}");
            }
        }
    }

    pub fn denied(&self) -> Vec<DeniedTarget> {
        let map = self.denied.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|((target, reason), count)| DeniedTarget {
                target: target.clone(),
                reason: *reason,
                count: *count,
            })
            .collect()
    }
}

/// The one-line exit summary, or `None` when nothing was denied.
pub fn summary_line(denied: &[DeniedTarget]) -> Option<String> {
    if denied.is_empty() {
        return None;
    }
    let total: u64 = denied.iter().map(|d| d.count).sum();
    let name = |d: &DeniedTarget| match d.target.as_str() {
        "" => "(malformed request)".to_string(),
        t => t.to_string(),
    };
    let shown: Vec<String> = denied
        .iter()
        .take(5)
        .map(|d| match d.count {
            1 => format!("{} ({})", name(d), d.reason.as_str()),
            n => format!("{} ({}, {n}x)", name(d), d.reason.as_str()),
        })
        .collect();
    let more = match denied.len() {
        n if n > 5 => format!(" and {} more", n - 5),
        _ => String::new(),
    };
    // The allow flag only helps with refusals the allowlist made; a credential-scope,
    // tunnel-limit or malformed-request refusal is not fixed by allowing a host.
    let by_policy = denied.iter().any(|d| {
        matches!(
            d.reason,
            Reason::NoRule
                | Reason::DenyRule
                | Reason::PortNotAllowed
                | Reason::IpLiteral
                | Reason::LocalTarget
                | Reason::NonPublicIp
        )
    });
    let hint = if by_policy {
        "allow one with --allow-domain HOST:PORT, see `palisade log --denied`"
    } else {
        "see `palisade log --denied`"
    };
    Some(format!(
        "palisade: network denied {total} connection(s): {}{more}; {hint}",
        shown.join(", ")
    ))
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ` in UTC.
pub fn rfc3339_micros(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn summary_hints_at_the_allow_flag_only_for_policy_refusals() {
        let d = |target: &str, reason| DeniedTarget {
            target: target.into(),
            reason,
            count: 1,
        };
        let policy = summary_line(&[d("x.test:443", Reason::NoRule)]).unwrap();
        assert_eq!(
            policy,
            "palisade: network denied 1 connection(s): x.test:443 (no_rule); allow one with \
             --allow-domain HOST:PORT, see `palisade log --denied`"
        );
        let other = summary_line(&[d("", Reason::BadRequest), d("x.test:443", Reason::Limit)]);
        assert_eq!(
            other.unwrap(),
            "palisade: network denied 2 connection(s): (malformed request) (bad_request), \
             x.test:443 (limit); see `palisade log --denied`"
        );
        assert_eq!(summary_line(&[]), None);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = UNIX_EPOCH + Duration::from_micros(1_780_000_000_123_456);
        assert_eq!(rfc3339_micros(t), "2026-05-28T20:26:40.123456Z");
        assert_eq!(rfc3339_micros(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339_micros(leap), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn lines_carry_header_and_skip_empty_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let audit = Audit::open(Some(&path), "sbx1", "abc").unwrap();
        let ev = Event {
            ev: "decision",
            decision: Some("deny"),
            reason: Some(Reason::NoRule.as_str()),
            ..Event::default()
        };
        audit.record(&ev, Some(("evil.test:443".into(), Reason::NoRule)));
        audit.record(&ev, Some(("evil.test:443".into(), Reason::NoRule)));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["seq"], 2);
        assert_eq!(lines[0]["sandbox"], "sbx1");
        assert_eq!(lines[0]["reason"], "no_rule");
        assert!(lines[0].get("http").is_none());
        let denied = audit.denied();
        assert_eq!(denied[0].count, 2);
        let line = summary_line(&denied).unwrap();
        assert!(line.contains("evil.test:443 (no_rule, 2x)"), "{line}");
    }
}
