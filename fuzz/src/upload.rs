//! Drives an [`Upload`] through arbitrary sequences of replies, transport errors and caller actions,
//! checking the invariants of DESIGN.md section 4 after every step.
//!
//! The harness keeps its own model of what the server has told the client (the confirmed size, whether
//! a resync is owed, whether the session is dead) and checks every request the machine emits against
//! it. Numbers in replies can be chosen relative to that model, so that the fuzzer reaches deep states
//! (acknowledged chunks, finalize) as easily as nonsense.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

use arbitrary::Arbitrary;
use gphotos_upload::retry::{self, Verdict};
use gphotos_upload::upload::DEFAULT_GRANULARITY;
use gphotos_upload::upload::protocol::{self, Status};
use gphotos_upload::{
    Action, Endpoint, Error, MediaFile, Payload, RequestId, RetryPolicy, Transmit, Upload,
    UploadConfig,
};
use http::header::{CONTENT_LENGTH, HeaderMap};
use http::{Response, StatusCode, Uri};

use crate::headers::{Name, append};

/// Marks every session URL the harness hands out, so that a leak into `Debug` output is visible.
const MARK: &str = "S3SS10NS3CR3T";

/// One fuzz input: the file, the machine's configuration and what happens to it.
#[derive(Arbitrary, Debug)]
pub struct Scenario {
    size: FileSize,
    chunk_size: u32,
    max_sessions: u8,
    max_rewinds: u8,
    max_attempts: u8,
    initial_ms: u16,
    max_delay_ms: u32,
    throttle_floor_ms: u32,
    max_elapsed_s: u32,
    seed: u64,
    root: Root,
    file_name: Option<String>,
    events: Vec<Event>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum FileSize {
    Small(u16),
    Granules(u8, u16),
    Huge(u64),
}

#[derive(Arbitrary, Debug)]
enum Root {
    Loopback,
    LoopbackV6,
    Google,
    Text(String),
}

/// What happens next.
#[derive(Arbitrary, Debug, Clone)]
enum Event {
    /// The request in flight is answered.
    Reply(Box<Reply>),
    /// The request in flight fails in transport.
    TransportError,
    /// The caller cancels.
    Cancel,
    /// The caller gives a failed upload another run.
    Resume,
    /// The machine is serialized and restored (a killed process coming back).
    Snapshot,
    /// A reply for a request that is not in flight.
    StaleReply(u64),
    /// Time passes (milliseconds) before the adapter polls again.
    Advance(u32),
}

#[derive(Arbitrary, Debug, Clone)]
struct Reply {
    status: Code,
    upload_status: Option<UploadStatus>,
    size_received: Option<Number>,
    granularity: Option<Number>,
    url: Option<Location>,
    upload_id: Option<String>,
    retry_after: Option<RetryAfter>,
    extra: Vec<(Name, Vec<u8>)>,
    body: Body,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Code {
    Ok,
    Created,
    NoContent,
    PermanentRedirect,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Gone,
    Timeout,
    Throttled,
    Internal,
    Unavailable,
    Other(u16),
}

impl Code {
    fn status(self) -> StatusCode {
        let code = match self {
            Self::Ok => 200,
            Self::Created => 201,
            Self::NoContent => 204,
            Self::PermanentRedirect => 308,
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Gone => 410,
            Self::Timeout => 408,
            Self::Throttled => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
            Self::Other(code) => 100 + code % 900,
        };
        StatusCode::from_u16(code).expect("100..=999 is a valid status")
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum UploadStatus {
    Active,
    Final,
    Cancelled,
    /// A known status in odd case with spaces around it.
    Odd(u8, bool),
    Raw(Vec<u8>),
}

impl UploadStatus {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Active => b"active".to_vec(),
            Self::Final => b"final".to_vec(),
            Self::Cancelled => b"cancelled".to_vec(),
            Self::Odd(which, upper) => {
                let word = ["active", "final", "cancelled"][usize::from(*which % 3)];
                let word = if *upper {
                    word.to_ascii_uppercase()
                } else {
                    word.to_owned()
                };
                format!(" {word}\t").into_bytes()
            }
            Self::Raw(bytes) => bytes.clone(),
        }
    }
}

/// A number, possibly relative to what the harness knows.
#[derive(Arbitrary, Debug, Clone)]
enum Number {
    /// What the server last confirmed.
    Confirmed,
    /// The end of the last chunk sent.
    SentEnd,
    /// The file size.
    Total,
    /// That far above what was confirmed.
    Above(u16),
    /// That far below what was confirmed.
    Below(u16),
    Exact(u64),
    /// Powers of two, for granularities.
    Power(u8),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
enum Location {
    /// On the root's own origin.
    SameOrigin(u8),
    /// `/upload/...`.
    OriginRelative(u8),
    /// Relative to the root.
    RootRelative(u8),
    /// Another https origin (allowed, but gets no token).
    OtherHttps(u8),
    /// Plain http off loopback (refused).
    Insecure,
    Raw(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum RetryAfter {
    Seconds(u32),
    /// An HTTP date, and the reply's `Date`, as seconds after an epoch in 2025.
    Date(u32, Option<u32>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
enum Body {
    Empty,
    /// A plausible upload token, padded with whitespace or not.
    Token(u32, bool),
    /// Google's JSON error.
    Error(String),
    /// Mentions the daily quota.
    DailyQuota,
    Raw(Vec<u8>),
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Empty => Vec::new(),
            Self::Token(n, padded) => {
                let token = format!("CAIS-upload-token-{n}");
                if *padded {
                    format!("\r\n {token} \n").into_bytes()
                } else {
                    token.into_bytes()
                }
            }
            Self::Error(message) => serde_json::json!({
                "error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
            })
            .to_string()
            .into_bytes(),
            Self::DailyQuota => br#"{"error":{"code":429,"message":"Quota exceeded for quota metric 'All requests' and limit 'All requests per day'"}}"#.to_vec(),
            Self::Raw(bytes) => bytes.clone(),
        }
    }
}

/// What a request in flight was, as read off the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    Chunk {
        offset: u64,
        len: u64,
        finalize: bool,
    },
    Query,
    Cancel,
}

/// What the adapter is waiting for.
#[derive(Debug, Clone, PartialEq)]
enum Wants {
    /// A request is in flight.
    Reply(RequestId, Kind),
    /// A backoff until this instant.
    Wait(Instant),
    /// A fresh token.
    Token,
    /// Nothing more: the machine ended.
    Ended(End),
}

#[derive(Debug, Clone, PartialEq)]
enum End {
    Done(String),
    Failed(Error),
}

/// What the server has told the client, as the harness understands the protocol.
#[derive(Debug, Default)]
struct Model {
    /// The size the server last confirmed in the current session (invariant 1).
    told: Option<u64>,
    /// A fault happened since: the next request to the session must be a query (invariant 4).
    must_query: bool,
    /// The session was reported final or cancelled: no chunk may follow (invariant 2).
    dead: bool,
    /// The granularity the current session was started with.
    granularity: u64,
    /// The session URL the current session was started with.
    session: Option<Uri>,
    /// End of the furthest chunk sent in the current session.
    sent_end: u64,
    /// The caller cancelled: the only request allowed now is a `cancel`.
    cancelled: bool,
    /// The token the machine may now finish with: the reply just delivered was final, with it.
    may_finish_with: Option<String>,
    /// When the last failure was handed over, and the wait it allows.
    wait_rule: Option<(Instant, WaitRule)>,
}

#[derive(Debug, Clone, Copy)]
enum WaitRule {
    /// Exactly what `Retry-After` asked.
    Exactly(Duration),
    /// At least the throttle floor, at most the larger of the floor and the cap.
    Throttled,
    /// Full jitter under the cap.
    Jitter,
}

struct Harness {
    upload: Upload,
    endpoint: Endpoint,
    size: u64,
    policy: RetryPolicy,
    now: Instant,
    wants: Wants,
    model: Model,
    polls: u32,
}

/// Runs one scenario; panics when an invariant breaks.
pub fn run(scenario: &Scenario) {
    let Some(mut harness) = Harness::new(scenario) else {
        return;
    };
    for event in &scenario.events {
        harness.event(event);
    }
    // Invariant 8: replaying the same kind of server behaviour over and over must end the upload.
    // Resuming and restarting (a snapshot drops the request in flight) are the caller's choice to
    // go on, so they are left out.
    let replay: Vec<&Event> = scenario
        .events
        .iter()
        .filter(|e| !matches!(e, Event::Resume | Event::Snapshot))
        .collect();
    if !replay
        .iter()
        .any(|e| matches!(e, Event::Reply(_) | Event::TransportError))
    {
        return;
    }
    // A deterministic machine fed a periodic input loops exactly when its state at the start of a
    // period repeats; a slow but finite run (a server that acknowledges a few bytes at a time) is
    // cut off after a budget instead.
    let mut seen = std::collections::HashSet::new();
    let mut events = 0usize;
    while !matches!(harness.wants, Wants::Ended(_)) && events < REPLAY_BUDGET {
        assert!(
            seen.insert(harness.fingerprint()),
            "invariant 8: the machine loops without end: {:?} (model {:?})",
            harness.upload,
            harness.model
        );
        for event in &replay {
            harness.event(event);
            events += 1;
        }
    }
}

/// Events replayed at most, after the input, while looking for a loop.
const REPLAY_BUDGET: usize = 500;

impl Harness {
    fn new(s: &Scenario) -> Option<Self> {
        let size = match s.size {
            FileSize::Small(n) => u64::from(n) + 1,
            FileSize::Granules(g, extra) => u64::from(g) * DEFAULT_GRANULARITY + u64::from(extra),
            FileSize::Huge(n) => n,
        };
        let endpoint = match &s.root {
            Root::Loopback => Endpoint::parse("http://127.0.0.1:9/v1/").ok()?,
            Root::LoopbackV6 => Endpoint::parse("http://[::1]:8080/base").ok()?,
            Root::Google => Endpoint::google(),
            Root::Text(text) => Endpoint::parse(text).ok()?,
        };
        // Chunks of at least an eighth of the file keep the number of rounds, and so the bound of
        // invariant 8, small.
        let chunk_size = u64::from(s.chunk_size).max(size.div_ceil(8));
        let policy = RetryPolicy {
            initial: Duration::from_millis(u64::from(s.initial_ms)),
            max_delay: Duration::from_millis(u64::from(s.max_delay_ms)),
            throttle_floor: Duration::from_millis(u64::from(s.throttle_floor_ms)),
            max_attempts: u32::from(s.max_attempts % 8),
            max_elapsed: Duration::from_secs(u64::from(s.max_elapsed_s)),
        };
        let config = UploadConfig {
            chunk_size,
            retry: policy,
            max_sessions: u32::from(s.max_sessions % 5),
            max_rewinds: u32::from(s.max_rewinds % 5),
            seed: s.seed,
        };
        let file = MediaFile {
            size,
            mime_type: "video/mp4".into(),
            file_name: s.file_name.clone(),
        };
        let upload = match Upload::new(endpoint.clone(), file, config) {
            Ok(upload) => upload,
            Err(error) => {
                assert_eq!(size, 0, "only an empty file is refused here: {error}");
                assert_eq!(error, Error::EmptyFile);
                return None;
            }
        };
        let mut harness = Self {
            upload,
            endpoint,
            size,
            policy,
            now: Instant::now(),
            wants: Wants::Token,
            model: Model {
                granularity: DEFAULT_GRANULARITY,
                ..Model::default()
            },
            polls: 0,
        };
        harness.settle();
        Some(harness)
    }

