//! A scripted Google: an in-memory model of the resumable upload server with injectable faults, and a
//! harness that drives an [`Upload`] against it while checking the invariants of DESIGN.md section 4
//! after every step.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use gphotos_upload::upload::protocol;
use gphotos_upload::{Action, Endpoint, Error, Payload, Phase, Upload, UploadToken};
use http::{Request, Response};

pub const ROOT: &str = "http://127.0.0.1:9/v1/";

/// What the server does to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Behave.
    None,
    /// Answer this status without processing, optionally with `Retry-After` seconds.
    Status(u16, Option<u64>),
    /// Drop the connection before anything is processed.
    DropBefore,
    /// Process the request, then drop the connection before the reply.
    DropAfter,
    /// Store only this many granules of a chunk, then drop the connection.
    Partial(u64),
    /// Before answering a query, forget this many granules that were acknowledged.
    LoseTail(u64),
    /// The session expires before this request (404 from now on).
    Expire,
    /// Answer 200 with no protocol headers, without processing.
    Garbage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Final,
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub size: u64,
    pub received: u64,
    state: State,
    expired: bool,
    pub token: Option<String>,
    /// Bytes received in total, re-sent bytes included.
    pub bytes_in: u64,
}

/// The transport's verdict on one request.
#[derive(Debug)]
pub enum Outcome {
    Reply(Response<Vec<u8>>),
    TransportError,
}

/// Scripted faults, consumed one per request; the server behaves once the script runs out.
#[derive(Debug, Clone)]
pub struct FakeServer {
    pub granularity: u64,
    pub relative_urls: bool,
    pub sessions: Vec<Session>,
    pub script: VecDeque<Fault>,
    pub tokens: Vec<String>,
    pub requests: usize,
    /// Tokens consumed by `batchCreate`.
    pub used: Vec<String>,
    /// Media items created: (id, file name, token).
    pub items: Vec<(String, String, String)>,
    pub albums: Vec<String>,
    /// Sizes of the `batchCreate` calls, in order.
    pub batches: Vec<usize>,
    /// Scripted 429s name the per-day quota.
    pub daily_quota: bool,
}

impl FakeServer {
    pub fn new(granularity: u64, script: impl IntoIterator<Item = Fault>) -> Self {
        Self {
            granularity,
            relative_urls: false,
            sessions: Vec::new(),
            script: script.into_iter().collect(),
            tokens: Vec::new(),
            requests: 0,
            used: Vec::new(),
            items: Vec::new(),
            albums: Vec::new(),
            batches: Vec::new(),
            daily_quota: false,
        }
    }

    pub fn session_of(uri: &http::Uri) -> Option<usize> {
        uri.path().strip_prefix("/upload/")?.parse().ok()
    }

    pub fn handle(&mut self, request: &Request<Payload>) -> Outcome {
        self.requests += 1;
        let fault = self.script.pop_front().unwrap_or(Fault::None);
        let session = Self::session_of(request.uri());
        match fault {
            Fault::Status(code, retry_after) => {
                let mut reply = Response::builder().status(code);
                if let Some(seconds) = retry_after {
                    reply = reply.header("retry-after", seconds.to_string());
                }
                let message = if self.daily_quota && code == 429 {
                    "Quota exceeded for quota metric 'All requests' and limit 'All requests per day'"
                } else {
                    "scripted"
                };
                let body = format!("{{\"error\":{{\"message\":\"{message}\"}}}}");
                return Outcome::Reply(reply.body(body.into_bytes()).unwrap());
            }
            Fault::DropBefore => return Outcome::TransportError,
            Fault::Garbage => return Outcome::Reply(Response::new(b"<html>".to_vec())),
            Fault::Expire => {
                if let Some(s) = session.and_then(|i| self.sessions.get_mut(i)) {
                    s.expired = true;
                }
            }
            Fault::LoseTail(granules) if command(request) == "query" => {
                let g = self.granularity;
                if let Some(s) = session.and_then(|i| self.sessions.get_mut(i))
                    && s.state == State::Active
                {
                    s.received = (s.received.saturating_sub(granules * g) / g) * g;
                }
            }
            _ => {}
        }
        let reply = self.process(request, session, &fault);
        match fault {
            Fault::DropAfter | Fault::Partial(_) => Outcome::TransportError,
            _ => Outcome::Reply(reply),
        }
    }

