//! Performs one request a machine emitted, and nothing more: no decisions, no retries.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

use gphotos_upload::Payload;
use http::{Request, Response};
use ureq::{Agent, SendBody};

use crate::config::Timeouts;

/// A source an upload streams its chunks from.
pub(crate) trait ReadSeek: Read + Seek {}

impl<T: Read + Seek + ?Sized> ReadSeek for T {}

/// Why a request produced no reply.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The connection could not be opened (refused, name not resolved, connect timeout): not one
    /// byte of the request left, so the server surely did not act on it.
    Unsent(String),
    /// The network or the server's HTTP failed once the request may have left: reset, timed out,
    /// garbled or oversized reply. The text is safe to show (it never holds a URL).
    Network(String),
    /// Reading the upload's source failed; the request was abandoned.
    Source(io::Error),
    /// A request asked for source bytes but none was given (a bug in the caller).
    NoSource,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsent(what) | Self::Network(what) => f.write_str(what),
            Self::Source(error) => write!(f, "reading the source failed: {error}"),
            Self::NoSource => f.write_str("the request needs source bytes but no source was given"),
        }
    }
}

/// A ureq agent set up for the API: statuses are replies rather than errors, redirects are not
/// followed (a redirect could carry the bearer token elsewhere), and reply bodies are bounded.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    agent: Agent,
    /// Without the proxy, for loopback hosts, when a proxy is configured: plain http is allowed
    /// only because loopback traffic never leaves the machine, and a proxy would carry it (bearer
    /// token included) across the network unencrypted.
    direct: Option<Agent>,
    max_reply_bytes: u64,
}

/// How a transport is built.
pub(crate) struct TransportConfig<'a> {
    pub timeouts: Timeouts,
    pub max_reply_bytes: u64,
    pub io_buffer: usize,
    pub user_agent: &'a str,
    pub max_idle_per_host: usize,
    /// The HTTP proxy, usually [`ureq::Proxy::try_from_env`] (`HTTPS_PROXY`, `NO_PROXY`...).
    pub proxy: Option<ureq::Proxy>,
}

impl Transport {
    pub(crate) fn new(config: &TransportConfig<'_>) -> Self {
        let direct = config.proxy.is_some().then(|| Self::agent(config, None));
        Self {
            agent: Self::agent(config, config.proxy.clone()),
            direct,
            max_reply_bytes: config.max_reply_bytes,
        }
    }

    fn agent(config: &TransportConfig<'_>, proxy: Option<ureq::Proxy>) -> Agent {
        let timeouts = config.timeouts;
        Agent::config_builder()
            .proxy(proxy)
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(config.user_agent)
            .timeout_connect(timeouts.connect)
            .timeout_per_write(timeouts.send_stall)
            .timeout_send_body(timeouts.send_body)
            .timeout_recv_response(timeouts.recv_response)
            .timeout_recv_body(timeouts.recv_body)
            .output_buffer_size(config.io_buffer)
            .max_idle_connections_per_host(config.max_idle_per_host)
            .max_idle_connections(config.max_idle_per_host.max(10))
            .build()
            .new_agent()
    }

    /// Sends `request`, streaming a [`Payload::Range`] from `source`, and reads the reply.
    ///
    /// `on_sent` hears how many source bytes went out, read by read, for progress displays.
    pub(crate) fn perform(
        &self,
        request: Request<Payload>,
        source: Option<&mut dyn ReadSeek>,
        on_sent: &mut dyn FnMut(u64),
    ) -> Result<Response<Vec<u8>>, Failure> {
        let agent = match (&self.direct, request.uri().host()) {
            (Some(direct), Some(host)) if gphotos_upload::is_loopback(host) => direct,
            _ => &self.agent,
        };
        let (mut parts, payload) = request.into_parts();
        // ureq falls back to chunked encoding for a reader without a length, which Google (and the
        // emulator) refuse: a body always goes with its Content-Length. The core sets it; this
        // only makes sure.
        if !payload.is_empty() {
            parts
                .headers
                .entry(http::header::CONTENT_LENGTH)
                .or_insert_with(|| http::HeaderValue::from(payload.len()));
        }
        let outcome = match payload {
            // No body at all: a POST keeps the core's `Content-Length: 0`, a GET sends none.
            Payload::Empty => agent.run(Request::from_parts(parts, ())),
            Payload::Bytes(bytes) => agent.run(Request::from_parts(parts, bytes)),
            Payload::Range { offset, len } => {
                let source = source.ok_or(Failure::NoSource)?;
                source
                    .seek(SeekFrom::Start(offset))
                    .map_err(Failure::Source)?;
                let mut range = RangeReader {
                    source,
                    position: offset,
                    remaining: len,
                    failed: None,
                    on_sent,
                };
                let outcome = self.agent.run(Request::from_parts(
                    parts,
                    SendBody::from_reader(&mut range),
                ));
                if let Some(error) = range.failed.take() {
                    return Err(Failure::Source(error));
                }
                outcome
            }
        };
        let response = outcome.map_err(|e| {
            if never_sent(&e) {
                Failure::Unsent(describe(&e))
            } else {
                Failure::Network(describe(&e))
            }
        })?;
        let (parts, body) = response.into_parts();
        let body = body
            .into_with_config()
            .limit(self.max_reply_bytes)
            .read_to_vec()
            .map_err(|e| Failure::Network(format!("reading the reply failed: {}", describe(&e))))?;
        Ok(Response::from_parts(parts, body))
    }
}

