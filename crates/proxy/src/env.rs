//! The sandbox side: environment variables that point clients at the proxy, and
//! `palisade proxy-connect HOST PORT`, an SSH ProxyCommand that runs inside the sandbox.
//! `proxy_connect_stdio` is std-only and blocking: no tokio, no tracing inside the sandbox.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;

/// Env vars for a sandbox whose proxy listens on 127.0.0.1:`port`.
pub fn sandbox_env(port: u16, palisade_exe: &Path) -> Vec<(String, String)> {
    let http = format!("http://127.0.0.1:{port}");
    // socks5h: the client hands the *name* to the proxy; there is no resolver inside.
    let socks = format!("socks5h://127.0.0.1:{port}");
    let exe = sh_quote(&palisade_exe.to_string_lossy());
    let proxy_command = format!("ProxyCommand={exe} proxy-connect %h %p");
    let mut env = Vec::new();
    for (name, value) in [
        ("HTTP_PROXY", http.as_str()),
        ("HTTPS_PROXY", http.as_str()),
        ("ALL_PROXY", socks.as_str()),
        // Empty on purpose: an allowed loopback target (localhost:8765) exists only on the
        // host, so it must go through the proxy, never "directly" into the empty namespace.
        ("NO_PROXY", ""),
    ] {
        env.push((name.to_string(), value.to_string()));
        env.push((name.to_ascii_lowercase(), value.to_string()));
    }
    env.push(("NODE_USE_ENV_PROXY".into(), "1".into()));
    env.push(("RSYNC_PROXY".into(), format!("127.0.0.1:{port}")));
    env.push((
        "GIT_SSH_COMMAND".into(),
        format!("ssh -o {}", sh_quote(&proxy_command)),
    ));
    env
}

/// Quotes for POSIX `sh`: safe words as they are, anything else in single quotes.
fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:-,=+@%".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Where `proxy-connect` finds the proxy inside the sandbox: the loopback address of
/// `HTTP_PROXY` (as [`sandbox_env`] sets it), else 127.0.0.1:3128.
pub fn proxy_addr_from_env() -> SocketAddr {
    let from_env = std::env::var("HTTP_PROXY").ok().and_then(|v| {
        let rest = v.strip_prefix("http://")?.trim_end_matches('/');
        rest.parse::<SocketAddr>()
            .ok()
            .filter(|a| a.ip().is_loopback())
    });
    from_env.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3128)))
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid host `{0}`")]
    BadHost(String),
    #[error("proxy at {addr}: {source}")]
    Io { addr: SocketAddr, source: io::Error },
    #[error("the proxy answered something that is not HTTP")]
    BadResponse,
    #[error("{0}")]
    Refused(String),
}

/// CONNECTs through the proxy to `host:port` and splices stdin/stdout onto the tunnel until
/// the remote side closes.
pub fn proxy_connect_stdio(proxy: SocketAddr, host: &str, port: u16) -> Result<(), ConnectError> {
    let bad = host.is_empty()
        || host
            .bytes()
            .any(|b| !b.is_ascii_graphic() || b"@/\\?#".contains(&b));
    if bad {
        return Err(ConnectError::BadHost(host.escape_default().to_string()));
    }
    let authority = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let io_err = |source| ConnectError::Io {
        addr: proxy,
        source,
    };
    let mut sock = TcpStream::connect(proxy).map_err(io_err)?;
    let _ = sock.set_nodelay(true);
    let request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    sock.write_all(request.as_bytes()).map_err(io_err)?;
    let head = read_head(&mut sock).map_err(io_err)?;
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.split(' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(ConnectError::BadResponse);
    }
    if !code.starts_with('2') {
        let mut body = Vec::new();
        let _ = sock.take(2048).read_to_end(&mut body);
        let text = String::from_utf8_lossy(&body);
        let line = text
            .lines()
            .next()
            .filter(|l| !l.is_empty())
            .unwrap_or(status_line);
        return Err(ConnectError::Refused(line.to_string()));
    }
    splice_stdio(sock).map_err(io_err)
}

/// Reads the response head one byte at a time so no tunnel byte is consumed with it.
fn read_head(sock: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response head too long",
            ));
        }
        match sock.read(&mut byte)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => head.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn splice_stdio(sock: TcpStream) -> io::Result<()> {
    let mut to_remote = sock.try_clone()?;
    // stdin -> tunnel on its own thread; its EOF becomes a half-close so the remote sees it.
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut to_remote);
        let _ = to_remote.shutdown(Shutdown::Write);
    });
    let mut from_remote = sock;
    let mut out = io::stdout().lock();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = from_remote.read(&mut buf)?;
        if n == 0 {
            return out.flush();
        }
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_points_every_client_at_the_proxy() {
        let env = sandbox_env(3128, Path::new("/opt/pal isade/bin/palisade"));
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HTTPS_PROXY"), Some("http://127.0.0.1:3128"));
        assert_eq!(get("http_proxy"), Some("http://127.0.0.1:3128"));
        assert_eq!(get("all_proxy"), Some("socks5h://127.0.0.1:3128"));
        assert_eq!(get("NO_PROXY"), Some(""));
        assert_eq!(get("no_proxy"), Some(""));
        assert_eq!(get("NODE_USE_ENV_PROXY"), Some("1"));
        assert_eq!(
            get("GIT_SSH_COMMAND"),
            Some("ssh -o 'ProxyCommand='\\''/opt/pal isade/bin/palisade'\\'' proxy-connect %h %p'")
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("/usr/bin/palisade"), "/usr/bin/palisade");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("$(x)"), "'$(x)'");
    }

    #[test]
    fn refuses_hosts_that_would_inject_into_the_request() {
        let proxy: SocketAddr = ([127, 0, 0, 1], 9).into();
        for h in ["", "a b", "a\r\nX: y", "user@host", "a/b"] {
            assert!(matches!(
                proxy_connect_stdio(proxy, h, 22),
                Err(ConnectError::BadHost(_))
            ));
        }
    }
}
