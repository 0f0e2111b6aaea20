//! End to end against the real emulator on loopback: byte-exact uploads of every size class, and
//! every fault the emulator injects survived (or reported) with at most one chunk re-sent.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gphotos_emulator::{Config, Emulator, Inspection, RequestKind, SessionStatus};
use gphotos_upload_ureq::{Client, Credentials, Endpoint, RetryPolicy, Timeouts};
use sha2::{Digest, Sha256};

/// Small granules keep files small while still spanning several chunks.
const G: usize = 64 * 1024;
const GRANULARITY: u64 = G as u64;
const CHUNK: u64 = 2 * GRANULARITY;

fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        throttle_floor: Duration::from_millis(10),
        max_attempts: 4,
        max_elapsed: Duration::from_secs(20),
    }
}

fn emulator() -> Emulator {
    emulator_with(Config::default())
}

fn emulator_with(config: Config) -> Emulator {
    Emulator::start(Config {
        granularity: GRANULARITY,
        ..config
    })
    .expect("start the emulator")
}

fn client(emu: &Emulator) -> Client {
    Client::builder(
        Endpoint::parse(&emu.base_url()).unwrap(),
        Credentials::bearer("test-token"),
    )
    .chunk_size(CHUNK)
    .retry(quick_retry())
    .timeouts(Timeouts::uniform(Duration::from_secs(10)))
    .build()
    .unwrap()
}

