//! The emulator's HTTP front: its request parser, router and handlers, fed arbitrary requests over
//! loopback, one connection per input.
//!
//! The requests are built from the emulator's own vocabulary (paths, `X-Goog-Upload-*` headers,
//! session URLs and upload tokens it handed out earlier in the same input, JSON bodies) or are raw
//! bytes. The emulator must answer every request it can frame with one well-formed HTTP/1.1
//! response (or close the connection), never hang, never panic (libFuzzer aborts on a panic in any
//! thread), never answer 500 (it has no storage to fail in sink mode), and never let request bytes
//! split a response header.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use arbitrary::Arbitrary;
use gphotos_emulator::{
    Config, Emulator, FaultAction, FaultRule, Occurrence, RequestKind, Storage,
};

use crate::json::{Doc, Text};

/// Inputs served by one emulator before it is replaced (its request log and sessions grow).
const INPUTS_PER_EMULATOR: u32 = 2000;
/// Chunk granularity of the emulator: small, so that valid chunks are small.
const GRANULARITY: u64 = 8;
/// Longest wait for an answer: the emulator's own timeouts are shorter.
const READ_TIMEOUT: Duration = Duration::from_secs(8);
/// Longest response read.
const MAX_RESPONSE: usize = 1 << 20;

static EMULATOR: Mutex<Option<(Emulator, u32)>> = Mutex::new(None);

fn address() -> SocketAddr {
    with_emulator(Emulator::addr)
}

/// Runs `f` on the shared emulator, replacing it every [`INPUTS_PER_EMULATOR`] inputs.
fn with_emulator<T>(f: impl FnOnce(&Emulator) -> T) -> T {
    let mut slot = EMULATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, served)) = slot.as_mut() {
        *served += 1;
        if *served > INPUTS_PER_EMULATOR {
            if let Some((emulator, _)) = slot.take() {
                emulator.stop();
            }
        }
    }
    if slot.is_none() {
        let config = Config {
            granularity: GRANULARITY,
            storage: Storage::Sink,
            io_timeout: Duration::from_secs(2),
            ..Config::default()
        };
        let emulator = Emulator::start(config).expect("the emulator starts on loopback");
        *slot = Some((emulator, 0));
    }
    f(&slot.as_ref().expect("started above").0)
}

/// One input: requests sent one after another on a connection (a new one after a close).
#[derive(Arbitrary, Debug)]
pub struct EmulatorInput {
    requests: Vec<Request>,
}

/// One request.
#[derive(Arbitrary, Debug)]
pub enum Request {
    /// Built from parts.
    Built {
        /// Method.
        method: Method,
        /// Request target.
        target: Target,
        /// Header fields.
        headers: Vec<Header>,
        /// Body.
        body: Body,
        /// `Content-Length`.
        length: Length,
        /// HTTP/1.0 instead of 1.1.
        http10: bool,
    },
    /// Any bytes; the connection is closed for writing after them.
    Raw(Vec<u8>),
}

/// A method.
#[derive(Arbitrary, Debug)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
    /// Anything.
    Other(String),
}

/// A request target.
#[derive(Arbitrary, Debug)]
pub enum Target {
    /// `/v1/uploads`.
    Uploads,
    /// A session URL the emulator handed out in this input (by index), or a made-up one.
    Session(u8),
    /// `/v1/mediaItems:batchCreate`.
    BatchCreate,
    /// `/v1/mediaItems/{id}`: an id the emulator handed out, or made up.
    MediaItem(u8),
    /// `/v1/albums`.
    Albums,
    /// `/v1/albums/{id}:batchAddMediaItems`.
    AddToAlbum(u8),
    /// `/oauth2/token`.
    Token,
    /// `/oauth2/auth?...`.
    Consent(Vec<(Text, Text)>),
    /// Absolute form, `http://127.0.0.1:PORT/v1/uploads`.
    Absolute,
    /// Anything (the control endpoints excepted: they could install stalls).
    Any(String),
}

