//! A ready [`Transport`] on hyper 1 (hyper-util's pooled client, on tokio).

use std::fmt;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::{Either, select};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Frame as HttpFrame, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use crate::{Body, Frame, MAX_RESPONSE_BODY, Transport};

/// How long one request may take by default, body and reply included. Generous, because a chunk of
/// 8 MiB on a slow uplink takes minutes; a stalled server is still noticed.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// A [`Transport`] on hyper-util's pooled HTTP/1.1 client, with tokio timers.
///
/// [`HyperTransport::new`] speaks plain `http://` only, which the core allows for loopback (an
/// emulator). For Google itself, hand [`HyperTransport::with_client`] a client built on an https
/// connector, for example with `hyper-rustls` 0.27 (features `http1` and `webpki-roots`):
///
/// ```ignore
/// let https = hyper_rustls::HttpsConnectorBuilder::new()
///     .with_webpki_roots()
///     .https_only()
///     .enable_http1()
///     .build();
/// let client = Client::builder(TokioExecutor::new()).build(https);
/// let transport = HyperTransport::with_client(client);
/// ```
///
/// Requests must be made inside a tokio runtime with I/O and timers enabled (`#[tokio::main]`).
/// Bodies stream: each frame goes to hyper as `Bytes` over the frame's own memory (no copy), through
/// a channel that holds one frame, so reading the next frame overlaps writing the last one and a
/// request holds a few frames (about 1 MiB) however large its chunk. The futures are `Send`, so
/// drivers using this transport can be spawned on a multi-threaded runtime.
#[derive(Clone)]
pub struct HyperTransport<C = HttpConnector> {
    client: Client<C, HyperBody>,
    timeout: Duration,
}

impl HyperTransport {
    /// A plain-http client with a connection pool and [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn new() -> Self {
        Self::with_client(Client::builder(TokioExecutor::new()).build_http())
    }
}

impl Default for HyperTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> HyperTransport<C> {
    /// Wraps a client you configured (an https connector, pool settings, a proxy connector).
    pub fn with_client(client: Client<C, HyperBody>) -> Self {
        Self {
            client,
            timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Sets how long one request may take before it counts as failed.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<C> fmt::Debug for HyperTransport<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransport")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<C: Connect + Clone + Send + Sync + 'static> HyperTransport<C> {
    /// Sends the request with a ready hyper body and collects the (bounded) reply.
    async fn exchange(
        &self,
        request: http::Request<HyperBody>,
    ) -> Result<http::Response<Vec<u8>>, HyperError> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| HyperError::new("request failed", &e, e.is_connect()))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_RESPONSE_BODY)
            .collect()
            .await
            .map_err(|e| HyperError::new("reading the reply failed", e.as_ref(), false))?
            .to_bytes();
        Ok(http::Response::from_parts(parts, Vec::from(body)))
    }

    /// Sends `request`, its body streamed from the driver's frames.
    async fn send_streamed<B: Body>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<Vec<u8>>, HyperError> {
        let (parts, mut body) = request.into_parts();
        let len = body.len();
        let first = if len == 0 {
            None
        } else {
            Some(
                body.next_frame()
                    .await
                    .map_err(HyperError::body)?
                    .ok_or_else(short)?,
            )
        };
        let (outgoing, rest) = match first {
            None => (HyperBody::whole(None), None),
            Some(frame) if frame.len() as u64 > len => return Err(long()),
            // A body of one frame (a small file, JSON) needs no channel.
            Some(frame) if frame.len() as u64 == len => (HyperBody::whole(Some(frame)), None),
            Some(frame) => {
                // One frame in the channel: the next is read while hyper writes this one, and no
                // more than that waits in memory.
                let (sender, receiver) = mpsc::channel(1);
                let sent = frame.len() as u64;
                let queued = sender.try_send(Bytes::from(frame));
                debug_assert!(queued.is_ok(), "a new channel has room for one frame");
                let rest = pump(body, sender, sent, len);
                (HyperBody::streamed(receiver, len), Some(rest))
            }
        };
        let exchange = self.exchange(http::Request::from_parts(parts, outgoing));
        let Some(rest) = rest else {
            return exchange.await;
        };
        match select(pin!(exchange), pin!(rest)).await {
            // The server answered before the body was complete (a refusal): that is the reply.
            Either::Left((replied, _)) => replied,
            Either::Right((Ok(()), exchange)) => exchange.await,
            // Dropping the exchange and the channel's sender abandons the request: hyper sees its
            // body end short of its length and closes the connection.
            Either::Right((Err(error), _)) => Err(error),
        }
    }
}

