//! The resumable and raw upload protocol, including every validation rule, over plain HTTP.

mod common;

use common::*;
use gphotos_emulator::{Config, Emulator, SessionStatus, Storage};
use serde_json::json;

#[test]
fn chunked_upload_with_query_and_resume() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    let data = b"0123456789abcdefXYZ"; // 19 bytes: two units of 8, then 3
    let session = start(&mut c, data.len() as u64, "a.jpg");
    let reply = query(&mut c, &session);
    assert_eq!(reply.header("x-goog-upload-status"), Some("active"));
    assert_eq!(size_received(&reply), 0);

    let reply = chunk(&mut c, &session, "upload", 0, &data[..16]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-goog-upload-status"), Some("active"));
    assert_eq!(size_received(&query(&mut c, &session)), 16);

    let reply = chunk(&mut c, &session, "upload, finalize", 16, &data[16..]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-goog-upload-status"), Some("final"));
    let token = reply.text();
    assert!(!token.is_empty());

    // A final session answers query with its token while it is unused.
    let reply = query(&mut c, &session);
    assert_eq!(reply.header("x-goog-upload-status"), Some("final"));
    assert_eq!(size_received(&reply), 19);
    assert_eq!(reply.text(), token);

    let state = emu.inspect();
    assert_eq!(state.sessions.len(), 1);
    assert_eq!(state.sessions[0].status, SessionStatus::Final);
    assert_eq!(state.sessions[0].bytes_received, 19);
    assert_eq!(state.objects[0].sha256, sha256_hex(data));
    let path = state.objects[0]
        .path
        .clone()
        .expect("stored in the temp dir");
    assert_eq!(std::fs::read(&path).unwrap(), data);
    emu.stop();
    assert!(!path.exists(), "stop deletes stored uploads");
}

#[test]
fn start_reply_has_the_protocol_headers() {
    let emu = Emulator::start(Config::default()).unwrap();
    let mut c = Client::connect(emu.addr());
    let reply = c.send(
        "POST",
        "/v1/uploads",
        &[
            ("authorization", "Bearer x"),
            ("x-goog-upload-protocol", "resumable"),
            ("X-GOOG-UPLOAD-COMMAND", "START"),
            ("x-goog-upload-raw-size", "5"),
            ("x-goog-upload-content-type", "video/mp4"),
        ],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let url = reply.header("X-Goog-Upload-URL").unwrap();
    assert!(
        url.starts_with(&format!("{}uploads?upload_id=", emu.base_url())),
        "{url}"
    );
    assert!(url.ends_with("&upload_protocol=resumable"));
    assert_eq!(
        reply.header("X-Goog-Upload-Chunk-Granularity"),
        Some("262144")
    );
    assert_eq!(reply.header("X-Goog-Upload-Status"), Some("active"));
    assert!(reply.header("X-GUploader-UploadID").is_some());
}

#[test]
fn start_is_validated() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    let base = [
        ("X-Goog-Upload-Protocol", "resumable"),
        ("X-Goog-Upload-Command", "start"),
        ("X-Goog-Upload-Raw-Size", "10"),
        ("X-Goog-Upload-Content-Type", "image/png"),
    ];
    let reply = c.send("POST", "/v1/uploads", &base, b"");
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["status"], "UNAUTHENTICATED");
    let reply = c.send("POST", "/v1/uploads", &[("Authorization", "Bearer ")], b"");
    assert_eq!(reply.status, 400, "no protocol header");

    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("X-Goog-Upload-Raw-Size", "0")], "positive"),
        (&[("X-Goog-Upload-Raw-Size", "ten")], "not a number"),
        (&[("X-Goog-Upload-Raw-Size", "")], "not a number"),
        (&[("X-Goog-Upload-Content-Type", "")], "Content-Type"),
        (&[("X-Goog-Upload-File-Name", "caf\u{e9}.jpg")], "ASCII"),
        (&[("X-Goog-Upload-Command", "upload")], "start"),
    ];
    for (overrides, needle) in cases {
        let mut headers: Vec<(&str, &str)> = base
            .iter()
            .filter(|(n, _)| !overrides.iter().any(|(o, _)| o == n))
            .copied()
            .collect();
        headers.extend_from_slice(overrides);
        headers.push(AUTH);
        let reply = c.send("POST", "/v1/uploads", &headers, b"");
        assert_eq!(reply.status, 400, "{overrides:?}");
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(needle), "{overrides:?}: {message}");
    }
    let mut headers = base.to_vec();
    headers.push(AUTH);
    let reply = c.send("POST", "/v1/uploads", &headers, b"body");
    assert_eq!(reply.status, 400, "start with a body");
    assert!(emu.inspect().sessions.is_empty());
}

