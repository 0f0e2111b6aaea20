//! Every fault kind, injected from Rust, from the configuration and over the control endpoint.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gphotos_emulator::{
    Config, Emulator, FaultAction, FaultRule, Occurrence, RandomFaults, RequestKind,
};
use serde_json::json;

fn rule(text: &str) -> FaultRule {
    text.parse().unwrap()
}

#[test]
fn status_with_retry_after_then_recovery() {
    let emu = small(8);
    emu.inject(rule("upload@2:status=503,retry-after=7"))
        .unwrap();
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 40, "x");
    assert_eq!(chunk(&mut c, &session, "upload", 0, &[1; 16]).status, 200);
    let reply = chunk(&mut c, &session, "upload", 16, &[2; 16]);
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("7"));
    assert_eq!(reply.json()["error"]["status"], "UNAVAILABLE");
    // The faulted chunk was not stored; the keep-alive connection still works.
    assert_eq!(size_received(&query(&mut c, &session)), 16);
    assert_eq!(chunk(&mut c, &session, "upload", 16, &[2; 16]).status, 200);
    assert_eq!(
        emu.inspect().sessions[0].bytes_seen,
        48,
        "re-sent bytes count"
    );
}

#[test]
fn occurrences_from_config() {
    let emu = Emulator::start(Config {
        faults: vec![rule("get@2+:status=500,body=boom")],
        ..Config::default()
    })
    .unwrap();
    let mut c = Client::connect(emu.addr());
    let statuses: Vec<u16> = (0..4)
        .map(|_| c.send("GET", "/v1/mediaItems/x", &[AUTH], b"").status)
        .collect();
    assert_eq!(statuses, [404, 500, 500, 500]);
    let reply = c.send("GET", "/v1/mediaItems/x", &[AUTH], b"");
    assert_eq!(reply.text(), "boom");
}

#[test]
fn daily_quota() {
    let emu = small(8);
    emu.inject(FaultRule::new(
        RequestKind::BatchCreate,
        Occurrence::Every,
        FaultAction::DailyQuota,
    ))
    .unwrap();
    let mut c = Client::connect(emu.addr());
    let reply = batch_create(
        &mut c,
        &json!({"newMediaItems": [{"simpleMediaItem": {"uploadToken": "t"}}]}),
    );
    assert_eq!(reply.status, 429);
    let error = &reply.json()["error"];
    assert_eq!(error["status"], "RESOURCE_EXHAUSTED");
    assert!(error["message"].as_str().unwrap().contains("per day"));
}

#[test]
fn drop_mid_chunk_keeps_whole_units() {
    let emu = small(8);
    emu.inject(rule("upload@1:drop=21")).unwrap();
    emu.inject(rule("finalize@1:drop=5")).unwrap();
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 40, "x");
    let data: Vec<u8> = (0..40).collect();
    c.send_raw(&request(
        "POST",
        &session,
        &[
            ("X-Goog-Upload-Command", "upload"),
            ("X-Goog-Upload-Offset", "0"),
        ],
        &data[..32],
    ));
    assert!(c.read_reply().is_none(), "no answer, connection closed");
    let mut c = Client::connect(emu.addr());
    assert_eq!(
        size_received(&query(&mut c, &session)),
        16,
        "21 bytes read, 16 kept"
    );
    // The final chunk is cut too: nothing of it counts (5 < 8).
    c.send_raw(&request(
        "POST",
        &session,
        &[
            ("X-Goog-Upload-Command", "upload, finalize"),
            ("X-Goog-Upload-Offset", "16"),
        ],
        &data[16..],
    ));
    assert!(c.read_reply().is_none());
    let mut c = Client::connect(emu.addr());
    assert_eq!(size_received(&query(&mut c, &session)), 16);
    let reply = chunk(&mut c, &session, "upload, finalize", 16, &data[16..]);
    assert_eq!(reply.status, 200);
    let state = emu.inspect();
    assert_eq!(state.objects[0].sha256, sha256_hex(&data));
    assert_eq!(state.sessions[0].bytes_seen, 21 + 5 + 24);
    let dropped: Vec<_> = state
        .requests
        .iter()
        .filter(|r| r.status.is_none())
        .collect();
    assert_eq!(dropped.len(), 2);
    assert_eq!(dropped[0].body_len, 21);
}