/// Moves the body's frames after the first into the channel hyper reads, until `len` bytes went.
async fn pump<B: Body>(
    mut body: B,
    sender: mpsc::Sender<Bytes>,
    mut sent: u64,
    len: u64,
) -> Result<(), HyperError> {
    while sent < len {
        let frame = body
            .next_frame()
            .await
            .map_err(HyperError::body)?
            .ok_or_else(short)?;
        sent += frame.len() as u64;
        if sent > len {
            return Err(long());
        }
        if sender.send(Bytes::from(frame)).await.is_err() {
            // hyper stopped reading the body (the server answered, or the connection failed): the
            // exchange says which.
            return Ok(());
        }
    }
    Ok(())
}

fn short() -> HyperError {
    HyperError {
        text: "the request body ended before its Content-Length; the request was abandoned".into(),
        never_sent: false,
    }
}

fn long() -> HyperError {
    HyperError {
        text: "the request body is longer than its Content-Length; the request was abandoned"
            .into(),
        never_sent: false,
    }
}

impl<C: Connect + Clone + Send + Sync + 'static> Transport for HyperTransport<C> {
    type Error = HyperError;

    async fn send<B: Body>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<Vec<u8>>, HyperError> {
        tokio::time::timeout(self.timeout, self.send_streamed(request))
            .await
            .unwrap_or_else(|_| {
                Err(HyperError {
                    text: format!("no complete reply within {} s", self.timeout.as_secs()),
                    never_sent: false,
                })
            })
    }

    fn never_sent(error: &HyperError) -> bool {
        error.never_sent
    }

    async fn sleep_until(&self, deadline: Instant) {
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// The request body of [`HyperTransport`]'s client (name it in the `Client` you hand to
/// [`HyperTransport::with_client`]): the driver's frames, handed to hyper without a copy.
pub struct HyperBody(Outgoing);

enum Outgoing {
    /// The whole body in (at most) one frame.
    Whole(Option<Bytes>),
    /// Frames as the driver reads them; `left` counts the bytes not yet taken out of the channel.
    Streamed {
        frames: mpsc::Receiver<Bytes>,
        left: u64,
    },
}

impl HyperBody {
    fn whole(frame: Option<Frame>) -> Self {
        Self(Outgoing::Whole(frame.map(Bytes::from)))
    }

    fn streamed(frames: mpsc::Receiver<Bytes>, left: u64) -> Self {
        Self(Outgoing::Streamed { frames, left })
    }
}

impl hyper::body::Body for HyperBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<HttpFrame<Bytes>, io::Error>>> {
        match &mut self.get_mut().0 {
            Outgoing::Whole(frame) => {
                Poll::Ready(frame.take().map(|bytes| Ok(HttpFrame::data(bytes))))
            }
            Outgoing::Streamed { frames, left } => match frames.poll_recv(cx) {
                Poll::Ready(Some(bytes)) => {
                    *left = left.saturating_sub(bytes.len() as u64);
                    Poll::Ready(Some(Ok(HttpFrame::data(bytes))))
                }
                Poll::Ready(None) if *left == 0 => Poll::Ready(None),
                // The driver's side gave up (its source failed): fail the body so that hyper
                // closes the connection instead of leaving a short body that looks complete.
                Poll::Ready(None) => Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the request body stopped before its Content-Length",
                )))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Outgoing::Whole(frame) => frame.is_none(),
            Outgoing::Streamed { left, .. } => *left == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Outgoing::Whole(frame) => {
                SizeHint::with_exact(frame.as_ref().map_or(0, |b| b.len() as u64))
            }
            Outgoing::Streamed { left, .. } => SizeHint::with_exact(*left),
        }
    }
}

impl fmt::Debug for HyperBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperBody").finish_non_exhaustive()
    }
}

/// Why a request over [`HyperTransport`] got no reply. Holds hyper's description of the failure and
/// its causes, which name no URL and no header.
#[derive(Debug)]
pub struct HyperError {
    text: String,
    /// The connection could not be opened, so nothing of the request left.
    never_sent: bool,
}

impl HyperError {
    #[allow(clippy::needless_pass_by_value)] // takes the error as `map_err` hands it over
    fn body(error: io::Error) -> Self {
        Self {
            text: format!("the request body could not be read: {error}"),
            never_sent: false,
        }
    }

    fn new(what: &str, error: &(dyn std::error::Error + 'static), never_sent: bool) -> Self {
        let mut text = format!("{what}: {error}");
        let mut cause = error.source();
        while let Some(inner) = cause {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            cause = inner.source();
        }
        Self { text, never_sent }
    }
}

impl fmt::Display for HyperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for HyperError {}