#[test]
fn every_chunk_rule_is_enforced() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 20, "x");
    let message = |reply: &Reply| {
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // Not a multiple of the granularity.
    let reply = chunk(&mut c, &session, "upload", 0, &[1; 12]);
    assert_eq!(reply.status, 400);
    assert!(
        message(&reply).contains("multiple of 8"),
        "{}",
        message(&reply)
    );
    // Empty non-final chunk.
    assert_eq!(chunk(&mut c, &session, "upload", 0, b"").status, 400);
    // Offset ahead of what was received.
    let reply = chunk(&mut c, &session, "upload", 8, &[1; 8]);
    assert_eq!(reply.status, 400);
    assert!(message(&reply).contains("Offset 8"), "{}", message(&reply));
    // Offset missing.
    let reply = c.send(
        "POST",
        &session,
        &[("X-Goog-Upload-Command", "upload")],
        &[1; 8],
    );
    assert_eq!(reply.status, 400);
    // Beyond the declared size.
    assert_eq!(chunk(&mut c, &session, "upload", 0, &[1; 24]).status, 400);
    // Empty finalize.
    let reply = chunk(&mut c, &session, "upload, finalize", 0, b"");
    assert_eq!(reply.status, 400);
    assert_eq!(message(&reply), "Payload must not be empty");
    // Finalize at the wrong size.
    let reply = chunk(&mut c, &session, "upload, finalize", 0, &[1; 19]);
    assert_eq!(reply.status, 400);
    assert!(
        message(&reply).contains("declared 20"),
        "{}",
        message(&reply)
    );
    // finalize alone before all bytes arrived.
    assert_eq!(chunk(&mut c, &session, "finalize", 0, b"").status, 400);
    // Offset behind what was received (a re-send of acknowledged bytes).
    assert_eq!(chunk(&mut c, &session, "upload", 0, &[1; 8]).status, 200);
    assert_eq!(chunk(&mut c, &session, "upload", 0, &[1; 8]).status, 400);
    assert_eq!(size_received(&query(&mut c, &session)), 8);
    // Unknown commands on a session URL.
    let reply = c.send(
        "POST",
        &session,
        &[("X-Goog-Upload-Command", "upload, query")],
        b"",
    );
    assert_eq!(reply.status, 400);

    // A chunk that reaches the end, then `finalize` alone.
    assert_eq!(chunk(&mut c, &session, "upload", 8, &[2; 8]).status, 200);
    let reply = chunk(&mut c, &session, "upload, finalize", 16, &[3; 4]);
    assert_eq!(reply.status, 200, "{}", reply.text());

    // Nothing but query after finalize.
    for command in ["upload", "upload, finalize", "finalize", "cancel"] {
        let reply = chunk(&mut c, &session, command, 20, b"");
        assert_eq!(reply.status, 400, "{command}");
        assert_eq!(reply.header("x-goog-upload-status"), Some("final"));
    }
    assert_eq!(query(&mut c, &session).status, 200);
    let state = emu.inspect();
    assert_eq!(state.sessions[0].bytes_received, 20);
    let mut expected = vec![1u8; 8];
    expected.extend([2; 8]);
    expected.extend([3; 4]);
    assert_eq!(state.objects[0].sha256, sha256_hex(&expected));
}

