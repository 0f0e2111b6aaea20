//! One file's resumable upload, as a state machine.
//!
//! [`Upload::poll_action`] names the next step; the adapter performs it and feeds the outcome back
//! through [`Upload::handle_response`] or [`Upload::handle_transport_error`]. At most one request is
//! in flight. The machine decides everything: chunk boundaries, when to finalize, when to query, where
//! to resume, whether and when to retry, when a session is dead.

pub mod protocol;

use std::fmt;
use std::time::{Duration, Instant};

use http::header::HeaderValue;
use http::{Response, StatusCode, Uri};
use serde::{Deserialize, Serialize};

use self::protocol::Status;
use crate::retry::{self, Backoff, RetryPolicy, Verdict};
use crate::{Endpoint, Error, Misuse, RequestId, SessionUrl, Transmit, UploadToken};

/// Google's granularity, assumed when a start reply does not name one.
pub const DEFAULT_GRANULARITY: u64 = 256 * 1024;

/// Tunables of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadConfig {
    /// Target chunk size in bytes, rounded down to a multiple of the server's granularity (at least
    /// one granularity). Larger chunks mean fewer round trips; smaller ones lose less on a fault.
    pub chunk_size: u64,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Upload sessions to start for one file before giving up (sessions can expire or be cancelled
    /// under us).
    pub max_sessions: u32,
    /// Times the server may lose acknowledged bytes before the upload fails.
    pub max_rewinds: u32,
    /// Seed of the retry jitter; give each upload its own so that parallel retries spread out.
    pub seed: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            chunk_size: 8 * 1024 * 1024,
            retry: RetryPolicy::default(),
            max_sessions: 4,
            max_rewinds: 16,
            seed: 0x5EED,
        }
    }
}

/// The file being uploaded, as the protocol sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFile {
    /// Total size in bytes.
    pub size: u64,
    /// MIME type, such as `image/jpeg` or `video/mp4`.
    pub mime_type: String,
    /// File name sent in `X-Goog-Upload-File-Name` (only when ASCII).
    pub file_name: Option<String>,
}

/// What the adapter should do next.
// `Send` dominates and is moved straight into I/O; boxing it would allocate once per chunk.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Perform this request and hand back its reply or transport error.
    Send(Transmit),
    /// Nothing to do before this instant (a backoff); poll again then.
    WaitUntil(Instant),
    /// A request is in flight: hand back its outcome first.
    AwaitReply,
    /// The access token was refused: refresh it, then call [`Upload::token_refreshed`]. If no fresh
    /// token can be had, stop; the serialized machine resumes later.
    RefreshToken,
    /// Finished: the upload token for `mediaItems:batchCreate`.
    Done(UploadToken),
    /// Finished without success.
    Failed(Error),
}

/// The stage an upload is in, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening an upload session.
    Starting,
    /// Sending bytes.
    Uploading,
    /// Asking the server how much it holds, after a fault.
    Resyncing,
    /// Backing off before a retry.
    Waiting,
    /// Waiting for a fresh access token.
    Authorizing,
    /// Telling the server to drop the session.
    Cancelling,
    /// Finished with an upload token.
    Done,
    /// Finished without success.
    Failed,
}

/// Bytes the server has confirmed, out of the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes the server confirmed holding.
    pub confirmed: u64,
    /// Size of the file.
    pub total: u64,
}

/// The live upload session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    url: SessionUrl,
    #[serde(with = "uri_text")]
    uri: Uri,
    granularity: u64,
    upload_id: Option<String>,
    /// End of the furthest chunk ever sent in this session: nothing beyond can have arrived.
    sent_end: u64,
}

/// Requests the machine can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Next {
    Start,
    Chunk,
    Query,
    Cancel,
}

/// What a request in flight was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Start,
    Chunk {
        offset: u64,
        len: u64,
        finalize: bool,
    },
    Query,
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SavedStep", into = "SavedStep")]
enum Step {
    Ready(Next),
    Waiting { until: Instant, next: Next },
    NeedToken(Next),
    InFlight { id: RequestId, sent: Sent },
    Done(UploadToken),
    Failed(Error),
}