/// `remaining` bytes of the source from where it stands, read straight into ureq's send buffer.
///
/// A source that ends early must not leave ureq waiting for bytes that never come (with an explicit
/// `Content-Length` it would wait forever), so an early end is an error, remembered so that it is
/// reported as the source's fault rather than the network's.
struct RangeReader<'a> {
    source: &'a mut dyn ReadSeek,
    /// The source offset of the next byte read, to size reads by (see [`read_len`]).
    position: u64,
    remaining: u64,
    failed: Option<io::Error>,
    on_sent: &'a mut dyn FnMut(u64),
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = read_len(
            buf.as_ptr().addr(),
            self.position,
            buf.len(),
            self.remaining,
        );
        let read = loop {
            match self.source.read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match read {
            Ok(0) => {
                let error = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the source ended {} bytes early (was it truncated?)",
                        self.remaining
                    ),
                );
                let kind = error.kind();
                self.failed = Some(error);
                Err(io::Error::new(kind, "source failed"))
            }
            Ok(n) => {
                self.position += n as u64;
                self.remaining -= n as u64;
                (self.on_sent)(n as u64);
                Ok(n)
            }
            Err(error) => {
                let kind = error.kind();
                self.failed = Some(error);
                Err(io::Error::new(kind, "source failed"))
            }
        }
    }
}

/// The granule of the page cache on every platform we run on; a wrong guess only costs speed.
const PAGE: usize = 4096;

/// How many bytes to read from source offset `position` into a buffer of `room` bytes at
/// `address`, when `remaining` bytes of the body are left.
///
/// The kernel copies a file from the page cache fastest when the destination address and the file
/// offset agree modulo the page size. Measured on an AMD EPYC guest: reading 1 GiB into a buffer 1 to
/// 31 bytes out of step costs 0.65 CPU-seconds, in step 0.15 (`read` into a page-aligned buffer at
/// offsets 0..4096 from a Python loop). ureq's send buffer is a large allocation, which glibc places
/// 16 bytes past a page boundary, while chunks start at multiples of 256 KiB: exactly the slow case,
/// and it doubled the adapter's CPU per GiB. So a read that is out of step stops where the next one
/// (into the same buffer) will be in step, and a read in step keeps whole pages.
fn read_len(address: usize, position: u64, room: usize, remaining: u64) -> usize {
    let last = usize::try_from(remaining).ok().filter(|&last| last <= room);
    let want = last.unwrap_or(room);
    if want < PAGE {
        return want;
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "only the position modulo PAGE matters, and PAGE divides 2^32"
    )]
    let skew = address.wrapping_sub(position as usize) % PAGE;
    match last {
        _ if skew != 0 => skew,
        // In step and the last read of the body: nothing after it to keep in step.
        Some(last) => last,
        None => room - room % PAGE,
    }
}

/// Whether `error` happened before any byte of the request was written: while resolving the name
/// or opening the connection (a pooled connection that turns out dead is not one of these: ureq
/// writes to it first).
fn never_sent(error: &ureq::Error) -> bool {
    use ureq::{Error as E, Timeout};
    match error {
        E::HostNotFound | E::ConnectionFailed | E::Timeout(Timeout::Resolve | Timeout::Connect) => {
            true
        }
        E::Io(e) => matches!(
            e.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::AddrNotAvailable
                | io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
        ),
        _ => false,
    }
}

