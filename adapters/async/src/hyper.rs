//! A ready [`Transport`] on hyper 1 (hyper-util's pooled client, on tokio), and sources over tokio's
//! files.

use std::fmt;
use std::io::{self, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};

use crate::source::explain_eof;
use crate::{MAX_RESPONSE_BODY, Source, Transport};

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
/// Each chunk is copied once into hyper's body type; the copy lives only while its request does.
/// The futures are `Send`, so drivers using this transport can be spawned on a multi-threaded
/// runtime.
#[derive(Clone)]
pub struct HyperTransport<C = HttpConnector> {
    client: Client<C, Full<Bytes>>,
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
    pub fn with_client(client: Client<C, Full<Bytes>>) -> Self {
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

impl<C: Connect + Clone + Send + Sync + 'static> Transport for HyperTransport<C> {
    type Error = HyperError;

    async fn send(
        &self,
        request: http::Request<&[u8]>,
    ) -> Result<http::Response<Vec<u8>>, HyperError> {
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::copy_from_slice(body)));
        let exchange = async {
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
        };
        tokio::time::timeout(self.timeout, exchange)
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

/// Why a request over [`HyperTransport`] got no reply. Holds hyper's description of the failure and
/// its causes, which name no URL and no header.
#[derive(Debug)]
pub struct HyperError {
    text: String,
    /// The connection could not be opened, so nothing of the request left.
    never_sent: bool,
}

impl HyperError {
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

/// A source over tokio's async reader traits (`tokio::fs::File`, `std::io::Cursor`).
#[derive(Debug)]
pub struct TokioSource<R>(pub R);

impl<R: AsyncRead + AsyncSeek + Unpin> Source for TokioSource<R> {
    async fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.seek(SeekFrom::Start(offset)).await?;
        self.0.read_exact(buf).await.map(drop).map_err(explain_eof)
    }
}

/// A file opened with tokio on its first read, so that a long list of files handed to
/// [`crate::Driver::upload_many`] holds only the files in progress open.
#[derive(Debug)]
pub struct TokioFile {
    path: PathBuf,
    file: Option<tokio::fs::File>,
}

impl TokioFile {
    /// The file at `path`, not opened yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            file: None,
        }
    }
}

impl Source for TokioFile {
    async fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if self.file.is_none() {
            let opened = tokio::fs::File::open(&self.path)
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
            self.file = Some(opened);
        }
        let Some(file) = self.file.as_mut() else {
            unreachable!("opened just above")
        };
        file.seek(SeekFrom::Start(offset)).await?;
        file.read_exact(buf).await.map(drop).map_err(explain_eof)
    }
}