/// How a step is stored: an instant or a request in flight has no meaning in another process, so a
/// wait is skipped and a request in flight counts as interrupted (the server is queried).
#[derive(Serialize, Deserialize)]
enum SavedStep {
    Ready(Next),
    NeedToken(Next),
    Done(UploadToken),
    Failed(Error),
}

impl From<Step> for SavedStep {
    fn from(step: Step) -> Self {
        match step {
            Step::Ready(next) | Step::Waiting { next, .. } => Self::Ready(next),
            Step::NeedToken(next) => Self::NeedToken(next),
            Step::InFlight { sent, .. } => Self::Ready(match sent {
                Sent::Start => Next::Start,
                Sent::Cancel => Next::Cancel,
                Sent::Chunk { .. } | Sent::Query => Next::Query,
            }),
            Step::Done(token) => Self::Done(token),
            Step::Failed(error) => Self::Failed(error),
        }
    }
}

impl From<SavedStep> for Step {
    fn from(saved: SavedStep) -> Self {
        match saved {
            SavedStep::Ready(next) => Self::Ready(next),
            SavedStep::NeedToken(next) => Self::NeedToken(next),
            SavedStep::Done(token) => Self::Done(token),
            SavedStep::Failed(error) => Self::Failed(error),
        }
    }
}

/// One file's resumable upload session.
///
/// Serialize it (serde) to survive a crash: the restored machine carries on where the original
/// stood, treating a request that was in flight as interrupted (it queries the server) and skipping a
/// pending backoff. A snapshot whose state no upload can reach (more bytes confirmed than the file
/// has, a session URL that breaks the origin policy: a damaged or edited file) is refused when read.
// `remote = "Self"` derives inherent `Upload::serialize` and `Upload::deserialize`, so that the
// trait impls below can check the state after reading it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Upload {
    #[serde(with = "endpoint_text")]
    endpoint: Endpoint,
    file: MediaFile,
    config: UploadConfig,
    session: Option<Session>,
    /// Bytes the server confirmed (by acknowledging chunks or in the last query).
    confirmed: u64,
    step: Step,
    backoff: Backoff,
    next_id: u64,
    sessions: u32,
    rewinds: u32,
    /// Refusals (4xx) of chunks since the last progress; one resync is allowed, not a loop.
    refusals: u32,
    /// 401s since the last success.
    auth_failures: u32,
    /// Cancel once the request in flight is answered.
    cancel_requested: bool,
}

impl Serialize for Upload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Upload::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for Upload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let upload = Upload::deserialize(deserializer)?;
        upload.check().map_err(serde::de::Error::custom)?;
        Ok(upload)
    }
}

impl Upload {
    /// Whether a restored state is one an upload can be in.
    fn check(&self) -> Result<(), String> {
        if self.file.size == 0 {
            return Err("an upload of an empty file".into());
        }
        if self.confirmed > self.file.size {
            return Err(format!(
                "{} bytes confirmed of a {}-byte file",
                self.confirmed, self.file.size
            ));
        }
        if let Some(session) = &self.session {
            if session.granularity == 0 || session.sent_end > self.file.size {
                return Err("an impossible upload session".into());
            }
            let secure = match (session.uri.scheme_str(), session.uri.host()) {
                (Some("https"), Some(_)) => true,
                (Some("http"), Some(host)) => crate::is_loopback(host),
                _ => false,
            };
            if !secure {
                return Err("a session URL that is neither https nor loopback".into());
            }
        }
        Ok(())
    }

