//! A ClientHello reader for spliced tunnels: just enough TLS to find the server name and
//! whether ECH is offered, without terminating anything. The hello may span several records.

/// Most ClientHellos are under 2 KiB; post-quantum key shares push some past 1.5 KiB. Refuse
/// anything longer than this rather than buffer without bound.
pub const MAX_HELLO: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hello {
    /// More bytes are needed to decide.
    NeedMore,
    /// The first byte is not a TLS handshake record.
    NotTls,
    /// A complete ClientHello.
    Parsed { sni: Option<String>, ech: bool },
    /// TLS framing, but not a ClientHello we can read (or too large).
    Malformed(&'static str),
}

/// Reads the ClientHello at the start of `buf` (the client's first bytes).
pub fn parse_client_hello(buf: &[u8]) -> Hello {
    match buf.first() {
        None => return Hello::NeedMore,
        Some(0x16) => {}
        Some(_) => return Hello::NotTls,
    }
    // Reassemble the handshake layer from consecutive handshake records.
    let mut hs = Vec::new();
    let mut pos = 0;
    let needed = loop {
        let Some(header) = buf.get(pos..pos + 5) else {
            return Hello::NeedMore;
        };
        if header[0] != 0x16 {
            return Hello::Malformed("record after the first is not a handshake record");
        }
        if header[1] != 3 {
            return Hello::Malformed("unknown record version");
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let Some(body) = buf.get(pos + 5..pos + 5 + len) else {
            return Hello::NeedMore;
        };
        hs.extend_from_slice(body);
        pos += 5 + len;
        if hs.len() >= 4 {
            if hs[0] != 0x01 {
                return Hello::Malformed("first handshake message is not a ClientHello");
            }
            let need =
                4 + (usize::from(hs[1]) << 16 | usize::from(hs[2]) << 8 | usize::from(hs[3]));
            if need > MAX_HELLO {
                return Hello::Malformed("ClientHello too large");
            }
            if hs.len() >= need {
                break need;
            }
        }
        if pos > MAX_HELLO + 5 * 8 {
            return Hello::Malformed("ClientHello too large");
        }
    };
    match read_hello_body(&hs[4..needed]) {
        Some((sni, ech)) => Hello::Parsed { sni, ech },
        None => Hello::Malformed("truncated ClientHello"),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| usize::from(b[0]))
    }

    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(n)
    }

    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// Returns (server name, ECH offered). A server name that is not valid UTF-8 is returned
/// lossily, so the comparison with the CONNECT host fails rather than being skipped.
fn read_hello_body(body: &[u8]) -> Option<(Option<String>, bool)> {
    let mut r = Reader { buf: body };
    r.take(2 + 32)?; // legacy_version, random
    r.vec8()?; // legacy_session_id
    r.vec16()?; // cipher_suites
    r.vec8()?; // legacy_compression_methods
    if r.buf.is_empty() {
        return Some((None, false));
    }
    let mut exts = Reader { buf: r.vec16()? };
    let (mut sni, mut ech) = (None, false);
    while !exts.buf.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        match kind {
            0x0000 => {
                if sni.is_some() {
                    return None; // a repeated extension is a protocol error
                }
                sni = Some(read_server_name(data)?);
            }
            0xfe0d => ech = true,
            _ => {}
        }
    }
    Some((sni, ech))
}

fn read_server_name(data: &[u8]) -> Option<String> {
    let mut list = Reader {
        buf: Reader { buf: data }.vec16()?,
    };
    while !list.buf.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?;
        if kind == 0 {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
    }
    None
}

/// Builds a minimal ClientHello (for tests and for the conformance corpus).
pub fn build_client_hello(sni: Option<&str>, ech: bool) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let n = name.as_bytes();
        let mut entry = vec![0u8];
        entry.extend_from_slice(&(n.len() as u16).to_be_bytes());
        entry.extend_from_slice(n);
        let mut list = (entry.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&entry);
        exts.extend_from_slice(&0u16.to_be_bytes());
        exts.extend_from_slice(&(list.len() as u16).to_be_bytes());
        exts.extend_from_slice(&list);
    }
    if ech {
        exts.extend_from_slice(&[0xfe, 0x0d, 0x00, 0x01, 0x00]);
    }
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7u8; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01]);
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sni_and_ech() {
        let h = build_client_hello(Some("api.example.org"), false);
        let want = Hello::Parsed {
            sni: Some("api.example.org".into()),
            ech: false,
        };
        assert_eq!(parse_client_hello(&h), want);
        assert_eq!(
            parse_client_hello(&build_client_hello(None, true)),
            Hello::Parsed {
                sni: None,
                ech: true
            }
        );
    }

    #[test]
    fn needs_more_until_complete_and_spans_records() {
        let h = build_client_hello(Some("a.example"), false);
        for cut in 0..h.len() {
            assert_eq!(
                parse_client_hello(&h[..cut]),
                Hello::NeedMore,
                "cut at {cut}"
            );
        }
        // Split the handshake message over two records.
        let hs = &h[5..];
        let (a, b) = hs.split_at(10);
        let mut two = vec![0x16, 3, 1, 0, a.len() as u8];
        two.extend_from_slice(a);
        two.extend_from_slice(&[0x16, 3, 1, 0, b.len() as u8]);
        two.extend_from_slice(b);
        assert_eq!(
            parse_client_hello(&two),
            Hello::Parsed {
                sni: Some("a.example".into()),
                ech: false
            }
        );
    }

    #[test]
    fn refuses_non_tls_and_garbage_without_panicking() {
        assert_eq!(parse_client_hello(b"GET / HTTP/1.1\r\n"), Hello::NotTls);
        assert_eq!(parse_client_hello(b"SSH-2.0-x"), Hello::NotTls);
        assert!(matches!(
            parse_client_hello(&[0x16, 3, 1, 0, 4, 2, 0, 0, 0]),
            Hello::Malformed(_)
        ));
        // A pseudo-random walk over byte strings: nothing may panic.
        let mut x: u32 = 12345;
        for len in 0..600 {
            let mut v = vec![0x16, 3, 1];
            for _ in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v.push((x >> 16) as u8);
            }
            let _ = parse_client_hello(&v);
        }
    }
}
