//! Scripted conversations: every path of the resumable upload machine, request by request.

mod support;

use std::time::{Duration, Instant};

use gphotos_upload::{
    Action, Endpoint, Error, Fault as Blame, MediaFile, Misuse, Payload, Phase, RequestId, Upload,
    UploadConfig,
};
use http::Response;
use support::{End, FakeServer, Fault, Harness, endpoint};

const G: u64 = 256 * 1024;

fn file(size: u64) -> MediaFile {
    MediaFile {
        size,
        mime_type: "image/jpeg".into(),
        file_name: Some("beach.jpg".into()),
    }
}

fn config(chunk_granules: u64) -> UploadConfig {
    UploadConfig {
        chunk_size: chunk_granules * G,
        ..UploadConfig::default()
    }
}

fn harness(size: u64, chunk_granules: u64, script: Vec<Fault>) -> Harness {
    let upload = Upload::new(endpoint(), file(size), config(chunk_granules)).unwrap();
    Harness::new(upload, FakeServer::new(G, script), Duration::from_secs(60))
}

/// The commands and chunk ranges a run sent, in order.
fn trace(h: &Harness) -> Vec<String> {
    h.sent
        .iter()
        .map(|s| match s.body {
            Payload::Range { offset, len } => format!("{} {offset}+{len}", s.command),
            _ => s.command.clone(),
        })
        .collect()
}

fn done(end: &End) -> &str {
    match end {
        End::Done(token) => token.expose(),
        End::Failed(error) => panic!("upload failed: {error}"),
    }
}

fn failed(end: End) -> Error {
    match end {
        End::Failed(error) => error,
        End::Done(_) => panic!("upload should have failed"),
    }
}

#[test]
fn happy_path_sends_granule_chunks_and_finalizes_the_last() {
    let size = 10 * G + 5;
    let mut h = harness(size, 4, vec![]);
    let end = h.run(100);
    assert_eq!(done(&end), "token-0-0");
    let (a, b) = (4 * G, 8 * G);
    assert_eq!(
        trace(&h),
        [
            "start".to_owned(),
            format!("upload 0+{a}"),
            format!("upload {a}+{a}"),
            format!("upload, finalize {b}+{}", 2 * G + 5),
        ]
    );
    assert_eq!(h.server.sessions[0].bytes_in, size, "no byte sent twice");
    assert!(h.waits.is_empty());
}

#[test]
fn exact_multiple_of_the_chunk_never_sends_an_empty_finalize() {
    let mut h = harness(8 * G, 4, vec![]);
    done(&h.run(100));
    assert_eq!(
        trace(&h),
        [
            "start".to_owned(),
            format!("upload 0+{}", 4 * G),
            format!("upload, finalize {}+{}", 4 * G, 4 * G)
        ]
    );
}

#[test]
fn one_byte_file_is_one_start_and_one_finalize() {
    let mut h = harness(1, 32, vec![]);
    done(&h.run(10));
    assert_eq!(trace(&h), ["start", "upload, finalize 0+1"]);
}

#[test]
fn granularity_larger_than_the_file_sends_a_single_request() {
    let upload = Upload::new(endpoint(), file(1000), UploadConfig::default()).unwrap();
    let mut h = Harness::new(
        upload,
        FakeServer::new(1 << 20, vec![]),
        Duration::from_secs(60),
    );
    done(&h.run(10));
    assert_eq!(trace(&h), ["start", "upload, finalize 0+1000"]);
}

#[test]
fn chunk_size_is_rounded_down_to_the_granularity() {
    let upload = Upload::new(
        endpoint(),
        file(3 * G),
        UploadConfig {
            chunk_size: G + G / 2,
            ..UploadConfig::default()
        },
    )
    .unwrap();
    let mut h = Harness::new(upload, FakeServer::new(G, vec![]), Duration::from_secs(60));
    done(&h.run(10));
    assert_eq!(
        trace(&h),
        [
            "start".to_owned(),
            format!("upload 0+{G}"),
            format!("upload {G}+{G}"),
            format!("upload, finalize {}+{G}", 2 * G)
        ]
    );
}

