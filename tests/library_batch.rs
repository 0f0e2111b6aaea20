//! The 50-item split, local validation, and the rule that no secret reaches `Debug` or `Display`.

use std::time::Instant;

use gphotos_upload::library::{
    AddToAlbum, AlbumPosition, BatchCreate, Call, CallAction, CreateAlbum, Destination,
    GetMediaItem, IdKind, InvalidRequest, LibraryError, LibraryRequest, MAX_BATCH, MediaItem,
    NewMediaItem,
};
use gphotos_upload::{Endpoint, RetryPolicy, UploadToken};
use http::Response;
use serde_json::json;

fn items(n: usize) -> Vec<NewMediaItem> {
    (0..n)
        .map(|i| NewMediaItem::new(UploadToken::new(format!("tok-{i}"))))
        .collect()
}

fn tokens(call: &BatchCreate) -> Vec<String> {
    call.items()
        .iter()
        .map(|i| i.upload_token.expose().to_owned())
        .collect()
}

#[test]
fn batch_create_splits_into_calls_of_at_most_50_in_order() {
    for (n, sizes) in [
        (0, vec![]),
        (1, vec![1]),
        (50, vec![50]),
        (51, vec![50, 1]),
        (100, vec![50, 50]),
        (10_000, vec![50; 200]),
    ] {
        let calls = BatchCreate::split(items(n), &Destination::album("AL1")).unwrap();
        let got: Vec<usize> = calls.iter().map(|c| c.items().len()).collect();
        assert_eq!(got, sizes, "{n} items");
        let all: Vec<String> = calls.iter().flat_map(tokens).collect();
        let expected: Vec<String> = (0..n).map(|i| format!("tok-{i}")).collect();
        assert_eq!(all, expected, "every item once, in order");
        assert!(
            calls
                .iter()
                .all(|c| c.destination().album_id.as_deref() == Some("AL1"))
        );
        // Each call is itself valid.
        for call in &calls {
            assert_eq!(
                BatchCreate::new(call.items().to_vec(), call.destination()).as_ref(),
                Ok(call)
            );
        }
    }
}

#[test]
fn one_call_takes_1_to_50_items() {
    assert_eq!(
        BatchCreate::new(vec![], &Destination::library()),
        Err(InvalidRequest::EmptyBatch)
    );
    assert!(BatchCreate::new(items(MAX_BATCH), &Destination::library()).is_ok());
    assert_eq!(
        BatchCreate::new(items(51), &Destination::library()),
        Err(InvalidRequest::TooManyItems { count: 51, max: 50 })
    );
}

#[test]
fn add_to_album_splits_too() {
    let ids = |n: usize| (0..n).map(|i| format!("M{i}")).collect::<Vec<_>>();
    for (n, sizes) in [
        (0, vec![]),
        (1, vec![1]),
        (50, vec![50]),
        (51, vec![50, 1]),
        (10_000, vec![50; 200]),
    ] {
        let calls = AddToAlbum::split("AL1", ids(n)).unwrap();
        let got: Vec<usize> = calls.iter().map(|c| c.media_item_ids().len()).collect();
        assert_eq!(got, sizes, "{n} ids");
        let all: Vec<String> = calls
            .iter()
            .flat_map(|c| c.media_item_ids().to_vec())
            .collect();
        assert_eq!(all, ids(n));
    }
    assert_eq!(
        AddToAlbum::new("AL1", vec![]),
        Err(InvalidRequest::EmptyBatch)
    );
    assert_eq!(
        AddToAlbum::new("AL1", ids(51)),
        Err(InvalidRequest::TooManyItems { count: 51, max: 50 })
    );
    assert_eq!(
        AddToAlbum::split("AL1", vec!["M1".into(), "M2".into(), "M1".into()]),
        Err(InvalidRequest::DuplicateId { item: 2, first: 0 })
    );
    assert_eq!(
        AddToAlbum::split("AL1", vec!["M1".into(), String::new()]),
        Err(InvalidRequest::BadId {
            kind: IdKind::MediaItem,
            item: Some(1)
        })
    );
    assert_eq!(
        AddToAlbum::split("..", ids(1)),
        Err(InvalidRequest::BadId {
            kind: IdKind::Album,
            item: None
        })
    );
}

