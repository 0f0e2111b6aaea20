//! Inputs the fuzz targets (`fuzz/`) found to break an invariant, replayed on stable so that they stay
//! fixed. Each test names the target and the invariant.

use std::time::{Duration, Instant};

use gphotos_upload::{Action, Endpoint, Error, MediaFile, Payload, Upload, UploadConfig};
use http::Response;

const ROOT: &str = "http://127.0.0.1:9/v1/";
const SESSION: &str = "http://127.0.0.1:9/upload/0";

fn upload(size: u64) -> Upload {
    upload_in_chunks(size, UploadConfig::default().chunk_size)
}

fn upload_in_chunks(size: u64, chunk_size: u64) -> Upload {
    let file = MediaFile {
        size,
        mime_type: "video/mp4".into(),
        file_name: None,
    };
    let config = UploadConfig {
        chunk_size,
        ..UploadConfig::default()
    };
    Upload::new(Endpoint::parse(ROOT).unwrap(), file, config).unwrap()
}

fn reply(headers: &[(&str, &str)], body: &str) -> Response<Vec<u8>> {
    let mut builder = Response::builder();
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.as_bytes().to_vec()).unwrap()
}

fn started() -> Response<Vec<u8>> {
    reply(
        &[
            ("x-goog-upload-status", "active"),
            ("x-goog-upload-url", SESSION),
            ("x-goog-upload-chunk-granularity", "4"),
        ],
        "",
    )
}

/// The command a request carries, with its byte range for chunks.
fn command(action: &Action) -> String {
    let Action::Send(transmit) = action else {
        panic!("expected a request, got {action:?}");
    };
    let command = transmit.request.headers()["x-goog-upload-command"]
        .to_str()
        .unwrap()
        .to_owned();
    match transmit.request.body() {
        Payload::Range { offset, len } => format!("{command} {offset}+{len}"),
        _ => command,
    }
}

fn send(upload: &mut Upload, now: Instant) -> (gphotos_upload::RequestId, String) {
    let action = upload.poll_action(now);
    let text = command(&action);
    let Action::Send(transmit) = action else {
        unreachable!()
    };
    (transmit.id, text)
}

fn restore(upload: &Upload) -> Upload {
    serde_json::from_str(&serde_json::to_string(upload).unwrap()).unwrap()
}

/// `upload_machine`: `Cancel, Snapshot` with the start in flight made the restored machine start a
/// session anyway (the cancel outlived the snapshot, the request did not).
#[test]
fn a_cancel_pending_at_a_snapshot_cancels_after_restore() {
    let now = Instant::now();
    let mut u = upload(10);
    let (_, first) = send(&mut u, now);
    assert_eq!(first, "start");
    u.cancel();
    let mut restored = restore(&u);
    assert_eq!(restored.poll_action(now), Action::Failed(Error::Cancelled));

    // With a session, the restored machine sends the cancel command, not the interrupted chunk.
    let mut u = upload(10);
    let (id, _) = send(&mut u, now);
    u.handle_response(now, id, &started()).unwrap();
    let (_, chunk) = send(&mut u, now);
    assert!(chunk.starts_with("upload"), "{chunk}");
    u.cancel();
    let mut restored = restore(&u);
    let (id, next) = send(&mut restored, now);
    assert_eq!(next, "cancel");
    restored
        .handle_response(
            now,
            id,
            &reply(&[("x-goog-upload-status", "cancelled")], ""),
        )
        .unwrap();
    assert_eq!(restored.poll_action(now), Action::Failed(Error::Cancelled));
}

/// `upload_machine`: `cancel()` while the cancel command was in flight queued another cancel command,
/// so a caller that cancels on every tick kept the machine sending cancels forever.
#[test]
fn cancelling_twice_sends_one_cancel_command() {
    let now = Instant::now();
    let mut u = upload(10);
    let (id, _) = send(&mut u, now);
    u.handle_response(now, id, &started()).unwrap();
    let (id, _chunk) = send(&mut u, now);
    u.cancel();
    u.handle_response(now, id, &reply(&[], "")).unwrap();
    let (id, next) = send(&mut u, now);
    assert_eq!(next, "cancel");
    u.cancel();
    u.cancel();
    u.handle_response(now, id, &reply(&[], "")).unwrap();
    assert_eq!(u.poll_action(now), Action::Failed(Error::Cancelled));
}

