//! The adapter against a tiny scripted server: what goes on the wire, and how hostile or broken
//! replies end.

mod support;

use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gphotos_upload_ureq::{
    AccessToken, Client, Credentials, Endpoint, Error, MediaFile, Observer, RetryPolicy, Timeouts,
    TokenProvider, Upload,
};
use support::{Fake, Reply, Server, pattern};

const GRANULARITY: u64 = 1024;

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        throttle_floor: Duration::from_millis(5),
        max_attempts: 3,
        max_elapsed: Duration::from_secs(10),
    }
}

fn client(server: &Server, credentials: Credentials) -> Client {
    Client::builder(Endpoint::parse(&server.url()).unwrap(), credentials)
        .chunk_size(4 * GRANULARITY)
        .retry(quick_retry())
        .timeouts(Timeouts::uniform(Duration::from_secs(5)))
        .build()
        .unwrap()
}

fn fake_server(fake: Fake) -> (Server, Arc<Mutex<Fake>>) {
    let fake = Arc::new(Mutex::new(fake));
    let shared = Arc::clone(&fake);
    let server = Server::start(move |seen| shared.lock().unwrap().handle(seen));
    (server, fake)
}

#[test]
fn uploads_every_size_byte_exact() {
    let (server, fake) = fake_server(Fake::new(GRANULARITY));
    let client = client(&server, Credentials::bearer("secret-token"));
    for size in [
        1,
        GRANULARITY,
        3 * GRANULARITY,
        4 * GRANULARITY,
        9 * GRANULARITY + 17,
    ] {
        let data = pattern(usize::try_from(size).unwrap());
        let token = client
            .upload_reader(Cursor::new(&data), size, "image/jpeg", Some("a.jpg"))
            .unwrap_or_else(|e| panic!("size {size}: {e}"));
        let fake = fake.lock().unwrap();
        assert_eq!(
            fake.stored(token.expose()),
            Some(data.as_slice()),
            "size {size}"
        );
    }
    for seen in server.requests() {
        assert_eq!(seen.header("authorization"), Some("Bearer secret-token"));
        assert!(seen.header("transfer-encoding").is_none(), "never chunked");
        assert_eq!(
            seen.header("content-length").and_then(|l| l.parse().ok()),
            Some(seen.body.len()),
            "explicit Content-Length matching the body"
        );
    }
}

#[test]
fn a_foreign_session_origin_gets_no_token() {
    // The session URLs name `localhost`, a different origin from the API root's `127.0.0.1`, though
    // both reach this server.
    let fake = Arc::new(Mutex::new(Fake::new(GRANULARITY)));
    let shared = Arc::clone(&fake);
    let server = Server::start(move |seen| shared.lock().unwrap().handle(seen));
    *fake.lock().unwrap() =
        Fake::new(GRANULARITY).session_origin(&format!("http://localhost:{}", server.addr.port()));
    let client = client(&server, Credentials::bearer("secret-token"));
    let data = pattern(5000);
    let token = client
        .upload_reader(Cursor::new(&data), 5000, "video/mp4", None)
        .unwrap();
    assert_eq!(
        fake.lock().unwrap().stored(token.expose()),
        Some(data.as_slice())
    );
    let requests = server.requests();
    assert!(requests.len() > 2);
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer secret-token"),
        "the start goes to the API origin"
    );
    for seen in &requests[1..] {
        assert_eq!(seen.header("authorization"), None, "{}", seen.path);
    }
}

#[test]
fn garbage_replies_end_in_a_readable_error() {
    let server = Server::start(|_| Reply::Raw(b"\x00\x01 this is not HTTP\r\n\r\n".to_vec()));
    let client = client(&server, Credentials::bearer("secret-token"));
    let error = client
        .upload_reader(Cursor::new(vec![1; 10]), 10, "image/png", None)
        .unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(
            error.core(),
            Some(gphotos_upload::Error::RetriesExhausted { .. })
        ),
        "{error:?}"
    );
    assert!(text.contains("malformed HTTP"), "{text}");
    assert!(!text.contains("secret-token"), "{text}");
    assert_eq!(server.requests().len(), 4, "first try plus three retries");
}

#[test]
fn oversized_replies_are_refused_not_buffered() {
    let server = Server::start(|_| Reply::ok(&[], &vec![b'x'; 3 * 1024 * 1024]));
    let client = client(&server, Credentials::none());
    let error = client
        .upload_reader(Cursor::new(vec![1; 10]), 10, "image/png", None)
        .unwrap_err();
    assert!(
        error.to_string().contains("larger than 1048576 bytes"),
        "{error}"
    );
}

#[test]
fn dropped_connections_on_every_request_exhaust_retries() {
    let server = Server::start(|_| Reply::Close);
    let client = client(&server, Credentials::none());
    let error = client
        .upload_reader(Cursor::new(vec![1; 10]), 10, "image/png", None)
        .unwrap_err();
    assert!(
        matches!(
            error.core(),
            Some(gphotos_upload::Error::RetriesExhausted { .. })
        ),
        "{error:?}"
    );
}