    /// A new upload of `file` to the API at `endpoint`.
    ///
    /// # Errors
    /// [`Error::EmptyFile`] for a zero-byte file (no request is ever sent for it), and
    /// [`Error::InvalidInput`] when the MIME type cannot be sent in a header.
    pub fn new(endpoint: Endpoint, file: MediaFile, config: UploadConfig) -> Result<Self, Error> {
        if file.size == 0 {
            return Err(Error::EmptyFile);
        }
        if HeaderValue::from_str(&file.mime_type).is_err() || file.mime_type.trim().is_empty() {
            return Err(Error::InvalidInput {
                reason: format!("MIME type {:?} is not a valid header value", file.mime_type),
            });
        }
        Ok(Self {
            endpoint,
            backoff: Backoff::new(config.seed),
            file,
            config,
            session: None,
            confirmed: 0,
            step: Step::Ready(Next::Start),
            next_id: 0,
            sessions: 0,
            rewinds: 0,
            refusals: 0,
            auth_failures: 0,
            cancel_requested: false,
        })
    }

    /// The next thing to do, at time `now`.
    pub fn poll_action(&mut self, now: Instant) -> Action {
        loop {
            match self.step {
                // A cancel asked for while a request was in flight outlives a snapshot of that
                // request; the restored machine must cancel, not re-send.
                Step::Ready(_) if self.cancel_requested => self.step = self.cancel_step(),
                Step::Ready(next) => return Action::Send(self.send(next)),
                Step::Waiting { until, next } => {
                    if now < until {
                        return Action::WaitUntil(until);
                    }
                    self.step = Step::Ready(next);
                }
                Step::NeedToken(_) => return Action::RefreshToken,
                Step::InFlight { .. } => return Action::AwaitReply,
                Step::Done(ref token) => return Action::Done(token.clone()),
                Step::Failed(ref error) => return Action::Failed(error.clone()),
            }
        }
    }

