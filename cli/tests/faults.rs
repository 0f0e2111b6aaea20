//! Every fault the emulator injects, met by the real binary: survived with byte-exact content and
//! exactly one media item (at most one chunk re-sent where the protocol allows), or reported with a
//! readable error and a non-zero exit, never a panic. Plus the security cases: a session URL on a
//! foreign origin gets no token, and tokens are refreshed through the token file.

mod support;

use gphotos_emulator::{Config, Emulator, Inspection, RequestKind};
use support::{
    assert_exit, emulator_token_file, finish, json_lines, sha256_hex, show, tempdir,
    upload_command, write_media,
};

const G: u64 = 64 * 1024;
/// Two granules per chunk, and files of several chunks.
const CHUNK: &str = "128K";
const SIZE: usize = 5 * 128 * 1024 + 4321;

fn emulator_with(config: Config) -> Emulator {
    Emulator::start(Config {
        granularity: G,
        ..config
    })
    .unwrap()
}

fn emulator() -> Emulator {
    emulator_with(Config::default())
}

/// Bytes the sessions read beyond the file's size.
fn resent(state: &Inspection, size: u64) -> u64 {
    let seen: u64 = state.sessions.iter().map(|s| s.bytes_seen).sum();
    seen.saturating_sub(size)
}

/// Uploads one multi-chunk file with `rule` injected; returns the run, the emulator's state and
/// the file's bytes.
fn upload_under(rule: &str, extra: &[&str]) -> (std::process::Output, Inspection, Vec<u8>) {
    let emu = emulator();
    emu.inject(rule.parse().unwrap()).unwrap();
    let home = tempdir();
    let video = home.path().join("clip.mp4");
    let bytes = write_media(&video, SIZE, 7);
    let output = finish(
        upload_command(home.path(), &emu)
            .args(["--chunk-size", CHUNK])
            .args(extra)
            .arg(&video),
    );
    let state = emu.inspect();
    (output, state, bytes)
}

fn assert_survived(
    rule: &str,
    output: &std::process::Output,
    state: &Inspection,
    bytes: &[u8],
    max_resent: u64,
) {
    assert_exit(output, 0);
    let lines = json_lines(output);
    assert_eq!(lines[0]["status"], "created", "{rule}: {}", show(output));
    assert_eq!(state.media_items.len(), 1, "{rule}: exactly one item");
    assert_eq!(
        state.media_items[0].sha256,
        sha256_hex(bytes),
        "{rule}: byte-exact"
    );
    let resent = resent(state, bytes.len() as u64);
    assert!(resent <= max_resent, "{rule}: {resent} bytes re-sent");
}

#[test]
fn transient_statuses_with_and_without_retry_after() {
    for rule in [
        "upload@2:status=503,retry-after=1",
        "upload@2:status=429",
        "upload@3:status=500",
        "finalize@1:status=502",
        "start@1:status=503",
        "batch_create@1:status=503",
        "query@1:status=504",
        "upload@2:status=408",
    ] {
        let (output, state, bytes) = upload_under(rule, &[]);
        assert_survived(rule, &output, &state, &bytes, 2 * G);
    }
}

#[test]
fn dropped_connections_stalls_and_lost_tails() {
    for (rule, extra) in [
        ("upload@2:drop=1000", &[][..]),
        ("finalize@1:drop=100", &[][..]),
        ("batch_create@1:drop=10", &[][..]),
        // A reply later than the client's timeout: it gives up on the request and resyncs.
        ("upload@2:stall=3s", &["--timeout", "1s"][..]),
        ("upload@3:lose-tail=65536", &[][..]),
    ] {
        let (output, state, bytes) = upload_under(rule, extra);
        // A lost tail costs the refused chunk plus the lost bytes.
        let allowed = if rule.contains("lose-tail") {
            3 * G
        } else {
            2 * G
        };
        assert_survived(rule, &output, &state, &bytes, allowed);
    }
}

#[test]
fn an_expired_session_starts_a_new_one() {
    let (output, state, bytes) = upload_under("upload@2:expire-session", &[]);
    assert_exit(&output, 0);
    assert_eq!(state.media_items.len(), 1);
    assert_eq!(state.media_items[0].sha256, sha256_hex(&bytes));
    assert_eq!(state.sessions.len(), 2, "the expired session is replaced");
}

#[test]
fn garbage_replies_fail_readably() {
    for rule in [
        "start@every:malformed-headers",
        "raw@every:malformed-body",
        "batch_create@every:malformed-body",
    ] {
        let emu = emulator();
        emu.inject(rule.parse().unwrap()).unwrap();
        let home = tempdir();
        let big = home.path().join("big.jpg");
        write_media(&big, SIZE, 1);
        let small = home.path().join("small.jpg");
        write_media(&small, 1000, 2);
        let output = finish(
            upload_command(home.path(), &emu)
                .args(["--chunk-size", CHUNK, "--retry-attempts", "2"])
                .arg(&big)
                .arg(&small),
        );
        assert_exit(&output, 1);
        let lines = json_lines(&output);
        assert_eq!(lines.len(), 2, "{rule}: {}", show(&output));
        assert!(
            lines
                .iter()
                .any(|l| l["status"] == "failed"
                    && l["error"].as_str().is_some_and(|e| e.len() > 10)),
            "{rule}: {}",
            show(&output)
        );
        assert!(emu.inspect().media_items.len() <= 2, "{rule}");
    }
}

