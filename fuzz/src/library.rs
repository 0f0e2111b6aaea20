//! The Library calls: `batchCreate`'s per-item reply parser, and the [`Call`] retry machine of every
//! Library request under arbitrary replies.
//!
//! `batchCreate` answers HTTP 200 even when items failed, and it is not idempotent, so the checks
//! are about exactly that: an item counts as created only with a zero (or absent) code and a media
//! item, results are matched by upload token whatever their order, no upload token reaches a
//! message, and a call that must not be repeated is never re-sent when the server may have acted.

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use gphotos_upload::library::{
    AddToAlbum, AlbumPosition, BatchCreate, Call, CallAction, CreateAlbum, Destination,
    GetMediaItem, ItemOutcome, LibraryRequest, NewMediaItem, Resend, SimpleUpload,
};
use gphotos_upload::retry::{self, Verdict};
use gphotos_upload::{Endpoint, MediaFile, Payload, RequestId, RetryPolicy, Transmit, UploadToken};
use http::header::{CONTENT_LENGTH, HeaderMap};
use http::{Response, StatusCode};
use serde_json::Value;

use crate::headers::{Name, append};
use crate::json::Doc;

/// The planted upload token of item `i`: fixed width, so that no token is part of another.
fn token(i: usize) -> String {
    format!("CAIS-UPLOAD-TOKEN-{i:03}-SECRET")
}

const REPLY_KEYS: &[&str] = &[
    "newMediaItemResults",
    "uploadToken",
    "status",
    "code",
    "message",
    "details",
    "mediaItem",
    "id",
    "productUrl",
    "baseUrl",
    "mimeType",
    "filename",
    "description",
    "mediaMetadata",
    "error",
    "title",
    "isWriteable",
    "mediaItemsCount",
    "coverPhotoBaseUrl",
];

fn reply_texts() -> Vec<String> {
    let mut texts: Vec<String> = (0..6).map(token).collect();
    texts.extend(
        [
            "Success",
            "OK",
            "AF1QipN-media-item-id",
            "image/jpeg",
            "a.jpg",
            "Failed: There was an error while trying to create this media item.",
            "The upload token is invalid or expired.",
            "Request contains an invalid argument.",
            "https://photos.google.com/lr/photo/AF1",
            "",
            "3",
            "0",
        ]
        .map(str::to_owned),
    );
    texts.push(format!("Bad token {} in request", token(1)));
    texts
}

/// One input of the `batch_create_reply` target.
#[derive(Arbitrary, Debug)]
pub struct BatchReplyInput {
    /// Items sent (1 to 50).
    items: u8,
    after_ambiguous: bool,
    album: Option<Position>,
    body: Doc,
}

/// An album position.
#[derive(Arbitrary, Debug, Clone)]
pub enum Position {
    /// No position.
    None,
    /// `FIRST_IN_ALBUM`.
    First,
    /// `LAST_IN_ALBUM`.
    Last,
    /// After a media item.
    After(String),
}

fn batch(items: u8, after_ambiguous: bool, album: Option<&Position>) -> Option<BatchCreate> {
    let count = usize::from(items % 50) + 1;
    let items: Vec<NewMediaItem> = (0..count)
        .map(|i| {
            NewMediaItem::new(UploadToken::new(token(i))).with_file_name(format!("IMG_{i:04}.jpg"))
        })
        .collect();
    let destination = match album {
        None => Destination::library(),
        Some(position) => Destination {
            album_id: Some("AF1QipAlbum".to_owned()),
            position: match position {
                Position::None => None,
                Position::First => Some(AlbumPosition::FirstInAlbum),
                Position::Last => Some(AlbumPosition::LastInAlbum),
                Position::After(id) => Some(AlbumPosition::AfterMediaItem(id.clone())),
            },
        },
    };
    let call = BatchCreate::new(items, &destination).ok()?;
    Some(if after_ambiguous {
        call.after_ambiguous()
    } else {
        call
    })
}