#[test]
fn file_names_and_descriptions_are_limited_in_characters() {
    let with = |name: String, description: String| {
        let mut all = items(3);
        all[2] = NewMediaItem::new(UploadToken::new("x"))
            .with_file_name(name)
            .with_description(description);
        BatchCreate::split(all, &Destination::library())
    };
    // Limits count characters, not bytes.
    assert!(with("é".repeat(255), "ü".repeat(999)).is_ok());
    assert_eq!(
        with("a".repeat(256), String::new()),
        Err(InvalidRequest::FileNameTooLong {
            item: 2,
            chars: 256
        })
    );
    assert_eq!(
        with("a.jpg".into(), "d".repeat(1000)),
        Err(InvalidRequest::DescriptionTooLong {
            item: 2,
            chars: 1000
        })
    );
    // Item numbers count in the whole list, across calls.
    let mut many = items(120);
    many[117].file_name = Some("n".repeat(300));
    assert_eq!(
        BatchCreate::split(many, &Destination::library()),
        Err(InvalidRequest::FileNameTooLong {
            item: 117,
            chars: 300
        })
    );
}

#[test]
fn tokens_must_be_present_and_unique() {
    let mut all = items(60);
    all[55] = NewMediaItem::new(UploadToken::new("tok-3"));
    assert_eq!(
        BatchCreate::split(all, &Destination::library()),
        Err(InvalidRequest::DuplicateUploadToken { item: 55, first: 3 })
    );
    let mut all = items(2);
    all[1] = NewMediaItem::new(UploadToken::new(""));
    assert_eq!(
        BatchCreate::new(all, &Destination::library()),
        Err(InvalidRequest::EmptyUploadToken { item: 1 })
    );
}

#[test]
fn album_position_needs_an_album_and_valid_ids() {
    let position_only = Destination {
        album_id: None,
        position: Some(AlbumPosition::FirstInAlbum),
    };
    assert_eq!(
        BatchCreate::new(items(1), &position_only),
        Err(InvalidRequest::PositionWithoutAlbum)
    );
    assert_eq!(
        BatchCreate::split(vec![], &position_only),
        Err(InvalidRequest::PositionWithoutAlbum),
        "even with nothing to send, the mistake is reported"
    );
    let bad_relative = Destination {
        album_id: Some("AL1".into()),
        position: Some(AlbumPosition::AfterEnrichmentItem(String::new())),
    };
    assert_eq!(
        BatchCreate::new(items(1), &bad_relative),
        Err(InvalidRequest::BadId {
            kind: IdKind::RelativeEnrichmentItem,
            item: None
        })
    );
    let empty_album = Destination::album("");
    assert!(BatchCreate::new(items(1), &empty_album).is_err());
    for (position, json) in [
        (
            AlbumPosition::FirstInAlbum,
            json!({"position": "FIRST_IN_ALBUM"}),
        ),
        (
            AlbumPosition::LastInAlbum,
            json!({"position": "LAST_IN_ALBUM"}),
        ),
        (
            AlbumPosition::AfterEnrichmentItem("E1".into()),
            json!({"position": "AFTER_ENRICHMENT_ITEM", "relativeEnrichmentItemId": "E1"}),
        ),
    ] {
        assert_eq!(position.to_json(), json);
    }
}

#[test]
fn other_inputs_are_validated() {
    assert_eq!(
        GetMediaItem::new(""),
        Err(InvalidRequest::BadId {
            kind: IdKind::MediaItem,
            item: None
        })
    );
    assert!(GetMediaItem::new(".").is_err());
    assert_eq!(
        CreateAlbum::new("  "),
        Err(InvalidRequest::BadAlbumTitle { chars: 2 })
    );
    assert!(CreateAlbum::new("é".repeat(500)).is_ok());
    assert_eq!(
        CreateAlbum::new("a".repeat(501)),
        Err(InvalidRequest::BadAlbumTitle { chars: 501 })
    );
}

#[test]
fn every_validation_error_says_what_to_do() {
    let errors = [
        InvalidRequest::EmptyBatch,
        InvalidRequest::TooManyItems { count: 51, max: 50 },
        InvalidRequest::EmptyUploadToken { item: 1 },
        InvalidRequest::DuplicateUploadToken { item: 2, first: 0 },
        InvalidRequest::FileNameTooLong {
            item: 0,
            chars: 300,
        },
        InvalidRequest::DescriptionTooLong {
            item: 0,
            chars: 1000,
        },
        InvalidRequest::PositionWithoutAlbum,
        InvalidRequest::BadId {
            kind: IdKind::Album,
            item: None,
        },
        InvalidRequest::DuplicateId { item: 1, first: 0 },
        InvalidRequest::BadAlbumTitle { chars: 0 },
        InvalidRequest::EmptyFile,
        InvalidRequest::BadMimeType,
    ];
    for error in errors {
        let text = LibraryError::from(error.clone()).to_string();
        assert!(text.starts_with("invalid request: "), "{text}");
        assert!(text.len() > 30, "{text}");
        assert_eq!(
            LibraryError::from(error).fault(),
            gphotos_upload::Fault::Caller
        );
    }
}