#[test]
fn the_daily_quota_stops_the_run_with_a_message() {
    let emu = emulator();
    emu.inject("any@1+:quota".parse().unwrap()).unwrap();
    let home = tempdir();
    let a = home.path().join("a.jpg");
    write_media(&a, 1000, 1);
    let b = home.path().join("b.jpg");
    write_media(&b, 1000, 2);
    let output = finish(upload_command(home.path(), &emu).arg(&a).arg(&b));
    assert_exit(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
    assert!(stderr.contains("quota"), "{}", show(&output));
    assert!(stderr.contains("stopped"), "{}", show(&output));
    let requests = emu.inspect().requests.len();
    assert!(
        requests <= 2,
        "the run stops instead of spinning: {requests} requests"
    );
}

#[test]
fn a_foreign_session_url_gets_no_token() {
    let emu = emulator_with(Config {
        session_origin: Some("http://localhost".into()),
        ..Config::default()
    });
    let home = tempdir();
    let video = home.path().join("clip.mp4");
    let bytes = write_media(&video, SIZE, 3);
    let output = finish(
        upload_command(home.path(), &emu)
            .args(["--chunk-size", CHUNK])
            .arg(&video),
    );
    assert_exit(&output, 0);
    let state = emu.inspect();
    assert_eq!(state.media_items[0].sha256, sha256_hex(&bytes));
    let starts: Vec<_> = state.requests_of(RequestKind::Start).collect();
    assert!(
        starts.iter().all(|r| r.authorization),
        "the API origin gets the token"
    );
    let on_session: Vec<_> = state
        .requests
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                RequestKind::Upload | RequestKind::Finalize | RequestKind::Query
            )
        })
        .collect();
    assert!(!on_session.is_empty());
    assert!(
        on_session.iter().all(|r| !r.authorization),
        "no token to the foreign origin: {on_session:?}"
    );
    assert!(
        state
            .requests_of(RequestKind::BatchCreate)
            .all(|r| r.authorization),
        "batchCreate goes to the API origin with the token"
    );
}

#[test]
fn expired_access_tokens_are_refreshed_through_the_token_file() {
    // Expired on disk: refreshed before the first request, and written back (0600).
    let emu = emulator_with(Config {
        access_token: Some("only-issued-tokens-and-this".into()),
        ..Config::default()
    });
    let home = tempdir();
    let token = home.path().join("token.json");
    emulator_token_file(&emu, &token, true);
    let before = std::fs::read_to_string(&token).unwrap();
    let video = home.path().join("clip.mp4");
    let bytes = write_media(&video, SIZE, 4);
    let photo = home.path().join("photo.jpg");
    write_media(&photo, 2000, 5);
    // Expires mid-run too: the tokens on a simple upload and on batchCreate stop working.
    emu.inject("raw@1:expire-token".parse().unwrap()).unwrap();
    emu.inject("batch_create@1:expire-token".parse().unwrap())
        .unwrap();
    let mut command = upload_command(home.path(), &emu);
    command
        .env_remove("GPHOTOS_ACCESS_TOKEN")
        .args(["--chunk-size", CHUNK, "--token-file"])
        .arg(&token)
        .arg(&video)
        .arg(&photo);
    let output = finish(&mut command);
    assert_exit(&output, 0);
    let state = emu.inspect();
    assert_eq!(state.media_items.len(), 2);
    assert!(
        state
            .media_items
            .iter()
            .any(|m| m.sha256 == sha256_hex(&bytes))
    );
    let refreshes = state.requests_of(RequestKind::Token).count();
    assert!(
        refreshes >= 3,
        "refreshed at start and after each 401: {refreshes}"
    );
    let after = std::fs::read_to_string(&token).unwrap();
    assert_ne!(before, after, "the refreshed token is written back");
    let saved: serde_json::Value = serde_json::from_str(&after).unwrap();
    assert!(!show(&output).contains(saved["token"].as_str().unwrap()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_refused_bare_token_fails_readably() {
    let emu = emulator_with(Config {
        access_token: Some("the-right-token".into()),
        ..Config::default()
    });
    let home = tempdir();
    let photo = home.path().join("p.jpg");
    write_media(&photo, 1000, 1);
    let output = finish(upload_command(home.path(), &emu).arg(&photo));
    assert_exit(&output, 1);
    let lines = json_lines(&output);
    assert_eq!(lines[0]["status"], "failed");
    assert!(
        show(&output).to_lowercase().contains("token"),
        "{}",
        show(&output)
    );
}
