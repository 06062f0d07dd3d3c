//! A send timeout for every connection: a client that stops taking the answer is cut off.
//!
//! hyper's header timeout covers the read side only. A scraper that sends `GET /metrics` and
//! never reads would hold the answer (megabytes at the caps), its connection slot and its task
//! for as long as it likes. As nginx's `send_timeout`, the limit is on the pause between two
//! writes that make progress, not on the whole answer: a slow but live reader of a large scrape
//! is not cut off, a stalled one is, after `--web.request-timeout`. As nginx's
//! `reset_timedout_connection`, a connection cut off this way is reset, not closed: the answer
//! left in the kernel's send buffer (megabytes) is dropped at once rather than kept until the
//! kernel gives up on a peer that never opens its window.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// An I/O stream whose writes fail with [`io::ErrorKind::TimedOut`] once none has made progress
/// for `timeout`.
#[derive(Debug)]
pub struct SendDeadline<S> {
    inner: S,
    timeout: Duration,
    /// Armed while a write waits for the client; disarmed by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
    /// Makes closing the stream reset it (a TCP RST): called when the deadline passes.
    reset: fn(&S),
}

impl<S> SendDeadline<S> {
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            stalled: None,
            reset: |_| {},
        }
    }

    /// On a timeout, `reset` makes the stream's close a reset.
    #[must_use]
    pub fn resetting(self, reset: fn(&S)) -> Self {
        Self { reset, ..self }
    }

    /// After a write that is still pending: whether the stall has lasted `timeout`.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
        sleep.as_mut().poll(cx).is_ready()
    }

    fn wait<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err({
                (self.reset)(&self.inner);
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client took none of the answer within the request timeout",
                )
            })),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SendDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SendDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wait(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wait(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.wait(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.wait(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_takes_fails_after_the_timeout() {
        // A pipe of 64 bytes whose reader never reads.
        let (writer, _reader) = tokio::io::duplex(64);
        let mut stream = SendDeadline::new(writer, Duration::from_secs(5));
        let started = Instant::now();
        let error = stream.write_all(&[0; 1024]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_taking_is_not_cut_off() {
        let (writer, mut reader) = tokio::io::duplex(64);
        let mut stream = SendDeadline::new(writer, Duration::from_secs(5));
        let read = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0; 64];
            loop {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let n = tokio::io::AsyncReadExt::read(&mut reader, &mut buf)
                    .await
                    .unwrap();
                if n == 0 {
                    return got.len();
                }
                got.extend_from_slice(&buf[..n]);
            }
        });
        // 16 pauses of 4 s: 64 s in all, never 5 s without progress.
        stream.write_all(&[1; 1024]).await.unwrap();
        stream.shutdown().await.unwrap();
        drop(stream);
        assert_eq!(read.await.unwrap(), 1024);
    }
}
