//! The curl commands of Google's upload guides (resumable and simple uploads, batchCreate), run
//! unchanged apart from the host against the emulator.

mod common;

use std::path::Path;
use std::process::Command;

use common::sha256_hex;
use gphotos_emulator::{Config, Emulator};

struct CurlReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl CurlReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Runs `curl -s -S -i ARGS` and parses the final (non-1xx) reply.
fn curl(args: &[&str]) -> CurlReply {
    let output = Command::new("curl")
        .args(["-s", "-S", "-i", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl is installed");
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    loop {
        let (head, rest) = text.split_once("\r\n\r\n").expect("a reply head");
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        if (100..200).contains(&status) {
            text = rest.to_owned();
            continue;
        }
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        return CurlReply {
            status,
            headers,
            body: rest.to_owned(),
        };
    }
}

fn write_file(dir: &Path, name: &str, len: usize) -> (String, Vec<u8>) {
    let data: Vec<u8> = (0..len)
        .map(|i| u8::try_from(i * 7 % 251).unwrap_or(0))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    (path.to_string_lossy().into_owned(), data)
}

fn start(emu: &Emulator, size: usize) -> CurlReply {
    let size = format!("X-Goog-Upload-Raw-Size: {size}");
    let url = format!("{}uploads", emu.base_url());
    curl(&[
        "-X",
        "POST",
        "-H",
        "Authorization: Bearer oauth2-token",
        "-H",
        "Content-Length: 0",
        "-H",
        "X-Goog-Upload-Command: start",
        "-H",
        "X-Goog-Upload-Content-Type: image/jpeg",
        "-H",
        "X-Goog-Upload-Protocol: resumable",
        "-H",
        &size,
        &url,
    ])
}

#[test]
#[rustfmt::skip]
fn guide_resumable_upload_in_one_request_and_batch_create() {
    let emu = Emulator::start(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (file, data) = write_file(dir.path(), "photo.jpg", 700_000);

    // Step 1: start.
    let reply = start(&emu, data.len());
    assert_eq!(reply.status, 200);
    let session = reply.header("X-Goog-Upload-URL").unwrap().to_owned();
    assert_eq!(reply.header("X-Goog-Upload-Chunk-Granularity"), Some("262144"));

    // Step 3: upload the file in a single request.
    let length = format!("Content-Length: {}", data.len());
    let upload = curl(&[
        "-X", "POST",
        "-H", &length,
        "-H", "X-Goog-Upload-Command: upload, finalize",
        "-H", "X-Goog-Upload-Offset: 0",
        "--data-binary", &format!("@{file}"),
        &session,
    ]);
    assert_eq!(upload.status, 200, "{}", upload.body);
    assert_eq!(upload.header("X-Goog-Upload-Status"), Some("final"));
    let token = upload.body.clone();

    // Resuming: query the status.
    let query = curl(&[
        "-X", "POST",
        "-H", "Content-Length: 0",
        "-H", "X-Goog-Upload-Command: query",
        &session,
    ]);
    assert_eq!(query.header("X-Goog-Upload-Status"), Some("final"));
    assert_eq!(query.header("X-Goog-Upload-Size-Received"), Some("700000"));

    // Creating the media item.
    let body = format!(
        r#"{{"newMediaItems": [{{"description": "item-description", "simpleMediaItem": {{"fileName": "filename", "uploadToken": "{token}"}}}}]}}"#
    );
    let url = format!("{}mediaItems:batchCreate", emu.base_url());
    let created = curl(&[
        "-X", "POST",
        "-H", "Content-type: application/json",
        "-H", "Authorization: Bearer oauth2-token",
        "-d", &body,
        &url,
    ]);
    assert_eq!(created.status, 200, "{}", created.body);
    let json: serde_json::Value = serde_json::from_str(&created.body).unwrap();
    assert_eq!(json["newMediaItemResults"][0]["status"]["message"], "Success");
    let state = emu.inspect();
    assert_eq!(state.media_items[0].sha256, sha256_hex(&data));
    assert_eq!(state.media_items[0].description.as_deref(), Some("item-description"));
}

#[test]
#[rustfmt::skip]
fn guide_resumable_upload_in_chunks_with_resume() {
    let emu = Emulator::start(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, data) = write_file(dir.path(), "video.mp4", 600_000);
    let first = dir.path().join("part1");
    let rest = dir.path().join("part2");
    std::fs::write(&first, &data[..262_144]).unwrap();
    std::fs::write(&rest, &data[262_144..]).unwrap();
    let session = start(&emu, data.len()).header("X-Goog-Upload-URL").unwrap().to_owned();

    let part = curl(&[
        "-X", "POST",
        "-H", "Content-Length: 262144",
        "-H", "X-Goog-Upload-Command: upload",
        "-H", "X-Goog-Upload-Offset: 0",
        "--data-binary", &format!("@{}", first.display()),
        &session,
    ]);
    assert_eq!(part.status, 200);
    let query = curl(&["-X", "POST", "-H", "Content-Length: 0", "-H", "X-Goog-Upload-Command: query", &session]);
    assert_eq!(query.header("X-Goog-Upload-Status"), Some("active"));
    let offset = query.header("X-Goog-Upload-Size-Received").unwrap().to_owned();
    assert_eq!(offset, "262144");
    let last = curl(&[
        "-X", "POST",
        "-H", &format!("Content-Length: {}", data.len() - 262_144),
        "-H", "X-Goog-Upload-Command: upload, finalize",
        "-H", &format!("X-Goog-Upload-Offset: {offset}"),
        "--data-binary", &format!("@{}", rest.display()),
        &session,
    ]);
    assert_eq!(last.status, 200);
    assert_eq!(emu.inspect().objects[0].sha256, sha256_hex(&data));

    // curl -T (PUT) of the whole file after a fresh start works too.
    let (file, data) = write_file(dir.path(), "again.bin", 300_000);
    let session = start(&emu, data.len()).header("X-Goog-Upload-URL").unwrap().to_owned();
    let put = curl(&["-T", &file, "-H", "X-Goog-Upload-Command: upload, finalize", "-H", "X-Goog-Upload-Offset: 0", &session]);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(emu.inspect().objects[1].sha256, sha256_hex(&data));
}

#[test]
#[rustfmt::skip]
fn guide_simple_upload() {
    let emu = Emulator::start(Config::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (file, data) = write_file(dir.path(), "small.jpg", 5000);
    let url = format!("{}uploads", emu.base_url());
    let reply = curl(&[
        "-X", "POST",
        "-H", "Authorization: Bearer oauth2-token",
        "-H", "Content-type: application/octet-stream",
        "-H", "X-Goog-Upload-Content-Type: image/jpeg",
        "-H", "X-Goog-Upload-Protocol: raw",
        "--data-binary", &format!("@{file}"),
        &url,
    ]);
    assert_eq!(reply.status, 200);
    assert!(!reply.body.is_empty(), "the body is the upload token");
    assert_eq!(emu.inspect().objects[0].sha256, sha256_hex(&data));
}