    /// Hands back the reply to request `id`.
    ///
    /// # Errors
    /// [`Misuse::UnexpectedReply`] when `id` is not the request in flight; the machine is unchanged.
    pub fn handle_response<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        id: RequestId,
        response: &Response<B>,
    ) -> Result<(), Misuse> {
        let sent = self.take_in_flight(id)?;
        if self.cancel_requested {
            self.step = self.cancel_step();
            return Ok(());
        }
        self.step = match sent {
            Sent::Start => self.on_start_reply(now, response),
            Sent::Chunk {
                offset,
                len,
                finalize,
            } => self.on_chunk_reply(now, response, offset, len, finalize),
            Sent::Query => self.on_query_reply(now, response),
            Sent::Cancel => Step::Failed(Error::Cancelled),
        };
        debug_assert!(
            self.confirmed <= self.file.size,
            "confirmed beyond the file"
        );
        Ok(())
    }

    /// Reports that request `id` failed in transport: refused connection, reset, timeout. Whether
    /// the bytes arrived is unknown, so the machine queries before sending more.
    ///
    /// # Errors
    /// [`Misuse::UnexpectedReply`] when `id` is not the request in flight; the machine is unchanged.
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        id: RequestId,
        error: &dyn fmt::Display,
    ) -> Result<(), Misuse> {
        let sent = self.take_in_flight(id)?;
        if self.cancel_requested {
            self.step = self.cancel_step();
            return Ok(());
        }
        let what = format!("transport error: {error}");
        self.step = match sent {
            Sent::Start => self.retry(now, Next::Start, false, None, what),
            Sent::Chunk { .. } | Sent::Query => self.retry(now, Next::Query, false, None, what),
            Sent::Cancel => Step::Failed(Error::Cancelled),
        };
        Ok(())
    }

    /// Reports that a fresh access token is in place after [`Action::RefreshToken`].
    pub fn token_refreshed(&mut self) {
        if let Step::NeedToken(next) = self.step {
            self.step = Step::Ready(next);
        }
    }

    /// Cancels the upload: the server is told to drop the session (once the request in flight, if
    /// any, is answered) and the upload ends with [`Error::Cancelled`].
    pub fn cancel(&mut self) {
        match self.step {
            // Cancelling twice is cancelling once: a second cancel command would follow the first.
            Step::Done(_)
            | Step::Failed(_)
            | Step::InFlight {
                sent: Sent::Cancel, ..
            } => {}
            Step::InFlight { .. } => self.cancel_requested = true,
            _ => self.step = self.cancel_step(),
        }
    }

    /// Prepares the upload to continue in a new run: after a restore from a snapshot (another
    /// process may have sent more than the snapshot knows) or after a failure (for example once the
    /// daily quota has reset). Retry counters start afresh and the server is queried, or a session
    /// started. Finished uploads, uploads with a request in flight, and cancelled, empty or invalid
    /// ones stay as they are.
    pub fn resume(&mut self) {
        match self.step {
            // A request in flight is the adapter's to answer; resuming cannot forget it.
            Step::Done(_) | Step::InFlight { .. } => return,
            Step::Failed(ref error) => {
                if matches!(
                    error,
                    Error::Cancelled | Error::EmptyFile | Error::InvalidInput { .. }
                ) {
                    return;
                }
                if matches!(
                    error,
                    Error::TooMuchProgress { .. } | Error::SessionsExhausted { .. }
                ) {
                    self.session = None;
                    self.confirmed = 0;
                    self.sessions = 0;
                }
            }
            _ => {}
        }
        // Another process may have sent chunks after this snapshot was taken: any size up to the
        // file's is now believable.
        if let Some(session) = &mut self.session {
            session.sent_end = self.file.size;
        }
        self.backoff.reset();
        self.rewinds = 0;
        self.refusals = 0;
        self.auth_failures = 0;
        self.cancel_requested = false;
        self.step = Step::Ready(if self.session.is_some() {
            Next::Query
        } else {
            Next::Start
        });
    }

    /// Bytes confirmed so far.
    pub fn progress(&self) -> Progress {
        Progress {
            confirmed: self.confirmed,
            total: self.file.size,
        }
    }

    /// The current stage.
    pub fn phase(&self) -> Phase {
        let of_next = |next| match next {
            Next::Start => Phase::Starting,
            Next::Chunk => Phase::Uploading,
            Next::Query => Phase::Resyncing,
            Next::Cancel => Phase::Cancelling,
        };
        match self.step {
            Step::Ready(next) => of_next(next),
            Step::Waiting { .. } => Phase::Waiting,
            Step::NeedToken(_) => Phase::Authorizing,
            Step::InFlight { sent, .. } => of_next(match sent {
                Sent::Start => Next::Start,
                Sent::Chunk { .. } => Next::Chunk,
                Sent::Query => Next::Query,
                Sent::Cancel => Next::Cancel,
            }),
            Step::Done(_) => Phase::Done,
            Step::Failed(_) => Phase::Failed,
        }
    }

    /// The server's id of the upload (`X-GUploader-UploadID`), safe to log.
    pub fn upload_id(&self) -> Option<&str> {
        self.session.as_ref()?.upload_id.as_deref()
    }

    /// The file being uploaded.
    pub fn file(&self) -> &MediaFile {
        &self.file
    }

    /// Upload sessions started so far.
    pub fn sessions_started(&self) -> u32 {
        self.sessions
    }

    fn take_in_flight(&mut self, id: RequestId) -> Result<Sent, Misuse> {
        match self.step {
            Step::InFlight { id: current, sent } if current == id => Ok(sent),
            _ => Err(Misuse::UnexpectedReply { id }),
        }
    }

    fn cancel_step(&mut self) -> Step {
        self.cancel_requested = false;
        if self.session.is_some() {
            Step::Ready(Next::Cancel)
        } else {
            Step::Failed(Error::Cancelled)
        }
    }

    fn send(&mut self, next: Next) -> Transmit {
        let id = RequestId(self.next_id);
        // Ids only need to differ from the previous one; a restored counter may be anything.
        self.next_id = self.next_id.wrapping_add(1);
        let (request, sent) = match (next, &mut self.session) {
            (Next::Chunk, Some(session)) => {
                let (len, finalize) = plan_chunk(
                    self.confirmed,
                    self.file.size,
                    session.granularity,
                    self.config.chunk_size,
                );
                session.sent_end = session.sent_end.max(self.confirmed + len);
                let request = protocol::chunk(session.uri.clone(), self.confirmed, len, finalize);
                let sent = Sent::Chunk {
                    offset: self.confirmed,
                    len,
                    finalize,
                };
                (request, sent)
            }
            (Next::Query, Some(session)) => {
                (protocol::command(session.uri.clone(), "query"), Sent::Query)
            }
            (Next::Cancel, Some(session)) => (
                protocol::command(session.uri.clone(), "cancel"),
                Sent::Cancel,
            ),
            // Without a session every road leads to a start.
            (_, _) => {
                let mime = HeaderValue::from_str(&self.file.mime_type)
                    .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
                let request = protocol::start(
                    self.endpoint.join("uploads"),
                    self.file.size,
                    &mime,
                    self.file.file_name.as_deref(),
                );
                (request, Sent::Start)
            }
        };
        self.step = Step::InFlight { id, sent };
        let bearer = self.endpoint.may_carry_token(request.uri());
        Transmit {
            id,
            request,
            bearer,
        }
    }

    fn on_start_reply<B: AsRef<[u8]>>(&mut self, now: Instant, response: &Response<B>) -> Step {
        let status = response.status();
        if !status.is_success() {
            return self.on_failure(now, response, Next::Start);
        }
        let headers = response.headers();
        let session = match parse_start(&self.endpoint, headers) {
            Ok(session) => session,
            Err(StartFault::Insecure(detail)) => return Step::Failed(Error::Protocol { detail }),
            Err(StartFault::Malformed(detail)) => {
                return self.retry(now, Next::Start, false, None, detail);
            }
        };
        self.session = Some(session);
        self.sessions = self.sessions.saturating_add(1);
        self.confirmed = 0;
        self.rewinds = 0;
        self.made_progress();
        Step::Ready(Next::Chunk)
    }

    /// The server accepted something: failure counters start again. A query's answer is not
    /// progress, or a server that fails every chunk but answers queries would keep us forever.
    fn made_progress(&mut self) {
        self.refusals = 0;
        self.auth_failures = 0;
        self.backoff.reset();
    }

    fn on_chunk_reply<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        response: &Response<B>,
        offset: u64,
        len: u64,
        finalize: bool,
    ) -> Step {
        let status = response.status();
        if is_gone(status) {
            return self.new_session();
        }
        if status == StatusCode::CONFLICT {
            // Another request is still writing to the session (one abandoned by a killed process,
            // say): wait for it to settle, then ask where the session stands.
            let asked = retry::retry_after(response.headers());
            return self.retry(now, Next::Query, false, asked, "HTTP 409".into());
        }
        if !status.is_success() {
            if retry::classify(status, response.body().as_ref()) == Verdict::Permanent {
                // A refused chunk may be re-sent once after a resync (the server may know a
                // different offset); a second refusal without progress is final.
                self.refusals = self.refusals.saturating_add(1);
                if self.refusals > 1 {
                    return Step::Failed(rejected(response));
                }
                return Step::Ready(Next::Query);
            }
            return self.on_failure(now, response, Next::Query);
        }
        // Anything unexpected leaves the outcome unknown: ask the server, after a backoff that
        // bounds how often a misbehaving server can make us ask.
        let unexpected = |this: &mut Self, what: &str| {
            this.retry(
                now,
                Next::Query,
                false,
                None,
                format!("unexpected chunk reply: {what}"),
            )
        };
        let headers = response.headers();
        let reported = match protocol::status(headers) {
            Ok(reported) => reported,
            Err(detail) => return unexpected(self, &detail),
        };
        if finalize {
            return match (reported, protocol::token(response.body().as_ref())) {
                (Some(Status::Final), Some(token)) => {
                    self.confirmed = self.file.size;
                    Step::Done(token)
                }
                _ => unexpected(self, "finalize answered without a final status and token"),
            };
        }
        // An acknowledgement must say `active`: a bare 200 (from a proxy, say) proves nothing.
        if reported != Some(Status::Active) {
            return unexpected(self, "chunk reply without an active status");
        }
        match protocol::number(headers, &protocol::SIZE_RECEIVED) {
            // An acknowledgement that holds none of the chunk is a fault, or a server that answers
            // every chunk so would keep us sending forever: it costs a retry and a resync.
            Ok(Some(size)) if size <= offset => {
                return unexpected(self, "chunk acknowledged without progress");
            }
            Ok(Some(size)) if size != offset + len => return self.on_reported_size(size),
            Ok(_) => {}
            Err(detail) => return unexpected(self, &detail),
        }
        self.confirmed = offset + len;
        self.made_progress();
        Step::Ready(Next::Chunk)
    }

    fn on_query_reply<B: AsRef<[u8]>>(&mut self, now: Instant, response: &Response<B>) -> Step {
        let status = response.status();
        if is_gone(status) {
            return self.new_session();
        }
        if !status.is_success() {
            return self.on_failure(now, response, Next::Query);
        }
        let headers = response.headers();
        let size = protocol::number(headers, &protocol::SIZE_RECEIVED);
        match protocol::status(headers) {
            Ok(Some(Status::Final)) => {
                let complete = matches!(size, Ok(None)) || size == Ok(Some(self.file.size));
                match protocol::token(response.body().as_ref()) {
                    Some(token) if complete => {
                        self.confirmed = self.file.size;
                        Step::Done(token)
                    }
                    _ => self.new_session(),
                }
            }
            Ok(Some(Status::Cancelled)) => self.new_session(),
            Ok(Some(Status::Active)) => match size {
                Ok(Some(size)) => self.on_reported_size(size),
                Ok(None) => self.retry(
                    now,
                    Next::Query,
                    false,
                    None,
                    "query reply without X-Goog-Upload-Size-Received".into(),
                ),
                Err(detail) => self.retry(now, Next::Query, false, None, detail),
            },
            Ok(None) => self.retry(
                now,
                Next::Query,
                false,
                None,
                "query reply without X-Goog-Upload-Status".into(),
            ),
            Err(detail) => self.retry(now, Next::Query, false, None, detail),
        }
    }

    /// The server says it holds `size` bytes of an active session: resume there, whatever we
    /// believed before, unless that is impossible.
    fn on_reported_size(&mut self, size: u64) -> Step {
        let sent_end = self.session.as_ref().map_or(0, |s| s.sent_end);
        if size > sent_end || size > self.file.size {
            return Step::Failed(Error::TooMuchProgress {
                reported: size,
                sent: sent_end,
            });
        }
        if size < self.confirmed {
            self.rewinds = self.rewinds.saturating_add(1);
            if self.rewinds > self.config.max_rewinds {
                return Step::Failed(Error::Rewinds {
                    count: self.rewinds,
                });
            }
        }
        if size == self.file.size {
            // Every byte arrived but the session is not final, and an empty finalize is refused:
            // the only safe way to a token is a fresh session.
            return self.new_session();
        }
        self.confirmed = size;
        Step::Ready(Next::Chunk)
    }

    fn on_failure<B: AsRef<[u8]>>(
        &mut self,
        now: Instant,
        response: &Response<B>,
        next: Next,
    ) -> Step {
        let status = response.status();
        match retry::classify(status, response.body().as_ref()) {
            Verdict::Transient { throttled } => {
                let asked = retry::retry_after(response.headers());
                let what = format!("HTTP {}", status.as_u16());
                self.retry(now, next, throttled, asked, what)
            }
            Verdict::DailyQuota => Step::Failed(Error::DailyQuota),
            Verdict::Unauthorized => {
                self.auth_failures = self.auth_failures.saturating_add(1);
                if self.auth_failures > 1 {
                    Step::Failed(Error::Unauthorized)
                } else {
                    Step::NeedToken(next)
                }
            }
            Verdict::Success | Verdict::Permanent => Step::Failed(rejected(response)),
        }
    }

    fn retry(
        &mut self,
        now: Instant,
        next: Next,
        throttled: bool,
        asked: Option<Duration>,
        what: String,
    ) -> Step {
        match self.backoff.fail(&self.config.retry, now, throttled, asked) {
            Some(until) => Step::Waiting { until, next },
            None => Step::Failed(Error::RetriesExhausted {
                attempts: self.backoff.attempts(),
                last: what,
            }),
        }
    }

    fn new_session(&mut self) -> Step {
        self.session = None;
        self.confirmed = 0;
        if self.sessions >= self.config.max_sessions {
            return Step::Failed(Error::SessionsExhausted {
                sessions: self.sessions,
            });
        }
        Step::Ready(Next::Start)
    }
}

