//! The sandbox's network namespace: only `lo`, and the proxy's listening sockets created here
//! so they belong to this namespace, then handed to the supervisor, which accepts on them from
//! the host. No socket file, no relay process, nothing copied into the sandbox.

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::sys::{errno, SysError, SysResult};

/// Brings `lo` up in-process: an exec'd `ip` would have no capabilities when the caller's uid
/// is not 0 inside.
pub fn loopback_up() -> SysResult<()> {
    // SAFETY: a plain datagram socket used only for the interface ioctls below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(SysError {
            call: "socket",
            arg: "AF_INET".into(),
            errno: errno(),
        });
    }
    // SAFETY: fd was just created and is owned here.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; zeroed is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: req is a valid ifreq for SIOCGIFFLAGS/SIOCSIFFLAGS.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            return Err(SysError {
                call: "ioctl",
                arg: "SIOCGIFFLAGS lo".into(),
                errno: errno(),
            });
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) < 0 {
            return Err(SysError {
                call: "ioctl",
                arg: "SIOCSIFFLAGS lo".into(),
                errno: errno(),
            });
        }
    }
    Ok(())
}

/// Binds and listens on `addr`. Returns `Ok(None)` when the address family does not exist in
/// this namespace (a kernel without IPv6): one missing family must never stop the other.
pub fn listen(addr: SocketAddr) -> SysResult<Option<OwnedFd>> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let e = errno();
        if e == libc::EAFNOSUPPORT {
            return Ok(None);
        }
        return Err(SysError {
            call: "socket",
            arg: addr.to_string(),
            errno: e,
        });
    }
    // SAFETY: fd was just created and is owned here.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a c_int option value.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        );
    }
    let (storage, len) = sockaddr(addr);
    // SAFETY: storage holds a sockaddr of length len.
    let ret = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if ret < 0 {
        let e = errno();
        if addr.is_ipv6() && (e == libc::EADDRNOTAVAIL || e == libc::EAFNOSUPPORT) {
            return Ok(None);
        }
        return Err(SysError {
            call: "bind",
            arg: addr.to_string(),
            errno: e,
        });
    }
    // A deep backlog: bursts of parallel clients must queue, never be refused, even before
    // the proxy's first accept.
    // SAFETY: listen on a bound socket.
    if unsafe { libc::listen(sock.as_raw_fd(), 4096) } < 0 {
        return Err(SysError {
            call: "listen",
            arg: addr.to_string(),
            errno: errno(),
        });
    }
    Ok(Some(sock))
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; zeroed is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}