    // One match over the protocol's commands reads best as one function, like a server's router.
    #[allow(clippy::too_many_lines)]
    fn process(
        &mut self,
        request: &Request<Payload>,
        session: Option<usize>,
        fault: &Fault,
    ) -> Response<Vec<u8>> {
        let command = command(request);
        let path = request.uri().path();
        if path.ends_with("mediaItems:batchCreate") {
            return self.batch_create(request);
        }
        if path == "/v1/albums" {
            let id = format!("album-{}", self.albums.len());
            self.albums.push(id.clone());
            return Response::new(format!("{{\"id\":\"{id}\",\"title\":\"t\"}}").into_bytes());
        }
        if protocol::text(request.headers(), &protocol::PROTOCOL) == Some("raw") {
            return self.raw_upload(request);
        }
        let Some(index) = session else {
            assert_eq!(
                request.uri().path(),
                "/v1/uploads",
                "start goes to {{base}}uploads"
            );
            assert_eq!(command, "start");
            return self.start(request);
        };
        let granularity = self.granularity;
        let Some(s) = self.sessions.get_mut(index).filter(|s| !s.expired) else {
            return status(404, "no such session");
        };
        match command.as_str() {
            "query" => {
                let body = if s.state == State::Final {
                    s.token.clone().unwrap_or_default()
                } else {
                    String::new()
                };
                Response::builder()
                    .header("x-goog-upload-status", state_text(s.state))
                    .header("x-goog-upload-size-received", s.received.to_string())
                    .body(body.into_bytes())
                    .unwrap()
            }
            "cancel" => {
                s.state = State::Cancelled;
                Response::builder()
                    .header("x-goog-upload-status", "cancelled")
                    .body(Vec::new())
                    .unwrap()
            }
            "upload" | "upload, finalize" => {
                let finalize = command == "upload, finalize";
                let Payload::Range { offset, len } = *request.body() else {
                    panic!("a chunk carries a byte range");
                };
                let header_offset: u64 = protocol::text(request.headers(), &protocol::OFFSET)
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(
                    header_offset, offset,
                    "offset header matches the body range"
                );
                if s.state == State::Cancelled {
                    return status(410, "cancelled");
                }
                assert_ne!(
                    s.state,
                    State::Final,
                    "invariant 2: no upload after the session is final"
                );
                if offset != s.received {
                    return status(400, "offset does not match bytes received");
                }
                if len == 0 {
                    return status(400, "Payload must not be empty");
                }
                if !finalize && len % granularity != 0 {
                    return status(400, "chunk is not a multiple of the granularity");
                }
                if finalize && offset + len != s.size {
                    return status(400, "size at finalize differs from the declared size");
                }
                let kept = match fault {
                    Fault::Partial(granules) => {
                        (granules * granularity).min(len) / granularity * granularity
                    }
                    _ => len,
                };
                s.bytes_in += kept;
                s.received += kept;
                if kept < len {
                    return status(500, "partial");
                }
                if finalize {
                    s.state = State::Final;
                    let token = format!("token-{index}-{}", self.tokens.len());
                    s.token = Some(token.clone());
                    self.tokens.push(token.clone());
                    return Response::builder()
                        .header("x-goog-upload-status", "final")
                        .body(token.into_bytes())
                        .unwrap();
                }
                Response::builder()
                    .header("x-goog-upload-status", "active")
                    .body(Vec::new())
                    .unwrap()
            }
            other => status(400, &format!("unknown command {other}")),
        }
    }

    fn raw_upload(&mut self, request: &Request<Payload>) -> Response<Vec<u8>> {
        let Payload::Range { offset: 0, len } = *request.body() else {
            panic!("raw upload sends the whole file")
        };
        assert!(len > 0, "an empty file is never uploaded");
        let index = self.sessions.len();
        let token = format!("token-{index}-{}", self.tokens.len());
        self.sessions.push(Session {
            size: len,
            received: len,
            state: State::Final,
            expired: false,
            token: Some(token.clone()),
            bytes_in: len,
        });
        self.tokens.push(token.clone());
        Response::new(token.into_bytes())
    }

