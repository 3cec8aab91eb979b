//! SOCKS5 (RFC 1928), the CONNECT command only. No-auth, or username/password with the
//! credentials read and ignored (identity comes from the socket, and nothing is logged).
//! BIND and UDP ASSOCIATE are refused with 0x07; the target goes through the same parser and
//! pipeline as HTTP CONNECT, and the tunnel gets the same SNI check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::decide::{Reason, Refusal};
use crate::relay::{self, Tunnel};
use crate::target::{parse_socks, BadTarget, Entry, SocksAddr, Target};
use crate::Proxy;

const VER: u8 = 0x05;
const CMD_CONNECT: u8 = 0x01;
const REPLY_CMD_UNSUPPORTED: u8 = 0x07;
const REPLY_ATYP_UNSUPPORTED: u8 = 0x08;

fn reply(code: u8) -> [u8; 10] {
    // BND.ADDR 0.0.0.0:0: the client has no use for the proxy's upstream address.
    [VER, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

enum Request {
    Connect(Result<Target, BadTarget>),
    /// A command or address type we refuse, with its reply code.
    Unsupported(u8, &'static str),
}

pub(crate) async fn serve(proxy: Arc<Proxy>, mut stream: TcpStream) {
    let conn = proxy.new_id('c');
    let start = Instant::now();
    let negotiated =
        tokio::time::timeout(proxy.cfg().timeouts.header_read, negotiate(&mut stream)).await;
    let request = match negotiated {
        Ok(Ok(Some(r))) => r,
        Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
            let bad = BadTarget {
                raw: String::new(),
                why: "SOCKS5 handshake failed".into(),
            };
            let r = Refusal::new(
                Reason::BadRequest,
                "builtin:socks",
                "malformed SOCKS5 handshake",
            );
            proxy.log_refusal(&conn, Entry::Socks5, Err(&bad), &r, None, None);
            return;
        }
    };
    let target = match request {
        Request::Connect(Ok(t)) => t,
        Request::Connect(Err(bad)) => {
            let r = Refusal::new(Reason::BadTarget, "builtin:parse", &bad.why);
            proxy.log_refusal(&conn, Entry::Socks5, Err(&bad), &r, None, None);
            let _ = stream.write_all(&reply(r.reason.socks_reply())).await;
            return;
        }
        Request::Unsupported(code, what) => {
            let bad = BadTarget {
                raw: String::new(),
                why: what.into(),
            };
            let r = Refusal::new(Reason::BadRequest, "builtin:socks", what);
            proxy.log_refusal(&conn, Entry::Socks5, Err(&bad), &r, None, None);
            let _ = stream.write_all(&reply(code)).await;
            return;
        }
    };
    let permit = match proxy.try_tunnel_permit() {
        Ok(p) => p,
        Err(r) => {
            proxy.log_refusal(&conn, Entry::Socks5, Ok(&target), &r, None, None);
            let _ = stream.write_all(&reply(r.reason.socks_reply())).await;
            return;
        }
    };
    match proxy.admit(Entry::Socks5, &target).await {
        Err((r, resolved)) => {
            proxy.log_refusal(
                &conn,
                Entry::Socks5,
                Ok(&target),
                &r,
                resolved.as_ref(),
                None,
            );
            let _ = stream.write_all(&reply(r.reason.socks_reply())).await;
        }
        Ok(adm) => {
            proxy.log_tunnel_allowed(&conn, Entry::Socks5, &target, &adm);
            if stream.write_all(&reply(0)).await.is_err() {
                return;
            }
            let tunnel = Tunnel {
                conn,
                entry: Entry::Socks5,
                target,
                start,
                permit,
                mode: adm.grant.mode,
                rule: adm.grant.rule.clone(),
            };
            relay::start(&proxy, tunnel, stream, Vec::new(), adm.stream).await;
        }
    }
}

/// Method selection and the request. `Ok(None)`: the client offered no method we accept.
async fn negotiate(s: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await?;
    let mut methods = vec![0u8; usize::from(head[1])];
    s.read_exact(&mut methods).await?;
    if methods.contains(&0x00) {
        s.write_all(&[VER, 0x00]).await?;
    } else if methods.contains(&0x02) {
        // RFC 1929: read and discard the credentials, always succeed.
        s.write_all(&[VER, 0x02]).await?;
        let mut ver_ulen = [0u8; 2];
        s.read_exact(&mut ver_ulen).await?;
        let mut skip = vec![0u8; usize::from(ver_ulen[1])];
        s.read_exact(&mut skip).await?;
        let plen = s.read_u8().await?;
        let mut skip = vec![0u8; usize::from(plen)];
        s.read_exact(&mut skip).await?;
        s.write_all(&[0x01, 0x00]).await?;
    } else {
        s.write_all(&[VER, 0xff]).await?;
        return Ok(None);
    }
    let mut req = [0u8; 4];
    s.read_exact(&mut req).await?;
    let [ver, cmd, _rsv, atyp] = req;
    if ver != VER {
        return Ok(None);
    }
    let addr = match atyp {
        0x01 => {
            let mut a = [0u8; 4];
            s.read_exact(&mut a).await?;
            Addr::Ip(IpAddr::V4(Ipv4Addr::from(a)))
        }
        0x04 => {
            let mut a = [0u8; 16];
            s.read_exact(&mut a).await?;
            Addr::Ip(IpAddr::V6(Ipv6Addr::from(a)))
        }
        0x03 => {
            let len = s.read_u8().await?;
            let mut name = vec![0u8; usize::from(len)];
            s.read_exact(&mut name).await?;
            Addr::Domain(name)
        }
        _ => {
            return Ok(Some(Request::Unsupported(
                REPLY_ATYP_UNSUPPORTED,
                "address type",
            )))
        }
    };
    let port = s.read_u16().await?;
    if cmd != CMD_CONNECT {
        return Ok(Some(Request::Unsupported(
            REPLY_CMD_UNSUPPORTED,
            "SOCKS5 BIND and UDP ASSOCIATE are not supported",
        )));
    }
    let target = match &addr {
        Addr::Ip(ip) => parse_socks(SocksAddr::Ip(*ip), port),
        Addr::Domain(name) => parse_socks(SocksAddr::Domain(name), port),
    };
    Ok(Some(Request::Connect(target)))
}

enum Addr {
    Ip(IpAddr),
    Domain(Vec<u8>),
}