#[test]
fn finalize_alone_and_command_spellings() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 8, "x");
    assert_eq!(
        chunk(&mut c, &session, "upload", 0, b"abcdefgh").status,
        200
    );
    let reply = c.send(
        "POST",
        &session,
        &[("x-goog-upload-command", "FINALIZE")],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-goog-upload-status"), Some("final"));

    for spelling in [
        "upload,finalize",
        "finalize, upload",
        " Upload ,  Finalize ",
    ] {
        let session = start(&mut c, 3, "y");
        let reply = chunk(&mut c, &session, spelling, 0, b"abc");
        assert_eq!(reply.status, 200, "{spelling}: {}", reply.text());
    }
    // PUT works on session URLs too (curl -T sends PUT).
    let session = start(&mut c, 3, "z");
    let reply = c.send(
        "PUT",
        &session,
        &[
            ("X-Goog-Upload-Command", "upload, finalize"),
            ("X-Goog-Upload-Offset", "0"),
        ],
        b"abc",
    );
    assert_eq!(reply.status, 200);
}

#[test]
fn unknown_and_cancelled_sessions() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    let reply = query(
        &mut c,
        "/v1/uploads?upload_id=nope&upload_protocol=resumable",
    );
    assert_eq!(reply.status, 404);
    let reply = chunk(
        &mut c,
        "/v1/uploads?upload_id=nope&upload_protocol=resumable",
        "upload",
        0,
        b"abcd",
    );
    assert_eq!(reply.status, 404);

    let session = start(&mut c, 8, "x");
    assert_eq!(chunk(&mut c, &session, "upload", 0, b"abcd").status, 200);
    let reply = c.send(
        "POST",
        &session,
        &[("X-Goog-Upload-Command", "cancel")],
        b"",
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-goog-upload-status"), Some("cancelled"));
    let reply = query(&mut c, &session);
    assert_eq!(reply.header("x-goog-upload-status"), Some("cancelled"));
    assert_eq!(chunk(&mut c, &session, "upload", 4, b"efgh").status, 410);
    assert_eq!(
        chunk(&mut c, &session, "upload, finalize", 4, b"efgh").status,
        410
    );
    assert_eq!(emu.inspect().sessions[0].status, SessionStatus::Cancelled);
}

#[test]
fn raw_upload_returns_a_token() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    let reply = c.send(
        "POST",
        "/v1/uploads",
        &[
            AUTH,
            ("Content-Type", "application/octet-stream"),
            ("X-Goog-Upload-Content-Type", "image/gif"),
            ("X-Goog-Upload-Protocol", "raw"),
        ],
        b"GIF89a",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let token = reply.text();
    let reply = c.send(
        "POST",
        "/v1/uploads",
        &[
            AUTH,
            ("X-Goog-Upload-Content-Type", "image/gif"),
            ("X-Goog-Upload-Protocol", "raw"),
        ],
        b"",
    );
    assert_eq!(reply.status, 400, "empty raw upload");
    let reply = c.send(
        "POST",
        "/v1/uploads",
        &[
            ("X-Goog-Upload-Content-Type", "image/gif"),
            ("X-Goog-Upload-Protocol", "raw"),
        ],
        b"x",
    );
    assert_eq!(reply.status, 401);
    let reply = batch_create(
        &mut c,
        &json!({"newMediaItems": [{"simpleMediaItem": {"uploadToken": token, "fileName": "a.gif"}}]}),
    );
    assert_eq!(reply.status, 200);
    let state = emu.inspect();
    assert_eq!(state.media_items[0].sha256, sha256_hex(b"GIF89a"));
    assert_eq!(state.media_items[0].mime_type, "image/gif");
}