/// `upload_machine`: a server that answers every chunk `200 active` with
/// `X-Goog-Upload-Size-Received` equal to the chunk's offset (nothing kept) made the machine re-send
/// the same chunk forever (invariant 8). It now costs a retry and a resync each time.
#[test]
fn chunks_acknowledged_without_progress_end_in_a_typed_error() {
    let mut now = Instant::now();
    // Chunks of 8 bytes (granularity 4), so that the first is not the finalize.
    let mut u = upload_in_chunks(100, 8);
    let (id, _) = send(&mut u, now);
    u.handle_response(now, id, &started()).unwrap();
    let mut chunks = 0;
    for _ in 0..1000 {
        match u.poll_action(now) {
            Action::Send(transmit) => {
                let offset = match transmit.request.body() {
                    Payload::Range { offset, .. } => *offset,
                    _ => 0,
                };
                chunks += u64::from(offset == 0 && !transmit.request.body().is_empty());
                let kept = offset.to_string();
                let answer = reply(
                    &[
                        ("x-goog-upload-status", "active"),
                        ("x-goog-upload-size-received", &kept),
                    ],
                    "",
                );
                u.handle_response(now, transmit.id, &answer).unwrap();
            }
            Action::WaitUntil(until) => now = until + Duration::from_millis(1),
            Action::Failed(error) => {
                assert!(
                    matches!(error, Error::RetriesExhausted { .. }),
                    "unexpected error {error}"
                );
                assert!(chunks > 1, "the chunk was retried after a resync");
                return;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("no end after 1000 steps: the machine loops");
}

/// `token_json`: an unknown key holding a float (`{"": -3.230728637758776e178}`) changed in its
/// last digit every time the file was read and written back, because `serde_json` parsed floats
/// inexactly; "unknown keys are kept on rewrite" (DESIGN.md section 2) now holds to the bit.
#[test]
fn a_token_file_with_floats_survives_rewrites_unchanged() {
    use gphotos_upload::oauth::TokenFile;

    for text in [
        r#"{"": -3.230728637758776e178}"#,
        r#"{"token": "t", "ratio": 0.30000000000000004, "tiny": 5e-324, "big": 1.7976931348623157e308}"#,
    ] {
        let once = TokenFile::from_json(text.as_bytes()).unwrap().to_json();
        let twice = TokenFile::from_json(&once).unwrap().to_json();
        assert_eq!(
            String::from_utf8(twice).unwrap(),
            String::from_utf8(once).unwrap(),
            "{text}"
        );
    }
}

/// Found by the `upload_machine` target: `resume()` with a request in flight forgot the request, so
/// its reply would have been refused as stale and a second request sent beside it.
#[test]
fn resume_with_a_request_in_flight_keeps_it() {
    use gphotos_upload::{Action, Endpoint, MediaFile, Upload, UploadConfig};
    let endpoint = Endpoint::parse("http://[::1]:9/v1/").unwrap();
    let file = MediaFile {
        size: 5,
        mime_type: "image/png".into(),
        file_name: None,
    };
    let mut upload = Upload::new(endpoint, file, UploadConfig::default()).unwrap();
    let now = std::time::Instant::now();
    let Action::Send(t) = upload.poll_action(now) else {
        panic!("a start comes first")
    };
    upload.resume();
    assert_eq!(upload.poll_action(now), Action::AwaitReply);
    let reply = http::Response::builder()
        .status(200)
        .body(Vec::new())
        .unwrap();
    assert!(
        upload.handle_response(now, t.id, &reply).is_ok(),
        "the reply still belongs to the request"
    );
}

/// `journal`: a journal whose `session` record holds an upload of another size than the file (a
/// damaged or edited journal) was resumed as is, and the job asked the adapter for bytes far beyond
/// the file's end. Such a record is now ignored and the file starts afresh.
#[test]
fn a_journaled_session_of_another_size_is_not_resumed() {
    use gphotos_upload::job::{FileKey, Job, JobAction, JobConfig, JobFile, Now, Record};

    let now = Instant::now();
    let mut other = upload(5_000_000);
    let (id, _) = send(&mut other, now);
    other.handle_response(now, id, &started()).unwrap();
    let key = FileKey {
        path: "b.mp4".into(),
        size: 786_437,
        modified: 2,
    };
    let journal = Record::parse_journal(
        &Record::Session {
            file: key.clone(),
            upload: Box::new(other),
        }
        .to_line(),
    )
    .unwrap();
    let file = JobFile {
        key,
        mime_type: "video/mp4".into(),
        file_name: None,
        description: None,
    };
    // Resumable, so that a resumed session and a fresh one can be told apart.
    let config = JobConfig {
        concurrency: 1,
        simple_upload_max: 0,
        ..JobConfig::default()
    };
    let clock = Now {
        instant: now,
        unix: 1_735_689_600,
    };
    let mut job = Job::new(
        Endpoint::parse(ROOT).unwrap(),
        vec![file],
        config,
        &journal,
        clock,
    );
    let JobAction::Send(send) = job.poll_action(clock) else {
        panic!("the job sends a request first");
    };
    let request = &send.transmit.request;
    assert_eq!(
        request.headers()["x-goog-upload-command"],
        "start",
        "a fresh session, not a query to the journaled one"
    );
    assert_eq!(request.headers()["x-goog-upload-raw-size"], "786437");
}

/// A snapshot as a damaged or edited journal may hold it: a started upload's JSON with `edit`
/// applied.
fn edited_snapshot(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let now = Instant::now();
    let mut u = upload(100);
    let (id, _) = send(&mut u, now);
    u.handle_response(now, id, &started()).unwrap();
    let mut json = serde_json::to_value(&u).unwrap();
    edit(&mut json);
    json.to_string()
}

/// `journal`: restored counters at their maximum (`next_id`, `sessions`, ...) overflowed on the next
/// request; a panic in debug builds. They now wrap or saturate.
#[test]
fn restored_counters_at_their_maximum_do_not_overflow() {
    let text = edited_snapshot(|json| {
        json["next_id"] = u64::MAX.into();
        for counter in ["sessions", "rewinds", "refusals", "auth_failures"] {
            json[counter] = u32::MAX.into();
        }
    });
    let mut restored: Upload = serde_json::from_str(&text).unwrap();
    restored.resume();
    let now = Instant::now();
    let (id, command) = send(&mut restored, now);
    assert_eq!(command, "query");
    let gone = Response::builder().status(404).body(Vec::new()).unwrap();
    restored.handle_response(now, id, &gone).unwrap();
    assert!(matches!(
        restored.poll_action(now),
        Action::Failed(Error::SessionsExhausted { .. })
    ));
}

/// `journal`: a snapshot with more bytes confirmed than the file has, an empty file, or a session
/// URL that breaks the origin policy was restored, and the machine then planned a chunk past the
/// end of the file (a subtraction overflow) or sent bytes over plain http off loopback. Such a
/// snapshot is now refused when read, and a journal holding it names the line.
#[test]
fn impossible_snapshots_are_refused_when_read() {
    use gphotos_upload::job::Record;

    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 4] = [
        ("confirmed", |json| json["confirmed"] = 101.into()),
        ("empty", |json| json["file"]["size"] = 0.into()),
        ("session URL", |json| {
            json["session"]["uri"] = "http://example.com/upload/0".into();
        }),
        ("granularity", |json| {
            json["session"]["granularity"] = 0.into();
        }),
    ];
    for (what, edit) in edits {
        let text = edited_snapshot(edit);
        assert!(serde_json::from_str::<Upload>(&text).is_err(), "{what}");
        let journal = format!(
            "{{\"record\":\"session\",\"file\":{{\"path\":\"a\",\"size\":100,\"modified\":0}},\"upload\":{text}}}\n{{\"record\":\"token_dropped\",\"file\":{{\"path\":\"a\",\"size\":100,\"modified\":0}}}}\n"
        );
        let error = Record::parse_journal(journal.as_bytes()).unwrap_err();
        assert_eq!(error.line, 1, "{what}");
    }
    // The unedited snapshot still reads.
    let text = edited_snapshot(|_| {});
    assert!(serde_json::from_str::<Upload>(&text).is_ok());
}