#[test]
fn refused_connection_is_a_transport_error() {
    // Bind and drop, so that the port is very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}/v1/")).unwrap();
    let client = Client::builder(endpoint, Credentials::none())
        .retry(quick_retry())
        .build()
        .unwrap();
    let error = client
        .upload_reader(Cursor::new(vec![1; 10]), 10, "image/png", None)
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("gave up after"), "{text}");
}

/// A source that records how it is read.
struct Counting<R> {
    inner: R,
    largest_read: usize,
    bytes_read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.largest_read = self.largest_read.max(buf.len());
        let n = self.inner.read(buf)?;
        self.bytes_read += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// An endless source of zeros of a declared size, seekable, holding no data at all.
struct Zeros {
    size: u64,
    position: u64,
}

impl Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size.saturating_sub(self.position);
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        buf[..n].fill(0);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for Zeros {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        if let SeekFrom::Start(at) = pos {
            self.position = at;
            Ok(at)
        } else {
            Err(io::Error::other("only absolute seeks"))
        }
    }
}

#[test]
fn chunks_stream_through_one_small_buffer() {
    // A server that counts body bytes and acknowledges, holding nothing.
    let received = Arc::new(Mutex::new(0u64));
    let seen_bytes = Arc::clone(&received);
    let server = Server::start(move |seen| {
        let command = seen.header("x-goog-upload-command").unwrap_or("");
        let mut total = seen_bytes.lock().unwrap();
        *total += seen.body.len() as u64;
        let received = total.to_string();
        match command {
            "start" => Reply::ok(
                &[
                    ("x-goog-upload-url", "/upload/1"),
                    ("x-goog-upload-chunk-granularity", "262144"),
                ],
                b"",
            ),
            "upload" => Reply::ok(
                &[
                    ("x-goog-upload-status", "active"),
                    ("x-goog-upload-size-received", &received),
                ],
                b"",
            ),
            _ => Reply::ok(&[("x-goog-upload-status", "final")], b"the-token"),
        }
    });
    let chunk = 8 * 1024 * 1024;
    let size = 3 * chunk + 12_345;
    let client = Client::builder(Endpoint::parse(&server.url()).unwrap(), Credentials::none())
        .chunk_size(chunk)
        .io_buffer_size(64 * 1024)
        .build()
        .unwrap();
    let mut source = Counting {
        inner: Zeros { size, position: 0 },
        largest_read: 0,
        bytes_read: 0,
    };
    let mut upload = client
        .new_upload(MediaFile {
            size,
            mime_type: "video/mp4".into(),
            file_name: None,
        })
        .unwrap();
    let mut sent = SentCounter::default();
    let token = client
        .upload_with(&mut upload, &mut source, &mut sent)
        .unwrap();
    assert_eq!(token.expose(), "the-token");
    assert_eq!(*received.lock().unwrap(), size);
    assert_eq!(source.bytes_read, size, "every byte read exactly once");
    assert_eq!(sent.bytes, size);
    assert!(
        source.largest_read <= 64 * 1024,
        "largest single read was {} bytes; chunks are {chunk} bytes",
        source.largest_read
    );
    assert!(sent.steps >= 5, "start, four chunks");
}

#[derive(Default)]
struct SentCounter {
    bytes: u64,
    steps: u32,
}

impl Observer for SentCounter {
    fn step(&mut self, _upload: &Upload) {
        self.steps += 1;
    }

    fn sent(&mut self, bytes: u64) {
        self.bytes += bytes;
    }
}

#[test]
fn a_truncated_source_fails_at_once_with_its_own_error() {
    let (server, _fake) = fake_server(Fake::new(GRANULARITY));
    let client = client(&server, Credentials::none());
    let error = client
        .upload_reader(Cursor::new(vec![7; 5000]), 10_000, "image/gif", None)
        .unwrap_err();
    assert!(matches!(error, Error::Source { .. }), "{error:?}");
    assert!(error.to_string().contains("ended"), "{error}");
}

