//! The public face: a client bound to one API endpoint and one set of credentials.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use gphotos_upload::{Endpoint, MediaFile, RetryPolicy, Upload, UploadConfig, UploadToken};

use crate::config::{DEFAULT_IO_BUFFER, DEFAULT_MAX_REPLY_BYTES, Timeouts};
use crate::transport::{Transport, TransportConfig};
use crate::{Credentials, Error, Observer, Quiet, drive, mime};

/// A blocking client of the Photos Library API.
///
/// Cheap to clone and safe to share between threads: clones share one connection pool and one
/// token provider.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    endpoint: Endpoint,
    credentials: Credentials,
    transport: Transport,
    upload: UploadConfig,
    /// Source of per-upload jitter seeds, so that parallel uploads back off at different moments.
    seeds: AtomicU64,
}

/// Builds a [`Client`] with other than default settings.
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    endpoint: Endpoint,
    credentials: Credentials,
    upload: UploadConfig,
    timeouts: Timeouts,
    max_reply_bytes: u64,
    io_buffer: usize,
    user_agent: String,
    max_idle_per_host: usize,
}

impl ClientBuilder {
    /// Target chunk size in bytes (default 8 MiB), rounded down to the server's granularity.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.upload.chunk_size = bytes;
        self
    }

    /// How transient failures are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.upload.retry = policy;
        self
    }

    /// Every upload tunable at once (chunk size, retry policy, session and rewind bounds). Its
    /// `seed` is the base from which each upload's jitter seed is derived.
    pub fn upload_config(mut self, config: UploadConfig) -> Self {
        self.upload = config;
        self
    }

    /// Network timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Largest reply body held in memory (default 1 MiB); a larger reply counts as a transport
    /// failure. At least 4 KiB.
    pub fn max_reply_bytes(mut self, bytes: u64) -> Self {
        self.max_reply_bytes = bytes;
        self
    }

    /// Size of the buffer chunk bytes pass through (default 256 KiB): the most an upload reads
    /// from its source at once. Between 4 KiB and 16 MiB.
    pub fn io_buffer_size(mut self, bytes: usize) -> Self {
        self.io_buffer = bytes;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Idle connections kept per host (default 16): at least the number of worker threads, so
    /// that parallel uploads reuse their connections.
    pub fn max_idle_connections(mut self, connections: usize) -> Self {
        self.max_idle_per_host = connections;
        self
    }

    /// The client.
    ///
    /// # Errors
    /// [`Error::Misuse`] when a setting is out of range.
    pub fn build(self) -> Result<Client, Error> {
        if self.upload.chunk_size == 0 {
            return Err(Error::misuse("the chunk size must be positive"));
        }
        if !(4 * 1024..=16 * 1024 * 1024).contains(&self.io_buffer) {
            return Err(Error::misuse(format!(
                "the I/O buffer size must be between 4 KiB and 16 MiB, not {} bytes",
                self.io_buffer
            )));
        }
        if self.max_reply_bytes < 4096 {
            return Err(Error::misuse(format!(
                "the reply bound must be at least 4 KiB, not {} bytes",
                self.max_reply_bytes
            )));
        }
        let transport = Transport::new(&TransportConfig {
            timeouts: self.timeouts,
            max_reply_bytes: self.max_reply_bytes,
            io_buffer: self.io_buffer,
            user_agent: &self.user_agent,
            max_idle_per_host: self.max_idle_per_host.max(1),
            proxy: ureq::Proxy::try_from_env(),
        });
        Ok(Client {
            inner: Arc::new(Inner {
                seeds: AtomicU64::new(self.upload.seed ^ clock_entropy()),
                endpoint: self.endpoint,
                credentials: self.credentials,
                transport,
                upload: self.upload,
            }),
        })
    }
}

/// Varies the jitter between runs; the core takes seeds as inputs because it never reads a clock.
fn clock_entropy() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() ^ (u64::from(d.subsec_nanos()) << 32))
}

impl Client {
    /// A client with default settings for the API at `endpoint`.
    ///
    /// # Errors
    /// None with default settings; the `Result` is that of [`ClientBuilder::build`].
    pub fn new(endpoint: Endpoint, credentials: Credentials) -> Result<Self, Error> {
        Self::builder(endpoint, credentials).build()
    }

    /// A builder for a client with other than default settings.
    pub fn builder(endpoint: Endpoint, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            endpoint,
            credentials,
            upload: UploadConfig::default(),
            timeouts: Timeouts::default(),
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
            io_buffer: DEFAULT_IO_BUFFER,
            user_agent: concat!("gphotos-upload-ureq/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_idle_per_host: 16,
        }
    }

    /// The API root requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The settings each new upload starts with.
    pub fn upload_config(&self) -> &UploadConfig {
        &self.inner.upload
    }