/// A header field.
#[derive(Arbitrary, Debug)]
pub enum Header {
    /// `Authorization: Bearer ...` (or an empty, or another scheme).
    Authorization(u8),
    /// `X-Goog-Upload-Protocol`.
    Protocol(Text),
    /// `X-Goog-Upload-Command`.
    Command(Text),
    /// `X-Goog-Upload-Raw-Size`.
    RawSize(Number),
    /// `X-Goog-Upload-Offset`.
    Offset(Number),
    /// `X-Goog-Upload-Content-Type`.
    ContentType(Text),
    /// `X-Goog-Upload-File-Name`.
    FileName(String),
    /// `Content-Type`.
    BodyType(Text),
    /// `Expect: 100-continue`.
    Expect,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Connection: close`.
    Close,
    /// Any field.
    Other(String, Vec<u8>),
}

/// A number in a header.
#[derive(Arbitrary, Debug)]
pub enum Number {
    /// This value.
    Exact(u64),
    /// The body's length.
    BodyLength,
    /// The size the emulator last reported received.
    Received,
    /// Any text.
    Raw(String),
}

/// A body.
#[derive(Arbitrary, Debug)]
pub enum Body {
    /// None.
    Empty,
    /// These bytes.
    Bytes(Vec<u8>),
    /// This many bytes of `x` (up to 64 KiB).
    Filler(u16),
    /// JSON from the Library API's and the control endpoints' vocabulary.
    Json(Doc),
    /// An url-encoded form (the token endpoint).
    Form(Vec<(Text, Text)>),
}

/// The `Content-Length` sent.
#[derive(Arbitrary, Debug)]
pub enum Length {
    /// The body's length.
    Correct,
    /// None.
    Omitted,
    /// Two fields, the second this value.
    Twice(u16),
    /// This value (the body is then cut or the connection closed early).
    Wrong(u16),
}

/// What the emulator said so far in this input.
#[derive(Default)]
struct Seen {
    sessions: Vec<String>,
    tokens: Vec<String>,
    media_items: Vec<String>,
    albums: Vec<String>,
    received: u64,
    codes: Vec<String>,
}

const KEYS: &[&str] = &[
    "newMediaItems",
    "simpleMediaItem",
    "uploadToken",
    "fileName",
    "description",
    "albumId",
    "albumPosition",
    "position",
    "relativeMediaItemId",
    "album",
    "title",
    "mediaItemIds",
];

const WORDS: &[&str] = &[
    "FIRST_IN_ALBUM",
    "LAST_IN_ALBUM",
    "AFTER_MEDIA_ITEM",
    "Holidays",
    "a.jpg",
    "",
];

const FORM_KEYS: &[&str] = &[
    "grant_type",
    "code",
    "client_id",
    "client_secret",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
];

const FORM_WORDS: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "id.apps.googleusercontent.com",
    "secret",
    "http://127.0.0.1:53682",
    "http://127.0.0.1:53682/\r\nSet-Cookie: injected",
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "https://www.googleapis.com/auth/photoslibrary.appendonly",
];

const CONSENT_WORDS: &[&str] = &[
    "id.apps.googleusercontent.com",
    "http://127.0.0.1:53682",
    "http://localhost:9/cb?x=1",
    "http://[::1]:9",
    "http://127.0.0.1:53682/\r\nX-Injected: yes",
    "https://127.0.0.1:9",
    "code",
    "token",
    "https://www.googleapis.com/auth/photoslibrary.appendonly",
    "S256",
    "plain",
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "",
];

const UPLOAD_WORDS: &[&str] = &[
    "resumable",
    "raw",
    "start",
    "upload",
    "upload, finalize",
    "finalize",
    "query",
    "cancel",
    "image/jpeg",
    "video/mp4",
    "",
];

/// Sends the input's requests to the emulator and checks every answer.
pub fn run(input: &EmulatorInput) {
    let addr = address();
    let mut seen = Seen::default();
    let mut conn: Option<TcpStream> = None;
    for request in &input.requests {
        let (bytes, last) = build(request, &seen, addr);
        let stream = match conn.take() {
            Some(stream) => stream,
            None => connect(addr),
        };
        let mut stream = stream;
        if stream.write_all(&bytes).is_err() {
            // The emulator closed after an earlier answer; the request goes on a new connection.
            stream = connect(addr);
            if stream.write_all(&bytes).is_err() {
                continue;
            }
        }
        if last {
            let _ = stream.shutdown(Shutdown::Write);
        }
        let open = read_responses(&mut stream, &mut seen, last);
        if last {
            return;
        }
        if open {
            conn = Some(stream);
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("the emulator accepts connections");
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .expect("a read timeout");
    let _ = stream.set_nodelay(true);
    stream
}

/// The request's bytes, and whether the connection must close for writing after it (its framing
/// cannot be trusted).
fn build(request: &Request, seen: &Seen, addr: SocketAddr) -> (Vec<u8>, bool) {
    let Request::Built {
        method,
        target,
        headers,
        body,
        length,
        http10,
    } = request
    else {
        let Request::Raw(bytes) = request else {
            unreachable!()
        };
        return (without_control_paths(bytes), true);
    };
    let pick = |list: &[String], i: u8| list.get(usize::from(i) % list.len().max(1)).cloned();
    let body: Vec<u8> = match body {
        Body::Empty => Vec::new(),
        Body::Bytes(bytes) => bytes.clone(),
        Body::Filler(n) => vec![b'x'; usize::from(*n)],
        Body::Json(doc) => {
            let mut words: Vec<&str> = WORDS.to_vec();
            words.extend(seen.tokens.iter().map(String::as_str));
            words.extend(seen.media_items.iter().map(String::as_str));
            words.extend(seen.albums.iter().map(String::as_str));
            doc.bytes(KEYS, &words)
        }
        Body::Form(pairs) => {
            let mut words: Vec<&str> = FORM_WORDS.to_vec();
            words.extend(seen.codes.iter().map(String::as_str));
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (key, value) in pairs {
                form.append_pair(&key.to_string_in(FORM_KEYS), &value.to_string_in(&words));
            }
            form.finish().into_bytes()
        }
    };
    let method = match method {
        Method::Get => "GET".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Other(text) => text.clone(),
    };
    let target = match target {
        Target::Uploads => "/v1/uploads".to_owned(),
        Target::Session(i) => {
            pick(&seen.sessions, *i).unwrap_or_else(|| format!("/v1/uploads?upload_id=made-up-{i}"))
        }
        Target::BatchCreate => "/v1/mediaItems:batchCreate".to_owned(),
        Target::MediaItem(i) => format!(
            "/v1/mediaItems/{}",
            pick(&seen.media_items, *i).unwrap_or_else(|| format!("id{i}"))
        ),
        Target::Albums => "/v1/albums".to_owned(),
        Target::AddToAlbum(i) => format!(
            "/v1/albums/{}:batchAddMediaItems",
            pick(&seen.albums, *i).unwrap_or_else(|| format!("album{i}"))
        ),
        Target::Token => "/oauth2/token".to_owned(),
        Target::Consent(params) => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (key, value) in params {
                let key = key.to_string_in(&[
                    "client_id",
                    "redirect_uri",
                    "response_type",
                    "scope",
                    "state",
                    "code_challenge",
                    "code_challenge_method",
                ]);
                form.append_pair(&key, &value.to_string_in(CONSENT_WORDS));
            }
            format!("/oauth2/auth?{}", form.finish())
        }
        Target::Absolute => format!("http://{addr}/v1/uploads"),
        Target::Any(text) => text.replace("/emulator/", "/emulatoR/"),
    };
    let number = |n: &Number| match n {
        Number::Exact(v) => v.to_string(),
        Number::BodyLength => body.len().to_string(),
        Number::Received => seen.received.to_string(),
        Number::Raw(text) => text.clone(),
    };
    let mut head = format!(
        "{method} {target} HTTP/1.{}\r\nHost: {addr}\r\n",
        u8::from(!*http10)
    )
    .into_bytes();
    let mut field = |name: &str, value: &[u8]| {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    };
    let mut last = false;
    for header in headers {
        match header {
            Header::Authorization(kind) => {
                let value = match kind % 4 {
                    0 | 1 => "Bearer ya29.fuzz",
                    2 => "Bearer ",
                    _ => "Basic Zm9vOmJhcg==",
                };
                field("Authorization", value.as_bytes());
            }
            Header::Protocol(t) => {
                field(
                    "X-Goog-Upload-Protocol",
                    t.to_string_in(UPLOAD_WORDS).as_bytes(),
                );
            }
            Header::Command(t) => {
                field(
                    "X-Goog-Upload-Command",
                    t.to_string_in(UPLOAD_WORDS).as_bytes(),
                );
            }
            Header::RawSize(n) => field("X-Goog-Upload-Raw-Size", number(n).as_bytes()),
            Header::Offset(n) => field("X-Goog-Upload-Offset", number(n).as_bytes()),
            Header::ContentType(t) => field(
                "X-Goog-Upload-Content-Type",
                t.to_string_in(UPLOAD_WORDS).as_bytes(),
            ),
            Header::FileName(name) => field("X-Goog-Upload-File-Name", name.as_bytes()),
            Header::BodyType(t) => field(
                "Content-Type",
                t.to_string_in(&["application/json", "application/x-www-form-urlencoded"])
                    .as_bytes(),
            ),
            Header::Expect => field("Expect", b"100-continue"),
            Header::Chunked => {
                // Refused by the emulator, which then closes: nothing may follow.
                field("Transfer-Encoding", b"chunked");
                last = true;
            }
            Header::Close => field("Connection", b"close"),
            Header::Other(name, value) => {
                if name.eq_ignore_ascii_case("content-length")
                    || name.eq_ignore_ascii_case("transfer-encoding")
                {
                    last = true;
                }
                field(name, value);
            }
        }
    }
    match length {
        Length::Correct => field("Content-Length", body.len().to_string().as_bytes()),
        Length::Omitted => {
            if !body.is_empty() {
                // Without a length the body would be read as the next request.
                last = true;
            }
        }
        Length::Twice(n) => {
            field("Content-Length", body.len().to_string().as_bytes());
            field("Content-Length", n.to_string().as_bytes());
            last |= usize::from(*n) != body.len();
        }
        Length::Wrong(n) => {
            field("Content-Length", n.to_string().as_bytes());
            last |= usize::from(*n) != body.len();
        }
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&body);
    // A head with a stray CR or LF in a field frames unpredictably too.
    last |= headers.iter().any(|h| match h {
        Header::Other(name, value) => {
            name.contains(['\r', '\n']) || value.iter().any(|b| matches!(b, b'\r' | b'\n'))
        }
        Header::FileName(name) => name.contains(['\r', '\n']),
        _ => false,
    }) || method.contains(['\r', '\n', ' '])
        || target.contains(['\r', '\n', ' ']);
    (head, last)
}

fn without_control_paths(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let needle = b"/emulator/";
    let mut i = 0;
    while i + needle.len() <= out.len() {
        if &out[i..i + needle.len()] == needle {
            out[i + needle.len() - 2] = b'R';
        }
        i += 1;
    }
    out
}

/// Reads the answers to what was sent (one, or all until the emulator closes when `all`), checks
/// them, and notes what they hand out. Returns whether the connection stays open.
fn read_responses(stream: &mut TcpStream, seen: &mut Seen, all: bool) -> bool {
    let mut buf = Vec::new();
    loop {
        match read_one(stream, &mut buf) {
            Ok(Some(response)) => {
                if response.status == 100 {
                    continue;
                }
                check(&response);
                learn(&response, seen);
                if response.close {
                    return false;
                }
                if !all {
                    return true;
                }
            }
            Ok(None) => return false,
            Err(what) => panic!("the emulator {what}"),
        }
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

/// One response, `None` when the emulator closed before sending any.
fn read_one(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Option<Answer>, String> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut fields);
        match response.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let status = response.code.ok_or("sent a response without a status")?;
                let mut headers = Vec::new();
                let mut length = None;
                let mut close = false;
                for h in response.headers.iter() {
                    let value = std::str::from_utf8(h.value)
                        .map_err(|_| format!("sent a header {} that is not UTF-8", h.name))?
                        .to_owned();
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = Some(
                            value
                                .parse::<usize>()
                                .map_err(|_| format!("sent Content-Length {value:?}"))?,
                        );
                    }
                    if h.name.eq_ignore_ascii_case("connection")
                        && value.eq_ignore_ascii_case("close")
                    {
                        close = true;
                    }
                    headers.push((h.name.to_owned(), value));
                }
                if status == 100 {
                    buf.drain(..head_len);
                    return Ok(Some(Answer {
                        status,
                        headers,
                        body: Vec::new(),
                        close: false,
                    }));
                }
                let length = length.ok_or("sent a response without Content-Length")?;
                while buf.len() < head_len + length {
                    let n = read(stream, &mut chunk)?;
                    if n == 0 {
                        return Err("closed inside a response body".into());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[head_len..head_len + length].to_vec();
                buf.drain(..head_len + length);
                return Ok(Some(Answer {
                    status,
                    headers,
                    body,
                    close,
                }));
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_RESPONSE {
                    return Err("sent a response head over 1 MiB".into());
                }
                let n = read(stream, &mut chunk)?;
                if n == 0 {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    return Err(format!(
                        "closed inside a response head: {:?}",
                        String::from_utf8_lossy(buf)
                    ));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(error) => {
                return Err(format!(
                    "sent a malformed response ({error}): {:?}",
                    String::from_utf8_lossy(&buf[..buf.len().min(500)])
                ));
            }
        }
    }
}

fn read(stream: &mut TcpStream, chunk: &mut [u8]) -> Result<usize, String> {
    match stream.read(chunk) {
        Ok(n) => Ok(n),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(format!("did not answer within {READ_TIMEOUT:?}"))
        }
        // A reset after the emulator closed on us with unread input: no answer.
        Err(_) => Ok(0),
    }
}

/// The header names the emulator writes.
const KNOWN_HEADERS: &[&str] = &[
    "allow",
    "cache-control",
    "connection",
    "content-length",
    "content-type",
    "location",
    "retry-after",
    "www-authenticate",
    "x-goog-upload-chunk-granularity",
    "x-goog-upload-size-received",
    "x-goog-upload-status",
    "x-goog-upload-url",
    "x-guploader-uploadid",
];

fn check(answer: &Answer) {
    assert!(
        (100..600).contains(&answer.status),
        "status {}",
        answer.status
    );
    assert_ne!(
        answer.status,
        500,
        "the emulator failed internally: {}",
        String::from_utf8_lossy(&answer.body)
    );
    for (name, value) in &answer.headers {
        assert!(
            KNOWN_HEADERS.contains(&name.to_ascii_lowercase().as_str()),
            "a header the emulator never writes (split by request bytes?): {name}: {value}"
        );
        assert!(
            !value.chars().any(char::is_control),
            "a control character in {name}: {value:?}"
        );
    }
}

fn learn(answer: &Answer, seen: &mut Seen) {
    let header = |name: &str| {
        answer
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if let Some(url) = header("x-goog-upload-url") {
        let path = url.find("/v1/").map_or(url, |at| &url[at..]).to_owned();
        seen.sessions.push(path);
    }
    if let Some(size) = header("x-goog-upload-size-received").and_then(|s| s.parse().ok()) {
        seen.received = size;
    }
    if header("x-goog-upload-status") == Some("final") && answer.status == 200 {
        if let Ok(token) = std::str::from_utf8(&answer.body) {
            seen.tokens.push(token.trim().to_owned());
        }
    }
    if let Some(location) = header("location") {
        if let Some(code) = location.split("code=").nth(1) {
            let code = code.split('&').next().unwrap_or_default();
            let decoded: String = form_urlencoded::parse(format!("c={code}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .next()
                .unwrap_or_default();
            seen.codes.push(decoded);
        }
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&answer.body) {
        if let Some(results) = json.get("newMediaItemResults").and_then(|r| r.as_array()) {
            for result in results {
                if let Some(id) = result.pointer("/mediaItem/id").and_then(|v| v.as_str()) {
                    seen.media_items.push(id.to_owned());
                }
            }
        }
        if let (Some(id), Some(_)) = (json.get("id").and_then(|v| v.as_str()), json.get("title")) {
            seen.albums.push(id.to_owned());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fault rules (`--fault` flags and the control endpoint's JSON)

const RULE_KEYS: &[&str] = &[
    "kind",
    "when",
    "action",
    "status",
    "retry_after",
    "body",
    "bytes",
    "millis",
];
const RULE_WORDS: &[&str] = &[
    "start",
    "raw",
    "upload",
    "finalize",
    "query",
    "cancel",
    "batch_create",
    "get",
    "albums",
    "token",
    "consent",
    "control",
    "other",
    "any",
    "1",
    "2+",
    "every",
    "status",
    "daily_quota",
    "drop_after",
    "stall",
    "lose_tail",
    "expire_session",
    "expire_access_token",
    "malformed_headers",
    "malformed_body",
    "503",
    "1\r\nX-Injected: yes",
];

const ACTION_WORDS: &[&str] = &[
    "status",
    "quota",
    "daily-quota",
    "drop",
    "stall",
    "lose-tail",
    "expire-session",
    "expire-token",
    "malformed-headers",
    "malformed-body",
];

/// One input of the `emulator_faults` target.
#[derive(Arbitrary, Debug)]
pub enum FaultInput {
    /// The `--fault` text form, from the grammar's words.
    Parts {
        /// `KIND`.
        kind: Text,
        /// `@WHEN`.
        when: Option<Text>,
        /// `ACTION`.
        action: Text,
        /// `=VALUE`.
        value: Option<Text>,
        /// `,retry-after=...` and `,body=...`.
        options: Vec<(Text, Text)>,
    },
    /// The `--fault` text form.
    Text(String),
    /// The control endpoint's JSON form.
    Json(Doc),
}

/// Parses a fault rule; one that is accepted is installed (on any request, first occurrence) and
/// played out on one request, whose answer must be well-formed.
pub fn faults(input: &FaultInput) {
    let text = match input {
        FaultInput::Parts {
            kind,
            when,
            action,
            value,
            options,
        } => {
            let mut text = kind.to_string_in(RULE_WORDS);
            if let Some(when) = when {
                text.push('@');
                text.push_str(&when.to_string_in(RULE_WORDS));
            }
            text.push(':');
            text.push_str(&action.to_string_in(ACTION_WORDS));
            if let Some(value) = value {
                text.push('=');
                text.push_str(&value.to_string_in(RULE_WORDS));
            }
            for (name, value) in options {
                text.push(',');
                text.push_str(&name.to_string_in(&["retry-after", "body"]));
                text.push('=');
                text.push_str(&value.to_string_in(RULE_WORDS));
            }
            Some(text)
        }
        FaultInput::Text(text) => Some(text.clone()),
        FaultInput::Json(_) => None,
    };
    let rule = match (input, text) {
        (_, Some(text)) => match text.parse::<FaultRule>() {
            Ok(rule) => rule,
            Err(error) => {
                assert!(!error.to_string().is_empty());
                return;
            }
        },
        (FaultInput::Json(doc), None) => {
            let bytes = doc.bytes(RULE_KEYS, RULE_WORDS);
            match serde_json::from_slice::<FaultRule>(&bytes) {
                Ok(rule) => rule,
                Err(_) => return,
            }
        }
        (_, None) => unreachable!("only the JSON form has no text"),
    };
    // The JSON form reads back as the same rule.
    let json = serde_json::to_string(&rule).expect("a rule serializes");
    let again: FaultRule = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("a rule does not read back ({e}): {json}"));
    assert_eq!(again, rule, "{json}");
    if rule.validate().is_err() {
        return;
    }
    // Only the answers that are meant to be well-formed: no hang-ups, stalls or garbling.
    if !matches!(
        rule.action,
        FaultAction::Status { .. } | FaultAction::DailyQuota | FaultAction::ExpireAccessToken
    ) {
        return;
    }
    let installed = FaultRule::new(RequestKind::Any, Occurrence::Nth(1), rule.action.clone());
    with_emulator(|emulator| {
        emulator.clear_faults();
        emulator
            .inject(installed)
            .expect("a valid action on any request is accepted");
        let mut stream = connect(emulator.addr());
        let request = format!(
            "POST /v1/albums HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer x\r\nContent-Length: 2\r\n\r\n{{}}",
            emulator.addr()
        );
        stream
            .write_all(request.as_bytes())
            .expect("the emulator reads");
        let _ = stream.shutdown(Shutdown::Write);
        let mut seen = Seen::default();
        read_responses(&mut stream, &mut seen, true);
        emulator.clear_faults();
    });
}
