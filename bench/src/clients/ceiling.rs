//! The ceiling client: the least work any client can do per file. One keep-alive connection; per
//! file a start request, then the whole file in one `upload, finalize` request whose body goes from
//! the page cache to the socket with `sendfile(2)`, so no byte crosses user space on the client
//! side.
//!
//! It does nothing a real client needs beyond that: no retries, no chunking, no resume.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::sendfile::sendfile;

/// Uploads `files` one after another.
///
/// # Errors
/// The first refused or failed request, described.
pub(crate) fn upload_all(endpoint: &str, files: &[PathBuf]) -> Result<(), String> {
    let target = Target::parse(endpoint)?;
    let mut conn = Conn::open(&target.authority)?;
    for path in files {
        upload_one(&mut conn, &target, path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn upload_one(conn: &mut Conn, target: &Target, path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot stat: {e}"))?
        .len();
    let authority = &target.authority;
    conn.send(&format!(
        "POST {}uploads HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer bench\r\n\
         X-Goog-Upload-Protocol: resumable\r\nX-Goog-Upload-Command: start\r\n\
         X-Goog-Upload-Raw-Size: {size}\r\nX-Goog-Upload-Content-Type: application/octet-stream\r\n\
         Content-Length: 0\r\n\r\n",
        target.path
    ))?;
    let reply = conn.read_reply()?;
    if reply.status != 200 {
        return Err(format!("start answered {}", reply.status));
    }
    let url = reply
        .header("x-goog-upload-url")
        .ok_or("the start reply has no X-Goog-Upload-URL")?;
    let session = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_prefix(authority.as_str()))
        .filter(|p| p.starts_with('/'))
        .ok_or("the session URL is not on the emulator")?
        .to_owned();
    conn.send(&format!(
        "POST {session} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer bench\r\n\
         X-Goog-Upload-Command: upload, finalize\r\nX-Goog-Upload-Offset: 0\r\n\
         Content-Length: {size}\r\n\r\n"
    ))?;
    send_file(&conn.stream, &file, size)?;
    let reply = conn.read_reply()?;
    if reply.status != 200 || reply.header("x-goog-upload-status") != Some("final") {
        return Err(format!(
            "upload, finalize answered {} without status final",
            reply.status
        ));
    }
    if reply.body.is_empty() {
        return Err("the final reply carries no upload token".into());
    }
    Ok(())
}

/// Sends `size` bytes of `file` with `sendfile(2)`: page cache to socket, never through user space.
/// (`std::io::copy` no longer uses `sendfile` from a file to a socket, since later writes to the file
/// could change bytes already "sent".)
fn send_file(stream: &TcpStream, file: &File, size: u64) -> Result<(), String> {
    let mut offset: nix::libc::off_t = 0;
    let mut left = size;
    while left > 0 {
        // Linux sends at most 0x7fff_f000 bytes per call.
        let count = usize::try_from(left).map_or(0x7fff_f000, |l| l.min(0x7fff_f000));
        match sendfile(stream, file, Some(&mut offset), count) {
            Ok(0) => return Err(format!("the file ended {left} bytes early")),
            Ok(sent) => left -= sent as u64,
            Err(Errno::EINTR) => {}
            Err(error) => return Err(format!("sendfile failed: {error}")),
        }
    }
    Ok(())
}

/// Where requests go: `authority` (`127.0.0.1:PORT`) and the API path (`/v1/`).
struct Target {
    authority: String,
    path: String,
}

impl Target {
    fn parse(endpoint: &str) -> Result<Self, String> {
        let rest = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| format!("the endpoint {endpoint} is not http://"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = format!("/{}", path.trim_end_matches('/'));
        let path = if path == "/" { path } else { path + "/" };
        Ok(Self {
            authority: authority.to_owned(),
            path,
        })
    }
}

/// One HTTP/1.1 connection, requests strictly one after another.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Conn {
    fn open(authority: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(authority).map_err(|e| format!("cannot connect: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    fn send(&mut self, head: &str) -> Result<(), String> {
        self.stream
            .write_all(head.as_bytes())
            .map_err(|e| format!("sending a request head failed: {e}"))
    }

    fn read_reply(&mut self) -> Result<Reply, String> {
        loop {
            if let Some((head_len, status, headers)) = parse_head(&self.buf)? {
                let length = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map_or(Ok(0), |(_, v)| v.parse::<usize>())
                    .map_err(|_| "the reply's Content-Length is not a number")?;
                while self.buf.len() < head_len + length {
                    self.fill()?;
                }
                let body = self.buf[head_len..head_len + length].to_vec();
                self.buf.drain(..head_len + length);
                return Ok(Reply {
                    status,
                    headers,
                    body,
                });
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), String> {
        let mut piece = [0u8; 4096];
        let n = self
            .stream
            .read(&mut piece)
            .map_err(|e| format!("reading the reply failed: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.buf.extend_from_slice(&piece[..n]);
        Ok(())
    }
}

type Head = (usize, u16, Vec<(String, String)>);

/// The reply head in `buf`, once complete: its length, status and headers.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut fields);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let status = response.code.unwrap_or(0);
            let headers = response
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).trim().to_owned(),
                    )
                })
                .collect();
            Ok(Some((len, status, headers)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(error) => Err(format!("malformed reply: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_splits_into_authority_and_path() {
        let target = Target::parse("http://127.0.0.1:9/v1/").unwrap();
        assert_eq!(target.authority, "127.0.0.1:9");
        assert_eq!(target.path, "/v1/");
        assert_eq!(Target::parse("http://h:1").unwrap().path, "/");
        assert!(Target::parse("https://h/v1/").is_err());
    }

    #[test]
    fn a_head_parses_only_when_complete() {
        let reply =
            b"HTTP/1.1 200 OK\r\nX-Goog-Upload-Status: final\r\nContent-Length: 3\r\n\r\nabc";
        assert!(parse_head(&reply[..20]).unwrap().is_none());
        let (len, status, headers) = parse_head(reply).unwrap().unwrap();
        assert_eq!((len, status), (reply.len() - 3, 200));
        assert_eq!(headers[0], ("X-Goog-Upload-Status".into(), "final".into()));
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }
}
