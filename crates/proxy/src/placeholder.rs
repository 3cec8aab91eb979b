//! Placeholders: random per run, shaped like the real value so CLIs that check a token's
//! form still start. The known prefix (`ghp_`, `sk-ant-`, ...) is kept, the length is the
//! same, and the random part draws from the character classes the real value's rest uses.
//! Nothing else of the value carries over: no character of the rest is copied.

use ring::rand::{SecureRandom, SystemRandom};

/// Token prefixes kept as they are (longest match wins). Anything else needs
/// `placeholder.prefix` in the policy: guessing a prefix could copy secret characters.
const KNOWN_PREFIXES: &[&str] = &[
    "github_pat_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "sk-ant-api03-",
    "sk-ant-",
    "sk-proj-",
    "sk-",
    "xoxb-",
    "xoxp-",
    "glpat-",
    "npm_",
    "pypi-",
    "hf_",
];

/// Random part never shorter than this, so a placeholder is unique enough to search for.
const MIN_RANDOM: usize = 16;

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGIT: &[u8] = b"0123456789";

/// A placeholder for `secret`, with `prefix` (from the policy) or a known prefix.
pub fn shaped(secret: &[u8], prefix: Option<&str>) -> String {
    let prefix = match prefix {
        Some(p) => p,
        None => KNOWN_PREFIXES
            .iter()
            .filter(|p| secret.starts_with(p.as_bytes()))
            .max_by_key(|p| p.len())
            .copied()
            .unwrap_or(""),
    };
    let rest = secret.strip_prefix(prefix.as_bytes()).unwrap_or(secret);
    let alphabet = alphabet_of(rest);
    let len = rest.len().max(MIN_RANDOM);
    loop {
        let mut out = prefix.to_string();
        out.extend(random_from(&alphabet, len).into_iter().map(char::from));
        // A collision with the value is astronomically unlikely; it must still never happen.
        if out.as_bytes() != secret {
            return out;
        }
    }
}

/// The classes (lower, upper, digit) present in `rest`, plus each ASCII punctuation byte it
/// uses; letters and digits when `rest` has none of them.
fn alphabet_of(rest: &[u8]) -> Vec<u8> {
    let mut alphabet = Vec::new();
    for class in [LOWER, UPPER, DIGIT] {
        if rest.iter().any(|b| class.contains(b)) {
            alphabet.extend_from_slice(class);
        }
    }
    if alphabet.is_empty() {
        alphabet.extend_from_slice(LOWER);
        alphabet.extend_from_slice(DIGIT);
    }
    // Punctuation only as extra symbols: a value of only symbols still gets letters above.
    let mut symbols: Vec<u8> = rest
        .iter()
        .copied()
        .filter(|b| b.is_ascii_punctuation())
        .collect();
    symbols.sort_unstable();
    symbols.dedup();
    alphabet.extend(symbols);
    alphabet
}

fn random_from(alphabet: &[u8], len: usize) -> Vec<u8> {
    let rng = SystemRandom::new();
    let n = alphabet.len();
    // Rejection sampling: only bytes below the largest multiple of n, so no bias.
    let limit = 256 - 256 % n;
    let mut out = Vec::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        if rng.fill(&mut buf).is_err() {
            // The kernel RNG does not fail on Linux once booted; try again rather than weaken.
            continue;
        }
        for b in buf {
            if usize::from(b) < limit && out.len() < len {
                out.push(alphabet[usize::from(b) % n]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(s: &[u8]) -> [bool; 3] {
        [LOWER, UPPER, DIGIT].map(|c| s.iter().any(|b| c.contains(b)))
    }

    #[test]
    fn keeps_known_prefix_length_and_classes() {
        let secret = b"ghp_aB3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c";
        let p = shaped(secret, None);
        assert!(p.starts_with("ghp_"), "{p}");
        assert_eq!(p.len(), secret.len());
        assert_ne!(p.as_bytes(), secret);
        assert!(p[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        let again = shaped(secret, None);
        assert_ne!(p, again, "placeholders are random per run");

        let ant = b"sk-ant-api03-abcdefghij_klmnop-qrstuv0123456789";
        let p = shaped(ant, None);
        assert!(p.starts_with("sk-ant-api03-"), "{p}");
        assert_eq!(p.len(), ant.len());
        let rest = &p.as_bytes()[13..];
        assert!(rest
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(b)));
        assert!(!classes(rest)[1], "no upper case in the value, none in {p}");
    }

    #[test]
    fn unknown_prefix_copies_nothing_and_policy_prefix_is_used() {
        let secret = b"abc-SECRETPART-123456";
        let p = shaped(secret, None);
        assert!(!p.contains("abc-"), "{p}");
        assert_eq!(p.len(), secret.len());
        let p = shaped(b"tok_0123456789abcdef01", Some("tok_"));
        assert!(p.starts_with("tok_"));
        assert_eq!(p.len(), 22);
        // A short value still gets a searchable placeholder.
        assert_eq!(shaped(b"x1", None).len(), MIN_RANDOM);
    }
}
