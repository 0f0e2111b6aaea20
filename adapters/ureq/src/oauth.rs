//! OAuth on the wire: the token endpoint exchange, `token.json` on disk (read, refreshed, written
//! back atomically with mode 0600), and the installed-app login on a loopback listener.
//!
//! The core decides what goes in the exchange and what its reply means
//! ([`gphotos_upload::oauth::TokenExchange`]) and how long to back off
//! ([`gphotos_upload::retry`]); this module sends, sleeps and writes files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use gphotos_upload::oauth::{
    Consent, OAuthClient, RedirectError, Scope, TokenEndpointError, TokenExchange, TokenFile,
};
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
            proxy: ureq::Proxy::try_from_env(),
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

/// The installed-app consent flow on a loopback listener: the user opens
/// [`Login::authorization_url`] in a browser, Google redirects back to this process with a code,
/// and [`Login::finish`] exchanges it for a token file (save it with [`save_token_file`]).
///
/// ```no_run
/// use std::time::Duration;
/// use gphotos_upload::oauth::{OAuthClient, Scope};
/// use gphotos_upload_ureq::oauth::{Exchanger, Login, save_token_file};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = OAuthClient::from_json(&std::fs::read("client_secret.json")?)?;
/// let login = Login::start(&client, &[Scope::AppendOnly])?;
/// eprintln!("Open this page to allow access: {}", login.authorization_url());
/// let token = login.finish(Duration::from_secs(300), &Exchanger::default())?;
/// save_token_file("token.json", &token)?;
/// # Ok(())
/// # }
/// ```
pub struct Login {
    listener: TcpListener,
    consent: Consent,
}

impl Login {
    /// Binds a listener on a free port of 127.0.0.1 and prepares a consent for `scopes` with a
    /// fresh `state` and PKCE verifier.
    ///
    /// # Errors
    /// [`Error::Credentials`] when no port can be bound, no randomness is available, or `scopes` is
    /// empty.
    pub fn start(client: &OAuthClient, scopes: &[Scope]) -> Result<Self, Error> {
        Self::start_on_port(client, scopes, 0)
    }

    /// [`Login::start`] with the listener on `port` of 127.0.0.1 (0: any free port), for an OAuth
    /// client whose console settings or a firewall expect a fixed redirect port.
    ///
    /// # Errors
    /// As [`Login::start`]; also when `port` is taken.
    pub fn start_on_port(client: &OAuthClient, scopes: &[Scope], port: u16) -> Result<Self, Error> {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
            credentials(format!(
                "cannot listen on 127.0.0.1:{port} for the redirect: {e}; choose another port"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| credentials(format!("cannot listen on 127.0.0.1: {e}")))?
            .port();
        let mut state = [0; 32];
        let mut verifier = [0; 32];
        getrandom::fill(&mut state)
            .and_then(|()| getrandom::fill(&mut verifier))
            .map_err(|e| credentials(format!("no randomness for the login: {e}")))?;
        let consent = Consent::new(client, port, scopes, state, verifier)
            .map_err(|e| credentials(e.to_string()))?;
        Ok(Self { listener, consent })
    }

    /// The page to open in the browser.
    pub fn authorization_url(&self) -> String {
        self.consent.authorization_url()
    }

    /// The redirect URI the browser comes back to, `http://127.0.0.1:<port>`.
    pub fn redirect_uri(&self) -> &str {
        self.consent.redirect_uri()
    }

    /// Waits up to `timeout` for the browser's redirect, answers it with a short page, and
    /// exchanges the code for a token file. Requests that are not the redirect (a favicon, a forged
    /// `state`) are answered and ignored.
    ///
    /// # Errors
    /// [`Error::Credentials`] when the time runs out, the user declines, or the exchange fails.
    pub fn finish(self, timeout: Duration, exchanger: &Exchanger) -> Result<TokenFile, Error> {
        let deadline = Instant::now() + timeout;
        self.listener
            .set_nonblocking(true)
            .map_err(|e| credentials(format!("the redirect listener failed: {e}")))?;
        let code = loop {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(credentials(format!(
                            "no answer from the browser within {} s; run the login again and \
                             open the page it prints",
                            timeout.as_secs()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) => return Err(credentials(format!("the redirect listener failed: {e}"))),
            };
            let outcome = match read_target(&stream) {
                Some(target) => self.consent.parse_redirect(&target),
                None => Err(RedirectError::NotTheRedirect),
            };
            write_reply(stream, &Consent::browser_reply(&outcome));
            match outcome {
                Ok(code) => break code,
                Err(error) if error.keep_listening() => {}
                Err(error) => return Err(credentials(error.to_string())),
            }
        };
        exchanger.run(&self.consent.exchange(&code))
    }
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("redirect_uri", &self.consent.redirect_uri())
            .finish_non_exhaustive()
    }
}

/// The request target of the first request on `stream` (`/?code=...&state=...`), reading at most
/// 16 KiB of head within a few seconds.
fn read_target(stream: &TcpStream) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut reader = BufReader::new(stream.take(16 * 1024));
    reader.read_until(b'\n', &mut head).ok()?;
    let line = String::from_utf8(head).ok()?;
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_owned()),
        _ => None,
    }
}

fn write_reply(mut stream: TcpStream, reply: &http::Response<Vec<u8>>) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status().as_u16(),
        reply.status().canonical_reason().unwrap_or("")
    );
    for (name, value) in reply.headers() {
        if let Ok(value) = value.to_str() {
            head.push_str(name.as_str());
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
    }
    head.push_str("\r\n");
    // The browser is a courtesy: the code is already in hand, so a failed write changes nothing.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(reply.body()));
}