#[test]
fn empty_file_and_bad_mime_type_are_refused_before_any_request() {
    let err = Upload::new(endpoint(), file(0), UploadConfig::default()).unwrap_err();
    assert_eq!(err, Error::EmptyFile);
    assert_eq!(err.fault(), Blame::Caller);
    assert!(err.to_string().contains("empty"));
    let bad = MediaFile {
        size: 1,
        mime_type: "image/jpeg\n".into(),
        file_name: None,
    };
    assert!(matches!(
        Upload::new(endpoint(), bad, UploadConfig::default()),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn start_request_carries_every_header() {
    let mut upload = Upload::new(endpoint(), file(1234), UploadConfig::default()).unwrap();
    let Action::Send(t) = upload.poll_action(Instant::now()) else {
        panic!()
    };
    assert!(t.bearer, "the API's own origin gets the token");
    let r = t.request;
    assert_eq!(r.method(), "POST");
    assert_eq!(r.uri(), "http://127.0.0.1:9/v1/uploads");
    let h = r.headers();
    assert_eq!(h["content-length"], "0");
    assert_eq!(h["x-goog-upload-protocol"], "resumable");
    assert_eq!(h["x-goog-upload-command"], "start");
    assert_eq!(h["x-goog-upload-raw-size"], "1234");
    assert_eq!(h["x-goog-upload-content-type"], "image/jpeg");
    assert_eq!(h["x-goog-upload-file-name"], "beach.jpg");
}

#[test]
fn non_ascii_file_name_is_left_out_of_the_headers() {
    let f = MediaFile {
        size: 5,
        mime_type: "image/png".into(),
        file_name: Some("été.png".into()),
    };
    let mut upload = Upload::new(endpoint(), f, UploadConfig::default()).unwrap();
    let Action::Send(t) = upload.poll_action(Instant::now()) else {
        panic!()
    };
    assert!(t.request.headers().get("x-goog-upload-file-name").is_none());
}

#[test]
fn dropped_connection_queries_and_resumes_at_the_reported_size() {
    // Start, chunk 1 ok, chunk 2 dropped after the server stored it.
    let mut h = harness(10 * G, 4, vec![Fault::None, Fault::None, Fault::DropAfter]);
    done(&h.run(100));
    let t = trace(&h);
    assert_eq!(t[3], "query");
    assert_eq!(
        t[4],
        format!("upload, finalize {}+{}", 8 * G, 2 * G),
        "resumes after the stored chunk"
    );
    assert_eq!(h.server.sessions[0].bytes_in, 10 * G, "nothing re-sent");
    assert_eq!(h.waits.len(), 1, "one backoff before the query");
    assert!(h.waits[0] <= Duration::from_secs(1));
}

#[test]
fn partial_chunk_resumes_mid_chunk() {
    let mut h = harness(10 * G, 4, vec![Fault::None, Fault::Partial(1)]);
    done(&h.run(100));
    let t = trace(&h);
    assert_eq!(t[1], format!("upload 0+{}", 4 * G));
    assert_eq!(t[2], "query");
    assert_eq!(t[3], format!("upload {G}+{}", 4 * G));
}

#[test]
fn lost_tail_is_re_sent_from_the_server_offset() {
    // Chunk 2 dropped after storing; the query then finds that two acknowledged granules were lost.
    let mut h = harness(
        12 * G,
        4,
        vec![
            Fault::None,
            Fault::None,
            Fault::DropAfter,
            Fault::LoseTail(2),
        ],
    );
    done(&h.run(100));
    let t = trace(&h);
    assert_eq!(t[3], "query");
    assert_eq!(
        t[4],
        format!("upload {}+{}", 6 * G, 4 * G),
        "re-sends from the reported offset"
    );
    assert_eq!(
        h.server.sessions[0].bytes_in,
        14 * G,
        "exactly the lost bytes again"
    );
}

#[test]
fn server_errors_back_off_then_query() {
    let mut h = harness(
        8 * G,
        4,
        vec![
            Fault::None,
            Fault::Status(503, None),
            Fault::Status(500, None),
        ],
    );
    done(&h.run(100));
    let t = trace(&h);
    assert_eq!(
        &t[1..5],
        ["upload 0+1048576", "query", "query", "upload 0+1048576"]
    );
    assert_eq!(h.waits.len(), 2);
    assert!(
        h.waits[1] <= Duration::from_secs(2),
        "second wait within 2 s ceiling"
    );
}

#[test]
fn throttling_waits_for_retry_after_or_the_floor() {
    let mut h = harness(G, 4, vec![Fault::Status(429, Some(7))]);
    done(&h.run(100));
    assert_eq!(h.waits, [Duration::from_secs(7)]);
    assert_eq!(
        trace(&h),
        ["start", "start", &format!("upload, finalize 0+{G}")]
    );

    let mut h = harness(G, 4, vec![Fault::Status(429, None)]);
    done(&h.run(100));
    assert!(h.waits[0] >= Duration::from_secs(30), "{:?}", h.waits);
}

#[test]
fn retry_after_as_an_http_date_is_measured_against_the_reply_date() {
    let mut upload = Upload::new(endpoint(), file(10), UploadConfig::default()).unwrap();
    let now = Instant::now();
    let Action::Send(t) = upload.poll_action(now) else {
        panic!()
    };
    let reply = Response::builder()
        .status(503)
        .header("date", "Sun, 29 Nov 2026 21:00:00 GMT")
        .header("retry-after", "Sun, 29 Nov 2026 21:00:12 GMT")
        .body(Vec::new())
        .unwrap();
    upload.handle_response(now, t.id, &reply).unwrap();
    assert_eq!(
        upload.poll_action(now),
        Action::WaitUntil(now + Duration::from_secs(12))
    );
    assert_eq!(upload.phase(), Phase::Waiting);
}

#[test]
fn daily_quota_stops_with_a_clear_error() {
    let mut upload = Upload::new(endpoint(), file(10), UploadConfig::default()).unwrap();
    let now = Instant::now();
    let Action::Send(t) = upload.poll_action(now) else {
        panic!()
    };
    let body = br#"{"error":{"code":429,"message":"Quota exceeded for quota metric 'All requests' and limit 'All requests per day'","status":"RESOURCE_EXHAUSTED"}}"#;
    let reply = Response::builder().status(429).body(body.to_vec()).unwrap();
    upload.handle_response(now, t.id, &reply).unwrap();
    let Action::Failed(err) = upload.poll_action(now) else {
        panic!()
    };
    assert_eq!(err, Error::DailyQuota);
    assert_eq!(err.fault(), Blame::Limit);
    assert!(err.to_string().contains("tomorrow"));
}

#[test]
fn unauthorized_asks_for_a_fresh_token_once() {
    let mut h = harness(8 * G, 4, vec![Fault::None, Fault::Status(401, None)]);
    let mut refreshes = 0;
    let end = loop {
        if h.upload.phase() == Phase::Authorizing {
            refreshes += 1;
        }
        if let Some(end) = h.step() {
            break end;
        }
    };
    done(&end);
    assert_eq!(refreshes, 1);
    assert_eq!(
        trace(&h)[2],
        "query",
        "the refused chunk is resynced, not re-sent blind"
    );

    let mut h = harness(
        8 * G,
        4,
        vec![
            Fault::None,
            Fault::Status(401, None),
            Fault::Status(401, None),
        ],
    );
    assert_eq!(failed(h.run(100)), Error::Unauthorized);
}

#[test]
fn final_on_query_after_a_lost_finalize_reply_is_done() {
    let mut h = harness(
        4 * G + 1,
        4,
        vec![Fault::None, Fault::None, Fault::DropAfter],
    );
    assert_eq!(done(&h.run(100)), "token-0-0");
    assert_eq!(
        trace(&h).last().unwrap(),
        "query",
        "the token came from the query reply"
    );
    assert_eq!(h.server.sessions.len(), 1);
}

#[test]
fn expired_session_starts_a_new_one() {
    let mut h = harness(8 * G, 4, vec![Fault::None, Fault::None, Fault::Expire]);
    assert_eq!(done(&h.run(100)), "token-1-0");
    assert_eq!(h.upload.sessions_started(), 2);
    let t = trace(&h);
    assert_eq!(t[3], "start");
    assert_eq!(
        t[4],
        format!("upload 0+{}", 4 * G),
        "a new session starts from zero"
    );
}

#[test]
fn relative_session_urls_resolve_against_the_endpoint() {
    let upload = Upload::new(endpoint(), file(3), UploadConfig::default()).unwrap();
    let mut server = FakeServer::new(G, vec![]);
    server.relative_urls = true;
    let mut h = Harness::new(upload, server, Duration::from_secs(60));
    done(&h.run(10));
}

#[test]
fn garbled_start_reply_is_retried() {
    let mut h = harness(3, 4, vec![Fault::Garbage]);
    done(&h.run(10));
    assert_eq!(trace(&h), ["start", "start", "upload, finalize 0+3"]);
}

#[test]
fn refused_chunk_is_resynced_once_then_reported() {
    let mut h = harness(
        8 * G,
        4,
        vec![
            Fault::None,
            Fault::Status(400, None),
            Fault::None,
            Fault::Status(400, None),
        ],
    );
    let err = failed(h.run(100));
    assert!(
        matches!(err, Error::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(err.fault(), Blame::Server);
    assert_eq!(
        &trace(&h)[1..],
        ["upload 0+1048576", "query", "upload 0+1048576"]
    );
}

#[test]
fn endless_server_errors_exhaust_the_retries() {
    let mut h = harness(
        8 * G,
        4,
        vec![Fault::None]
            .into_iter()
            .chain(std::iter::repeat_n(Fault::Status(503, None), 50))
            .collect(),
    );
    let err = failed(h.run(200));
    assert!(
        matches!(err, Error::RetriesExhausted { attempts: 9, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTTP 503"));
    assert_eq!(
        h.sent.len(),
        1 + 9,
        "start, then the first try and eight retries"
    );
}

/// Drives by hand: send whatever the machine asks, answer with `reply`.
fn answer(upload: &mut Upload, now: Instant, reply: &Response<Vec<u8>>) -> RequestId {
    let Action::Send(t) = upload.poll_action(now) else {
        panic!("expected a request")
    };
    upload.handle_response(now, t.id, reply).unwrap();
    t.id
}

fn started(size: u64) -> (Upload, Instant) {
    let mut upload = Upload::new(endpoint(), file(size), config(1)).unwrap();
    let now = Instant::now();
    let reply = Response::builder()
        .header("x-goog-upload-url", "http://127.0.0.1:9/upload/0")
        .header("x-goog-upload-chunk-granularity", G.to_string())
        .header("x-goog-upload-status", "active")
        .body(Vec::new())
        .unwrap();
    answer(&mut upload, now, &reply);
    (upload, now)
}

fn query_reply(status: &str, size: u64, body: &str) -> Response<Vec<u8>> {
    Response::builder()
        .header("x-goog-upload-status", status)
        .header("x-goog-upload-size-received", size.to_string())
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn next_command(upload: &mut Upload, now: Instant) -> String {
    match upload.poll_action(now) {
        Action::Send(t) => support::command(&t.request),
        other => format!("{other:?}"),
    }
}

#[test]
fn final_without_a_token_and_cancelled_sessions_start_afresh() {
    for (status, body) in [("final", ""), ("cancelled", "")] {
        let (mut upload, now) = started(3 * G);
        let Action::Send(t) = upload.poll_action(now) else {
            panic!()
        };
        upload.handle_transport_error(now, t.id, &"reset").unwrap();
        let Action::WaitUntil(at) = upload.poll_action(now) else {
            panic!()
        };
        answer(&mut upload, at, &query_reply(status, G, body));
        assert_eq!(next_command(&mut upload, at), "start", "{status}");
    }
}

#[test]
fn too_much_progress_fails_without_corrupting() {
    let (mut upload, now) = started(3 * G);
    let Action::Send(t) = upload.poll_action(now) else {
        panic!()
    };
    upload.handle_transport_error(now, t.id, &"reset").unwrap();
    let Action::WaitUntil(at) = upload.poll_action(now) else {
        panic!()
    };
    answer(&mut upload, at, &query_reply("active", 2 * G, ""));
    let Action::Failed(err) = upload.poll_action(at) else {
        panic!()
    };
    assert_eq!(
        err,
        Error::TooMuchProgress {
            reported: 2 * G,
            sent: G
        }
    );
    assert!(err.to_string().contains("rerun"));
}

#[test]
fn every_byte_received_but_not_final_starts_afresh_rather_than_send_an_empty_finalize() {
    let (mut upload, now) = started(2 * G);
    answer(&mut upload, now, &query_reply("active", G, "")); // chunk 1 acknowledged
    let Action::Send(t) = upload.poll_action(now) else {
        panic!()
    };
    assert_eq!(t.request.body(), &Payload::Range { offset: G, len: G });
    upload.handle_transport_error(now, t.id, &"reset").unwrap();
    let Action::WaitUntil(at) = upload.poll_action(now) else {
        panic!()
    };
    answer(&mut upload, at, &query_reply("active", 2 * G, ""));
    assert_eq!(next_command(&mut upload, at), "start");
}

#[test]
fn endless_rewinds_fail() {
    let (mut upload, now) = started(4 * G);
    let mut now = now;
    let mut failed = None;
    for _ in 0..200 {
        match upload.poll_action(now) {
            Action::Send(t) if support::command(&t.request) == "query" => {
                upload
                    .handle_response(now, t.id, &query_reply("active", 0, ""))
                    .unwrap();
            }
            Action::Send(t) => {
                // Acknowledge the chunk, then drop the next so the query reveals the loss.
                let Payload::Range { offset, .. } = *t.request.body() else {
                    panic!()
                };
                if offset == 0 {
                    upload
                        .handle_response(now, t.id, &query_reply("active", G, ""))
                        .unwrap();
                } else {
                    upload.handle_transport_error(now, t.id, &"reset").unwrap();
                }
            }
            Action::WaitUntil(at) => now = at,
            Action::Failed(e) => {
                failed = Some(e);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(failed, Some(Error::Rewinds { count: 17 }));
}

#[test]
fn caller_cancel_tells_the_server_and_ends_cancelled() {
    let (mut upload, now) = started(4 * G);
    let Action::Send(t) = upload.poll_action(now) else {
        panic!()
    };
    upload.cancel(); // while the chunk is in flight
    upload
        .handle_response(now, t.id, &query_reply("active", G, ""))
        .unwrap();
    assert_eq!(upload.phase(), Phase::Cancelling);
    assert_eq!(next_command(&mut upload, now), "cancel");
    assert_eq!(upload.poll_action(now), Action::AwaitReply);
}

#[test]
fn stale_and_unknown_replies_are_refused_without_changing_state() {
    let mut upload = Upload::new(endpoint(), file(5), UploadConfig::default()).unwrap();
    let now = Instant::now();
    let reply = Response::new(Vec::new());
    assert_eq!(
        upload.handle_response(now, RequestId(0), &reply),
        Err(Misuse::UnexpectedReply { id: RequestId(0) })
    );
    let Action::Send(t) = upload.poll_action(now) else {
        panic!()
    };
    assert!(
        upload
            .handle_response(now, RequestId(t.id.0 + 1), &reply)
            .is_err()
    );
    assert!(
        upload
            .handle_transport_error(now, RequestId(99), &"x")
            .is_err()
    );
    assert_eq!(upload.poll_action(now), Action::AwaitReply);
    assert_eq!(upload.phase(), Phase::Starting);
}

#[test]
fn session_url_on_a_foreign_origin_gets_no_token_and_plain_http_off_loopback_is_refused() {
    let mut upload = Upload::new(endpoint(), file(5), UploadConfig::default()).unwrap();
    let now = Instant::now();
    let reply = Response::builder()
        .header("x-goog-upload-url", "https://uploads.example.net/session/1")
        .header("x-goog-upload-status", "active")
        .body(Vec::new())
        .unwrap();
    answer(&mut upload, now, &reply);
    let Action::Send(t) = upload.poll_action(now) else {
        panic!()
    };
    assert!(!t.bearer, "a foreign origin must not see the bearer token");

    let mut upload = Upload::new(endpoint(), file(5), UploadConfig::default()).unwrap();
    let reply = Response::builder()
        .header("x-goog-upload-url", "http://uploads.example.net/session/1")
        .body(Vec::new())
        .unwrap();
    answer(&mut upload, now, &reply);
    let Action::Failed(err) = upload.poll_action(now) else {
        panic!()
    };
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert!(
        !format!("{err} {err:?}").contains("session/1"),
        "session URL leaked: {err}"
    );
}

#[test]
fn a_snapshot_resumes_with_a_query_and_finishes() {
    let mut h = harness(12 * G, 4, vec![]);
    for _ in 0..3 {
        assert!(h.step().is_none()); // start, chunk 1, chunk 2 sent and acknowledged
    }
    // Chunk 3 goes out; the process dies before its reply.
    let Action::Send(t) = h.upload.poll_action(h.now) else {
        panic!()
    };
    let saved = serde_json::to_string(&h.upload).unwrap();
    assert!(!saved.contains("in_flight"));
    let mut restored: Upload = serde_json::from_str(&saved).unwrap();
    assert_eq!(restored.progress().confirmed, 8 * G);
    assert_eq!(restored.phase(), Phase::Resyncing);
    let Action::Send(q) = restored.poll_action(h.now) else {
        panic!()
    };
    assert_eq!(support::command(&q.request), "query");
    assert!(q.id.0 > t.id.0, "ids never repeat");
    let _ = t;
}

#[test]
fn failed_upload_resumes_on_request() {
    let mut h = harness(
        8 * G,
        4,
        vec![Fault::None]
            .into_iter()
            .chain(std::iter::repeat_n(Fault::Status(503, None), 9))
            .collect(),
    );
    failed(h.run(100));
    h.upload.resume();
    assert_eq!(h.upload.phase(), Phase::Resyncing);
    done(&h.run(100));
    assert_eq!(h.server.sessions.len(), 1, "the same session carried on");
}

#[test]
fn debug_output_hides_the_session_url_and_tokens() {
    let (upload, _) = started(3 * G);
    let shown = format!("{upload:?}");
    assert!(!shown.contains("upload/0"), "{shown}");
    let saved = serde_json::to_string(&upload).unwrap();
    assert!(
        saved.contains("upload/0"),
        "the snapshot needs the session URL"
    );
    let e = Endpoint::parse("https://photoslibrary.googleapis.com/v1/").unwrap();
    assert!(e.is_google());
}

#[test]
fn a_conflicting_writer_is_waited_out_not_counted_as_a_refusal() {
    // A chunk meets 409 (an abandoned request still writing), then a 400 offset mismatch: the
    // machine backs off and resyncs both times instead of giving up after two refusals.
    let mut h = harness(
        8 * G,
        4,
        vec![
            Fault::None,
            Fault::Status(409, None),
            Fault::None,
            Fault::Status(400, None),
        ],
    );
    done(&h.run(100));
    let t = trace(&h);
    assert_eq!(&t[1..4], ["upload 0+1048576", "query", "upload 0+1048576"]);
    assert_eq!(h.waits.len(), 1, "the conflict costs one backoff");
}