/// Parses an arbitrary `batchCreate` reply.
pub fn batch_create_reply(input: &BatchReplyInput) {
    let Some(call) = batch(input.items, input.after_ambiguous, input.album.as_ref()) else {
        assert!(
            matches!(input.album, Some(Position::After(_))),
            "only an invalid relative id is refused"
        );
        return;
    };
    let texts = reply_texts();
    let words: Vec<&str> = texts.iter().map(String::as_str).collect();
    let body = input.body.bytes(REPLY_KEYS, &words);
    let Ok(created) = call.parse(&body) else {
        return;
    };
    assert_eq!(
        created.items.len(),
        call.items().len(),
        "one result per item sent"
    );
    let reply: Value = serde_json::from_slice(&body).expect("a parsed reply is JSON");
    let results = reply
        .get("newMediaItemResults")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, item) in created.items.iter().enumerate() {
        assert_eq!(
            item.upload_token.expose(),
            token(i),
            "results stay in the order sent"
        );
        // Every result given for this token, as the reply has it.
        let mine: Vec<&Value> = results
            .iter()
            .filter(|r| r.get("uploadToken").and_then(Value::as_str) == Some(&token(i)))
            .collect();
        match &item.outcome {
            ItemOutcome::Created(media) => {
                assert!(!media.id.is_empty());
                let proven = mine.iter().any(|r| {
                    let code_zero = match r.get("status") {
                        None | Some(Value::Null) => true,
                        Some(Value::Object(s)) => match s.get("code") {
                            None | Some(Value::Null) => true,
                            Some(Value::Number(n)) => n.as_i64() == Some(0),
                            Some(Value::String(t)) => t.trim().parse::<i64>() == Ok(0),
                            Some(_) => false,
                        },
                        Some(_) => false,
                    };
                    let has_id = r
                        .get("mediaItem")
                        .and_then(|m| m.get("id"))
                        .and_then(Value::as_str)
                        .is_some_and(|id| id == media.id);
                    code_zero && has_id
                });
                assert!(
                    proven,
                    "item {i} counted as created without a success for its token"
                );
            }
            ItemOutcome::NoResult => {
                assert!(mine.is_empty(), "item {i} has results but counts as none");
            }
            _ => assert!(!mine.is_empty(), "item {i} has an outcome but no result"),
        }
        let shown = format!("{:?}", item.outcome);
        for j in 0..call.items().len() {
            assert!(
                !shown.contains(&token(j)),
                "an upload token in an outcome: {shown}"
            );
        }
    }
    assert_eq!(
        created.all_created(),
        created.items.iter().all(|i| i.outcome.is_created())
    );
    assert_eq!(
        created.created().count(),
        created
            .items
            .iter()
            .filter(|i| i.outcome.is_created())
            .count()
    );
}

// ---------------------------------------------------------------------------------------------
// The Call machine

/// Which call to run.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Kind {
    /// `mediaItems:batchCreate` (must not be repeated blindly).
    BatchCreate,
    /// `mediaItems.get` (safe).
    Get,
    /// `albums.create` (must not be repeated blindly).
    CreateAlbum,
    /// `albums:batchAddMediaItems`.
    AddToAlbum,
    /// The raw upload of a small file (safe).
    SimpleUpload,
}

/// What happens to the request in flight.
#[derive(Arbitrary, Debug, Clone)]
pub enum Event {
    /// A reply.
    Reply {
        /// Status code.
        status: u16,
        /// Headers.
        headers: Vec<(Name, Vec<u8>)>,
        /// Body.
        body: Doc,
    },
    /// The request failed after it may have left.
    TransportError,
    /// The request surely never left.
    Unsent,
    /// A reply to a request that is not in flight.
    Stale(u64),
}

/// One input of the `library_call` target.
#[derive(Arbitrary, Debug)]
pub struct CallInput {
    kind: Kind,
    items: u8,
    after_ambiguous: bool,
    max_attempts: u8,
    initial_ms: u16,
    max_delay_ms: u32,
    throttle_floor_ms: u32,
    seed: u64,
    events: Vec<Event>,
}

