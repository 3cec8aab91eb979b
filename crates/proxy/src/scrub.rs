//! Response bodies from an origin that received a credential, with every copy of the value
//! replaced before it reaches the sandbox (an origin that echoes request headers, or quotes
//! the key in an error, would otherwise hand it over). The replacement has the value's length
//! (the placeholder when it has that length, else `*`s), so `Content-Length` stays right.
//! A compressed body is not searched: requests that carry a credential ask for `identity`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use zeroize::Zeroizing;

use crate::creds::Credentials;

pub(crate) struct ScrubBody<B> {
    inner: B,
    creds: Arc<Credentials>,
    /// Bytes held back because they could be the start of a value split across frames.
    pending: Zeroizing<Vec<u8>>,
    done: bool,
}

impl<B> ScrubBody<B> {
    pub(crate) fn new(inner: B, creds: Arc<Credentials>) -> Self {
        ScrubBody {
            inner,
            creds,
            pending: Zeroizing::new(Vec::new()),
            done: false,
        }
    }

    fn longest(&self) -> usize {
        self.creds
            .list
            .iter()
            .map(|c| c.secret().len())
            .max()
            .unwrap_or(0)
    }

    /// Replaces every complete value in `pending`, then returns what can be sent now: all of
    /// it at the end, else all but the last `longest - 1` bytes.
    fn take_ready(&mut self, end: bool) -> Bytes {
        for c in &self.creds.list {
            let secret = c.secret();
            let with: Vec<u8> = match c.placeholder() {
                Some(p) if p.len() == secret.len() => p.as_bytes().to_vec(),
                _ => vec![b'*'; secret.len()],
            };
            let mut from = 0;
            while let Some(i) = crate::inject::find(&self.pending[from..], secret) {
                let at = from + i;
                self.pending[at..at + secret.len()].copy_from_slice(&with);
                from = at + secret.len();
            }
        }
        let keep = if end {
            0
        } else {
            self.longest().saturating_sub(1).min(self.pending.len())
        };
        let ready = self.pending.len() - keep;
        let out = Bytes::copy_from_slice(&self.pending[..ready]);
        self.pending.drain(..ready);
        out
    }
}

impl<B> Body for ScrubBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.done = true;
                    let rest = self.take_ready(true);
                    if rest.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(rest))));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        self.pending.extend_from_slice(&data);
                        let ready = self.take_ready(false);
                        if !ready.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(ready))));
                        }
                    }
                    // Trailers: what is held back goes first, then the trailers are dropped
                    // (HTTP/1.1 clients rarely use them; a value could hide there too).
                    Err(_) => {
                        self.done = true;
                        let rest = self.take_ready(true);
                        return Poll::Ready(if rest.is_empty() {
                            None
                        } else {
                            Some(Ok(Frame::data(rest)))
                        });
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        // Same-length replacement: the origin's exact size still holds.
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails by panicking")]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;

    use http_body_util::BodyExt;
    use palisade_policy::{Credential, CredentialBind, CredentialSource, Placeholder, Policy};

    use super::*;
    use crate::config::ProxyConfig;

    struct Frames(VecDeque<Bytes>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    fn creds(value: &str, placeholder: bool) -> (tempfile::TempDir, Arc<Credentials>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        std::fs::write(&path, value).unwrap();
        let mut p = Policy::default();
        p.network.allow = vec!["h.test".into()];
        p.credentials = vec![Credential {
            id: "c".into(),
            source: CredentialSource {
                file: Some(path.display().to_string()),
                ..CredentialSource::default()
            },
            bind: CredentialBind {
                host: "h.test".into(),
                ..CredentialBind::default()
            },
            header: Some("authorization".into()),
            placeholder: placeholder.then(|| Placeholder {
                env: "C".into(),
                prefix: None,
            }),
            ..Credential::default()
        }];
        let cfg = ProxyConfig::from_policy(&p, "t").unwrap();
        (dir, Arc::new(Credentials::load(&p, &cfg).unwrap()))
    }

    fn scrub(creds: &Arc<Credentials>, frames: &[&str]) -> String {
        let body = Frames(frames.iter().map(|f| Bytes::from(f.to_string())).collect());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let out = rt.block_on(ScrubBody::new(body, creds.clone()).collect());
        String::from_utf8(out.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[test]
    fn values_split_across_frames_are_replaced_with_same_length() {
        let value = "ghp_0123456789abcdefghijABCDEFGHIJ";
        let (_d, c) = creds(value, true);
        let ph = c.list[0].placeholder().unwrap().to_string();
        assert_eq!(ph.len(), value.len());
        let got = scrub(
            &c,
            &[
                "{\"a\": \"Bearer ghp_0123",
                "456789abcdefghijAB",
                "CDEFGHIJ\"}",
            ],
        );
        assert_eq!(got, format!("{{\"a\": \"Bearer {ph}\"}}"));
        let got = scrub(&c, &[value, " and ", value]);
        assert_eq!(got, format!("{ph} and {ph}"));
        // A prefix of the value at the very end is not the value: it is passed through.
        assert_eq!(scrub(&c, &["x ghp_0123"]), "x ghp_0123");
    }

    #[test]
    fn without_a_placeholder_of_that_length_stars_keep_the_length() {
        let (_d, c) = creds("short-secret-1", false);
        assert_eq!(scrub(&c, &["k=short-secret-1;"]), "k=**************;");
    }
}