    /// The machine's state (less the request counter, which grows forever) and the model's view.
    fn fingerprint(&self) -> String {
        let mut state = serde_json::to_value(&self.upload).expect("a machine serializes");
        if let Some(fields) = state.as_object_mut() {
            fields.remove("next_id");
        }
        let kind = match &self.wants {
            Wants::Reply(_, kind) => format!("{kind:?}"),
            other => format!("{:?}", std::mem::discriminant(other)),
        };
        format!(
            "{state} {kind} {:?} {} {} {} {}",
            self.model.told,
            self.model.sent_end,
            self.model.must_query,
            self.model.dead,
            self.model.granularity
        )
    }

    fn ended(&self) -> Option<&End> {
        match &self.wants {
            Wants::Ended(end) => Some(end),
            _ => None,
        }
    }

    fn event(&mut self, event: &Event) {
        self.polls = 0;
        match event {
            Event::Reply(reply) => {
                if let Some((id, kind)) = self.in_flight() {
                    let response = self.response(reply, kind);
                    self.learn(kind, &response);
                    self.upload
                        .handle_response(self.now, id, &response)
                        .expect("the reply to the request in flight is taken");
                    self.after_input();
                } else {
                    self.check_ended_refuses(reply);
                }
            }
            Event::TransportError => {
                if let Some((id, kind)) = self.in_flight() {
                    if matches!(kind, Kind::Chunk { .. } | Kind::Query) {
                        self.model.must_query = true;
                    }
                    self.model.wait_rule = Some((self.now, WaitRule::Jitter));
                    self.upload
                        .handle_transport_error(self.now, id, &"connection reset by peer")
                        .expect("the error of the request in flight is taken");
                    self.after_input();
                }
            }
            Event::Cancel => {
                self.upload.cancel();
                if self.ended().is_none() {
                    self.model.cancelled = true;
                }
                self.settle_if_idle();
            }
            Event::Resume => {
                self.upload.resume();
                // A request in flight and finished uploads are left alone; anything else starts
                // afresh with a query (or a start), and a pending cancel is forgotten.
                let revives = match &self.wants {
                    Wants::Reply(..) | Wants::Ended(End::Done(_)) => false,
                    Wants::Ended(End::Failed(error)) => !matches!(
                        error,
                        Error::Cancelled | Error::EmptyFile | Error::InvalidInput { .. }
                    ),
                    Wants::Wait(_) | Wants::Token => true,
                };
                if revives {
                    self.model.must_query = true;
                    self.model.wait_rule = None;
                    self.model.cancelled = false;
                    self.wants = Wants::Token;
                }
                self.settle_if_idle();
            }
            Event::Snapshot => self.snapshot(),
            Event::StaleReply(id) => self.stale_reply(RequestId(*id)),
            Event::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(*ms));
                if matches!(self.wants, Wants::Wait(_)) {
                    self.settle();
                }
            }
        }
    }