/// A description of a ureq error that never repeats a URL (a session URL is a capability) or a
/// header value.
fn describe(error: &ureq::Error) -> String {
    use ureq::Error as E;
    match error {
        E::Io(e) => format!("connection failed: {e}"),
        E::Timeout(which) => format!("timed out ({which})"),
        E::HostNotFound => "host not found (DNS lookup failed)".into(),
        E::ConnectionFailed => "could not connect".into(),
        E::BodyExceedsLimit(limit) => {
            format!("the reply body is larger than {limit} bytes, more than any API reply needs")
        }
        E::Protocol(e) => {
            let text = e.to_string();
            // Only the kind of fault: some variants quote what the server sent.
            let kind = text.split(':').next().unwrap_or("malformed");
            format!("malformed HTTP exchange ({kind})")
        }
        E::LargeResponseHeader(..) => "the reply headers are too large".into(),
        E::BadUri(_) => "the request URL is not valid".into(),
        E::Tls(what) => format!("TLS failed: {what}"),
        E::Rustls(e) => format!("TLS failed: {e}"),
        E::Pem(_) => "TLS certificate data is not valid PEM".into(),
        E::TooManyRedirects | E::RedirectFailed => "the server answered with a redirect".into(),
        E::RequireHttpsOnly(_) | E::TlsRequired => "the request needs https".into(),
        E::Http(e) => format!("the request could not be built: {e}"),
        E::StatusCode(status) => format!("HTTP {status}"),
        _ => "the HTTP client failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::net::TcpListener;

    use super::*;

    fn config() -> TransportConfig<'static> {
        TransportConfig {
            timeouts: Timeouts::uniform(std::time::Duration::from_secs(5)),
            max_reply_bytes: 4096,
            io_buffer: 4096,
            user_agent: "test",
            max_idle_per_host: 1,
            proxy: None,
        }
    }

    fn transport() -> Transport {
        Transport::new(&config())
    }

    fn post(url: &str) -> Request<Payload> {
        Request::post(url)
            .header("content-length", "0")
            .body(Payload::Empty)
            .unwrap()
    }

    #[test]
    fn reads_come_into_step_with_the_page_cache_and_stay_there() {
        for address in [0, 16, 4095, 4096 * 7 + 2000] {
            for start in [0, 1, 4096, 262_144, 262_144 + 100] {
                for room in [1, 100, 4096, 65_536, 100_000, 262_144] {
                    let total = 1_000_000;
                    let (mut position, mut reads) = (start, Vec::new());
                    while position < start + total {
                        let remaining = start + total - position;
                        let len = read_len(address, position, room, remaining);
                        assert!(len >= 1 && len <= room && len as u64 <= remaining);
                        reads.push((position, len));
                        position += len as u64;
                    }
                    let in_step =
                        |p: u64| (address as u64).wrapping_sub(p).is_multiple_of(PAGE as u64);
                    // Past the first read, every read of a page or more starts in step.
                    for &(position, len) in &reads[1..] {
                        if len >= PAGE {
                            assert!(in_step(position), "{address} {start} {room}: {reads:?}");
                        }
                    }
                    // Stepping costs at most one short read, and reads fill whole pages.
                    let per_read = if room < PAGE {
                        room
                    } else {
                        room - room % PAGE
                    };
                    let most = total.div_ceil(per_read as u64) + 1;
                    assert!(
                        reads.len() as u64 <= most,
                        "{address} {start} {room}: {reads:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_refused_connection_is_unsent() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let failure = transport()
            .perform(
                post(&format!("http://127.0.0.1:{port}/x")),
                None,
                &mut |_| {},
            )
            .unwrap_err();
        assert!(matches!(failure, Failure::Unsent(_)), "{failure:?}");
    }

    #[test]
    fn a_connection_closed_after_the_request_is_not_unsent() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = [0; 64];
            let _ = stream.read(&mut head);
        });
        let failure = transport()
            .perform(post(&url), None, &mut |_| {})
            .unwrap_err();
        assert!(matches!(failure, Failure::Network(_)), "{failure:?}");
    }

    #[test]
    fn a_range_without_a_source_is_refused_before_sending() {
        let request = Request::post("http://127.0.0.1:9/x")
            .body(Payload::Range { offset: 0, len: 5 })
            .unwrap();
        let failure = transport().perform(request, None, &mut |_| {}).unwrap_err();
        assert!(matches!(failure, Failure::NoSource), "{failure:?}");
    }

    #[test]
    fn loopback_requests_bypass_a_configured_proxy() {
        // The proxy is a closed port: going through it would fail.
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let transport = Transport::new(&TransportConfig {
            proxy: Some(ureq::Proxy::new(&format!("http://127.0.0.1:{closed}")).unwrap()),
            ..config()
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            use std::io::Write as _;
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = [0; 1024];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n");
        });
        let reply = transport.perform(post(&url), None, &mut |_| {}).unwrap();
        assert_eq!(reply.status(), 204);
    }
}
