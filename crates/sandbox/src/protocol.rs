//! Messages between the supervisor and the sandbox's init, over a SOCK_SEQPACKET pair made
//! before `clone`. Child-side failures travel as data, never as text on the command's stderr.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::sys::{self, SysResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Init is set up; one flag per requested listener (1: its descriptor is attached).
    Ready(Vec<u8>),
    /// Supervisor to init: start the command.
    Go,
    /// The command is running with this pid (in the sandbox's pid namespace).
    Started(i32),
    /// `execve` failed with this errno.
    ExecFailed(i32),
    /// A setup step failed: the stage and the error text.
    SetupFailed(String, String),
    /// The command exited with this raw wait status.
    Exited(i32),
    /// Something the user should know about the run, sent before `Exited`.
    Note(String),
}

pub fn encode(msg: &Msg) -> Vec<u8> {
    let (tag, body): (u8, Vec<u8>) = match msg {
        Msg::Ready(p) => (b'R', p.clone()),
        Msg::Go => (b'G', Vec::new()),
        Msg::Started(pid) => (b'S', pid.to_le_bytes().to_vec()),
        Msg::ExecFailed(e) => (b'X', e.to_le_bytes().to_vec()),
        Msg::SetupFailed(stage, text) => (b'E', format!("{stage}\0{text}").into_bytes()),
        Msg::Exited(s) => (b'W', s.to_le_bytes().to_vec()),
        Msg::Note(text) => (b'N', text.clone().into_bytes()),
    };
    let mut out = vec![tag];
    out.extend(body);
    out
}

pub fn decode(buf: &[u8]) -> Option<Msg> {
    let (tag, body) = buf.split_first()?;
    let int = || {
        body.get(..4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    Some(match tag {
        b'R' => Msg::Ready(body.to_vec()),
        b'G' => Msg::Go,
        b'S' => Msg::Started(int()?),
        b'X' => Msg::ExecFailed(int()?),
        b'W' => Msg::Exited(int()?),
        b'N' => Msg::Note(String::from_utf8_lossy(body).into_owned()),
        b'E' => {
            let text = String::from_utf8_lossy(body);
            let (stage, m) = text.split_once('\0').unwrap_or(("setup", &text));
            Msg::SetupFailed(stage.to_string(), m.to_string())
        }
        _ => return None,
    })
}

pub fn send(sock: &impl AsRawFd, msg: &Msg, fds: &[RawFd]) -> SysResult<()> {
    sys::send_with_fds(sock, &encode(msg), fds)
}

/// Receives one message. A hang-up (the other side exited) reads as `None` in the message.
pub fn recv(sock: &impl AsRawFd) -> SysResult<(Msg, Vec<OwnedFd>)> {
    let mut buf = vec![0u8; 8192];
    let (n, fds) = sys::recv_with_fds(sock, &mut buf)?;
    match decode(&buf[..n]) {
        Some(m) => Ok((m, fds)),
        None => Err(sys::SysError {
            call: "recvmsg",
            arg: "control".into(),
            errno: libc::EPIPE,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        for m in [
            Msg::Ready(vec![1, 0]),
            Msg::Go,
            Msg::Started(2),
            Msg::ExecFailed(libc::ENOENT),
            Msg::SetupFailed("filesystem".into(), "mount(/x): EPERM".into()),
            Msg::Exited(0x0900),
            Msg::Note("a repository".into()),
        ] {
            assert_eq!(decode(&encode(&m)), Some(m));
        }
        assert_eq!(decode(b""), None);
    }
}