    /// Makes sure a request is in flight, doing what the adapter does on a wait or a token refresh.
    fn in_flight(&mut self) -> Option<(RequestId, Kind)> {
        for _ in 0..4 {
            match self.wants {
                Wants::Reply(id, kind) => return Some((id, kind)),
                Wants::Ended(_) => return None,
                Wants::Wait(until) => {
                    self.now = self.now.max(until);
                    self.settle();
                }
                Wants::Token => {
                    self.upload.token_refreshed();
                    self.settle();
                }
            }
        }
        panic!(
            "invariant 8: no request after a wait and a refresh: {:?}",
            self.wants
        );
    }

    fn after_input(&mut self) {
        self.wants = Wants::Token;
        self.polls = 0;
        self.settle();
        // Only the poll right after the final reply may finish with its token.
        self.model.may_finish_with = None;
    }

    fn settle_if_idle(&mut self) {
        if !matches!(self.wants, Wants::Reply(..)) {
            let ended = self.ended().cloned();
            self.settle();
            if let (Some(before), Some(after)) = (ended, self.ended()) {
                assert_eq!(&before, after, "invariant 5: terminal states stay terminal");
            }
        } else {
            // A request in flight stays in flight whatever the caller does.
            assert_eq!(self.upload.poll_action(self.now), Action::AwaitReply);
        }
    }