/// Runs one Library call through arbitrary replies.
pub fn library_call(input: &CallInput) {
    let endpoint = Endpoint::parse("http://127.0.0.1:9/v1/").expect("a loopback root");
    let policy = RetryPolicy {
        initial: Duration::from_millis(u64::from(input.initial_ms)),
        max_delay: Duration::from_millis(u64::from(input.max_delay_ms)),
        throttle_floor: Duration::from_millis(u64::from(input.throttle_floor_ms)),
        max_attempts: u32::from(input.max_attempts % 10),
        max_elapsed: Duration::from_secs(24 * 3600),
    };
    match input.kind {
        Kind::BatchCreate => {
            let Some(call) = batch(input.items, input.after_ambiguous, None) else {
                unreachable!("a batch without an album position is valid")
            };
            let count = call.items().len();
            drive(
                Call::new(endpoint, call, policy, input.seed),
                policy,
                count,
                &input.events,
            );
        }
        Kind::Get => {
            let request = GetMediaItem::new("AF1QipN-media-item-id").expect("a valid id");
            drive(
                Call::new(endpoint, request, policy, input.seed),
                policy,
                0,
                &input.events,
            );
        }
        Kind::CreateAlbum => {
            let request = CreateAlbum::new("Holidays").expect("a valid title");
            drive(
                Call::new(endpoint, request, policy, input.seed),
                policy,
                0,
                &input.events,
            );
        }
        Kind::AddToAlbum => {
            let ids = (0..=usize::from(input.items % 50))
                .map(|i| format!("AF1Qip{i}"))
                .collect();
            let request = AddToAlbum::new("AF1QipAlbum", ids).expect("valid ids");
            drive(
                Call::new(endpoint, request, policy, input.seed),
                policy,
                0,
                &input.events,
            );
        }
        Kind::SimpleUpload => {
            let file = MediaFile {
                size: u64::from(input.items) + 1,
                mime_type: "image/png".into(),
                file_name: Some("a.png".into()),
            };
            let request = SimpleUpload::new(&file).expect("a small file");
            drive(
                Call::new(endpoint, request, policy, input.seed),
                policy,
                0,
                &input.events,
            );
        }
    }
}

/// How the last failure allows the machine to wait.
#[derive(Debug, Clone, Copy)]
enum WaitRule {
    Exactly(Duration),
    Throttled,
    Jitter,
}

