//! Scripted conversations for every Library call and every error class: each test scripts the
//! server's replies one request at a time and checks what the machine sent, waited and concluded.
//! A machine that sends more requests than scripted fails the test (no blind re-send goes unseen).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use gphotos_upload::library::{
    AddToAlbum, BatchCreate, BatchCreated, Call, CallAction, CreateAlbum, Destination,
    GetMediaItem, ItemFailure, ItemOutcome, LibraryError, LibraryRequest, NewMediaItem,
    SimpleUpload, Unconfirmed,
};
use gphotos_upload::{Endpoint, MediaFile, Misuse, Payload, RequestId, RetryPolicy, UploadToken};
use http::Response;
use serde_json::{Value, json};

const ROOT: &str = "http://127.0.0.1:9/v1/";

/// Builds one kind of request for an endpoint.
type Build = Box<dyn Fn(&Endpoint) -> http::Request<Payload>>;

/// The server's answer to one request.
enum Reply {
    /// A status, a body and extra headers.
    Http(u16, Vec<u8>, Vec<(&'static str, String)>),
    /// The connection broke after the request may have left.
    Broken,
    /// The connection could not be opened.
    Unsent,
}

fn ok(body: &Value) -> Reply {
    Reply::Http(200, body.to_string().into_bytes(), vec![])
}

fn status(code: u16) -> Reply {
    let body = json!({"error": {"code": code, "message": "scripted"}});
    Reply::Http(code, body.to_string().into_bytes(), vec![])
}

fn status_with(code: u16, body: &str, headers: Vec<(&'static str, String)>) -> Reply {
    Reply::Http(code, body.as_bytes().to_vec(), headers)
}

/// One request as the harness saw it.
#[derive(Debug)]
struct Seen {
    method: String,
    uri: String,
    headers: http::HeaderMap,
    body: Payload,
    bearer: bool,
}

impl Seen {
    fn json(&self) -> Value {
        let Payload::Bytes(bytes) = &self.body else {
            panic!("not a JSON body: {:?}", self.body)
        };
        serde_json::from_slice(bytes).unwrap()
    }
}

#[derive(Debug)]
enum End<T> {
    Done(T),
    Failed(LibraryError),
    Ambiguous(String),
}

struct Run<T> {
    seen: Vec<Seen>,
    waits: Vec<Duration>,
    refreshes: usize,
    end: End<T>,
}

fn run<R: LibraryRequest>(request: R, script: Vec<Reply>) -> Run<R::Output> {
    let endpoint = Endpoint::parse(ROOT).unwrap();
    let mut call = Call::new(endpoint, request, RetryPolicy::default(), 11);
    let mut script: VecDeque<Reply> = script.into();
    let mut now = Instant::now();
    let mut seen = Vec::new();
    let mut waits = Vec::new();
    let mut refreshes = 0;
    for _ in 0..100 {
        match call.poll_action(now) {
            CallAction::Send(transmit) => {
                let (parts, body) = transmit.request.into_parts();
                let headers = parts.headers.clone();
                seen.push(Seen {
                    method: parts.method.to_string(),
                    uri: parts.uri.to_string(),
                    headers,
                    body,
                    bearer: transmit.bearer,
                });
                assert_eq!(call.poll_action(now), CallAction::AwaitReply);
                let reply = script
                    .pop_front()
                    .unwrap_or_else(|| panic!("request {} was not scripted", seen.len()));
                match reply {
                    Reply::Http(code, body, headers) => {
                        let mut builder = Response::builder().status(code);
                        for (name, value) in headers {
                            builder = builder.header(name, value);
                        }
                        let response = builder.body(body).unwrap();
                        call.handle_response(now, transmit.id, &response).unwrap();
                        // A reply is taken once.
                        assert_eq!(
                            call.handle_response(now, transmit.id, &response),
                            Err(Misuse::UnexpectedReply { id: transmit.id })
                        );
                    }
                    Reply::Broken => call
                        .handle_transport_error(now, transmit.id, &"connection reset")
                        .unwrap(),
                    Reply::Unsent => call
                        .handle_unsent(now, transmit.id, &"connection refused")
                        .unwrap(),
                }
            }
            CallAction::WaitUntil(at) => {
                assert!(at > now, "a wait lies in the future");
                waits.push(at - now);
                now = at;
            }
            CallAction::RefreshToken => {
                refreshes += 1;
                assert_eq!(call.poll_action(now), CallAction::RefreshToken);
                call.token_refreshed();
            }
            CallAction::AwaitReply => panic!("nothing is in flight"),
            end @ (CallAction::Done(_) | CallAction::Failed(_) | CallAction::Ambiguous(_)) => {
                assert!(call.is_finished());
                assert!(
                    script.is_empty(),
                    "{} scripted replies unused",
                    script.len()
                );
                // Terminal states stay put and send nothing.
                assert_eq!(call.poll_action(now + Duration::from_secs(3600)), end);
                let end = match end {
                    CallAction::Done(output) => End::Done(output),
                    CallAction::Failed(error) => End::Failed(error),
                    CallAction::Ambiguous(ambiguity) => End::Ambiguous(ambiguity.cause),
                    _ => unreachable!(),
                };
                return Run {
                    seen,
                    waits,
                    refreshes,
                    end,
                };
            }
        }
    }
    panic!("no end after 100 steps");
}

fn done<T: std::fmt::Debug>(end: End<T>) -> T {
    match end {
        End::Done(output) => output,
        other => panic!("expected success, got {other:?}"),
    }
}

fn failed<T: std::fmt::Debug>(end: End<T>) -> LibraryError {
    match end {
        End::Failed(error) => error,
        other => panic!("expected failure, got {other:?}"),
    }
}

fn ambiguous<T: std::fmt::Debug>(end: End<T>) -> String {
    match end {
        End::Ambiguous(cause) => cause,
        other => panic!("expected an ambiguous end, got {other:?}"),
    }
}

fn items(n: usize) -> Vec<NewMediaItem> {
    (0..n)
        .map(|i| NewMediaItem::new(UploadToken::new(format!("tok-{i}"))))
        .collect()
}

fn batch(n: usize) -> BatchCreate {
    BatchCreate::new(items(n), &Destination::library()).unwrap()
}

fn created(token: &str, id: &str) -> Value {
    json!({
        "uploadToken": token,
        "status": {"message": "Success"},
        "mediaItem": {"id": id, "productUrl": format!("https://photos.google.com/lr/photo/{id}"),
                      "mimeType": "image/jpeg", "filename": "a.jpg", "mediaMetadata": {"width": "1"}}
    })
}

fn outcomes(created: &BatchCreated) -> Vec<String> {
    created
        .items
        .iter()
        .map(|r| match &r.outcome {
            ItemOutcome::Created(item) => format!("created {}", item.id),
            ItemOutcome::Failed(f) => format!("failed {}", f.code),
            ItemOutcome::Unconfirmed(Unconfirmed::TokenSpent(f)) => format!("spent {}", f.code),
            ItemOutcome::Unconfirmed(Unconfirmed::SuccessWithoutMediaItem { .. }) => {
                "success without item".into()
            }
            ItemOutcome::NoResult => "no result".into(),
        })
        .collect()
}

// ---------------------------------------------------------------- batchCreate

#[test]
fn batch_create_sends_json_with_the_bearer_and_reads_each_item() {
    let mut item = NewMediaItem::new(UploadToken::new("tok-0"))
        .with_file_name("beach.jpg")
        .with_description("Low tide");
    item.description = Some("Low tide".into());
    let mut all = vec![item];
    all.extend(items(2).into_iter().skip(1));
    let call = BatchCreate::new(all, &Destination::album("AL1")).unwrap();
    let run = run(
        call,
        vec![ok(
            &json!({"newMediaItemResults": [created("tok-0", "M0"), created("tok-1", "M1")]}),
        )],
    );
    let [request] = &run.seen[..] else { panic!() };
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, "http://127.0.0.1:9/v1/mediaItems:batchCreate");
    assert!(request.bearer, "the API's own origin carries the token");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(
        request.headers["content-length"],
        request.body.len().to_string().as_str()
    );
    assert_eq!(
        request.json(),
        json!({
            "albumId": "AL1",
            "newMediaItems": [
                {"description": "Low tide", "simpleMediaItem": {"uploadToken": "tok-0", "fileName": "beach.jpg"}},
                {"simpleMediaItem": {"uploadToken": "tok-1"}}
            ]
        })
    );
    let result = done(run.end);
    assert_eq!(outcomes(&result), ["created M0", "created M1"]);
    assert!(result.all_created());
    let ItemOutcome::Created(item) = &result.items[0].outcome else {
        panic!()
    };
    assert_eq!(item.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(item.filename.as_deref(), Some("a.jpg"));
    assert_eq!(result.created().count(), 2);
}

#[test]
fn album_position_goes_with_the_album() {
    let destination = Destination {
        album_id: Some("AL1".into()),
        position: Some(gphotos_upload::library::AlbumPosition::AfterMediaItem(
            "M9".into(),
        )),
    };
    let call = BatchCreate::new(items(1), &destination).unwrap();
    let run = run(
        call,
        vec![ok(
            &json!({"newMediaItemResults": [created("tok-0", "M0")]}),
        )],
    );
    assert_eq!(
        run.seen[0].json()["albumPosition"],
        json!({"position": "AFTER_MEDIA_ITEM", "relativeMediaItemId": "M9"})
    );
    done(run.end);
}

#[test]
fn per_item_failures_inside_http_200_are_failures() {
    let reply = json!({"newMediaItemResults": [
        created("tok-0", "M0"),
        {"uploadToken": "tok-1", "status": {"code": 3, "message": "NOT_IMAGE: There was an error while trying to create this media item."}},
        {"uploadToken": "tok-2", "status": {"code": 13, "message": "Internal error", "details": [{"@type": "x"}]}},
        // Code 0 but no media item: not a success either.
        {"uploadToken": "tok-3", "status": {"code": 0, "message": "Success"}},
        // A media item next to an error code: the code wins.
        {"uploadToken": "tok-4", "status": {"code": 6, "message": "EXISTS"}, "mediaItem": {"id": "M4"}},
        // A media item without an id.
        {"uploadToken": "tok-5", "mediaItem": {"productUrl": "x"}},
    ]});
    let result = done(run(batch(6), vec![ok(&reply)]).end);
    assert_eq!(
        outcomes(&result),
        [
            "created M0",
            "failed 3",
            "failed 13",
            "success without item",
            "failed 6",
            "success without item"
        ]
    );
    assert!(!result.all_created());
    let ItemOutcome::Failed(failure) = &result.items[1].outcome else {
        panic!()
    };
    assert!(failure.message.starts_with("NOT_IMAGE"));
    assert!(!failure.is_transient());
    let ItemOutcome::Failed(failure) = &result.items[2].outcome else {
        panic!()
    };
    assert!(failure.is_transient());
}

#[test]
fn results_are_matched_by_token_not_position() {
    let reply = json!({"newMediaItemResults": [
        created("tok-2", "M2"),
        {"uploadToken": "tok-0", "status": {"code": 3, "message": "bad"}},
        created("tok-1", "M1"),
    ]});
    let result = done(run(batch(3), vec![ok(&reply)]).end);
    assert_eq!(outcomes(&result), ["failed 3", "created M1", "created M2"]);
    assert_eq!(result.items[0].upload_token.expose(), "tok-0");
    assert_eq!(result.items[2].upload_token.expose(), "tok-2");
}

#[test]
fn missing_unknown_duplicate_and_unreadable_results_are_reported() {
    let reply = json!({"newMediaItemResults": [
        created("someone-else", "MX"),
        {"uploadToken": "tok-1", "status": {"code": 13, "message": "later"}},
        created("tok-1", "M1"),
        {"uploadToken": "tok-1", "status": {"code": 3, "message": "after"}},
        {"status": {"message": "no token"}},
        "garbage",
    ], "someFutureField": {"x": 1}});
    let result = done(run(batch(3), vec![ok(&reply)]).end);
    assert_eq!(outcomes(&result), ["no result", "created M1", "no result"]);
    assert_eq!(result.unknown_results, 1);
    assert_eq!(result.duplicate_results, 2);
    assert_eq!(result.unreadable_results, 2);
}

#[test]
fn a_reply_without_results_leaves_every_item_without_result() {
    for body in [
        json!({}),
        json!({"newMediaItemResults": null}),
        json!({"newMediaItemResults": []}),
    ] {
        let result = done(run(batch(2), vec![ok(&body)]).end);
        assert_eq!(outcomes(&result), ["no result", "no result"]);
    }
}

#[test]
fn odd_status_codes_are_read_tolerantly() {
    let reply = json!({"newMediaItemResults": [
        {"uploadToken": "tok-0", "status": {"code": "3", "message": "as text"}},
        {"uploadToken": "tok-1", "status": {"code": [1], "message": "unreadable"}},
        {"uploadToken": "tok-2", "status": "weird"},
        {"uploadToken": "tok-3", "status": {"code": null}, "mediaItem": {"id": "M3", "filename": 7}},
    ]});
    let result = done(run(batch(4), vec![ok(&reply)]).end);
    assert_eq!(
        outcomes(&result),
        ["failed 3", "failed 2", "failed 2", "created M3"]
    );
    let ItemOutcome::Created(item) = &result.items[3].outcome else {
        panic!()
    };
    assert_eq!(
        item.filename, None,
        "a field of the wrong type is dropped, not fatal"
    );
}

#[test]
fn batch_create_is_not_resent_after_a_5xx() {
    for code in [500, 502, 503, 504, 408] {
        let run = run(batch(2), vec![status(code)]);
        assert_eq!(run.seen.len(), 1, "HTTP {code}: sent once");
        assert!(run.waits.is_empty());
        assert_eq!(ambiguous(run.end), format!("HTTP {code}"));
    }
}

#[test]
fn batch_create_is_not_resent_after_a_transport_error() {
    let run = run(batch(2), vec![Reply::Broken]);
    assert_eq!(run.seen.len(), 1);
    assert!(ambiguous(run.end).contains("connection reset"));
}

#[test]
fn batch_create_with_an_unreadable_200_is_ambiguous() {
    for body in [
        "<html>oops</html>",
        "[1,2]",
        r#"{"newMediaItemResults": "x"}"#,
        "",
    ] {
        let run = run(batch(1), vec![status_with(200, body, vec![])]);
        assert_eq!(run.seen.len(), 1);
        let cause = ambiguous(run.end);
        assert!(cause.contains("unreadable"), "{cause}");
    }
}

#[test]
fn batch_create_that_never_left_is_retried() {
    let reply = json!({"newMediaItemResults": [created("tok-0", "M0")]});
    let run = run(batch(1), vec![Reply::Unsent, ok(&reply)]);
    assert_eq!(run.seen.len(), 2);
    assert_eq!(
        run.seen[0].json(),
        run.seen[1].json(),
        "the same call again"
    );
    assert_eq!(run.waits.len(), 1);
    assert!(
        run.waits[0] <= Duration::from_secs(1),
        "first backoff within 1 s"
    );
    assert_eq!(outcomes(&done(run.end)), ["created M0"]);
}

#[test]
fn throttled_batch_create_waits_at_least_30_seconds_then_retries() {
    let reply = json!({"newMediaItemResults": [created("tok-0", "M0")]});
    let run = run(batch(1), vec![status(429), status(429), ok(&reply)]);
    assert_eq!(run.seen.len(), 3);
    assert_eq!(run.waits.len(), 2);
    assert!(
        run.waits.iter().all(|w| *w >= Duration::from_secs(30)),
        "{:?}",
        run.waits
    );
    done(run.end);
}

#[test]
fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let reply = || ok(&json!({"newMediaItemResults": [created("tok-0", "M0")]}));
    let throttled = status_with(429, "{}", vec![("retry-after", "7".into())]);
    let run1 = run(batch(1), vec![throttled, reply()]);
    assert_eq!(run1.waits, [Duration::from_secs(7)]);
    done(run1.end);

    let dated = status_with(
        429,
        "{}",
        vec![
            ("retry-after", "Wed, 21 Oct 2015 07:28:45 GMT".into()),
            ("date", "Wed, 21 Oct 2015 07:28:00 GMT".into()),
        ],
    );
    let run2 = run(batch(1), vec![dated, reply()]);
    assert_eq!(run2.waits, [Duration::from_secs(45)]);
    done(run2.end);
}

#[test]
fn endless_throttling_ends_in_retries_exhausted() {
    let policy = RetryPolicy::default();
    let script = (0..=policy.max_attempts).map(|_| status(429)).collect();
    let run = run(batch(1), script);
    assert_eq!(run.seen.len(), policy.max_attempts as usize + 1);
    let error = failed(run.end);
    assert!(
        matches!(error, LibraryError::RetriesExhausted { attempts, .. } if attempts == policy.max_attempts + 1)
    );
    assert!(error.to_string().contains("HTTP 429"));
}

#[test]
fn daily_quota_stops_at_once() {
    let body = r#"{"error": {"code": 429, "message": "Quota exceeded for quota metric 'All requests' and limit 'All requests per day' of service 'photoslibrary.googleapis.com'", "status": "RESOURCE_EXHAUSTED"}}"#;
    let run = run(batch(1), vec![status_with(429, body, vec![])]);
    assert_eq!(run.seen.len(), 1);
    let error = failed(run.end);
    assert_eq!(error, LibraryError::DailyQuota);
    assert!(error.to_string().contains("rerun tomorrow"));
}

#[test]
fn unauthorized_refreshes_once_then_gives_up() {
    let reply = json!({"newMediaItemResults": [created("tok-0", "M0")]});
    let run1 = run(batch(1), vec![status(401), ok(&reply)]);
    assert_eq!(run1.refreshes, 1);
    assert_eq!(run1.seen.len(), 2);
    done(run1.end);

    let run2 = run(batch(1), vec![status(401), status(401)]);
    assert_eq!(run2.refreshes, 1);
    assert_eq!(failed(run2.end), LibraryError::Unauthorized);
}

#[test]
fn other_refusals_are_rejected_without_retry() {
    let body = r#"{"error": {"code": 400, "message": "Request must contain a valid upload token.", "status": "INVALID_ARGUMENT"}}"#;
    let run1 = run(batch(2), vec![status_with(400, body, vec![])]);
    assert_eq!(run1.seen.len(), 1);
    assert_eq!(
        failed(run1.end),
        LibraryError::Rejected {
            status: 400,
            message: "Request must contain a valid upload token.".into()
        }
    );
    let run2 = run(batch(2), vec![status(403)]);
    let error = failed(run2.end);
    assert!(error.to_string().contains("scope"), "{error}");
}

#[test]
fn resend_after_ambiguous_reports_spent_tokens_as_unconfirmed() {
    // The first call broke after sending: it may have created the items.
    let first = run(batch(3), vec![Reply::Broken]);
    ambiguous(first.end);
    // Re-sending is safe: tokens are single-use. Item 0 was created by the lost call (its token is
    // now refused), item 1 was not (created now), item 2 failed transiently.
    let reply = json!({"newMediaItemResults": [
        {"uploadToken": "tok-0", "status": {"code": 3, "message": "Failed: There was an error while trying to create this media item."}},
        created("tok-1", "M1"),
        {"uploadToken": "tok-2", "status": {"code": 14, "message": "unavailable"}},
    ]});
    let resend = batch(3).after_ambiguous();
    assert!(resend.is_after_ambiguous());
    let result = done(run(resend, vec![ok(&reply)]).end);
    assert_eq!(outcomes(&result), ["spent 3", "created M1", "failed 14"]);
}

#[test]
fn a_whole_call_token_refusal_on_a_resend_marks_every_item_unconfirmed() {
    let body = r#"{"error": {"code": 400, "message": "Request must contain a valid upload token.", "status": "INVALID_ARGUMENT"}}"#;
    let result = done(
        run(
            batch(2).after_ambiguous(),
            vec![status_with(400, body, vec![])],
        )
        .end,
    );
    assert_eq!(outcomes(&result), ["spent 3", "spent 3"]);
    // Other refusals stay refusals.
    let run2 = run(batch(2).after_ambiguous(), vec![status(404)]);
    assert!(matches!(
        failed(run2.end),
        LibraryError::Rejected { status: 404, .. }
    ));
}

// ---------------------------------------------------------------- mediaItems.get

#[test]
fn get_reads_a_media_item_and_ignores_unknown_fields() {
    let body = json!({"id": "M1", "description": "d", "productUrl": "https://photos.google.com/x",
                      "baseUrl": "https://lh3.googleusercontent.com/secret-ish", "mimeType": "video/mp4",
                      "filename": "v.mp4", "mediaMetadata": {"video": {}}, "contributorInfo": {}});
    let run = run(GetMediaItem::new("M1").unwrap(), vec![ok(&body)]);
    assert_eq!(run.seen[0].method, "GET");
    assert_eq!(run.seen[0].uri, "http://127.0.0.1:9/v1/mediaItems/M1");
    assert_eq!(run.seen[0].body, Payload::Empty);
    assert!(run.seen[0].bearer);
    let item = done(run.end);
    assert_eq!(item.id, "M1");
    assert_eq!(item.mime_type.as_deref(), Some("video/mp4"));
    assert_eq!(item.description.as_deref(), Some("d"));
    assert!(item.base_url.is_some());
}

#[test]
fn get_percent_encodes_the_id() {
    let get = GetMediaItem::new("a/../b?c#d").unwrap();
    let run = run(get, vec![ok(&json!({"id": "x"}))]);
    assert_eq!(
        run.seen[0].uri,
        "http://127.0.0.1:9/v1/mediaItems/a%2F..%2Fb%3Fc%23d"
    );
    done(run.end);
}

#[test]
fn get_is_retried_after_5xx_transport_errors_and_unreadable_replies() {
    let script = vec![
        status(500),
        status(503),
        Reply::Broken,
        status_with(200, "not json", vec![]),
        ok(&json!({"no": "id"})),
        ok(&json!({"id": "M1"})),
    ];
    let run = run(GetMediaItem::new("M1").unwrap(), script);
    assert_eq!(run.seen.len(), 6);
    assert_eq!(run.waits.len(), 5);
    assert_eq!(done(run.end).id, "M1");
}

#[test]
fn get_gives_up_after_the_policy_bounds() {
    let policy = RetryPolicy::default();
    let script = (0..=policy.max_attempts).map(|_| status(502)).collect();
    let run = run(GetMediaItem::new("M1").unwrap(), script);
    assert!(matches!(
        failed(run.end),
        LibraryError::RetriesExhausted { .. }
    ));
}

#[test]
fn get_of_a_missing_item_is_rejected_with_a_hint() {
    let run = run(GetMediaItem::new("M1").unwrap(), vec![status(404)]);
    let error = failed(run.end);
    assert!(matches!(error, LibraryError::Rejected { status: 404, .. }));
    assert!(error.to_string().contains("not created by this app"));
}

#[test]
fn get_daily_quota_and_unauthorized() {
    let body = "Quota exceeded: requests per day";
    assert_eq!(
        failed(
            run(
                GetMediaItem::new("M1").unwrap(),
                vec![status_with(429, body, vec![])]
            )
            .end
        ),
        LibraryError::DailyQuota
    );
    let run2 = run(
        GetMediaItem::new("M1").unwrap(),
        vec![status(401), ok(&json!({"id": "M1"}))],
    );
    assert_eq!(run2.refreshes, 1);
    done(run2.end);
}

// ---------------------------------------------------------------- albums

#[test]
fn create_album_posts_the_title_and_reads_the_album() {
    let body = json!({"id": "AL1", "title": "Trip", "productUrl": "https://photos.google.com/lr/album/AL1",
                      "isWriteable": true, "mediaItemsCount": "0", "coverPhotoBaseUrl": "x"});
    let run = run(CreateAlbum::new("Trip").unwrap(), vec![ok(&body)]);
    assert_eq!(run.seen[0].uri, "http://127.0.0.1:9/v1/albums");
    assert_eq!(run.seen[0].json(), json!({"album": {"title": "Trip"}}));
    assert_eq!(run.seen[0].headers["content-type"], "application/json");
    let album = done(run.end);
    assert_eq!(album.id, "AL1");
    assert_eq!(album.title.as_deref(), Some("Trip"));
    assert_eq!(album.is_writeable, Some(true));
    assert_eq!(album.media_items_count, Some(0));
}

#[test]
fn create_album_is_never_resent_after_an_ambiguous_failure() {
    for reply in [
        status(500),
        status(503),
        Reply::Broken,
        status_with(200, "{", vec![]),
    ] {
        let run = run(CreateAlbum::new("Trip").unwrap(), vec![reply]);
        assert_eq!(run.seen.len(), 1);
        ambiguous(run.end);
    }
    // A throttled create was not processed: it is sent again.
    let run = run(
        CreateAlbum::new("Trip").unwrap(),
        vec![status(429), ok(&json!({"id": "AL1"}))],
    );
    assert_eq!(run.seen.len(), 2);
    done(run.end);
}

#[test]
fn add_to_album_posts_the_ids_to_the_album() {
    let call = AddToAlbum::new("AL:1", vec!["M1".into(), "M2".into()]).unwrap();
    let run = run(call, vec![ok(&json!({}))]);
    assert_eq!(
        run.seen[0].uri,
        "http://127.0.0.1:9/v1/albums/AL%3A1:batchAddMediaItems"
    );
    assert_eq!(run.seen[0].json(), json!({"mediaItemIds": ["M1", "M2"]}));
    done(run.end);
}

#[test]
fn add_to_album_is_not_resent_after_a_5xx_but_is_after_a_429() {
    let call = || AddToAlbum::new("AL1", vec!["M1".into()]).unwrap();
    let run1 = run(call(), vec![status(502)]);
    assert_eq!(run1.seen.len(), 1);
    ambiguous(run1.end);
    let run2 = run(call(), vec![status(429), status_with(200, "", vec![])]);
    assert_eq!(run2.seen.len(), 2);
    done(run2.end);
    let run3 = run(call(), vec![status(400)]);
    assert!(matches!(
        failed(run3.end),
        LibraryError::Rejected { status: 400, .. }
    ));
}

// ---------------------------------------------------------------- simple upload

fn media(size: u64, name: Option<&str>) -> MediaFile {
    MediaFile {
        size,
        mime_type: "image/jpeg".into(),
        file_name: name.map(str::to_owned),
    }
}

#[test]
fn simple_upload_sends_the_whole_file_raw_and_reads_the_token() {
    let upload = SimpleUpload::new(&media(1234, Some("beach.jpg"))).unwrap();
    let run = run(upload, vec![status_with(200, "CAIS-token\n", vec![])]);
    let [request] = &run.seen[..] else { panic!() };
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, "http://127.0.0.1:9/v1/uploads");
    assert!(request.bearer);
    assert_eq!(
        request.body,
        Payload::Range {
            offset: 0,
            len: 1234
        }
    );
    let h = &request.headers;
    assert_eq!(h["content-length"], "1234");
    assert_eq!(h["x-goog-upload-protocol"], "raw");
    assert_eq!(h["x-goog-upload-content-type"], "image/jpeg");
    assert_eq!(h["x-goog-upload-file-name"], "beach.jpg");
    assert!(h.get("x-goog-upload-command").is_none());
    assert_eq!(done(run.end).expose(), "CAIS-token");
}

#[test]
fn simple_upload_sends_no_name_that_is_not_ascii() {
    let upload = SimpleUpload::new(&media(10, Some("plage-été.jpg"))).unwrap();
    let run = run(upload, vec![status_with(200, "t", vec![])]);
    assert!(run.seen[0].headers.get("x-goog-upload-file-name").is_none());
    done(run.end);
}

#[test]
fn simple_upload_is_retried_after_faults_and_empty_replies() {
    let upload = SimpleUpload::new(&media(10, None)).unwrap();
    let script = vec![
        status(503),
        Reply::Broken,
        status_with(200, "", vec![]),
        status(429),
        status_with(200, "tok", vec![]),
    ];
    let run = run(upload, script);
    assert_eq!(run.seen.len(), 5);
    assert!(run.waits[3] >= Duration::from_secs(30), "the 429 floor");
    assert_eq!(done(run.end).expose(), "tok");
}

#[test]
fn simple_upload_of_an_empty_file_is_refused_before_any_request() {
    assert_eq!(
        SimpleUpload::new(&media(0, None)),
        Err(gphotos_upload::library::InvalidRequest::EmptyFile)
    );
    let mut bad = media(1, None);
    bad.mime_type = "image/\njpeg".into();
    assert!(SimpleUpload::new(&bad).is_err());
}

// ---------------------------------------------------------------- driving mistakes and the origin policy

#[test]
fn stale_or_unknown_reply_ids_are_refused_without_change() {
    let endpoint = Endpoint::parse(ROOT).unwrap();
    let mut call = Call::new(
        endpoint,
        GetMediaItem::new("M1").unwrap(),
        RetryPolicy::default(),
        1,
    );
    let now = Instant::now();
    let reply = Response::builder()
        .status(200)
        .body(b"{\"id\":\"M1\"}".to_vec())
        .unwrap();
    assert_eq!(
        call.handle_response(now, RequestId(0), &reply),
        Err(Misuse::UnexpectedReply { id: RequestId(0) }),
        "nothing was sent yet"
    );
    let CallAction::Send(first) = call.poll_action(now) else {
        panic!()
    };
    call.handle_response(
        now,
        first.id,
        &Response::builder().status(500).body(Vec::new()).unwrap(),
    )
    .unwrap();
    let CallAction::WaitUntil(at) = call.poll_action(now) else {
        panic!()
    };
    let CallAction::Send(second) = call.poll_action(at) else {
        panic!()
    };
    assert_ne!(first.id, second.id);
    assert_eq!(
        call.handle_response(at, first.id, &reply),
        Err(Misuse::UnexpectedReply { id: first.id })
    );
    assert_eq!(call.poll_action(at), CallAction::AwaitReply);
    call.handle_response(at, second.id, &reply).unwrap();
    assert!(matches!(call.poll_action(at), CallAction::Done(_)));
    assert_eq!(call.requests_sent(), 2);
}

#[test]
fn every_request_is_marked_by_the_origin_policy() {
    let google = Endpoint::google();
    let requests: Vec<Build> = vec![
        Box::new(|e| batch(1).to_request(e)),
        Box::new(|e| GetMediaItem::new("M").unwrap().to_request(e)),
        Box::new(|e| CreateAlbum::new("T").unwrap().to_request(e)),
        Box::new(|e| {
            AddToAlbum::new("A", vec!["M".into()])
                .unwrap()
                .to_request(e)
        }),
        Box::new(|e| SimpleUpload::new(&media(1, None)).unwrap().to_request(e)),
    ];
    for build in &requests {
        let request = build(&google);
        assert!(google.may_carry_token(request.uri()));
        assert!(
            request.headers().get("authorization").is_none(),
            "the adapter adds it"
        );
        assert_eq!(
            request.uri().authority().unwrap().as_str(),
            "photoslibrary.googleapis.com"
        );
    }
    // The Call marks bearer with the policy, for Google's root and for a loopback emulator.
    for root in [google.clone(), Endpoint::parse(ROOT).unwrap()] {
        let mut call = Call::new(root.clone(), batch(1), RetryPolicy::default(), 1);
        let CallAction::Send(transmit) = call.poll_action(Instant::now()) else {
            panic!()
        };
        assert_eq!(
            transmit.bearer,
            root.may_carry_token(transmit.request.uri())
        );
        assert!(transmit.bearer);
    }
}

#[test]
fn item_failure_displays_code_and_message() {
    let failure = ItemFailure {
        code: 3,
        message: "NOT_IMAGE".into(),
    };
    assert_eq!(
        failure.to_string(),
        "Google Photos refused the item (code 3): NOT_IMAGE"
    );
}