    fn batch_create(&mut self, request: &Request<Payload>) -> Response<Vec<u8>> {
        let Payload::Bytes(body) = request.body() else {
            panic!("batchCreate carries JSON")
        };
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        let items = json["newMediaItems"].as_array().unwrap();
        assert!(
            !items.is_empty() && items.len() <= 50,
            "1 to 50 items per call"
        );
        self.batches.push(items.len());
        let mut results = Vec::new();
        for item in items {
            let token = item["simpleMediaItem"]["uploadToken"]
                .as_str()
                .unwrap()
                .to_owned();
            let name = item["simpleMediaItem"]["fileName"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let known = self.tokens.contains(&token);
            if !known || self.used.contains(&token) {
                results.push(serde_json::json!({"uploadToken": token, "status": {"code": 3, "message": "Invalid upload token"}}));
                continue;
            }
            self.used.push(token.clone());
            let id = format!("item-{}", self.items.len());
            self.items.push((id.clone(), name.clone(), token.clone()));
            results.push(serde_json::json!({"uploadToken": token, "status": {"message": "Success"}, "mediaItem": {"id": id, "filename": name}}));
        }
        // Google's order is not promised: answer in reverse.
        results.reverse();
        Response::new(
            serde_json::to_vec(&serde_json::json!({"newMediaItemResults": results})).unwrap(),
        )
    }

    fn start(&mut self, request: &Request<Payload>) -> Response<Vec<u8>> {
        let h = request.headers();
        assert_eq!(protocol::text(h, &protocol::PROTOCOL), Some("resumable"));
        assert_eq!(request.body(), &Payload::Empty);
        assert_eq!(h.get("content-length").unwrap(), "0");
        assert!(
            h.get(&protocol::CONTENT_TYPE).is_some(),
            "start names the MIME type"
        );
        let size: u64 = protocol::text(h, &protocol::RAW_SIZE)
            .unwrap()
            .parse()
            .unwrap();
        assert!(size > 0, "an empty file is never started");
        let index = self.sessions.len();
        self.sessions.push(Session {
            size,
            received: 0,
            state: State::Active,
            expired: false,
            token: None,
            bytes_in: 0,
        });
        let url = if self.relative_urls {
            format!("/upload/{index}")
        } else {
            format!("http://127.0.0.1:9/upload/{index}")
        };
        Response::builder()
            .header("X-Goog-Upload-URL", url)
            .header(
                "X-Goog-Upload-Chunk-Granularity",
                self.granularity.to_string(),
            )
            .header("X-Goog-Upload-Status", "active")
            .header("X-GUploader-UploadID", format!("upload-{index}"))
            .body(Vec::new())
            .unwrap()
    }
}

pub fn command(request: &Request<Payload>) -> String {
    protocol::text(request.headers(), &protocol::COMMAND)
        .unwrap_or_default()
        .to_owned()
}

fn state_text(state: State) -> &'static str {
    match state {
        State::Active => "active",
        State::Final => "final",
        State::Cancelled => "cancelled",
    }
}

fn status(code: u16, message: &str) -> Response<Vec<u8>> {
    Response::builder()
        .status(code)
        .body(format!("{{\"error\":{{\"code\":{code},\"message\":\"{message}\"}}}}").into_bytes())
        .unwrap()
}

/// One request as the harness saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub command: String,
    pub session: Option<usize>,
    pub body: Payload,
}

/// Drives an upload against a [`FakeServer`], checking the invariants after every step.
pub struct Harness {
    pub upload: Upload,
    pub server: FakeServer,
    pub now: Instant,
    pub sent: Vec<Sent>,
    pub waits: Vec<Duration>,
    /// The size the server last told the client, per session (invariant 1).
    told: HashMap<usize, u64>,
    /// Sessions where the next request must be a query (invariant 4).
    must_resync: HashMap<usize, bool>,
    /// Longest wait the policy and the script allow (invariant 6).
    pub max_wait: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Done(UploadToken),
    Failed(Error),
}

impl Harness {
    pub fn new(upload: Upload, server: FakeServer, max_wait: Duration) -> Self {
        Self {
            upload,
            server,
            now: Instant::now(),
            sent: Vec::new(),
            waits: Vec::new(),
            told: HashMap::new(),
            must_resync: HashMap::new(),
            max_wait,
        }
    }

    /// A harness in the same position, driving `upload` (a restored snapshot) against a copy of the
    /// server.
    pub fn fork(&self, upload: Upload) -> Self {
        Self {
            upload,
            server: self.server.clone(),
            now: self.now,
            sent: Vec::new(),
            waits: Vec::new(),
            told: self.told.clone(),
            must_resync: self.must_resync.clone(),
            max_wait: self.max_wait,
        }
    }

    /// Runs to the end, or panics after `max_steps` (invariant 8: never a loop).
    pub fn run(&mut self, max_steps: usize) -> End {
        for _ in 0..max_steps {
            if let Some(end) = self.step() {
                // Invariant 5: terminal states make no further requests.
                for _ in 0..3 {
                    match self.upload.poll_action(self.now) {
                        Action::Done(t) => assert_eq!(End::Done(t), end),
                        Action::Failed(e) => assert_eq!(End::Failed(e), end),
                        other => panic!("terminal state moved on: {other:?}"),
                    }
                }
                return end;
            }
        }
        panic!("no end after {max_steps} steps: {:?}", self.upload);
    }

