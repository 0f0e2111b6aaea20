//! Everything the emulator remembers, behind one lock that is never held while bytes stream.

use std::collections::{HashMap, VecDeque};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use crate::config::Config;
use crate::fault_book::FaultBook;
use crate::faults::RequestKind;
use crate::oauth::OAuthState;
use crate::storage::{ObjectWriter, Store};

/// Upper bound on sessions, objects, media items and albums each: past it the emulator answers
/// 503 instead of growing without limit under a hostile or runaway client.
pub(crate) const MAX_RECORDS: usize = 100_000;
/// Request log entries kept; older ones are dropped and counted.
pub(crate) const MAX_REQUEST_LOG: usize = 100_000;

/// State shared by every connection thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// `http://127.0.0.1:PORT`.
    pub(crate) origin: String,
    /// Origin of the session URLs handed out.
    pub(crate) session_origin: String,
    state: Mutex<State>,
    faults: Mutex<FaultBook>,
    pub(crate) store: Store,
    stopping: AtomicBool,
    /// Open connections, so that stop can shut them down.
    pub(crate) connections: Mutex<HashMap<u64, TcpStream>>,
}

/// `origin` without its trailing `/`, given the port of `own` (`http://127.0.0.1:PORT`) when it
/// names none: tests can then ask for a foreign origin before the port is known, instead of
/// reserving a port that another process may take before the emulator binds it.
fn with_port(origin: &str, own: &str) -> String {
    let origin = origin.trim_end_matches('/');
    let host = origin.split_once("://").map_or(origin, |(_, host)| host);
    // After an IPv6 literal's `]`, or in the whole host otherwise.
    let has_port = host
        .rsplit(']')
        .next()
        .is_some_and(|tail| tail.contains(':'));
    match own.rsplit_once(':') {
        Some((_, port)) if !has_port => format!("{origin}:{port}"),
        _ => origin.to_owned(),
    }
}

impl Shared {
    pub(crate) fn new(config: Config, origin: String, store: Store) -> Self {
        let session_origin = config
            .session_origin
            .as_deref()
            .map_or_else(|| origin.clone(), |o| with_port(o, &origin));
        let faults = FaultBook::new(
            config.faults.clone(),
            config.random_faults,
            config.granularity,
        );
        Self {
            config,
            origin,
            session_origin,
            state: Mutex::new(State::default()),
            faults: Mutex::new(faults),
            store,
            stopping: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
        }
    }

    /// The state. A thread that panicked while holding the lock leaves data that is still
    /// consistent enough to serve (every update is a few assignments), so poisoning is ignored.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultBook> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn connections(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// The API root, `http://127.0.0.1:PORT/v1/`.
    pub(crate) fn base_url(&self) -> String {
        format!("{}/v1/", self.origin)
    }
}

/// The emulator's memory.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Keyed by the secret id in the session URL.
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) next_session: u64,
    pub(crate) objects: Vec<Object>,
    pub(crate) upload_tokens: HashMap<String, UploadToken>,
    pub(crate) media_items: Vec<MediaItem>,
    pub(crate) media_index: HashMap<String, usize>,
    pub(crate) albums: Vec<Album>,
    pub(crate) album_index: HashMap<String, usize>,
    pub(crate) oauth: OAuthState,
    pub(crate) requests: VecDeque<RequestRecord>,
    pub(crate) requests_dropped: u64,
}

impl State {
    pub(crate) fn record(&mut self, record: RequestRecord) {
        if self.requests.len() >= MAX_REQUEST_LOG {
            self.requests.pop_front();
            self.requests_dropped += 1;
        }
        self.requests.push_back(record);
    }

    /// Adds a finished object and issues its single-use upload token.
    pub(crate) fn add_object(&mut self, object: Object) -> String {
        let token = crate::random::secret_hex(32);
        self.objects.push(object);
        self.upload_tokens.insert(
            token.clone(),
            UploadToken {
                object: self.objects.len() - 1,
                issued: Instant::now(),
                used: false,
            },
        );
        token
    }
}

/// Where a resumable session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Accepting bytes.
    Active,
    /// Finalized: an upload token exists.
    Final,
    /// Cancelled by the client.
    Cancelled,
    /// Expired by a fault: every request on it gets 404.
    Expired,
}

impl SessionStatus {
    /// The `X-Goog-Upload-Status` value.
    pub(crate) fn header_value(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Final => "final",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Session {
    /// Order of creation, for introspection.
    pub(crate) seq: u64,
    /// `X-GUploader-UploadID`: public, safe to show.
    pub(crate) upload_id: String,
    pub(crate) raw_size: u64,
    pub(crate) content_type: String,
    pub(crate) file_name: Option<String>,
    /// Bytes persisted: what a query reports.
    pub(crate) received: u64,
    /// Body bytes read on this session, re-sent ones included.
    pub(crate) bytes_seen: u64,
    pub(crate) status: SessionStatus,
    /// `None` while a request streams into it (the session is busy), or once final or cancelled.
    pub(crate) writer: Option<ObjectWriter>,
    pub(crate) busy: bool,
    /// After finalize: the token, shown again on query until batchCreate consumes it.
    pub(crate) token: Option<String>,
    /// After finalize: index of the object.
    pub(crate) object: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct Object {
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) content_type: String,
    pub(crate) file_name: Option<String>,
    pub(crate) path: Option<PathBuf>,
}

#[derive(Debug)]
pub(crate) struct UploadToken {
    pub(crate) object: usize,
    pub(crate) issued: Instant,
    pub(crate) used: bool,
}

#[derive(Debug)]
pub(crate) struct MediaItem {
    pub(crate) id: String,
    pub(crate) object: usize,
    pub(crate) filename: String,
    pub(crate) description: Option<String>,
    pub(crate) mime_type: String,
    pub(crate) albums: Vec<String>,
    pub(crate) created: SystemTime,
}

#[derive(Debug)]
pub(crate) struct Album {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) items: Vec<String>,
}

/// One request as introspection shows it: no tokens, no query strings, no session ids.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestRecord {
    /// HTTP method (`-` when the request line did not parse).
    pub method: String,
    /// Path without the query string (`-` when the request line did not parse).
    pub path: String,
    /// What the emulator took the request for.
    pub kind: RequestKind,
    /// Status answered; `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
    /// Whether the request carried an `Authorization` header.
    pub authorization: bool,
    /// Body bytes actually read.
    pub body_len: u64,
}

#[cfg(test)]
mod tests {
    use super::with_port;

    #[test]
    fn a_session_origin_without_a_port_takes_the_emulators() {
        let own = "http://127.0.0.1:4321";
        assert_eq!(with_port("http://localhost", own), "http://localhost:4321");
        assert_eq!(with_port("http://localhost/", own), "http://localhost:4321");
        assert_eq!(with_port("http://localhost:80", own), "http://localhost:80");
        assert_eq!(with_port("http://[::1]", own), "http://[::1]:4321");
        assert_eq!(with_port("http://[::1]:8", own), "http://[::1]:8");
    }
}
