//! A transport that breaks the contract (it swallows a body's failure and hands back a reply) must
//! not fool the driver: the source's error wins, and the machine never takes that reply.

mod support;

use std::io::{self, Cursor};
use std::time::Instant;

use gphotos_upload::{AccessToken, Endpoint, MediaFile, Phase, Upload, UploadConfig};
use gphotos_upload_async::{BlockingSource, Body, DriveError, Driver, StaticToken, Transport};
use support::block_on;

const SIZE: usize = 3 * 1024 * 1024;

/// Answers the start request like Google, and every request with a body as if the whole file had
/// arrived (`final`, with an upload token), whatever became of the body.
struct Lying;

impl Transport for Lying {
    type Error = io::Error;

    async fn send<B: Body>(
        &self,
        request: http::Request<B>,
    ) -> io::Result<http::Response<Vec<u8>>> {
        let mut body = request.into_body();
        if body.is_empty() {
            return Ok(http::Response::builder()
                .status(200)
                .header("x-goog-upload-status", "active")
                .header(
                    "x-goog-upload-url",
                    "http://127.0.0.1:9/upload?upload_id=lie",
                )
                .header("x-goog-upload-chunk-granularity", "262144")
                .body(Vec::new())
                .expect("a valid reply"));
        }
        // Reads what it can and ignores the failure: exactly what a transport must not do.
        while let Ok(Some(_frame)) = body.next_frame().await {}
        Ok(http::Response::builder()
            .status(200)
            .header("x-goog-upload-status", "final")
            .body(b"upload-token-from-a-lie".to_vec())
            .expect("a valid reply"))
    }

    async fn sleep_until(&self, _deadline: Instant) {}
}

#[test]
fn a_failed_body_is_never_a_server_reply() {
    let endpoint = Endpoint::parse("http://127.0.0.1:9/v1/").expect("a loopback URL");
    let file = MediaFile {
        size: SIZE as u64,
        mime_type: "image/jpeg".into(),
        file_name: Some("lie.jpg".into()),
    };
    // One chunk for the whole file, so the lie would finish it.
    let config = UploadConfig {
        chunk_size: 4 * 1024 * 1024,
        ..UploadConfig::default()
    };
    let mut upload = Upload::new(endpoint, file, config).expect("a valid upload");
    let driver = Driver::new(Lying, StaticToken(AccessToken::new("test-access-token")));
    // The file has shrunk to a third of its size: the body fails after a few frames.
    let source = BlockingSource(Cursor::new(vec![7u8; SIZE / 3]));
    let result = block_on(driver.upload(&mut upload, source));
    match &result {
        Err(DriveError::Source(error)) => {
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
            assert!(error.to_string().contains("changed on disk"), "{error}");
        }
        other => panic!("expected the source's error, got {other:?}"),
    }
    assert_ne!(upload.phase(), Phase::Done, "the lie was not taken");
    assert_eq!(upload.progress().confirmed, 0);
}
