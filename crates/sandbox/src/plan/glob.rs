//! File-name globs for the built-in secret names (`*.pem`, `.env.*`): `*` and `?` only, matched
//! against one path component, never across `/`.

pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn matches_secret_name_patterns() {
        assert!(glob_match("*.pem", "server.pem"));
        assert!(glob_match(".env*", ".env"));
        assert!(glob_match(".env*", ".env.local"));
        assert!(glob_match("*-service-account.json", "prod-service-account.json"));
        assert!(glob_match("id_rsa?", "id_rsa2"));
        assert!(!glob_match("*.pem", "server.pem.txt"));
        assert!(!glob_match(".env*", "my.env"));
        assert!(!glob_match("*.key", "keyring"));
    }
}