    /// One action; `Some` when the upload ended.
    pub fn step(&mut self) -> Option<End> {
        match self.upload.poll_action(self.now) {
            Action::Send(transmit) => {
                self.check_request(&transmit.request);
                let outcome = self.server.handle(&transmit.request);
                self.observe(&transmit.request, &outcome);
                match outcome {
                    Outcome::Reply(reply) => self
                        .upload
                        .handle_response(self.now, transmit.id, &reply)
                        .unwrap(),
                    Outcome::TransportError => {
                        self.upload
                            .handle_transport_error(self.now, transmit.id, &"connection reset")
                            .unwrap();
                    }
                }
                None
            }
            Action::WaitUntil(at) => {
                assert!(at > self.now, "a wait lies in the future");
                let wait = at - self.now;
                assert!(
                    wait <= self.max_wait,
                    "invariant 6: wait {wait:?} beyond {:?}",
                    self.max_wait
                );
                self.waits.push(wait);
                self.now = at;
                None
            }
            Action::RefreshToken => {
                self.upload.token_refreshed();
                None
            }
            Action::AwaitReply => panic!("nothing is in flight"),
            Action::Done(token) => {
                // Invariant 5: the token came from a final reply, and all bytes arrived.
                assert!(
                    self.server.tokens.iter().any(|t| t == token.expose()),
                    "unknown token"
                );
                let s = self
                    .server
                    .sessions
                    .iter()
                    .find(|s| s.token.as_deref() == Some(token.expose()))
                    .unwrap();
                assert_eq!(
                    s.received, s.size,
                    "invariant 3: every byte confirmed before Done"
                );
                assert_eq!(
                    self.upload.progress().confirmed,
                    self.upload.progress().total
                );
                assert_eq!(self.upload.phase(), Phase::Done);
                Some(End::Done(token))
            }
            Action::Failed(error) => Some(End::Failed(error)),
        }
    }

    fn check_request(&mut self, request: &Request<Payload>) {
        let command = command(request);
        let session = FakeServer::session_of(request.uri());
        let size = self.upload.progress().total;
        if let Some(index) = session
            && command.starts_with("upload")
        {
            let Payload::Range { offset, len } = *request.body() else {
                panic!("chunk without range")
            };
            assert!(
                !self.must_resync.get(&index).copied().unwrap_or(false),
                "invariant 4: chunk sent blind after a fault"
            );
            assert_eq!(
                Some(&offset),
                self.told.get(&index),
                "invariant 1: offset equals the confirmed size"
            );
            assert!(offset + len <= size, "invariant 3: bytes beyond the file");
            assert!(len > 0, "invariant 2: empty chunk");
            if command == "upload, finalize" {
                assert_eq!(offset + len, size, "invariant 2: finalize ends at the size");
            } else {
                assert_eq!(
                    len % self.server.granularity,
                    0,
                    "invariant 2: chunk not a multiple of the granularity"
                );
            }
            assert_ne!(
                self.server.sessions[index].state,
                State::Final,
                "invariant 2: upload after final"
            );
        }
        self.sent.push(Sent {
            command,
            session,
            body: request.body().clone(),
        });
    }

    fn observe(&mut self, request: &Request<Payload>, outcome: &Outcome) {
        let command = command(request);
        let index = FakeServer::session_of(request.uri());
        let reply = match outcome {
            Outcome::Reply(reply) => reply,
            Outcome::TransportError => {
                if let Some(i) = index {
                    self.must_resync.insert(i, true);
                }
                return;
            }
        };
        let h = reply.headers();
        if command == "start" && reply.status() == 200 && h.contains_key("x-goog-upload-url") {
            let i = self.server.sessions.len() - 1;
            self.told.insert(i, 0);
            return;
        }
        let Some(i) = index else { return };
        let ok = reply.status() == 200 && protocol::status(h).ok().flatten().is_some();
        if !ok {
            self.must_resync.insert(i, true);
            return;
        }
        if command == "query" {
            if let Ok(Some(size)) = protocol::number(h, &protocol::SIZE_RECEIVED) {
                self.told.insert(i, size);
                self.must_resync.insert(i, false);
            }
        } else if command == "upload"
            && let Payload::Range { offset, len } = *request.body()
        {
            self.told.insert(i, offset + len);
        }
    }
}

pub fn endpoint() -> Endpoint {
    Endpoint::parse(ROOT).unwrap()
}
