//! HTTP/1.1 on one connection: reading request heads with `httparse` within a size bound, and
//! streaming `Content-Length` bodies through one fixed buffer so memory stays flat whatever the
//! client sends.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// Largest request head (request line and headers) accepted; beyond it the answer is 431.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Most header fields accepted in one request.
const MAX_HEADERS: usize = 100;
/// The connection buffer: also the largest piece of body handed out at once. Large so that sink
/// mode hashes big slices and makes few system calls.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// Most bytes read and dropped after a reply that closes the connection: a whole chunk at the
/// core's default chunk size (8 MiB), with room to spare.
const LINGER_BYTES: u64 = 16 * 1024 * 1024;
/// Longest wait for the client to stop sending once it has its reply.
const LINGER_TIME: Duration = Duration::from_secs(1);

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    /// The path, without the query.
    pub(crate) path: String,
    /// The raw query string without `?`, empty when absent.
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, String)>,
    /// HTTP/1.0: the connection closes after the reply.
    pub(crate) http10: bool,
}

impl Head {
    /// The first header with this name (case-insensitive), trimmed.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// Every value of this header (case-insensitive).
    pub(crate) fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// The client asked to close the connection after this exchange.
    pub(crate) fn wants_close(&self) -> bool {
        self.http10
            || self
                .header_values("connection")
                .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }

    /// The query parameter `name`, percent-decoded.
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// Why no request head could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The peer closed (or the connection failed) between requests: nothing to answer.
    Closed,
    /// The head outgrew [`MAX_HEAD`] or had too many fields: 431.
    TooLarge,
    /// Not HTTP: 400 with this reason.
    Malformed(String),
}

/// The page size the buffer is aligned to; a wrong guess only costs speed.
const PAGE: usize = 4096;

/// [`BUF_SIZE`] bytes starting on a page boundary.
///
/// The kernel copies received bytes to user space about four times slower when source and
/// destination are 1 to 31 bytes out of step modulo a page (measured on an AMD EPYC guest: 0.65
/// against 0.15 CPU-seconds per GiB). A client that sends with `sendfile` hands over page-cache
/// pages, page-aligned, and a plain allocation of this size sits 16 bytes past a page boundary:
/// exactly the slow case, which made the emulator slowest for the fastest client.
struct PageBuf {
    bytes: Box<[u8]>,
    skip: usize,
}

impl PageBuf {
    fn new() -> Self {
        let bytes = vec![0; BUF_SIZE + PAGE].into_boxed_slice();
        // The heap block never moves, so the offset to its first page boundary stays right.
        let skip = bytes.as_ptr().addr().wrapping_neg() % PAGE;
        Self { bytes, skip }
    }
}

impl Deref for PageBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[self.skip..self.skip + BUF_SIZE]
    }
}

impl DerefMut for PageBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.skip..self.skip + BUF_SIZE]
    }
}