#[test]
fn unknown_types_and_missing_files_send_nothing() {
    let server = Server::start(|_| Reply::Close);
    let client = client(&server, Credentials::none());
    let dir = std::env::temp_dir().join(format!("gphotos-ureq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, b"hello").unwrap();
    let error = client.upload_file(&notes).unwrap_err();
    assert!(matches!(error, Error::UnknownMediaType { .. }), "{error:?}");
    assert!(error.to_string().contains("notes.txt"));

    let missing = dir.join("missing.jpg");
    let error = client.upload_file(&missing).unwrap_err();
    assert!(matches!(error, Error::Source { .. }), "{error:?}");
    assert!(error.to_string().contains("missing.jpg"), "{error}");

    let empty = dir.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let error = client.upload_file(&empty).unwrap_err();
    assert_eq!(error.core(), Some(&gphotos_upload::Error::EmptyFile));
    assert!(server.requests().is_empty());
}

#[test]
fn a_fixed_token_that_is_refused_stops_the_upload() {
    let server = Server::start(|_| Reply::status(401, &[], b"{}"));
    let client = client(&server, Credentials::bearer("stale"));
    let error = client
        .upload_reader(Cursor::new(vec![1; 10]), 10, "image/png", None)
        .unwrap_err();
    assert_eq!(error.core(), Some(&gphotos_upload::Error::Unauthorized));
    assert_eq!(server.requests().len(), 1);
}

/// Hands out `old` until asked to refresh, then `new`; counts refreshes.
struct Rotating {
    current: Mutex<String>,
    refreshes: Mutex<u32>,
}

impl TokenProvider for Rotating {
    fn access_token(&self) -> Result<Option<AccessToken>, Error> {
        Ok(Some(AccessToken::new(self.current.lock().unwrap().clone())))
    }

    fn refresh(&self, refused: Option<&AccessToken>) -> Result<AccessToken, Error> {
        assert_eq!(refused.map(AccessToken::expose), Some("old"));
        *self.refreshes.lock().unwrap() += 1;
        "new".clone_into(&mut self.current.lock().unwrap());
        Ok(AccessToken::new("new"))
    }
}

#[test]
fn a_refused_token_is_refreshed_and_the_upload_goes_on() {
    let fake = Arc::new(Mutex::new(Fake::new(GRANULARITY)));
    let shared = Arc::clone(&fake);
    let server = Server::start(move |seen| {
        if seen.header("authorization") == Some("Bearer old") {
            return Reply::status(401, &[], b"{}");
        }
        shared.lock().unwrap().handle(seen)
    });
    let provider = Arc::new(Rotating {
        current: Mutex::new("old".into()),
        refreshes: Mutex::new(0),
    });
    let client = client(&server, Credentials::from_provider(Arc::clone(&provider)));
    let data = pattern(3000);
    let token = client
        .upload_reader(Cursor::new(&data), 3000, "image/webp", None)
        .unwrap();
    assert_eq!(
        fake.lock().unwrap().stored(token.expose()),
        Some(data.as_slice())
    );
    assert_eq!(*provider.refreshes.lock().unwrap(), 1);
}

#[test]
fn a_journaled_upload_resumes_where_the_server_stands() {
    // Healthy until the third chunk; then every request is dropped until the test heals it.
    let fake = Arc::new(Mutex::new(Fake::new(GRANULARITY)));
    let broken = Arc::new(Mutex::new(false));
    let (shared, flag) = (Arc::clone(&fake), Arc::clone(&broken));
    let chunks = Arc::new(Mutex::new(0u32));
    let server = Server::start(move |seen| {
        if seen.header("x-goog-upload-command") == Some("upload") {
            let mut chunks = chunks.lock().unwrap();
            *chunks += 1;
            if *chunks == 3 {
                *flag.lock().unwrap() = true;
            }
        }
        if *flag.lock().unwrap() {
            return Reply::Close;
        }
        shared.lock().unwrap().handle(seen)
    });
    let client = client(&server, Credentials::none());
    let size = 20 * GRANULARITY + 5;
    let data = pattern(usize::try_from(size).unwrap());
    let mut upload = client
        .new_upload(MediaFile {
            size,
            mime_type: "image/jpeg".into(),
            file_name: Some("x.jpg".into()),
        })
        .unwrap();
    let mut journal = String::new();
    let error = client
        .upload_with(&mut upload, &mut Cursor::new(&data), &mut |u: &Upload| {
            journal = serde_json::to_string(u).unwrap();
        })
        .unwrap_err();
    assert!(error.to_string().contains("gave up"), "{error}");

    *broken.lock().unwrap() = false;
    let before = server.requests().len();
    let mut restored: Upload = serde_json::from_str(&journal).unwrap();
    restored.resume();
    assert_eq!(
        restored.progress().confirmed,
        8 * GRANULARITY,
        "two chunks confirmed"
    );
    let token = client
        .upload_with(&mut restored, &mut Cursor::new(&data), &mut |_: &Upload| {})
        .unwrap();
    assert_eq!(
        fake.lock().unwrap().stored(token.expose()),
        Some(data.as_slice())
    );
    let after: Vec<_> = server.requests().split_off(before);
    assert_eq!(
        after[0].header("x-goog-upload-command"),
        Some("query"),
        "a restored upload asks before it sends"
    );
    let resent: usize = after.iter().map(|s| s.body.len()).sum();
    assert_eq!(
        resent as u64,
        size - 8 * GRANULARITY,
        "only the missing bytes went out"
    );
}