#[test]
fn framing_rules() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 4, "x");
    // No Content-Length on a data command: 411.
    c.send_raw(
        format!("POST {session} HTTP/1.1\r\nX-Goog-Upload-Command: upload, finalize\r\nX-Goog-Upload-Offset: 0\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(c.read_reply().unwrap().status, 411);
    // Chunked transfer: 411 and the connection closes (its end cannot be found).
    c.send_raw(
        format!("POST {session} HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Goog-Upload-Command: upload, finalize\r\nX-Goog-Upload-Offset: 0\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(c.read_reply().unwrap().status, 411);
    assert!(c.closed());
    let mut c = Client::connect(emu.addr());
    c.send_raw(b"POST /v1/albums HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(c.read_reply().unwrap().status, 400);
    let mut c = Client::connect(emu.addr());
    // Expect: 100-continue gets its interim reply before the body is read.
    c.send_raw(
        format!("POST {session} HTTP/1.1\r\nX-Goog-Upload-Command: upload, finalize\r\nX-Goog-Upload-Offset: 0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(c.read_reply().unwrap().status, 100);
    c.send_raw(b"abcd");
    let reply = c.read_reply().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[test]
fn sink_mode_counts_and_hashes() {
    let emu = Emulator::start(Config {
        storage: Storage::Sink,
        granularity: 4,
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(emu.addr());
    let data = vec![7u8; 1000];
    let session = start(&mut c, 1000, "big");
    assert_eq!(
        chunk(&mut c, &session, "upload", 0, &data[..400]).status,
        200
    );
    assert_eq!(
        chunk(&mut c, &session, "upload, finalize", 400, &data[400..]).status,
        200
    );
    let state = emu.inspect();
    assert_eq!(state.objects[0].sha256, sha256_hex(&data));
    assert_eq!(state.objects[0].size, 1000);
    assert!(state.objects[0].path.is_none());
}

#[test]
fn session_origin_is_used_in_session_urls() {
    let emu = Emulator::start(Config {
        session_origin: Some("http://localhost".into()),
        ..Config::default()
    })
    .unwrap();
    let port = emu.addr().port();
    let mut c = Client::connect(emu.addr());
    let reply = c.send(
        "POST",
        "/v1/uploads",
        &[
            AUTH,
            ("X-Goog-Upload-Protocol", "resumable"),
            ("X-Goog-Upload-Command", "start"),
            ("X-Goog-Upload-Raw-Size", "3"),
            ("X-Goog-Upload-Content-Type", "image/png"),
        ],
        b"",
    );
    let url = reply.header("x-goog-upload-url").unwrap().to_owned();
    assert!(
        url.starts_with(&format!("http://localhost:{port}/v1/uploads?")),
        "{url}"
    );
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    // The session URL still reaches the emulator; the log shows whether a token came along.
    let reply = c.send(
        "POST",
        &path_of(&url),
        &[
            AUTH,
            ("X-Goog-Upload-Command", "upload, finalize"),
            ("X-Goog-Upload-Offset", "0"),
        ],
        b"abc",
    );
    assert_eq!(reply.status, 200);
    let state = emu.inspect();
    let finalize = state
        .requests_of(gphotos_emulator::RequestKind::Finalize)
        .next()
        .unwrap();
    assert!(finalize.authorization);
    assert_eq!(finalize.path, "/v1/uploads", "no session id in the log");
}

#[test]
fn upload_tokens_are_single_use_and_expire() {
    let emu = Emulator::start(Config {
        upload_token_lifetime: std::time::Duration::from_millis(300),
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(emu.addr());
    let stale = upload(&mut c, b"two", "2.jpg");
    std::thread::sleep(std::time::Duration::from_millis(400));
    let late = upload(&mut c, b"three", "3.jpg");
    let reply = batch_create(
        &mut c,
        &json!({"newMediaItems": [
            {"simpleMediaItem": {"uploadToken": late}},
            {"simpleMediaItem": {"uploadToken": stale}},
            {"simpleMediaItem": {"uploadToken": late}},
        ]}),
    );
    let results = reply.json()["newMediaItemResults"].clone();
    assert_eq!(results[0]["status"], json!({"message": "Success"}));
    assert_eq!(results[1]["status"]["code"], 3);
    assert!(
        results[1]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    assert_eq!(results[2]["status"]["code"], 3);
    assert!(
        results[2]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("used")
    );
    assert_eq!(emu.inspect().media_items.len(), 1);
}

#[test]
fn query_stops_showing_a_consumed_token() {
    let emu = small(4);
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 3, "x");
    let token = chunk(&mut c, &session, "upload, finalize", 0, b"abc").text();
    assert_eq!(query(&mut c, &session).text(), token);
    let reply = batch_create(
        &mut c,
        &json!({"newMediaItems": [{"simpleMediaItem": {"uploadToken": token}}]}),
    );
    assert_eq!(reply.status, 200);
    let reply = query(&mut c, &session);
    assert_eq!(reply.header("x-goog-upload-status"), Some("final"));
    assert!(
        reply.body.is_empty(),
        "a used token is not handed out again"
    );
}