    /// Polls the machine and checks what it asks for.
    fn settle(&mut self) {
        if let Wants::Ended(end) = &self.wants {
            let end = end.clone();
            self.check_still(&end);
            return;
        }
        let action = self.upload.poll_action(self.now);
        self.polls += 1;
        assert!(
            self.polls < 16,
            "invariant 8: the machine keeps asking without input"
        );
        self.check_progress();
        self.wants = match action {
            Action::Send(transmit) => {
                let kind = self.check_request(&transmit);
                Wants::Reply(transmit.id, kind)
            }
            Action::WaitUntil(until) => {
                self.check_wait(until);
                Wants::Wait(until)
            }
            Action::RefreshToken => {
                assert!(
                    !self.model.cancelled,
                    "a cancelled upload sends nothing more"
                );
                Wants::Token
            }
            Action::AwaitReply => panic!("nothing is in flight, yet the machine awaits a reply"),
            Action::Done(token) => {
                let text = token.expose().to_owned();
                self.check_done(&text);
                Wants::Ended(End::Done(text))
            }
            Action::Failed(error) => {
                if self.model.cancelled {
                    assert_eq!(error, Error::Cancelled, "a cancelled upload ends cancelled");
                }
                assert!(!error.to_string().is_empty());
                let _ = error.fault();
                Wants::Ended(End::Failed(error))
            }
        };
        if let Wants::Ended(end) = &self.wants {
            let end = end.clone();
            self.check_still(&end);
        }
    }

