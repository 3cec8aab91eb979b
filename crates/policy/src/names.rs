//! File-name patterns for `filesystem.deny_read_names`: which names inside writable roots are
//! hidden.
//!
//! A pattern matches one file name (never a `/`): `*` any run of characters, `?` one
//! character, `[abc]`/`[a-z]`/`[!a-z]` a class. A leading `!` makes an exception. Patterns are
//! read in order and the last one that matches decides, as in `.gitignore`, so the built-in
//! `.env.*` followed by `!.env.example` leaves `.env.example` visible, and a policy's own
//! `!*.pem` after the built-in list shows `.pem` files again.

/// Checks one `deny_read_names` entry.
pub fn validate_name_pattern(pattern: &str) -> Result<(), String> {
    let body = pattern.strip_prefix('!').unwrap_or(pattern);
    if body.is_empty() {
        return Err("empty name pattern".to_string());
    }
    if body.contains('/') {
        return Err("a name pattern matches one file name and holds no '/'".to_string());
    }
    if body.contains('\0') {
        return Err("name pattern holds a NUL byte".to_string());
    }
    if body == "." || body == ".." {
        return Err("a name pattern cannot be . or ..".to_string());
    }
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '[' {
            match class_end(&chars, i) {
                Some(end) => i = end,
                None => return Err("unclosed '[' in name pattern".to_string()),
            }
        }
        i += 1;
    }
    Ok(())
}

/// Whether `name` (one path component) is hidden by `patterns`, read in order, last match
/// deciding.
pub fn is_name_hidden<S: AsRef<str>>(patterns: &[S], name: &str) -> bool {
    let mut hidden = false;
    for p in patterns {
        let p = p.as_ref();
        let (negated, body) = match p.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, p),
        };
        if glob_match(body, name) {
            hidden = !negated;
        }
    }
    hidden
}

/// Matches one file name against one pattern (no `!` handling). A leading `.` in the name is
/// matched by `*` like any character: `*.pem` matches `.pem` too, a secret all the same.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    // The common shapes (`.env`, `*.pem`, `id_rsa*`, `.env.*`) without allocating: the walk
    // over a large workspace calls this for every file name and pattern.
    let special = |c: char| matches!(c, '*' | '?' | '[');
    match pattern.find(special) {
        None => return pattern == name,
        Some(i) if !pattern[i + 1..].contains(special) && pattern[i..].starts_with('*') => {
            let (head, tail) = (&pattern[..i], &pattern[i + 1..]);
            return name.len() >= head.len() + tail.len()
                && name.starts_with(head)
                && name.ends_with(tail);
        }
        _ => {}
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative wildcard matching with one backtrack point: linear in practice, and no
    // recursion for a hostile pattern to blow up.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some(end) = class_end(&p, pi) {
                        if class_matches(&p[pi + 1..end], n[ni]) {
                            pi = end + 1;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Index of the `]` closing the class opened at `open`; a `]` right after `[` or `[!` is a
/// member, not the end.
fn class_end(p: &[char], open: usize) -> Option<usize> {
    let mut i = open + 1;
    if p.get(i) == Some(&'!') {
        i += 1;
    }
    if p.get(i) == Some(&']') {
        i += 1;
    }
    while i < p.len() {
        if p[i] == ']' {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn class_matches(class: &[char], c: char) -> bool {
    let (negated, body) = match class.first() {
        Some('!') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut hit = false;
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            if body[i] <= c && c <= body[i + 2] {
                hit = true;
            }
            i += 3;
        } else {
            if body[i] == c {
                hit = true;
            }
            i += 1;
        }
    }
    hit != negated
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