#[test]
fn drop_after_a_complete_request_still_takes_effect() {
    let emu = small(8);
    emu.inject(rule("batch_create@1:drop=100000")).unwrap();
    emu.inject(rule("query@1:drop=0")).unwrap();
    let mut c = Client::connect(emu.addr());
    let token = upload(&mut c, b"abc", "a.jpg");
    c.send_raw(&request(
        "POST",
        "/v1/mediaItems:batchCreate",
        &[AUTH],
        json!({"newMediaItems": [{"simpleMediaItem": {"uploadToken": token}}]})
            .to_string()
            .as_bytes(),
    ));
    assert!(c.read_reply().is_none());
    assert_eq!(
        emu.inspect().media_items.len(),
        1,
        "the ambiguous case: created, never answered"
    );
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 3, "b");
    c.send_raw(&request(
        "POST",
        &session,
        &[("X-Goog-Upload-Command", "query")],
        b"",
    ));
    assert!(c.read_reply().is_none());
}

#[test]
fn stall_delays_the_answer() {
    let emu = small(8);
    emu.inject(rule("query@1:stall=300ms")).unwrap();
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 3, "x");
    let began = Instant::now();
    assert_eq!(query(&mut c, &session).status, 200);
    assert!(began.elapsed() >= Duration::from_millis(300));
    let began = Instant::now();
    assert_eq!(query(&mut c, &session).status, 200);
    assert!(began.elapsed() < Duration::from_millis(300));
}

#[test]
fn lost_tail_shows_on_query() {
    let emu = small(8);
    emu.inject(rule("upload@1:lose-tail=3")).unwrap();
    let mut c = Client::connect(emu.addr());
    let data: Vec<u8> = (100..130).collect();
    let session = start(&mut c, 30, "x");
    let reply = chunk(&mut c, &session, "upload", 0, &data[..24]);
    assert_eq!(reply.status, 200, "acknowledged as if stored");
    assert_eq!(
        size_received(&query(&mut c, &session)),
        16,
        "3 bytes lost, rounded up to 8"
    );
    assert_eq!(
        chunk(&mut c, &session, "upload, finalize", 24, &data[24..]).status,
        400
    );
    assert_eq!(
        chunk(&mut c, &session, "upload, finalize", 16, &data[16..]).status,
        200
    );
    assert_eq!(emu.inspect().objects[0].sha256, sha256_hex(&data));
}

#[test]
fn expired_session_is_gone() {
    let emu = small(8);
    emu.inject(rule("query@2:expire-session")).unwrap();
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 16, "x");
    assert_eq!(query(&mut c, &session).status, 200);
    assert_eq!(query(&mut c, &session).status, 404);
    assert_eq!(chunk(&mut c, &session, "upload", 0, &[0; 8]).status, 404);
    assert_eq!(
        emu.inspect().sessions[0].status,
        gphotos_emulator::SessionStatus::Expired
    );
}

#[test]
fn expired_access_token() {
    let emu = small(8);
    emu.inject(rule("albums@1:expire-token")).unwrap();
    let mut c = Client::connect(emu.addr());
    let body = br#"{"album":{"title":"t"}}"#;
    let reply = c.send("POST", "/v1/albums", &[AUTH], body);
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(
        c.send("POST", "/v1/albums", &[AUTH], body).status,
        401,
        "stays expired"
    );
    let fresh = ("Authorization", "Bearer another");
    assert_eq!(c.send("POST", "/v1/albums", &[fresh], body).status, 200);
}

#[test]
fn malformed_headers() {
    let emu = small(8);
    emu.inject(rule("start@1:malformed-headers")).unwrap();
    emu.inject(rule("query@1:malformed-headers")).unwrap();
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
    assert_eq!(reply.status, 200);
    assert!(reply.header("x-goog-upload-url").is_none());
    assert!(
        reply
            .header("x-goog-upload-chunk-granularity")
            .unwrap()
            .parse::<u64>()
            .is_err()
    );
    let session = start(&mut c, 3, "x");
    let reply = query(&mut c, &session);
    assert!(
        reply
            .header("x-goog-upload-size-received")
            .unwrap()
            .parse::<u64>()
            .is_err()
    );
}