    /// Terminal states stay terminal, however often they are polled (invariant 5).
    fn check_still(&mut self, end: &End) {
        for _ in 0..2 {
            let again = match self.upload.poll_action(self.now) {
                Action::Done(token) => End::Done(token.expose().to_owned()),
                Action::Failed(error) => End::Failed(error),
                other => panic!("invariant 5: terminal state moved on: {other:?}"),
            };
            assert_eq!(&again, end, "invariant 5: terminal states stay terminal");
        }
    }

    fn check_progress(&self) {
        let progress = self.upload.progress();
        assert_eq!(progress.total, self.size);
        assert!(
            progress.confirmed <= progress.total,
            "invariant 3: confirmed {} beyond the size {}",
            progress.confirmed,
            progress.total
        );
        let shown = format!("{:?}", self.upload);
        let planted = self.upload.upload_id().is_some_and(|id| id.contains(MARK))
            || self
                .upload
                .file()
                .file_name
                .as_ref()
                .is_some_and(|name| name.contains(MARK));
        if !planted {
            assert!(
                !shown.contains(MARK),
                "a session URL in Debug output: {shown}"
            );
        }
    }

    fn check_done(&self, token: &str) {
        assert_eq!(
            self.model.may_finish_with.as_deref(),
            Some(token),
            "invariant 5: Done must carry the token of the final reply just received"
        );
        let progress = self.upload.progress();
        assert_eq!(
            progress.confirmed, progress.total,
            "invariant 3: every byte confirmed before Done"
        );
        assert!(!self.model.cancelled, "a cancelled upload does not finish");
    }

    fn check_wait(&self, until: Instant) {
        assert!(until > self.now, "a wait lies in the future");
        assert!(
            !self.model.cancelled,
            "a cancelled upload does not back off"
        );
        let (failed_at, rule) = self
            .model
            .wait_rule
            .expect("invariant 6: a wait follows a failure");
        let wait = until - failed_at;
        let cap = self.policy.max_delay;
        let ok = match rule {
            WaitRule::Exactly(asked) => wait == asked,
            WaitRule::Throttled => {
                wait >= self.policy.throttle_floor && wait <= cap.max(self.policy.throttle_floor)
            }
            WaitRule::Jitter => wait <= cap,
        };
        assert!(
            ok,
            "invariant 6: waited {wait:?} under {rule:?} with {:?}",
            self.policy
        );
    }

    /// Checks a request against the model (invariants 1-4) and says what it is.
    fn check_request(&mut self, transmit: &Transmit) -> Kind {
        let request = &transmit.request;
        let headers = request.headers();
        let shown = format!("{transmit:?}");
        assert!(!shown.contains(MARK), "a session URL in Debug output");
        self.check_bearer(transmit);
        let length = protocol::number(headers, &CONTENT_LENGTH).expect("a numeric length");
        assert_eq!(
            length,
            Some(request.body().len()),
            "Content-Length matches the body"
        );
        let command = protocol::text(headers, &protocol::COMMAND)
            .expect("every request names a command")
            .to_owned();
        if self.model.cancelled {
            assert_eq!(
                command, "cancel",
                "after a cancel only the cancel command is sent"
            );
        }
        match command.as_str() {
            "start" => {
                assert_eq!(request.uri(), &self.endpoint.join("uploads"));
                assert_eq!(request.body(), &Payload::Empty);
                assert_eq!(
                    protocol::number(headers, &protocol::RAW_SIZE),
                    Ok(Some(self.size))
                );
                assert_eq!(
                    protocol::text(headers, &protocol::PROTOCOL),
                    Some("resumable")
                );
                self.model.told = None;
                self.model.session = None;
                Kind::Start
            }
            "upload" | "upload, finalize" => self.check_chunk(request, command.len() > 6),
            "query" | "cancel" => {
                assert_eq!(request.body(), &Payload::Empty);
                assert_eq!(
                    Some(request.uri()),
                    self.model.session.as_ref(),
                    "{command} goes to the session URL"
                );
                if command == "query" {
                    Kind::Query
                } else {
                    Kind::Cancel
                }
            }
            other => panic!("unknown command {other:?}"),
        }
    }

