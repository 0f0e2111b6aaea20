//! The core's cost per chunk round: `poll_action` building the chunk request, then
//! `handle_response` consuming the server's acknowledgement. DESIGN.md section 5 asks for under
//! 2 microseconds. A counting global allocator (divan's `AllocProfiler`) reports the allocations
//! and bytes per round.
//!
//! ```text
//! cargo bench -p gphotos-upload --bench chunk_round
//! ```
//!
//! `chunk_round` is the core alone; `chunk_round_authorized` adds `Transmit::authorize`, which an
//! adapter calls on every request to attach the bearer token.

use std::time::Instant;

use divan::{AllocProfiler, Bencher, black_box};
use gphotos_upload::{AccessToken, Action, Endpoint, MediaFile, Upload, UploadConfig};
use http::Response;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

/// A session URL shaped like Google's (the query holds the capability).
const SESSION_URL: &str = "https://photoslibrary.googleapis.com/v1/uploads?upload_id=AEnB2UoD2vNhF6lQ1q5lBd0T9bhUuPjVbBEzUJnVSk2Z0xRkQ2W6XUCzFm0wI-Ny6tbNQKmlZb9lzX7BhB3Ve2RS0m2mWtWZ3Q&upload_protocol=resumable";

/// An upload that has its session and is sending chunks. The file is so large (1 PiB in 8 MiB
/// chunks) that no benchmark run reaches its end, so every round is an ordinary chunk.
fn uploading(now: Instant) -> Upload {
    let endpoint = Endpoint::parse("https://photoslibrary.googleapis.com/v1/").expect("valid");
    let file = MediaFile {
        size: 1 << 50,
        mime_type: "video/mp4".into(),
        file_name: Some("holiday.mp4".into()),
    };
    let mut upload = Upload::new(endpoint, file, UploadConfig::default()).expect("valid file");
    let Action::Send(start) = upload.poll_action(now) else {
        panic!("a new upload starts a session");
    };
    let reply = Response::builder()
        .status(200)
        .header("x-goog-upload-url", SESSION_URL)
        .header("x-goog-upload-chunk-granularity", "262144")
        .header("x-goog-upload-status", "active")
        .header("x-guploader-uploadid", "AEnB2UoD2vNhF6lQ1q5lBd0T9bhUuPjVbB")
        .header("content-length", "0")
        .body(Vec::<u8>::new())
        .expect("valid reply");
    upload
        .handle_response(now, start.id, &reply)
        .expect("the reply answers the start");
    upload
}

/// Google's acknowledgement of a non-final chunk, as an adapter hands it over.
fn ack() -> Response<Vec<u8>> {
    Response::builder()
        .status(200)
        .header("x-goog-upload-status", "active")
        .header("x-guploader-uploadid", "AEnB2UoD2vNhF6lQ1q5lBd0T9bhUuPjVbB")
        .header("content-length", "0")
        .header("content-type", "text/plain; charset=utf-8")
        .header("date", "Sun, 29 Nov 2026 21:00:00 GMT")
        .body(Vec::new())
        .expect("valid reply")
}

/// One round: the chunk request is built, handed to the "network" (`black_box`), dropped, and the
/// acknowledgement consumed.
#[divan::bench(sample_count = 1000, sample_size = 100)]
fn chunk_round(bencher: Bencher) {
    let now = Instant::now();
    let mut upload = uploading(now);
    let ack = ack();
    bencher.bench_local(|| {
        let Action::Send(transmit) = upload.poll_action(now) else {
            unreachable!("an acknowledged chunk is followed by the next chunk");
        };
        let id = transmit.id;
        black_box(transmit);
        upload
            .handle_response(now, id, &ack)
            .expect("the ack answers the chunk");
    });
}

/// [`chunk_round`] plus the `Authorization` header an adapter attaches to each request.
#[divan::bench(sample_count = 1000, sample_size = 100)]
fn chunk_round_authorized(bencher: Bencher) {
    let now = Instant::now();
    let mut upload = uploading(now);
    let ack = ack();
    let token =
        AccessToken::new("ya29.a0AfB_byC1x2y3z4EXAMPLEaccessTOKENthatIsAboutThisLong0123456789");
    bencher.bench_local(|| {
        let Action::Send(transmit) = upload.poll_action(now) else {
            unreachable!("an acknowledged chunk is followed by the next chunk");
        };
        let id = transmit.id;
        black_box(transmit.authorize(Some(&token)));
        upload
            .handle_response(now, id, &ack)
            .expect("the ack answers the chunk");
    });
}