/// A file of `size` patterned bytes in a fresh directory.
fn media(name: &str, size: usize) -> (PathBuf, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!(
        "gphotos-ureq-emu-{}-{name}-{size}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(131) ^ (i >> 9)).to_le_bytes()[0])
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// The one finished object, checked against `bytes`.
fn assert_stored_once(state: &Inspection, bytes: &[u8]) {
    assert_eq!(state.objects.len(), 1, "exactly one object");
    assert_eq!(state.objects[0].size, bytes.len() as u64);
    assert_eq!(state.objects[0].sha256, sha256_hex(bytes), "byte-exact");
}

/// Body bytes that went out beyond the file's size, over every session.
fn resent(state: &Inspection, size: u64) -> u64 {
    let seen: u64 = state.sessions.iter().map(|s| s.bytes_seen).sum();
    seen.saturating_sub(size)
}

fn upload_with_fault(rule: &str, size: usize) -> (Inspection, Vec<u8>, Duration) {
    let emu = emulator();
    emu.inject(rule.parse().unwrap()).unwrap();
    let (path, bytes) = media("fault.jpg", size);
    let started = Instant::now();
    client(&emu)
        .upload_file(&path)
        .unwrap_or_else(|e| panic!("{rule}: {e}"));
    let elapsed = started.elapsed();
    let state = emu.inspect();
    emu.stop();
    (state, bytes, elapsed)
}

#[test]
fn every_size_class_arrives_byte_exact() {
    let emu = emulator();
    let client = client(&emu);
    let g = G;
    for (i, size) in [1, g, 5 * g, 5 * g + 123].into_iter().enumerate() {
        let (path, bytes) = media("photo.jpg", size);
        client.upload_file(&path).unwrap();
        let state = emu.inspect();
        let object = &state.objects[i];
        assert_eq!(object.size, size as u64);
        assert_eq!(object.sha256, sha256_hex(&bytes), "size {size}");
        assert_eq!(object.content_type, "image/jpeg");
        assert_eq!(object.file_name.as_deref(), Some("photo.jpg"));
    }
    let state = emu.inspect();
    assert_eq!(
        resent(&state, state.objects.iter().map(|o| o.size).sum()),
        0
    );
    assert!(state.requests.iter().all(|r| r.authorization));
    assert_eq!(
        state.requests_of(RequestKind::Query).count(),
        0,
        "no fault, no query"
    );
    assert!(
        state
            .requests_of(RequestKind::Finalize)
            .all(|r| r.body_len > 0),
        "never an empty finalize"
    );
}

#[test]
fn survives_a_503_on_a_chunk() {
    let size = 5 * G + 10;
    let (state, bytes, _) = upload_with_fault("upload@2:status=503", size);
    assert_stored_once(&state, &bytes);
    assert!(
        state.requests_of(RequestKind::Query).count() >= 1,
        "resynced by query"
    );
    assert!(resent(&state, size as u64) <= CHUNK);
}

#[test]
fn survives_a_429_and_honours_retry_after() {
    let size = 3 * G;
    let (state, bytes, elapsed) = upload_with_fault("upload@1:status=429,retry-after=1", size);
    assert_stored_once(&state, &bytes);
    assert!(
        elapsed >= Duration::from_secs(1),
        "waited {elapsed:?}, the server asked for 1 s"
    );
    assert!(resent(&state, size as u64) <= CHUNK);
}

#[test]
fn survives_a_connection_dropped_mid_body() {
    let size = 6 * G + 999;
    let (state, bytes, _) =
        upload_with_fault(&format!("upload@2:drop={}", GRANULARITY + 1000), size);
    assert_stored_once(&state, &bytes);
    assert!(
        state.requests_of(RequestKind::Query).count() >= 1,
        "resynced by query"
    );
    assert!(resent(&state, size as u64) <= CHUNK);
}

#[test]
fn survives_a_dropped_finalize() {
    let size = 3 * G + 5;
    let (state, bytes, _) = upload_with_fault("finalize@1:drop=0", size);
    assert_stored_once(&state, &bytes);
    assert!(
        state.requests_of(RequestKind::Query).count() >= 1,
        "resynced by query"
    );
}

#[test]
fn survives_a_lost_tail() {
    let size = 6 * G + 77;
    let (state, bytes, _) = upload_with_fault(&format!("upload@1:lose-tail={GRANULARITY}"), size);
    assert_stored_once(&state, &bytes);
    assert!(
        state.requests_of(RequestKind::Query).count() >= 1,
        "resynced by query"
    );
    // The loss shows only when the next chunk is refused: that chunk, plus the lost bytes, go
    // out again.
    assert!(resent(&state, size as u64) <= CHUNK + GRANULARITY);
}

#[test]
fn survives_an_expired_session() {
    let size = 5 * G + 1;
    let (state, bytes, _) = upload_with_fault("upload@2:expire-session", size);
    assert_stored_once(&state, &bytes);
    assert_eq!(state.sessions.len(), 2, "a second session");
    assert_eq!(state.sessions[0].status, SessionStatus::Expired);
}

#[test]
fn survives_a_stalled_reply_by_timing_out_and_asking() {
    let emu = emulator();
    emu.inject("upload@1:stall=1500ms".parse().unwrap())
        .unwrap();
    let client = Client::builder(
        Endpoint::parse(&emu.base_url()).unwrap(),
        Credentials::bearer("test-token"),
    )
    .chunk_size(CHUNK)
    .retry(quick_retry())
    .timeouts(Timeouts {
        recv_response: Some(Duration::from_millis(300)),
        ..Timeouts::uniform(Duration::from_secs(10))
    })
    .build()
    .unwrap();
    let (path, bytes) = media("stall.mp4", 4 * G + 3);
    client.upload_file(&path).unwrap();
    let state = emu.inspect();
    assert_stored_once(&state, &bytes);
    assert!(state.requests_of(RequestKind::Query).count() >= 1);
    assert!(resent(&state, bytes.len() as u64) <= CHUNK);
}

#[test]
fn a_foreign_session_origin_never_sees_the_token() {
    // `localhost` reaches the emulator but is not the API root's origin (`127.0.0.1`).
    let emu = emulator_with(Config {
        session_origin: Some("http://localhost".into()),
        ..Config::default()
    });
    emu.inject("upload@1:status=503".parse().unwrap()).unwrap();
    let (path, bytes) = media("foreign.png", 3 * G + 9);
    client(&emu).upload_file(&path).unwrap();
    let state = emu.inspect();
    assert_stored_once(&state, &bytes);
    for record in &state.requests {
        let expected = record.kind == RequestKind::Start;
        assert_eq!(record.authorization, expected, "{record:?}");
    }
    assert!(state.requests_of(RequestKind::Query).count() >= 1);
}

#[test]
fn garbled_start_replies_fail_with_a_readable_error() {
    let emu = emulator();
    emu.inject("start@every:malformed-headers".parse().unwrap())
        .unwrap();
    let (path, _) = media("garbled.heic", 1000);
    let error = client(&emu).upload_file(&path).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("gave up after"), "{text}");
    assert!(text.contains("X-Goog-Upload"), "{text}");
    assert!(
        !text.contains("test-token") && !text.contains("/upload"),
        "{text}"
    );
    assert!(emu.inspect().objects.is_empty());
}

#[test]
fn an_empty_finalize_body_is_recovered_by_a_query() {
    let size = 2 * G + 50;
    let (state, bytes, _) = upload_with_fault("finalize@1:malformed-body", size);
    assert_stored_once(&state, &bytes);
    assert!(
        state.requests_of(RequestKind::Query).count() >= 1,
        "resynced by query"
    );
}

#[test]
fn the_daily_quota_stops_at_once() {
    let emu = emulator();
    emu.inject("start@1:quota".parse().unwrap()).unwrap();
    let (path, _) = media("quota.jpg", 100);
    let error = client(&emu).upload_file(&path).unwrap_err();
    assert_eq!(error.core(), Some(&gphotos_upload::Error::DailyQuota));
    assert!(error.to_string().contains("tomorrow"), "{error}");
    assert_eq!(emu.inspect().requests.len(), 1, "no retry of a daily quota");
}

#[test]
fn random_faults_still_end_byte_exact() {
    for seed in 1..=3 {
        let emu = emulator_with(Config {
            random_faults: Some(gphotos_emulator::RandomFaults {
                seed,
                probability: 0.3,
            }),
            ..Config::default()
        });
        let client = Client::builder(
            Endpoint::parse(&emu.base_url()).unwrap(),
            Credentials::bearer("test-token"),
        )
        .chunk_size(CHUNK)
        .retry(RetryPolicy {
            max_attempts: 12,
            ..quick_retry()
        })
        .timeouts(Timeouts::uniform(Duration::from_secs(2)))
        .build()
        .unwrap();
        let (path, bytes) = media("random.mov", 8 * G + 321);
        client
            .upload_file(&path)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let state = emu.inspect();
        let finished: Vec<_> = state
            .sessions
            .iter()
            .filter(|s| s.status == SessionStatus::Final)
            .collect();
        assert_eq!(finished.len(), 1, "seed {seed}");
        assert_eq!(
            finished[0].sha256.as_deref(),
            Some(sha256_hex(&bytes).as_str())
        );
    }
}