    fn check_chunk(&mut self, request: &http::Request<Payload>, finalize: bool) -> Kind {
        let Payload::Range { offset, len } = *request.body() else {
            panic!("a chunk carries a byte range, not {:?}", request.body());
        };
        assert_eq!(
            protocol::number(request.headers(), &protocol::OFFSET),
            Ok(Some(offset)),
            "the offset header matches the range"
        );
        assert_eq!(
            Some(request.uri()),
            self.model.session.as_ref(),
            "chunks go to the session URL"
        );
        assert!(
            !self.model.must_query,
            "invariant 4: a chunk sent blind after a fault, without a query"
        );
        assert!(
            !self.model.dead,
            "invariant 2: a chunk sent to a session reported final or cancelled"
        );
        assert_eq!(
            Some(offset),
            self.model.told,
            "invariant 1: the offset equals the size the server confirmed"
        );
        assert!(len > 0, "invariant 2: an empty chunk");
        let end = offset
            .checked_add(len)
            .expect("invariant 3: range overflows");
        assert!(end <= self.size, "invariant 3: bytes beyond the size");
        if finalize {
            assert_eq!(end, self.size, "invariant 2: finalize ends at the size");
        } else {
            assert_eq!(
                len % self.model.granularity,
                0,
                "invariant 2: a non-final chunk of {len} is not a multiple of {}",
                self.model.granularity
            );
            assert!(end < self.size, "a chunk that reaches the end finalizes");
        }
        self.model.sent_end = self.model.sent_end.max(end);
        Kind::Chunk {
            offset,
            len,
            finalize,
        }
    }

    /// Section 6: the bearer token goes only to the root's origin (or Google's own hosts).
    fn check_bearer(&self, transmit: &Transmit) {
        if !transmit.bearer {
            return;
        }
        let uri = transmit.request.uri();
        let root = self.endpoint.root();
        let same = uri.scheme() == root.scheme()
            && uri.host().map(str::to_ascii_lowercase) == root.host().map(str::to_ascii_lowercase)
            && uri.port_u16() == root.port_u16();
        let googleapis = self.endpoint.is_google()
            && uri.scheme_str() == Some("https")
            && uri
                .host()
                .is_some_and(|h| h.to_ascii_lowercase().ends_with(".googleapis.com"));
        assert!(same || googleapis, "the bearer token would go to {uri}");
    }

    fn number(&self, number: &Number) -> Vec<u8> {
        let confirmed = self.model.told.unwrap_or(0);
        let value = match number {
            Number::Confirmed => confirmed,
            Number::SentEnd => self.model.sent_end,
            Number::Total => self.size,
            Number::Above(n) => confirmed.saturating_add(u64::from(*n)),
            Number::Below(n) => confirmed.saturating_sub(u64::from(*n)),
            Number::Exact(n) => *n,
            Number::Power(p) => 1u64 << (p % 64),
            Number::Raw(bytes) => return bytes.clone(),
        };
        value.to_string().into_bytes()
    }

    fn location(&self, location: &Location) -> String {
        let root = self.endpoint.root();
        let origin = format!(
            "{}://{}",
            root.scheme_str().unwrap_or("http"),
            root.authority().map_or("127.0.0.1:9", |a| a.as_str())
        );
        match location {
            Location::SameOrigin(n) => format!("{origin}/upload/{n}?upload_id={MARK}{n}"),
            Location::OriginRelative(n) => format!("/upload/{n}?upload_id={MARK}{n}"),
            Location::RootRelative(n) => format!("uploads?upload_id={MARK}{n}"),
            Location::OtherHttps(n) => format!("https://uploads{n}.example.com/u?upload_id={MARK}"),
            Location::Insecure => format!("http://example.com/u?upload_id={MARK}"),
            Location::Raw(text) => text.clone(),
        }
    }

