//! A complete upload with no async runtime: a hand-rolled `block_on` and a transport written in a
//! few dozen lines on `std::net`, against a local emulator.
//!
//! Run with `cargo run -p gphotos-upload-async --example block_on`.

use std::error::Error;
use std::future::Future;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use gphotos_emulator::{Config, Emulator};
use gphotos_upload::library::{BatchCreate, Call, Destination, NewMediaItem};
use gphotos_upload::{AccessToken, Endpoint, MediaFile, RetryPolicy, Upload, UploadConfig};
use gphotos_upload_async::{
    BlockingSource, Body, Driver, MAX_RESPONSE_BODY, StaticToken, Transport,
};

/// Polls the future on this thread, parking between polls until it is woken.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// Plain HTTP/1.1 over `std::net`, one connection per request, blocking inside the future. Good
/// enough for one upload at a time on a dedicated thread; it speaks no TLS, so it suits an emulator
/// on loopback only.
struct StdNet;

impl Transport for StdNet {
    type Error = io::Error;

    async fn send<B: Body>(
        &self,
        request: http::Request<B>,
    ) -> io::Result<http::Response<Vec<u8>>> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        let host = request
            .uri()
            .authority()
            .ok_or_else(|| invalid("no host"))?
            .to_string();
        let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let mut head = format!("{} {target} HTTP/1.1\r\nHost: {host}\r\n", request.method());
        for (name, value) in request.headers() {
            let value = value.to_str().map_err(|_| invalid("non-ASCII header"))?;
            head.extend([name.as_str(), ": ", value, "\r\n"]);
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut stream = TcpStream::connect(&host)?;
        stream.write_all(head.as_bytes())?;
        // Frame by frame, as the driver reads them from the file. If a read fails, `?` returns
        // here and drops the stream: the server sees the connection close short of
        // `Content-Length` and never takes the body for whole.
        let mut body = request.into_body();
        while let Some(frame) = body.next_frame().await? {
            stream.write_all(&frame)?;
        }

        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("no status line"))?;
        let mut response = http::Response::builder().status(status);
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            response = response.header(name.trim(), value.trim());
        }
        let mut body = Vec::new();
        reader
            .take(MAX_RESPONSE_BODY as u64)
            .read_to_end(&mut body)?;
        response.body(body).map_err(|_| invalid("bad reply head"))
    }

    async fn sleep_until(&self, deadline: Instant) {
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let emulator = Emulator::start(Config::default())?;
    let endpoint = Endpoint::parse(&emulator.base_url())?;

    let dir = std::env::temp_dir().join(format!("gphotos-block-on-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("example.jpg");
    let bytes: Vec<u8> = (0..3 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&path, &bytes)?;

    let file = MediaFile {
        size: std::fs::metadata(&path)?.len(),
        mime_type: "image/jpeg".into(),
        file_name: Some("example.jpg".into()),
    };
    let config = UploadConfig {
        chunk_size: 1024 * 1024,
        ..UploadConfig::default()
    };
    let mut upload = Upload::new(endpoint.clone(), file, config)?;
    let driver = Driver::new(
        StdNet,
        StaticToken(AccessToken::new("example-access-token")),
    );
    let source = BlockingSource(std::fs::File::open(&path)?);

    let result = block_on(driver.upload(&mut upload, source));
    std::fs::remove_dir_all(&dir)?;
    // The upload token is single-use and secret: it goes to mediaItems:batchCreate, never to a log.
    let upload_token = result?;

    // Turn it into a media item. batchCreate answers 200 even when items fail: check each one.
    let item = NewMediaItem::new(upload_token).with_file_name("example.jpg");
    for batch in BatchCreate::split(vec![item], &Destination::library())? {
        let mut call = Call::new(endpoint.clone(), batch, RetryPolicy::default(), 1);
        let created = block_on(driver.call(&mut call))?;
        for (_, media_item) in created.created() {
            println!("created media item {}", media_item.id);
        }
        if !created.all_created() {
            return Err("an item was not created".into());
        }
    }
    let progress = upload.progress();
    println!(
        "uploaded {} of {} bytes in {} session(s)",
        progress.confirmed,
        progress.total,
        upload.sessions_started()
    );
    println!(
        "the emulator holds {} media item(s)",
        emulator.inspect().media_items.len()
    );
    emulator.stop();
    Ok(())
}