/// The length of the chunk at `offset`, and whether it finalizes.
///
/// Every chunk but the last is a whole number of granules; the last ends exactly at `size` and is
/// never empty, because `offset < size` whenever a chunk is planned.
fn plan_chunk(offset: u64, size: u64, granularity: u64, chunk_size: u64) -> (u64, bool) {
    let granularity = granularity.max(1);
    let chunk = (chunk_size / granularity)
        .max(1)
        .saturating_mul(granularity);
    let remaining = size - offset;
    if remaining <= chunk {
        (remaining, true)
    } else {
        (chunk, false)
    }
}

fn is_gone(status: StatusCode) -> bool {
    status == StatusCode::NOT_FOUND || status == StatusCode::GONE
}

fn rejected<B: AsRef<[u8]>>(response: &Response<B>) -> Error {
    Error::Rejected {
        status: response.status().as_u16(),
        message: protocol::error_message(response.body().as_ref()),
    }
}

enum StartFault {
    /// A garbled reply, perhaps transient: worth another start.
    Malformed(String),
    /// A session URL that would send bytes unencrypted across the network.
    Insecure(String),
}

fn parse_start(endpoint: &Endpoint, headers: &http::HeaderMap) -> Result<Session, StartFault> {
    match protocol::status(headers).map_err(StartFault::Malformed)? {
        None | Some(Status::Active) => {}
        Some(_) => {
            return Err(StartFault::Malformed(
                "start reply with a session that is not active".into(),
            ));
        }
    }
    let url = protocol::text(headers, &protocol::URL)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| StartFault::Malformed("start reply without X-Goog-Upload-URL".into()))?;
    let uri = endpoint.resolve(url).map_err(|e| match e {
        crate::EndpointError::InsecureHost(_) => StartFault::Insecure(format!("session URL: {e}")),
        crate::EndpointError::NotAUrl(_) => {
            StartFault::Malformed("start reply with an unusable X-Goog-Upload-URL".into())
        }
    })?;
    let granularity = protocol::number(headers, &protocol::GRANULARITY)
        .map_err(StartFault::Malformed)?
        .unwrap_or(DEFAULT_GRANULARITY);
    if granularity == 0 {
        return Err(StartFault::Malformed("chunk granularity of zero".into()));
    }
    let upload_id = protocol::text(headers, &protocol::UPLOAD_ID)
        .filter(|id| id.len() <= 256)
        .map(str::to_owned);
    Ok(Session {
        url: SessionUrl::new(url),
        uri,
        granularity,
        upload_id,
        sent_end: 0,
    })
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("file", &self.file)
            .field("upload_id", &self.upload_id())
            .field("confirmed", &self.confirmed)
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("upload_id", &self.upload_id)
            .field("granularity", &self.granularity)
            .finish_non_exhaustive()
    }
}

mod uri_text {
    use http::Uri;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(uri: &Uri, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(uri)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Uri, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

mod endpoint_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::Endpoint;

    pub fn serialize<S: Serializer>(endpoint: &Endpoint, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(endpoint)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Endpoint, D::Error> {
        let text = String::deserialize(deserializer)?;
        Endpoint::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::plan_chunk;

    #[test]
    fn chunks_are_granules_and_the_last_is_never_empty() {
        assert_eq!(plan_chunk(0, 10, 4, 8), (8, false));
        assert_eq!(plan_chunk(8, 10, 4, 8), (2, true));
        assert_eq!(plan_chunk(0, 8, 4, 8), (8, true));
        assert_eq!(plan_chunk(0, 1, 262_144, 8 << 20), (1, true));
        assert_eq!(
            plan_chunk(0, 100, 64, 10),
            (64, false),
            "at least one granule"
        );
        assert_eq!(
            plan_chunk(0, 100, 0, 10),
            (10, false),
            "zero granularity treated as one"
        );
    }
}