    fn response(&self, reply: &Reply, kind: Kind) -> Response<Vec<u8>> {
        let mut headers = HeaderMap::new();
        if let Some(status) = &reply.upload_status {
            append(&mut headers, protocol::STATUS, &status.bytes());
        }
        let sent_end = match kind {
            Kind::Chunk { offset, len, .. } => Some(offset + len),
            _ => None,
        };
        if let Some(number) = &reply.size_received {
            // "Confirmed" for a chunk reply means the chunk is acknowledged.
            let bytes = match (number, sent_end) {
                (Number::Confirmed, Some(end)) => end.to_string().into_bytes(),
                _ => self.number(number),
            };
            append(&mut headers, protocol::SIZE_RECEIVED, &bytes);
        }
        if let Some(number) = &reply.granularity {
            append(&mut headers, protocol::GRANULARITY, &self.number(number));
        }
        if let Some(location) = &reply.url {
            append(
                &mut headers,
                protocol::URL,
                self.location(location).as_bytes(),
            );
        }
        if let Some(id) = &reply.upload_id {
            append(&mut headers, protocol::UPLOAD_ID, id.as_bytes());
        }
        if let Some(retry_after) = &reply.retry_after {
            match retry_after {
                RetryAfter::Seconds(s) => {
                    append(
                        &mut headers,
                        http::header::RETRY_AFTER,
                        s.to_string().as_bytes(),
                    );
                }
                RetryAfter::Date(at, date) => {
                    let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600);
                    let text = |s: u32| http_date(epoch + Duration::from_secs(u64::from(s)));
                    append(
                        &mut headers,
                        http::header::RETRY_AFTER,
                        text(*at).as_bytes(),
                    );
                    if let Some(date) = date {
                        append(&mut headers, http::header::DATE, text(*date).as_bytes());
                    }
                }
                RetryAfter::Raw(bytes) => append(&mut headers, http::header::RETRY_AFTER, bytes),
            }
        }
        for (name, value) in &reply.extra {
            if let Some(name) = name.header() {
                append(&mut headers, name, value);
            }
        }
        let mut response = Response::new(reply.body.bytes());
        *response.status_mut() = reply.status.status();
        *response.headers_mut() = headers;
        response
    }

    /// Updates the model with what a reply tells the client.
    fn learn(&mut self, kind: Kind, response: &Response<Vec<u8>>) {
        let status = response.status();
        let headers = response.headers();
        let body = response.body();
        self.model.wait_rule = Some((self.now, wait_rule(status, body, headers)));
        let reported = protocol::status(headers);
        let size = protocol::number(headers, &protocol::SIZE_RECEIVED);
        let final_token = || {
            protocol::token(body)
                .filter(|_| status.is_success() && reported == Ok(Some(Status::Final)))
                .map(|t| t.expose().to_owned())
        };
        match kind {
            Kind::Start => {
                if status.is_success() {
                    self.model.told = Some(0);
                    self.model.sent_end = 0;
                    self.model.must_query = false;
                    self.model.dead = false;
                    self.model.granularity = match protocol::number(headers, &protocol::GRANULARITY)
                    {
                        Ok(Some(g)) => g,
                        _ => DEFAULT_GRANULARITY,
                    };
                    self.model.session = protocol::text(headers, &protocol::URL)
                        .and_then(|url| self.endpoint.resolve(url).ok());
                }
            }
            Kind::Chunk {
                offset,
                len,
                finalize,
            } => {
                if !status.is_success() {
                    self.model.must_query = true;
                    return;
                }
                match reported {
                    Ok(Some(Status::Final | Status::Cancelled)) => self.model.dead = true,
                    Ok(_) => {}
                    Err(_) => self.model.must_query = true,
                }
                if finalize {
                    match final_token() {
                        Some(token) if offset + len == self.size => {
                            self.model.may_finish_with = Some(token);
                        }
                        _ => self.model.must_query = true,
                    }
                    return;
                }
                // An acknowledgement says `active`; anything else leaves the outcome unknown.
                if reported != Ok(Some(Status::Active)) {
                    self.model.must_query = true;
                    return;
                }
                match size {
                    Ok(None) => self.model.told = Some(offset + len),
                    // Nothing of the chunk kept: the server is asked again before anything more.
                    Ok(Some(n)) if n <= offset => self.model.must_query = true,
                    Ok(Some(n)) => self.model.told = Some(n),
                    Err(_) => self.model.must_query = true,
                }
            }
            Kind::Query => {
                if !status.is_success() {
                    return;
                }
                match reported {
                    Ok(Some(Status::Active)) => {
                        if let Ok(Some(n)) = size {
                            self.model.told = Some(n);
                            self.model.must_query = false;
                            self.model.dead = false;
                        }
                    }
                    Ok(Some(Status::Final)) => {
                        self.model.dead = true;
                        if matches!(size, Ok(None)) || size == Ok(Some(self.size)) {
                            self.model.may_finish_with = final_token();
                        }
                    }
                    Ok(Some(Status::Cancelled)) => self.model.dead = true,
                    Ok(None) | Err(_) => {}
                }
            }
            Kind::Cancel => {}
        }
    }