fn drive<R: LibraryRequest>(mut call: Call<R>, policy: RetryPolicy, tokens: usize, events: &[Event])
where
    R::Output: std::fmt::Debug,
{
    let texts = reply_texts();
    let words: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut now = Instant::now();
    let mut in_flight: Option<RequestId> = None;
    let mut rule: Option<(Instant, WaitRule)> = None;
    // After a reply that may have been acted on, a call that must not be repeated may not send again.
    let mut no_more_sends = false;
    let mut finished = false;
    let resend = call.request().resend();
    let bound = 2 + policy.max_attempts;
    for event in events {
        // Poll until a request is in flight (or the call ended).
        for _ in 0..4 {
            if in_flight.is_some() || finished {
                break;
            }
            match call.poll_action(now) {
                CallAction::Send(transmit) => {
                    assert!(!no_more_sends, "a call that must not repeat was sent again");
                    check_request(&transmit, tokens);
                    assert!(
                        call.requests_sent() <= bound,
                        "more requests than the retry bound"
                    );
                    in_flight = Some(transmit.id);
                }
                CallAction::WaitUntil(until) => {
                    assert!(until > now);
                    let (at, rule) = rule.expect("a wait follows a failure");
                    let wait = until - at;
                    let ok = match rule {
                        WaitRule::Exactly(asked) => wait == asked,
                        WaitRule::Throttled => {
                            wait >= policy.throttle_floor
                                && wait <= policy.max_delay.max(policy.throttle_floor)
                        }
                        WaitRule::Jitter => wait <= policy.max_delay,
                    };
                    assert!(ok, "waited {wait:?} under {rule:?}");
                    now = until;
                }
                CallAction::RefreshToken => call.token_refreshed(),
                CallAction::AwaitReply => panic!("nothing in flight"),
                CallAction::Done(output) => {
                    check_shown(&format!("{output:?}"), tokens);
                    finished = true;
                }
                CallAction::Failed(error) => {
                    check_shown(&error.to_string(), tokens);
                    finished = true;
                }
                CallAction::Ambiguous(ambiguity) => {
                    assert_eq!(
                        resend,
                        Resend::OnlyIfUnprocessed,
                        "a safe call is never ambiguous"
                    );
                    check_shown(&ambiguity.to_string(), tokens);
                    finished = true;
                }
            }
        }
        assert!(
            in_flight.is_some() || finished,
            "the call neither sends nor ends"
        );
        if finished {
            assert!(call.is_finished());
            let response = Response::new(Vec::<u8>::new());
            assert!(call.handle_response(now, RequestId(0), &response).is_err());
            assert!(
                call.handle_response(now, RequestId(u64::MAX), &response)
                    .is_err()
            );
            continue;
        }
        let id = in_flight.expect("checked above");
        match event {
            Event::Reply {
                status,
                headers,
                body,
            } => {
                let status = StatusCode::from_u16(100 + status % 900).expect("100..=999");
                let mut map = HeaderMap::new();
                for (name, value) in headers {
                    if let Some(name) = name.header() {
                        append(&mut map, name, value);
                    }
                }
                let body = body.bytes(REPLY_KEYS, &words);
                let verdict = retry::classify(status, &body);
                rule = Some((
                    now,
                    match verdict {
                        Verdict::Transient { throttled } => match retry::retry_after(&map) {
                            Some(asked) => WaitRule::Exactly(asked),
                            None if throttled => WaitRule::Throttled,
                            None => WaitRule::Jitter,
                        },
                        _ => WaitRule::Jitter,
                    },
                ));
                // 408 and 5xx, and an unreadable 2xx, leave the outcome unknown.
                if resend == Resend::OnlyIfUnprocessed
                    && (matches!(verdict, Verdict::Transient { throttled: false })
                        || status.is_success())
                {
                    no_more_sends = true;
                }
                let mut response = Response::new(body);
                *response.status_mut() = status;
                *response.headers_mut() = map;
                call.handle_response(now, id, &response)
                    .expect("the reply to the request in flight is taken");
            }
            Event::TransportError => {
                if resend == Resend::OnlyIfUnprocessed {
                    no_more_sends = true;
                }
                rule = Some((now, WaitRule::Jitter));
                call.handle_transport_error(now, id, &"connection reset")
                    .expect("taken");
            }
            Event::Unsent => {
                rule = Some((now, WaitRule::Jitter));
                call.handle_unsent(now, id, &"connection refused")
                    .expect("taken");
            }
            Event::Stale(other) => {
                if *other != id.0 {
                    let response = Response::new(Vec::<u8>::new());
                    assert!(
                        call.handle_response(now, RequestId(*other), &response)
                            .is_err()
                    );
                    assert!(
                        call.handle_transport_error(now, RequestId(*other), &"x")
                            .is_err()
                    );
                    assert!(matches!(call.poll_action(now), CallAction::AwaitReply));
                }
                continue;
            }
        }
        in_flight = None;
    }
}

fn check_request(transmit: &Transmit, tokens: usize) {
    let request = &transmit.request;
    assert!(transmit.bearer, "Library calls go to the API's own origin");
    let length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if request.method() == http::Method::GET {
        assert!(request.body().is_empty(), "a GET has no body");
        assert!(matches!(length, None | Some(0)));
    } else {
        assert_eq!(
            length,
            Some(request.body().len()),
            "Content-Length matches the body"
        );
    }
    if tokens > 0 {
        let Payload::Bytes(bytes) = request.body() else {
            panic!("batchCreate sends JSON");
        };
        let json: Value = serde_json::from_slice(bytes).expect("the body is JSON");
        let items = json["newMediaItems"]
            .as_array()
            .expect("newMediaItems is a list");
        assert_eq!(items.len(), tokens);
        assert!(items.len() <= 50);
    }
    let shown = format!("{transmit:?}");
    check_shown(&shown, tokens.max(1));
}

fn check_shown(shown: &str, tokens: usize) {
    for i in 0..tokens {
        assert!(!shown.contains(&token(i)), "an upload token shown: {shown}");
    }
}