#[test]
fn malformed_bodies() {
    let emu = small(8);
    emu.inject(rule("finalize@1:malformed-body")).unwrap();
    emu.inject(rule("batch_create@1:malformed-body")).unwrap();
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 3, "x");
    let reply = chunk(&mut c, &session, "upload, finalize", 0, b"abc");
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty(), "no token in the body");
    // The token can still be recovered by query.
    let token = query(&mut c, &session).text();
    assert!(!token.is_empty());
    let reply = batch_create(
        &mut c,
        &json!({"newMediaItems": [{"simpleMediaItem": {"uploadToken": token}}]}),
    );
    assert_eq!(reply.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err());
    assert_eq!(emu.inspect().media_items.len(), 1);
}

#[test]
fn control_endpoint_adds_lists_and_clears_rules() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    let reply = c.send(
        "POST",
        "/emulator/faults",
        &[],
        br#"{"kind":"get","when":"every","action":"status","status":502}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = c.send("POST", "/emulator/faults", &[], br#""albums@1:status=418""#);
    assert_eq!(reply.json()["rules"].as_array().unwrap().len(), 2);
    assert_eq!(
        c.send("POST", "/emulator/faults", &[], br#""query:lose-tail=1""#)
            .status,
        400
    );
    assert_eq!(c.send("POST", "/emulator/faults", &[], b"{}").status, 400);
    assert_eq!(c.send("GET", "/v1/mediaItems/x", &[AUTH], b"").status, 502);
    let reply = c.send("GET", "/emulator/faults", &[], b"");
    assert_eq!(reply.json()["rules"][0]["status"], 502);
    assert_eq!(c.send("DELETE", "/emulator/faults", &[], b"").status, 200);
    assert_eq!(c.send("GET", "/v1/mediaItems/x", &[AUTH], b"").status, 404);
    assert!(emu.inspect().faults.is_empty());
}

#[test]
fn state_endpoint_shows_everything_but_secrets() {
    let emu = small(8);
    let mut c = Client::connect(emu.addr());
    let session = start(&mut c, 3, "x.jpg");
    let token = {
        let reply = chunk(&mut c, &session, "upload, finalize", 0, b"abc");
        reply.text()
    };
    batch_create(
        &mut c,
        &json!({"newMediaItems": [{"simpleMediaItem": {"uploadToken": token}}]}),
    );
    let reply = c.send("GET", "/emulator/state", &[], b"");
    assert_eq!(reply.status, 200);
    let state = reply.json();
    assert_eq!(state["sessions"][0]["bytes_received"], 3);
    assert_eq!(state["objects"][0]["sha256"], sha256_hex(b"abc"));
    assert_eq!(state["media_items"][0]["filename"], "x.jpg");
    let kinds: Vec<&str> = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["start", "finalize", "batch_create"],
        "control requests are not logged"
    );
    let text = reply.text();
    let secret = session
        .split("upload_id=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!text.contains(secret), "no session id");
    assert!(!text.contains(&token), "no upload token");
    assert!(!text.contains("test-token"), "no access token");
}

#[test]
fn random_faults_are_reproducible() {
    let run = |seed| {
        let emu = Emulator::start(Config {
            random_faults: Some(RandomFaults {
                seed,
                probability: 0.5,
            }),
            ..Config::default()
        })
        .unwrap();
        (0..40)
            .map(|_| {
                let mut c = Client::connect(emu.addr());
                c.send_raw(&request("GET", "/v1/mediaItems/x", &[AUTH], b""));
                c.read_reply().map(|r| r.status)
            })
            .collect::<Vec<_>>()
    };
    let first = run(3);
    assert_eq!(first, run(3));
    assert!(first.contains(&Some(404)), "some requests pass: {first:?}");
    assert!(
        first.iter().any(|s| *s != Some(404)),
        "some are faulted: {first:?}"
    );
    assert!(
        first
            .iter()
            .all(|s| matches!(s, Some(404 | 429 | 500 | 503))),
        "only transient faults: {first:?}"
    );
}