    fn check_ended_refuses(&mut self, reply: &Reply) {
        let response = self.response(reply, Kind::Query);
        let before = self.ended().cloned();
        for id in [0, 1, u64::MAX] {
            assert!(
                self.upload
                    .handle_response(self.now, RequestId(id), &response)
                    .is_err(),
                "a reply with nothing in flight is refused"
            );
        }
        self.settle_if_idle();
        assert_eq!(self.ended().cloned(), before);
    }

    fn stale_reply(&mut self, id: RequestId) {
        if matches!(self.wants, Wants::Reply(current, _) if current == id) {
            return;
        }
        let before = serde_json::to_string(&self.upload).expect("a machine serializes");
        let phase = self.upload.phase();
        let response = Response::new(b"stale".to_vec());
        assert!(
            self.upload
                .handle_response(self.now, id, &response)
                .is_err()
        );
        assert!(
            self.upload
                .handle_transport_error(self.now, id, &"stale")
                .is_err()
        );
        let after = serde_json::to_string(&self.upload).expect("a machine serializes");
        assert_eq!(
            before, after,
            "a refused reply leaves the machine unchanged"
        );
        assert_eq!(phase, self.upload.phase());
    }

    /// Invariant 7: serialize and restore, as a killed process does; the restored machine goes on.
    fn snapshot(&mut self) {
        let json = serde_json::to_vec(&self.upload).expect("a machine serializes");
        let restored: Upload = serde_json::from_slice(&json).unwrap_or_else(|e| {
            panic!(
                "invariant 7: a snapshot does not restore: {e}: {}",
                String::from_utf8_lossy(&json)
            )
        });
        let again = serde_json::to_vec(&restored).expect("a machine serializes");
        assert_eq!(
            json, again,
            "invariant 7: a restored snapshot is the same snapshot"
        );
        assert_eq!(restored.progress(), self.upload.progress());
        assert_eq!(restored.upload_id(), self.upload.upload_id());
        assert_eq!(restored.file(), self.upload.file());
        assert_eq!(restored.sessions_started(), self.upload.sessions_started());
        self.upload = restored;
        // A request in flight is forgotten: the restored machine asks the server where it stands.
        if let Wants::Reply(_, kind) = self.wants {
            if matches!(kind, Kind::Chunk { .. } | Kind::Query) {
                self.model.must_query = true;
            }
        }
        // A pending backoff is skipped by design.
        self.model.wait_rule = None;
        if self.ended().is_none() {
            self.wants = Wants::Token;
        }
        self.settle();
    }
}

fn wait_rule(status: StatusCode, body: &[u8], headers: &HeaderMap) -> WaitRule {
    match retry::classify(status, body) {
        Verdict::Transient { throttled } => match retry::retry_after(headers) {
            Some(asked) => WaitRule::Exactly(asked),
            None if throttled => WaitRule::Throttled,
            None => WaitRule::Jitter,
        },
        _ => WaitRule::Jitter,
    }
}

/// An IMF-fixdate, without pulling a date crate into the harness.
fn http_date(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days.cast_signed() + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut out = String::new();
    let _ = write!(
        out,
        "{weekday}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        months[(month - 1) as usize]
    );
    out
}
