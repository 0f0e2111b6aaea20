//! A runtime-free transport for the tests: each request runs on its own thread over a fresh
//! `std::net::TcpStream` (HTTP/1.1, one request per connection), and its future completes through a shared
//! slot. The future pulls the body's frames and passes them to the thread over a channel. A
//! hand-rolled `block_on` therefore sees real overlap between uploads, and dropping a future
//! abandons its request (the thread stops writing and closes the socket).

use std::future::Future;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use gphotos_upload_async::{Body, Frame, MAX_RESPONSE_BODY, Transport};

use super::Signal;

/// Body bytes written between checks for abandonment.
const PIECE: usize = 16 * 1024;

/// Stops the body of the `nth` upload-carrying request after `after` bytes, fires `reached`, and
/// waits there until the request is abandoned: a chunk caught half-way on the wire.
#[derive(Clone)]
pub struct Hold {
    pub nth: usize,
    pub after: usize,
    pub reached: Signal,
}

#[derive(Clone, Default)]
pub struct StdTransport {
    hold: Option<Hold>,
    bodies: Arc<AtomicUsize>,
}

impl StdTransport {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn holding(hold: Hold) -> Self {
        Self {
            hold: Some(hold),
            bodies: Arc::default(),
        }
    }
}

struct Slot {
    outcome: Option<io::Result<http::Response<Vec<u8>>>>,
    waker: Option<Waker>,
}

pub struct Pending {
    slot: Arc<Mutex<Slot>>,
    abandoned: Arc<AtomicBool>,
    /// The connection, once open, so that dropping the future closes it at once, as a killed
    /// process's would be.
    stream: Arc<Mutex<Option<TcpStream>>>,
}

impl Future for Pending {
    type Output = io::Result<http::Response<Vec<u8>>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.lock().unwrap();
        if let Some(outcome) = slot.outcome.take() {
            return Poll::Ready(outcome);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::SeqCst);
        if let Some(stream) = self.stream.lock().unwrap().take() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Transport for StdTransport {
    type Error = io::Error;

    async fn send<B: Body>(
        &self,
        request: http::Request<B>,
    ) -> io::Result<http::Response<Vec<u8>>> {
        let slot = Arc::new(Mutex::new(Slot {
            outcome: None,
            waker: None,
        }));
        let abandoned = Arc::new(AtomicBool::new(false));
        let stream: Arc<Mutex<Option<TcpStream>>> = Arc::default();
        let (parts, mut body) = request.into_parts();
        let len = body.len();
        let hold = self.hold.clone().filter(|hold| {
            !body.is_empty() && self.bodies.fetch_add(1, Ordering::SeqCst) + 1 == hold.nth
        });
        let (frames, thread_frames) = channel::<Frame>();
        let (thread_slot, thread_abandoned, thread_stream) = (
            Arc::clone(&slot),
            Arc::clone(&abandoned),
            Arc::clone(&stream),
        );
        std::thread::spawn(move || {
            let outcome = exchange(
                &parts,
                &thread_frames,
                len,
                hold.as_ref(),
                &thread_abandoned,
                &thread_stream,
            );
            let mut slot = thread_slot.lock().unwrap();
            slot.outcome = Some(outcome);
            if let Some(waker) = slot.waker.take() {
                waker.wake();
            }
        });
        let pending = Pending {
            slot,
            abandoned,
            stream,
        };
        loop {
            match body.next_frame().await {
                Ok(Some(frame)) => {
                    if frames.send(frame).is_err() {
                        // The thread is done (an early reply, or a failure): it has the outcome.
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    // Dropping the pending request abandons it: the body stays incomplete.
                    drop(pending);
                    return Err(error);
                }
            }
        }
        drop(frames);
        pending.await
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        super::sleep_until(deadline)
    }
}

fn exchange(
    parts: &http::request::Parts,
    frames: &Receiver<Frame>,
    len: u64,
    hold: Option<&Hold>,
    abandoned: &AtomicBool,
    shared: &Mutex<Option<TcpStream>>,
) -> io::Result<http::Response<Vec<u8>>> {
    let authority = parts
        .uri
        .authority()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "request URL has no host"))?;
    let mut stream = TcpStream::connect(authority.as_str())?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    *shared.lock().unwrap() = Some(stream.try_clone()?);
    let gone = |stream: &TcpStream| {
        let _ = stream.shutdown(std::net::Shutdown::Both);
        io::Error::new(io::ErrorKind::Interrupted, "abandoned")
    };
    if abandoned.load(Ordering::SeqCst) {
        return Err(gone(&stream));
    }
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {authority}\r\n",
        parts.method
    );
    for (name, value) in &parts.headers {
        let value = value
            .to_str()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "non-ASCII header"))?;
        head.push_str(name.as_str());
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    // No `Connection: close`: a server that answers before reading the body (a refusal) then
    // drains it to keep the connection, instead of closing on unread bytes, which resets the
    // connection and can destroy its answer in flight.
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut written = 0;
    // Ends when the future has handed over the last frame, or gave up on the body.
    for frame in frames {
        for piece in frame.chunks(PIECE) {
            if let Some(hold) = hold
                && written >= hold.after
            {
                hold.reached.fire();
                while !abandoned.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            if abandoned.load(Ordering::SeqCst) {
                return Err(gone(&stream));
            }
            if let Err(error) = stream.write_all(piece) {
                // The server may have answered early and closed; its answer is worth more than
                // the write error.
                return read_response(BufReader::new(stream)).map_err(|_| error);
            }
            written += piece.len();
        }
    }
    if written as u64 != len {
        // The body failed: close without completing it, so the server never takes it for whole.
        return Err(gone(&stream));
    }
    read_response(BufReader::new(stream))
}

fn read_response(mut reader: BufReader<TcpStream>) -> io::Result<http::Response<Vec<u8>>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut builder = http::Response::builder().status(status);
    let mut length = None;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("connection closed in the reply head"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').ok_or_else(|| bad("bad header"))?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        }
        builder = builder.header(name.trim(), value.trim());
    }
    let mut body = Vec::new();
    match length {
        Some(len) if len > MAX_RESPONSE_BODY => return Err(bad("reply body too large")),
        Some(len) => {
            body.resize(len, 0);
            reader.read_exact(&mut body)?;
        }
        None => {
            reader
                .take(MAX_RESPONSE_BODY as u64 + 1)
                .read_to_end(&mut body)?;
            if body.len() > MAX_RESPONSE_BODY {
                return Err(bad("reply body too large"));
            }
        }
    }
    builder.body(body).map_err(|_| bad("bad reply head"))
}
