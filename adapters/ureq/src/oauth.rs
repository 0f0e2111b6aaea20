//! OAuth on the wire: the token endpoint exchange, and `token.json` on disk (read, refreshed,
//! written back atomically with mode 0600).
//!
//! The core decides what goes in the exchange and what its reply means
//! ([`gphotos_upload::oauth::TokenExchange`]) and how long to back off
//! ([`gphotos_upload::retry`]); this module sends, sleeps and writes files.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use gphotos_upload::oauth::{TokenEndpointError, TokenExchange, TokenFile};
use gphotos_upload::retry::Backoff;
use gphotos_upload::{AccessToken, RequestId, RetryPolicy};

use crate::config::{DEFAULT_IO_BUFFER, DEFAULT_MAX_REPLY_BYTES, Timeouts};
use crate::drive::sleep_until;
use crate::transport::{Failure, Transport, TransportConfig};
use crate::{Credentials, Error, TokenProvider};

/// Performs token endpoint exchanges: a small transport of its own, and the retry policy for
/// transient failures of the token endpoint.
#[derive(Debug, Clone)]
pub struct Exchanger {
    transport: Transport,
    retry: RetryPolicy,
}

impl Default for Exchanger {
    fn default() -> Self {
        Self::new(RetryPolicy::default(), Timeouts::default())
    }
}

impl Exchanger {
    /// An exchanger that retries by `retry` and waits at most `timeouts`.
    pub fn new(retry: RetryPolicy, timeouts: Timeouts) -> Self {
        let transport = Transport::new(&TransportConfig {
            timeouts,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
            io_buffer: DEFAULT_IO_BUFFER,
            user_agent: concat!("gphotos-upload-ureq/", env!("CARGO_PKG_VERSION")),
            max_idle_per_host: 2,
        });
        Self { transport, retry }
    }

    /// Sends `exchange` (a refresh, or the code exchange of the consent flow) and returns the token
    /// file its reply makes. Transient failures (connection errors, 408, 429, 5xx) are retried as
    /// the retry policy allows.
    ///
    /// # Errors
    /// [`Error::Credentials`] saying why, for example that the user must sign in again.
    pub fn run(&self, exchange: &TokenExchange) -> Result<TokenFile, Error> {
        let mut backoff = Backoff::new(u64::from(std::process::id()));
        let mut id = 0;
        loop {
            id += 1;
            // The transmit is marked bearer-free by the core; `authorize(None)` adds nothing.
            let request = exchange.transmit(RequestId(id)).authorize(None);
            let (failure, throttled, asked) =
                match self.transport.perform(request, None, &mut |_| {}) {
                    Ok(reply) => match exchange.handle_response(SystemTime::now(), &reply) {
                        Ok(file) => return Ok(file),
                        Err(TokenEndpointError::Retryable {
                            status,
                            retry_after,
                        }) => (format!("HTTP {status}"), status == 429, retry_after),
                        Err(error) => return Err(credentials(error.to_string())),
                    },
                    // A refresh is safe to repeat: a second one only mints another token.
                    Err(Failure::Network(what) | Failure::Unsent(what)) => (what, false, None),
                    Err(other) => return Err(Error::misuse(other.to_string())),
                };
            match backoff.fail(&self.retry, Instant::now(), throttled, asked) {
                Some(until) => sleep_until(until),
                None => {
                    return Err(credentials(format!(
                        "the token endpoint failed {} times in a row (last: {failure}); \
                         try again later",
                        backoff.attempts()
                    )));
                }
            }
        }
    }
}

fn credentials(reason: String) -> Error {
    Error::Credentials { reason }
}

/// Reads a `token.json` (google-auth's format).
///
/// # Errors
/// [`Error::TokenFile`] when it cannot be read or is not a token file.
pub fn load_token_file(path: impl AsRef<Path>) -> Result<TokenFile, Error> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            token_file_error(
                path,
                &"it does not exist; run `gphotos-upload auth login` to create it",
            )
        } else {
            token_file_error(path, &e)
        }
    })?;
    TokenFile::from_json(&bytes).map_err(|e| token_file_error(path, &e))
}

