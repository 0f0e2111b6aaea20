//! A deliberately tiny HTTP/1.1 client over `TcpStream`, so that the tests exercise the emulator
//! with nothing of ours on the client side.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use gphotos_emulator::{Config, Emulator};

/// A parsed reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One keep-alive connection.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    /// Sends a request with `Content-Length` set from the body.
    pub fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.send_raw(&request(method, target, headers, body));
        self.read_reply().expect("the emulator answered")
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).unwrap();
    }

    /// The next reply, or `None` when the connection closed without one.
    pub fn read_reply(&mut self) -> Option<Reply> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).ok()?;
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
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).ok()?;
        Some(Reply {
            status,
            headers,
            body,
        })
    }

    /// True when the server closed the connection (EOF) without sending anything more.
    pub fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }
}

pub fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// An emulator with a small granularity so chunked uploads stay tiny.
pub fn small(granularity: u64) -> Emulator {
    Emulator::start(Config {
        granularity,
        ..Config::default()
    })
    .unwrap()
}

pub const AUTH: (&str, &str) = ("Authorization", "Bearer test-token");

/// Starts a resumable session; returns the session URL's path and query.
pub fn start(client: &mut Client, size: u64, name: &str) -> String {
    let size = size.to_string();
    let reply = client.send(
        "POST",
        "/v1/uploads",
        &[
            AUTH,
            ("X-Goog-Upload-Protocol", "resumable"),
            ("X-Goog-Upload-Command", "start"),
            ("X-Goog-Upload-Raw-Size", &size),
            ("X-Goog-Upload-Content-Type", "image/jpeg"),
            ("X-Goog-Upload-File-Name", name),
        ],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    path_of(reply.header("x-goog-upload-url").expect("a session URL"))
}

/// The path and query of an absolute URL.
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").expect("absolute URL").1;
    rest[rest.find('/').expect("a path")..].to_owned()
}

pub fn chunk(client: &mut Client, session: &str, command: &str, offset: u64, data: &[u8]) -> Reply {
    let offset = offset.to_string();
    client.send(
        "POST",
        session,
        &[
            ("X-Goog-Upload-Command", command),
            ("X-Goog-Upload-Offset", &offset),
        ],
        data,
    )
}

pub fn query(client: &mut Client, session: &str) -> Reply {
    client.send("POST", session, &[("X-Goog-Upload-Command", "query")], b"")
}

pub fn size_received(reply: &Reply) -> u64 {
    reply
        .header("x-goog-upload-size-received")
        .expect("X-Goog-Upload-Size-Received")
        .parse()
        .unwrap()
}

/// Uploads `data` in one `upload, finalize` request; returns the upload token.
pub fn upload(client: &mut Client, data: &[u8], name: &str) -> String {
    let session = start(client, data.len() as u64, name);
    let reply = chunk(client, &session, "upload, finalize", 0, data);
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.text()
}

pub fn batch_create(client: &mut Client, body: &serde_json::Value) -> Reply {
    client.send(
        "POST",
        "/v1/mediaItems:batchCreate",
        &[AUTH, ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write as _;
    sha2::Sha256::digest(data)
        .iter()
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