    /// Uploads one photo or video with the resumable protocol and returns its upload token, for
    /// [`mediaItems:batchCreate`](https://developers.google.com/photos/library/reference/rest/v1/mediaItems/batchCreate).
    /// The MIME type comes from the extension ([`mime::for_path`]).
    ///
    /// # Errors
    /// [`Error::UnknownMediaType`] for a file that is not a photo or video type,
    /// [`Error::Source`] when the file cannot be read, [`Error::Core`] when the upload failed
    /// (the server refused it, or retries ran out).
    pub fn upload_file(&self, path: impl AsRef<Path>) -> Result<UploadToken, Error> {
        self.upload_file_with(path, &mut Quiet)
    }

    /// [`Client::upload_file`], reporting to `observer` (for a progress bar).
    ///
    /// # Errors
    /// As [`Client::upload_file`].
    pub fn upload_file_with(
        &self,
        path: impl AsRef<Path>,
        observer: &mut dyn Observer,
    ) -> Result<UploadToken, Error> {
        let path = path.as_ref();
        let (mut file, media) = open_media(path)?;
        let mut upload = self.new_upload(media)?;
        drive::upload(
            &self.inner.transport,
            &self.inner.credentials,
            &mut upload,
            &mut file,
            Some(path),
            observer,
        )
    }

    /// Uploads `size` bytes read from `reader` (which must be able to seek back: after a fault the
    /// upload resumes at the offset the server reports) as a file of type `mime_type` named
    /// `file_name`.
    ///
    /// # Errors
    /// [`Error::Source`] when the reader fails or holds fewer than `size` bytes, [`Error::Core`]
    /// when the upload failed or the input is unusable (zero size, a MIME type that is not a
    /// header value).
    pub fn upload_reader<R: Read + Seek>(
        &self,
        mut reader: R,
        size: u64,
        mime_type: &str,
        file_name: Option<&str>,
    ) -> Result<UploadToken, Error> {
        let mut upload = self.new_upload(MediaFile {
            size,
            mime_type: mime_type.to_owned(),
            file_name: file_name.map(str::to_owned),
        })?;
        self.upload_with(&mut upload, &mut reader, &mut Quiet)
    }

    /// A fresh upload machine for `file`, with this client's settings and its own jitter seed.
    /// Drive it with [`Client::upload_with`]; serialize it to resume after a crash.
    ///
    /// # Errors
    /// [`Error::Core`] for a zero-byte file or a MIME type that is not a header value.
    pub fn new_upload(&self, file: MediaFile) -> Result<Upload, Error> {
        let mut config = self.inner.upload.clone();
        config.seed = self.next_seed();
        Ok(Upload::new(self.inner.endpoint.clone(), file, config)?)
    }

    /// Drives `upload` (new, or restored from a journal) to its end, streaming chunk bytes from
    /// `source`, which must hold the same bytes as when the upload began. `observer` hears every
    /// step, so a journal can save the machine as it goes.
    ///
    /// An upload that ended in a failure stays failed; call [`Upload::resume`] first to give it
    /// another run.
    ///
    /// # Errors
    /// [`Error::Source`] when `source` fails, [`Error::Core`] when the upload failed.
    pub fn upload_with(
        &self,
        upload: &mut Upload,
        source: &mut (impl Read + Seek),
        observer: &mut dyn Observer,
    ) -> Result<UploadToken, Error> {
        drive::upload(
            &self.inner.transport,
            &self.inner.credentials,
            upload,
            source,
            None,
            observer,
        )
    }

    /// [`Client::upload_with`] for an upload of the file at `path`: errors name the file.
    ///
    /// # Errors
    /// As [`Client::upload_with`].
    pub fn upload_file_resuming(
        &self,
        upload: &mut Upload,
        path: impl AsRef<Path>,
        observer: &mut dyn Observer,
    ) -> Result<UploadToken, Error> {
        let path = path.as_ref();
        let mut file = File::open(path).map_err(|e| Error::source_io(Some(path.into()), e))?;
        drive::upload(
            &self.inner.transport,
            &self.inner.credentials,
            upload,
            &mut file,
            Some(path),
            observer,
        )
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    pub(crate) fn next_seed(&self) -> u64 {
        // SplitMix64's increment spreads consecutive seeds across the whole range.
        self.inner
            .seeds
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
    }
}

/// Opens a media file and describes it for the protocol.
pub(crate) fn open_media(path: &Path) -> Result<(File, MediaFile), Error> {
    let mime_type = mime::for_path(path).ok_or_else(|| Error::UnknownMediaType {
        path: path.to_path_buf(),
    })?;
    let source_error = |e| Error::source_io(Some(path.to_path_buf()), e);
    let file = File::open(path).map_err(source_error)?;
    let metadata = file.metadata().map_err(source_error)?;
    if !metadata.is_file() {
        return Err(source_error(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let media = MediaFile {
        size: metadata.len(),
        mime_type: mime_type.to_owned(),
        file_name: path
            .file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned),
    };
    Ok((file, media))
}

/// Describes the file at `path` for an upload: its size, its MIME type from the extension and its
/// name.
///
/// # Errors
/// [`Error::UnknownMediaType`] or [`Error::Source`].
pub fn media_file(path: impl AsRef<Path>) -> Result<MediaFile, Error> {
    open_media(path.as_ref()).map(|(_, media)| media)
}
