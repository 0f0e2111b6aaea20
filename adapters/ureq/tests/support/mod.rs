//! A tiny scripted HTTP/1.1 server on loopback, for replies no honest server sends (garbage,
//! oversized bodies) and for watching exactly what the client put on the wire.

#![allow(dead_code, clippy::missing_panics_doc)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
pub enum Reply {
    /// A well-formed HTTP/1.1 reply.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// These bytes, then close.
    Raw(Vec<u8>),
    /// Close without a word.
    Close,
}

impl Reply {
    pub fn ok(headers: &[(&str, &str)], body: &[u8]) -> Self {
        Self::status(200, headers, body)
    }

    pub fn status(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Self {
        Self::Http {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
        }
    }
}

type Handler = dyn FnMut(&Seen) -> Reply + Send;

/// The server; it runs until the test process ends.
pub struct Server {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub fn start(handler: impl FnMut(&Seen) -> Reply + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Mutex<Box<Handler>>> = Arc::new(Mutex::new(Box::new(handler)));
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&log);
                thread::spawn(move || serve(stream, &handler, &log));
            }
        });
        Self { addr, seen }
    }

    /// The API root on this server.
    pub fn url(&self) -> String {
        format!("http://{}/v1/", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("log lock").clone()
    }
}

fn serve(stream: TcpStream, handler: &Mutex<Box<Handler>>, log: &Mutex<Vec<Seen>>) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    while let Some(seen) = read_request(&mut reader) {
        log.lock().expect("log lock").push(seen.clone());
        let reply = (handler.lock().expect("handler lock"))(&seen);
        match reply {
            Reply::Http {
                status,
                headers,
                body,
            } => {
                let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                for (name, value) in headers {
                    let _ = write!(head, "{name}: {value}\r\n");
                }
                head.push_str("\r\n");
                if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&body).is_err() {
                    return;
                }
            }
            Reply::Raw(bytes) => {
                let _ = writer.write_all(&bytes);
                return;
            }
            Reply::Close => return,
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Seen> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(Some(0), |(_, v)| v.parse().ok())?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

/// A minimal honest resumable-upload server: start, upload, finalize, query.
pub struct Fake {
    pub granularity: u64,
    origin: String,
    sessions: Vec<FakeSession>,
}

struct FakeSession {
    size: u64,
    data: Vec<u8>,
    done: bool,
}

impl Fake {
    pub fn new(granularity: u64) -> Self {
        Self {
            granularity,
            origin: String::new(),
            sessions: Vec::new(),
        }
    }

    /// Sends session URLs on `origin` (`http://host:port`) instead of the server's own.
    pub fn session_origin(mut self, origin: &str) -> Self {
        origin.clone_into(&mut self.origin);
        self
    }

    /// The bytes finalized under `token`.
    pub fn stored(&self, token: &str) -> Option<&[u8]> {
        let index: usize = token.strip_prefix("token-")?.parse().ok()?;
        let session = self.sessions.get(index)?;
        session.done.then_some(session.data.as_slice())
    }

    pub fn handle(&mut self, seen: &Seen) -> Reply {
        let command = seen.header("x-goog-upload-command").unwrap_or("");
        if seen.path == "/v1/uploads" && command == "start" {
            let Some(size) = seen
                .header("x-goog-upload-raw-size")
                .and_then(|s| s.parse().ok())
            else {
                return Reply::status(400, &[], b"no size");
            };
            self.sessions.push(FakeSession {
                size,
                data: Vec::new(),
                done: false,
            });
            let origin = if self.origin.is_empty() {
                format!("http://{}", seen.header("host").unwrap_or("127.0.0.1"))
            } else {
                self.origin.clone()
            };
            let url = format!("{origin}/upload/{}", self.sessions.len() - 1);
            let granularity = self.granularity.to_string();
            return Reply::ok(
                &[
                    ("x-goog-upload-url", &url),
                    ("x-goog-upload-chunk-granularity", &granularity),
                    ("x-goog-upload-status", "active"),
                ],
                b"",
            );
        }
        let Some(index) = seen
            .path
            .strip_prefix("/upload/")
            .and_then(|i| i.parse::<usize>().ok())
        else {
            return Reply::status(404, &[], b"");
        };
        let Some(session) = self.sessions.get_mut(index) else {
            return Reply::status(404, &[], b"");
        };
        let token = format!("token-{index}");
        match command {
            "upload" | "upload, finalize" => {
                let offset: Option<u64> = seen
                    .header("x-goog-upload-offset")
                    .and_then(|o| o.parse().ok());
                if session.done || offset != Some(session.data.len() as u64) {
                    return Reply::status(400, &[], b"bad offset");
                }
                let finalize = command.ends_with("finalize");
                if !finalize && !(seen.body.len() as u64).is_multiple_of(self.granularity) {
                    return Reply::status(400, &[], b"not a multiple of the granularity");
                }
                session.data.extend_from_slice(&seen.body);
                let received = session.data.len().to_string();
                if finalize {
                    if session.data.len() as u64 != session.size || seen.body.is_empty() {
                        return Reply::status(400, &[], b"bad finalize");
                    }
                    session.done = true;
                    return Reply::ok(&[("x-goog-upload-status", "final")], token.as_bytes());
                }
                Reply::ok(
                    &[
                        ("x-goog-upload-status", "active"),
                        ("x-goog-upload-size-received", &received),
                    ],
                    b"",
                )
            }
            "query" => {
                let received = session.data.len().to_string();
                let status = if session.done { "final" } else { "active" };
                let body = if session.done { token.as_bytes() } else { b"" };
                Reply::ok(
                    &[
                        ("x-goog-upload-status", status),
                        ("x-goog-upload-size-received", &received),
                    ],
                    body,
                )
            }
            _ => Reply::status(400, &[], b"unknown command"),
        }
    }
}

/// Bytes that differ from position to position, so that a shifted or repeated range shows.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)).to_le_bytes()[0])
        .collect()
}