/// One client connection and its read buffer.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: PageBuf,
    start: usize,
    end: usize,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: PageBuf::new(),
            start: 0,
            end: 0,
        }
    }

    /// Reads the next request head. Bytes after it (the start of the body, or a pipelined request)
    /// stay in the buffer.
    pub(crate) fn read_head(&mut self) -> Result<Head, HeadError> {
        loop {
            if self.end > self.start {
                let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut request = httparse::Request::new(&mut fields);
                match request.parse(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => {
                        return Err(HeadError::TooLarge);
                    }
                    Ok(httparse::Status::Complete(len)) => {
                        let head = to_head(&request)?;
                        self.start += len;
                        return Ok(head);
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.end - self.start >= MAX_HEAD {
                            return Err(HeadError::TooLarge);
                        }
                    }
                    Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
                    Err(error) => return Err(HeadError::Malformed(error.to_string())),
                }
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let read = match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) | Err(_) => {
                    return Err(if self.end == 0 {
                        HeadError::Closed
                    } else {
                        HeadError::Malformed("connection closed inside the request head".into())
                    });
                }
                Ok(read) => read,
            };
            self.end += read;
        }
    }

    /// The body of the request whose head was just read.
    pub(crate) fn body(&mut self, len: u64, expect_continue: bool) -> Body<'_> {
        Body {
            conn: self,
            remaining: len,
            received: 0,
            continue_pending: expect_continue && len > 0,
        }
    }

    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Ends the connection after a reply that closes it, without destroying that reply. The
    /// request may not have been read in full (a fault, a refusal), and closing a socket with
    /// unread bytes makes the kernel answer with a reset: a client still writing its body then
    /// fails before it reads the reply, and some systems drop a reply already received. So the
    /// write side closes first (the client sees the end of the reply), then what the client still
    /// sends is read and dropped until it closes too, within bounds so that a client that never
    /// stops cannot hold the thread. The connection carries nothing more afterwards.
    pub(crate) fn linger(&mut self) {
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let deadline = Instant::now() + LINGER_TIME;
        let mut left = LINGER_BYTES;
        while left > 0 {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() || self.stream.set_read_timeout(Some(wait)).is_err() {
                return;
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) | Err(_) => return,
                Ok(read) => left = left.saturating_sub(read as u64),
            }
        }
    }
}

/// How much of `want` more body bytes to read into the page-aligned buffer, `received` bytes into
/// the body: bytes a `sendfile` client sends sit at their file offset within their page, so reads
/// that start at page multiples of the body are in step with them (see [`PageBuf`]). A read out of
/// step stops at the next page multiple; a read in step keeps whole pages.
fn step(received: u64, want: usize) -> usize {
    let want = want.min(BUF_SIZE);
    // Only the offset within a page matters, and PAGE divides 2^32.
    #[expect(clippy::cast_possible_truncation, reason = "reduced modulo PAGE")]
    let into_page = (received % PAGE as u64) as usize;
    if want < PAGE {
        want
    } else if into_page == 0 {
        want - want % PAGE
    } else {
        (PAGE - into_page).min(want)
    }
}

fn to_head(request: &httparse::Request<'_, '_>) -> Result<Head, HeadError> {
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return Err(HeadError::Malformed("incomplete request line".into()));
    };
    // Absolute form (`http://host/path`), which HTTP/1.1 servers must accept: only the path counts.
    let target = match target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        Some(rest) => rest.find('/').map_or("", |slash| &rest[slash..]),
        None => target,
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (target, ""),
    };
    if !path.starts_with('/') {
        return Err(HeadError::Malformed(
            "the request target must be a path".into(),
        ));
    }
    let headers = request
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    Ok(Head {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        http10: version == 0,
    })
}

/// A `Content-Length` body being read. Dropping it unread leaves bytes on the connection: the
/// server either discards them or closes.
pub(crate) struct Body<'c> {
    conn: &'c mut Conn,
    remaining: u64,
    received: u64,
    continue_pending: bool,
}