// ---------------------------------------------------------------- secrets

const SECRET: &str = "CAIS-very-secret-upload-token";

#[test]
fn no_upload_token_in_debug_of_requests_calls_actions_or_results() {
    let item = NewMediaItem::new(UploadToken::new(SECRET)).with_file_name("a.jpg");
    let call = BatchCreate::new(vec![item.clone()], &Destination::album("AL1")).unwrap();
    let mut machine = Call::new(Endpoint::google(), call.clone(), RetryPolicy::default(), 1);
    let now = Instant::now();
    let action = machine.poll_action(now);
    let CallAction::Send(transmit) = &action else {
        panic!()
    };
    // The body does carry the token: the wire needs it.
    let Some(body) = (match transmit.request.body() {
        gphotos_upload::Payload::Bytes(b) => Some(b.clone()),
        _ => None,
    }) else {
        panic!()
    };
    assert!(String::from_utf8(body).unwrap().contains(SECRET));
    let id = transmit.id;
    let shown_before = format!(
        "{item:?} {call:?} {machine:?} {action:?} {:?}",
        call.clone().after_ambiguous()
    );

    // The server echoes the token everywhere it can.
    let reply = json!({"newMediaItemResults": [
        {"uploadToken": SECRET, "status": {"code": 3, "message": format!("token {SECRET} is bad")}},
    ]});
    let response = Response::builder()
        .status(200)
        .body(reply.to_string().into_bytes())
        .unwrap();
    machine.handle_response(now, id, &response).unwrap();
    let done = machine.poll_action(now);
    let CallAction::Done(created) = &done else {
        panic!()
    };
    let shown_after = format!("{done:?} {created:?} {machine:?}");
    let gphotos_upload::library::ItemOutcome::Failed(failure) = &created.items[0].outcome else {
        panic!()
    };
    let displayed = failure.to_string();
    for text in [&shown_before, &shown_after, &displayed] {
        assert!(!text.contains(SECRET), "secret leaked: {text}");
    }
    assert!(displayed.contains("<upload token>"), "{displayed}");
}

#[test]
fn no_upload_token_in_refusal_messages() {
    let call = BatchCreate::new(
        vec![NewMediaItem::new(UploadToken::new(SECRET))],
        &Destination::library(),
    )
    .unwrap();
    for resend in [false, true] {
        let call = if resend {
            call.clone().after_ambiguous()
        } else {
            call.clone()
        };
        let mut machine = Call::new(Endpoint::google(), call, RetryPolicy::default(), 1);
        let now = Instant::now();
        let CallAction::Send(transmit) = machine.poll_action(now) else {
            panic!()
        };
        let body =
            json!({"error": {"code": 400, "message": format!("Invalid upload token {SECRET}")}});
        let response = Response::builder()
            .status(400)
            .body(body.to_string().into_bytes())
            .unwrap();
        machine
            .handle_response(now, transmit.id, &response)
            .unwrap();
        let end = machine.poll_action(now);
        let shown = match &end {
            CallAction::Failed(error) => format!("{error} {error:?}"),
            CallAction::Done(created) => format!("{created:?}"),
            other => panic!("{other:?}"),
        };
        assert!(!shown.contains(SECRET), "secret leaked: {shown}");
        assert!(shown.contains("<upload token>"), "{shown}");
    }
}

#[test]
fn base_urls_are_redacted_in_debug() {
    let item =
        MediaItem::from_json(&json!({"id": "M1", "baseUrl": "https://lh3.example/secret-bytes"}))
            .unwrap();
    let shown = format!("{item:?}");
    assert!(!shown.contains("secret-bytes"), "{shown}");
    assert!(shown.contains("M1"));
}

#[test]
fn request_types_survive_a_serde_round_trip() {
    let call = BatchCreate::split(items(3), &Destination::album("AL1"))
        .unwrap()
        .remove(0)
        .after_ambiguous();
    let json = serde_json::to_string(&call).unwrap();
    let back: BatchCreate = serde_json::from_str(&json).unwrap();
    assert_eq!(back, call);
    assert!(back.is_after_ambiguous());
    let request = back.to_request(&Endpoint::google());
    assert_eq!(request.uri().path(), "/v1/mediaItems:batchCreate");
}
