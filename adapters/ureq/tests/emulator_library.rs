//! Library calls against the emulator: items created from uploads (exactly once, even after an
//! ambiguous batchCreate), albums, get, the simple upload, and per-item failures under HTTP 200.

use std::path::PathBuf;
use std::time::Duration;

use gphotos_emulator::{Config, Emulator, RequestKind};
use gphotos_upload_ureq::library::{
    BatchCreate, Destination, ItemOutcome, NewMediaItem, Unconfirmed,
};
use gphotos_upload_ureq::{Client, Credentials, Endpoint, Error, RetryPolicy, Timeouts};

fn emulator() -> Emulator {
    Emulator::start(Config {
        granularity: 64 * 1024,
        ..Config::default()
    })
    .unwrap()
}

fn client(emu: &Emulator) -> Client {
    Client::builder(
        Endpoint::parse(&emu.base_url()).unwrap(),
        Credentials::bearer("test-token"),
    )
    .chunk_size(128 * 1024)
    .retry(RetryPolicy {
        initial: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        throttle_floor: Duration::from_millis(10),
        max_attempts: 3,
        max_elapsed: Duration::from_secs(10),
    })
    .timeouts(Timeouts::uniform(Duration::from_secs(10)))
    .build()
    .unwrap()
}

fn media(name: &str, size: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gphotos-ureq-lib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let bytes: Vec<u8> = (0..size)
        .map(|i| (i * 7 + name.len()).to_le_bytes()[0])
        .collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn upload_then_create_in_an_album_and_read_back() {
    let emu = emulator();
    let client = client(&emu);
    let album = client.create_album("Holidays").unwrap();
    let big = client.upload_file(media("big.jpg", 300_000)).unwrap();
    let small = client
        .upload_file_simple(media("small.png", 2_000))
        .unwrap();
    let items = vec![
        NewMediaItem::new(big).with_file_name("big.jpg"),
        NewMediaItem::new(small)
            .with_file_name("small.png")
            .with_description("a small one"),
    ];
    let created = client
        .create_media_items(items, &Destination::album(album.id.clone()))
        .unwrap();
    assert!(created.all_created(), "{created:?}");
    let ids: Vec<String> = created.created().map(|(_, item)| item.id.clone()).collect();
    assert_eq!(ids.len(), 2);

    let fetched = client.get_media_item(&ids[1]).unwrap();
    assert_eq!(fetched.filename.as_deref(), Some("small.png"));
    assert_eq!(fetched.description.as_deref(), Some("a small one"));

    let other = client.create_album("Elsewhere").unwrap();
    client
        .add_to_album(&other.id, vec![ids[0].clone()])
        .unwrap();

    let state = emu.inspect();
    assert_eq!(state.media_items.len(), 2);
    assert_eq!(
        state.requests_of(RequestKind::Raw).count(),
        1,
        "one request for the small file"
    );
    let holidays = state.albums.iter().find(|a| a.title == "Holidays").unwrap();
    assert_eq!(holidays.media_item_ids, ids);
    let elsewhere = state
        .albums
        .iter()
        .find(|a| a.title == "Elsewhere")
        .unwrap();
    assert_eq!(elsewhere.media_item_ids, [ids[0].clone()]);
}

#[test]
fn a_spent_token_fails_its_item_under_http_200() {
    let emu = emulator();
    let client = client(&emu);
    let token = client.upload_file(media("once.jpg", 1_000)).unwrap();
    let first = client
        .create_media_items(
            vec![NewMediaItem::new(token.clone())],
            &Destination::library(),
        )
        .unwrap();
    assert!(first.all_created());
    let second = client
        .create_media_items(vec![NewMediaItem::new(token)], &Destination::library())
        .unwrap();
    assert!(!second.all_created());
    assert!(
        matches!(second.items[0].outcome, ItemOutcome::Failed(_)),
        "{second:?}"
    );
    assert_eq!(emu.inspect().media_items.len(), 1);
}

#[test]
fn an_ambiguous_batch_create_is_not_repeated_and_resolves_without_a_duplicate() {
    let emu = emulator();
    let client = client(&emu);
    let token = client.upload_file(media("doubt.jpg", 5_000)).unwrap();
    let items = vec![NewMediaItem::new(token).with_file_name("doubt.jpg")];
    // The call is processed, but its reply never arrives.
    emu.inject("batch_create@1:stall=2s".parse().unwrap())
        .unwrap();
    let impatient = Client::builder(
        Endpoint::parse(&emu.base_url()).unwrap(),
        Credentials::bearer("test-token"),
    )
    .timeouts(Timeouts {
        recv_response: Some(Duration::from_millis(300)),
        ..Timeouts::uniform(Duration::from_secs(10))
    })
    .build()
    .unwrap();
    let error = impatient
        .create_media_items(items.clone(), &Destination::library())
        .unwrap_err();
    assert!(matches!(error, Error::Ambiguous(_)), "{error:?}");
    assert!(error.to_string().contains("not repeated"), "{error}");

    // The documented resolution: the same items again, marked as a re-send.
    let resend = BatchCreate::new(items, &Destination::library())
        .unwrap()
        .after_ambiguous();
    let outcome = client.call(resend).unwrap();
    assert!(
        matches!(
            outcome.items[0].outcome,
            ItemOutcome::Unconfirmed(Unconfirmed::TokenSpent(_))
        ),
        "{outcome:?}"
    );
    assert_eq!(emu.inspect().media_items.len(), 1, "never a duplicate");
}

#[test]
fn throttled_batch_create_is_retried_and_quota_stops() {
    let emu = emulator();
    let client = client(&emu);
    let token = client.upload_file(media("throttle.jpg", 1_000)).unwrap();
    emu.inject("batch_create@1:status=429,retry-after=0".parse().unwrap())
        .unwrap();
    let created = client
        .create_media_items(vec![NewMediaItem::new(token)], &Destination::library())
        .unwrap();
    assert!(created.all_created());
    assert_eq!(emu.inspect().media_items.len(), 1);

    emu.inject("get@1:quota".parse().unwrap()).unwrap();
    let id = created.created().next().unwrap().1.id.clone();
    let error = client.get_media_item(&id).unwrap_err();
    assert!(error.to_string().contains("quota"), "{error}");
}

#[test]
fn invalid_input_is_refused_before_any_request() {
    let emu = emulator();
    let client = client(&emu);
    let error = client
        .create_media_items(Vec::new(), &Destination::library())
        .unwrap_err();
    assert!(matches!(error, Error::Library(_)), "{error:?}");
    let error = client.get_media_item("").unwrap_err();
    assert!(matches!(error, Error::Library(_)), "{error:?}");
    assert!(emu.inspect().requests.is_empty());
}