impl Body<'_> {
    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Bytes read so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// The client sent `Expect: 100-continue` and is still waiting for permission to send: the
    /// body can be refused without reading it, but then the connection must close.
    pub(crate) fn untouched_by_expectation(&self) -> bool {
        self.continue_pending
    }

    /// The next piece of body, at most `max` bytes; empty once the body is complete.
    ///
    /// # Errors
    /// `UnexpectedEof` when the peer closes early, or the socket error (a timeout included).
    pub(crate) fn next(&mut self, max: usize) -> io::Result<&[u8]> {
        if self.remaining == 0 || max == 0 {
            return Ok(&[]);
        }
        if self.continue_pending {
            self.continue_pending = false;
            self.conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(max);
        let conn = &mut *self.conn;
        let (from, len) = if conn.end > conn.start {
            let len = want.min(conn.end - conn.start);
            let from = conn.start;
            conn.start += len;
            (from, len)
        } else {
            conn.start = 0;
            conn.end = 0;
            let len = conn
                .stream
                .read(&mut conn.buf[..step(self.received, want)])?;
            if len == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed inside the body",
                ));
            }
            (0, len)
        };
        self.remaining -= len as u64;
        self.received += len as u64;
        Ok(&conn.buf[from..from + len])
    }

    /// The whole body. The caller bounds its length before calling.
    pub(crate) fn read_to_vec(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(self.remaining).unwrap_or(0));
        loop {
            let piece = self.next(BUF_SIZE)?;
            if piece.is_empty() {
                return Ok(out);
            }
            out.extend_from_slice(piece);
        }
    }

    /// Reads and drops the rest of the body so the connection can carry the next request.
    pub(crate) fn discard(&mut self) -> io::Result<()> {
        while !self.next(BUF_SIZE)?.is_empty() {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_starts_on_a_page() {
        for _ in 0..4 {
            let buf = PageBuf::new();
            assert_eq!(buf.as_ptr().addr() % PAGE, 0);
            assert_eq!(buf.len(), BUF_SIZE);
        }
    }

    #[test]
    fn body_reads_come_into_step_and_stay_there() {
        for start in [0, 1, 100, 4095, 4096, 5000] {
            for total in [1, 4096, 10_000, 1_000_000] {
                let (mut received, mut reads) = (start, 0);
                while received < start + total {
                    let want = usize::try_from(start + total - received).unwrap();
                    let len = step(received, want);
                    assert!(len >= 1 && len <= want.min(BUF_SIZE));
                    if len >= PAGE {
                        assert_eq!(received % PAGE as u64, 0, "{start} {total}");
                    }
                    received += len as u64;
                    reads += 1;
                }
                // One read to step in, one for a tail under a page, whole buffers between.
                assert!(
                    reads <= total.div_ceil(BUF_SIZE as u64) + 2,
                    "{start} {total}: {reads}"
                );
            }
        }
    }
    use std::net::TcpListener;

    fn pair() -> (TcpStream, Conn) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, Conn::new(server))
    }

    #[test]
    fn pipelined_requests_keep_their_bytes() {
        let (mut client, mut conn) = pair();
        client
            .write_all(b"POST /a?x=1%202 HTTP/1.1\r\nContent-Length: 3\r\nX-Y: z\r\n\r\nabcGET /b HTTP/1.0\r\n\r\n")
            .unwrap();
        let head = conn.read_head().unwrap();
        assert_eq!((head.method.as_str(), head.path.as_str()), ("POST", "/a"));
        assert_eq!(head.query_param("x").as_deref(), Some("1 2"));
        assert_eq!(head.header("x-y"), Some("z"));
        assert_eq!(conn.body(3, false).read_to_vec().unwrap(), b"abc");
        let head = conn.read_head().unwrap();
        assert_eq!(head.path, "/b");
        assert!(head.wants_close());
    }

    #[test]
    fn absolute_form_targets_keep_only_the_path() {
        let (mut client, mut conn) = pair();
        client
            .write_all(
                b"GET http://127.0.0.1:1/v1/x?a=b HTTP/1.1\r\n\r\nGET http://host HTTP/1.1\r\n\r\n",
            )
            .unwrap();
        let head = conn.read_head().unwrap();
        assert_eq!((head.path.as_str(), head.query.as_str()), ("/v1/x", "a=b"));
        assert!(matches!(conn.read_head(), Err(HeadError::Malformed(_))));
    }

    #[test]
    fn oversized_head_is_refused() {
        let (mut client, mut conn) = pair();
        let filler = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        std::thread::spawn(move || {
            let _ = client.write_all(filler.as_bytes());
        });
        assert!(matches!(conn.read_head(), Err(HeadError::TooLarge)));
    }

    #[test]
    fn short_body_is_an_error() {
        let (mut client, mut conn) = pair();
        client
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
            .unwrap();
        drop(client);
        conn.read_head().unwrap();
        let error = conn.body(10, false).read_to_vec().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