/// Writes `token` to `path` atomically (a temporary file in the same directory, flushed to disk,
/// then renamed over the old one) and readable only by its owner (mode 0600 on Unix). The old file
/// stays intact if anything fails.
///
/// # Errors
/// [`Error::TokenFile`] when the file cannot be written.
pub fn save_token_file(path: impl AsRef<Path>, token: &TokenFile) -> Result<(), Error> {
    let path = path.as_ref();
    let fail = |e: std::io::Error| token_file_error(path, &e);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(fail)?;
    let name = path
        .file_name()
        .map_or_else(|| "token.json".into(), |n| n.to_string_lossy().into_owned());
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = write_private(&temporary, &token.to_json()).and_then(|()| {
        fs::rename(&temporary, path)?;
        // The rename is durable only once the directory entry is. Best effort: not every
        // platform can sync a directory, and the file itself is already complete.
        let _ = File::open(dir).and_then(|d| d.sync_all());
        Ok(())
    });
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written.map_err(fail)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn token_file_error(path: &Path, error: &dyn std::fmt::Display) -> Error {
    Error::TokenFile {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// Access tokens from a `token.json`: refreshed shortly before they expire and whenever the server
/// refuses one, with the renewed file written back (atomically, mode 0600). Threads share one
/// refresh: the others wait for it and take its token.
#[derive(Debug)]
pub struct TokenFileProvider {
    path: PathBuf,
    file: Mutex<TokenFile>,
    exchanger: Exchanger,
}

impl TokenFileProvider {
    /// Reads the file at `path`; refreshes go through `exchanger`.
    ///
    /// # Errors
    /// [`Error::TokenFile`] when the file cannot be read or is not a token file.
    pub fn open(path: impl Into<PathBuf>, exchanger: Exchanger) -> Result<Self, Error> {
        let path = path.into();
        let file = load_token_file(&path)?;
        Ok(Self {
            path,
            file: Mutex::new(file),
            exchanger,
        })
    }

    /// The token file as it stands (after any refresh).
    pub fn token_file(&self) -> TokenFile {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TokenFile> {
        // A thread that panicked mid-refresh left the old file in place, which is still usable.
        self.file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refreshes `file` in place and saves it.
    fn renew(&self, file: &mut TokenFile) -> Result<AccessToken, Error> {
        let exchange = TokenExchange::refresh(file).map_err(|e| credentials(e.to_string()))?;
        let renewed = self.exchanger.run(&exchange)?;
        let token = renewed
            .token
            .clone()
            .ok_or_else(|| credentials("the token endpoint returned no access token".into()))?;
        // Saved before use: a renewed refresh token must not be lost if the process dies next.
        save_token_file(&self.path, &renewed)?;
        *file = renewed;
        Ok(token)
    }
}

impl TokenProvider for TokenFileProvider {
    fn access_token(&self) -> Result<Option<AccessToken>, Error> {
        let mut file = self.lock();
        if let Some(token) = file.access_token(SystemTime::now()) {
            return Ok(Some(token.clone()));
        }
        self.renew(&mut file).map(Some)
    }

    fn refresh(&self, refused: Option<&AccessToken>) -> Result<AccessToken, Error> {
        let mut file = self.lock();
        match (&file.token, refused) {
            // Another thread renewed it while this one's request was out.
            (Some(current), Some(refused)) if current != refused => Ok(current.clone()),
            _ => self.renew(&mut file),
        }
    }
}

impl Credentials {
    /// Tokens from a `token.json` (google-auth's format, as written by `gphotos-upload auth
    /// login` or by Python tools), refreshed at its `token_uri` when they expire or are refused,
    /// and written back atomically with mode 0600.
    ///
    /// # Errors
    /// [`Error::TokenFile`] when the file cannot be read or is not a token file.
    pub fn token_file(path: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::token_file_with(path, Exchanger::default())
    }

    /// [`Credentials::token_file`] with a given exchanger (retry policy and timeouts of the token
    /// endpoint).
    ///
    /// # Errors
    /// As [`Credentials::token_file`].
    pub fn token_file_with(path: impl Into<PathBuf>, exchanger: Exchanger) -> Result<Self, Error> {
        Ok(Self::from_provider(TokenFileProvider::open(
            path, exchanger,
        )?))
    }
}
