//! End-to-end scenarios against the emulator, generic over the transport, so that every executor
//! runs exactly the same ones.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gphotos_emulator::{Config, Emulator, FaultRule, RandomFaults, RequestKind};
use gphotos_upload::job::{
    AlbumChoice, FileKey, FileOutcome, Job, JobConfig, JobFile, Now, Record,
};
use gphotos_upload::library::{BatchCreate, Call, Destination, NewMediaItem};
use gphotos_upload::oauth::{Consent, OAuthClient, Scope};
use gphotos_upload::{
    AccessToken, ClientSecret, Endpoint, Error, MediaFile, Phase, RetryPolicy, Upload, UploadConfig,
};
use gphotos_upload_async::{
    AuthError, Authorizer, BlockingSource, DriveError, Driver, FRAME_SIZE, InMemory, JobObserver,
    OAuthTokens, StaticToken, Transport, exchange_token,
};

use super::{Observed, until};

/// Chunks of 1 MiB, which travel in several frames.
pub const LARGE_CHUNK: usize = 1024 * 1024;

/// The emulator's granularity in these tests: small, so that files of tens of kilobytes take many
/// chunks.
pub const GRANULE: usize = 16 * 1024;
/// Chunks of four granules.
pub const CHUNK: usize = 4 * GRANULE;

pub fn emulator() -> Emulator {
    emulator_with(Config::default())
}

pub fn emulator_with(config: Config) -> Emulator {
    Emulator::start(Config {
        granularity: GRANULE as u64,
        io_timeout: Duration::from_secs(5),
        ..config
    })
    .expect("the emulator starts on loopback")
}

fn fault(emu: &Emulator, rule: &str) {
    emu.inject(rule.parse::<FaultRule>().expect("a valid rule"))
        .expect("the emulator takes the rule");
}

/// Reproducible bytes that differ from file to file.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

pub fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        throttle_floor: Duration::from_millis(100),
        max_attempts: 8,
        max_elapsed: Duration::from_secs(60),
    }
}

pub fn machine(emu: &Emulator, name: &str, len: usize, seed: u64) -> Upload {
    let endpoint = Endpoint::parse(&emu.base_url()).expect("the emulator's root is a URL");
    let file = MediaFile {
        size: len as u64,
        mime_type: "image/jpeg".into(),
        file_name: Some(name.into()),
    };
    let config = UploadConfig {
        chunk_size: CHUNK as u64,
        retry: quick_retry(),
        seed,
        ..UploadConfig::default()
    };
    Upload::new(endpoint, file, config).expect("a valid upload")
}

fn token() -> StaticToken {
    StaticToken(AccessToken::new("test-access-token"))
}

/// The emulator holds exactly these files (by name), byte for byte, one object each.
pub fn assert_stored(emu: &Emulator, files: &[(String, Vec<u8>)]) {
    let state = emu.inspect();
    assert_eq!(
        state.objects.len(),
        files.len(),
        "one finished object per file, no duplicates"
    );
    for (name, bytes) in files {
        let object = state
            .objects
            .iter()
            .find(|o| o.file_name.as_deref() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("no object for {name}"));
        let path = object
            .path
            .as_ref()
            .expect("stored in a temporary directory");
        let stored = std::fs::read(path).expect("the stored object is readable");
        assert!(
            stored == *bytes,
            "{name}: stored bytes differ from the file"
        );
    }
}

/// One file of several chunks, no faults.
pub async fn happy_path<T: Transport>(transport: T) {
    let emu = emulator();
    let bytes = data(10 * GRANULE + 123, 1);
    let mut upload = machine(&emu, "happy.jpg", bytes.len(), 1);
    let driver = Driver::new(Observed::new(transport), token());
    let result = driver
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(&bytes)))
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(upload.phase(), Phase::Done);
    assert_eq!(upload.progress().confirmed, bytes.len() as u64);
    assert_stored(&emu, &[("happy.jpg".into(), bytes.clone())]);
    let tally = &driver.transport().tally;
    assert!(
        tally.max_body.load(Ordering::SeqCst) <= CHUNK,
        "the driver never holds more than one chunk"
    );
    // 1 start + 3 chunks of 4 granules (the last carries the odd bytes and finalizes).
    assert_eq!(tally.requests.load(Ordering::SeqCst), 4);
    let sessions = emu.inspect().sessions;
    assert_eq!(sessions.len(), 1);
    // A finished machine gives its token again without another request.
    let again = driver
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(&bytes)))
        .await;
    assert_eq!(again.ok(), result.ok());
    assert_eq!(tally.requests.load(Ordering::SeqCst), 4);
}

/// A file that ends 600 KiB into its second 1 MiB chunk (it shrank on disk): the chunk is being
/// streamed frame by frame when the source fails. The driver stops with the source's error, never a
/// server reply; the server holds no truncated object. A rerun with the whole file resumes the same
/// session and ends byte-exact, each chunk streamed in frames of at most `FRAME_SIZE`.
pub async fn source_fails_mid_chunk<T: Transport>(transport: T) {
    let emu = emulator();
    let bytes = data(3 * LARGE_CHUNK + 4321, 21);
    let driver = Driver::new(Observed::new(transport), token());
    let config = UploadConfig {
        chunk_size: LARGE_CHUNK as u64,
        retry: quick_retry(),
        seed: 21,
        ..UploadConfig::default()
    };
    let mut upload = Upload::new(
        Endpoint::parse(&emu.base_url()).expect("the emulator's root is a URL"),
        MediaFile {
            size: bytes.len() as u64,
            mime_type: "image/jpeg".into(),
            file_name: Some("shrunk.jpg".into()),
        },
        config,
    )
    .expect("a valid upload");
    let shrunk = &bytes[..LARGE_CHUNK + 600 * 1024];
    let result = driver
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(shrunk)))
        .await;
    match &result {
        Err(DriveError::Source(error)) => {
            assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
            assert!(error.to_string().contains("changed on disk"), "{error}");
        }
        other => panic!("expected the source's error, got {other:?}"),
    }
    assert_ne!(upload.phase(), Phase::Done);
    let state = emu.inspect();
    assert!(state.objects.is_empty(), "no object from a truncated body");
    assert_eq!(state.sessions.len(), 1);
    assert!(
        state.sessions[0].bytes_received < bytes.len() as u64,
        "the server does not hold the whole file"
    );

    // Later, with the whole file: the same session carries on.
    driver
        .transport()
        .sleep_until(Instant::now() + Duration::from_millis(200))
        .await;
    let result = driver
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(&bytes)))
        .await;
    assert!(result.is_ok(), "{result:?}");
    let state = emu.inspect();
    assert_eq!(state.sessions.len(), 1, "the same session was resumed");
    let unanswered = state
        .requests_of(RequestKind::Upload)
        .filter(|request| request.status.is_none())
        .count();
    // The failed chunk may have reached the server in part, or not at all.
    assert!(
        unanswered <= 1,
        "only the chunk whose source failed went unanswered: {:#?}",
        state.requests
    );
    assert_stored(&emu, &[("shrunk.jpg".into(), bytes)]);
    let tally = &driver.transport().tally;
    let frame = tally.max_frame.load(Ordering::SeqCst);
    assert!(
        0 < frame && frame <= FRAME_SIZE,
        "chunks travel in frames of at most FRAME_SIZE (largest: {frame})"
    );
    assert!(
        tally.max_body.load(Ordering::SeqCst) > FRAME_SIZE,
        "chunks span several frames"
    );
}

/// One scripted fault on the second chunk: the upload still ends byte-exact in one object, and
/// `check` sees the emulator afterwards.
async fn survives<T: Transport>(transport: T, rule: &str, check: impl FnOnce(&Emulator, Duration)) {
    let emu = emulator();
    fault(&emu, rule);
    let bytes = data(9 * GRANULE + 7, 2);
    let mut upload = machine(&emu, "fault.jpg", bytes.len(), 2);
    let driver = Driver::new(transport, token());
    let started = Instant::now();
    let result = driver
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(&bytes)))
        .await;
    assert!(result.is_ok(), "{rule}: {result:?}");
    assert_stored(&emu, &[("fault.jpg".into(), bytes)]);
    check(&emu, started.elapsed());
}

pub async fn server_unavailable<T: Transport>(transport: T) {
    survives(transport, "upload@2:status=503", |emu, _| {
        assert_eq!(emu.inspect().sessions.len(), 1, "the session is kept");
    })
    .await;
}

pub async fn throttled_with_retry_after<T: Transport>(transport: T) {
    survives(
        transport,
        "upload@2:status=429,retry-after=1",
        |emu, elapsed| {
            assert!(
                elapsed >= Duration::from_secs(1),
                "Retry-After: 1 was honoured ({elapsed:?}): {:?}",
                emu.inspect().requests
            );
            assert_eq!(emu.inspect().sessions.len(), 1);
        },
    )
    .await;
}

pub async fn dropped_connection<T: Transport>(transport: T) {
    // The server reads 20000 bytes of the second chunk (keeping one whole granule), then hangs up.
    survives(transport, "upload@2:drop=20000", |emu, _| {
        let state = emu.inspect();
        assert_eq!(state.sessions.len(), 1, "resumed in the same session");
        let resent: u64 = state.sessions[0].bytes_seen - state.sessions[0].raw_size;
        assert!(
            resent <= CHUNK as u64,
            "at most one chunk re-sent for one fault ({resent} bytes)"
        );
    })
    .await;
}

pub async fn expired_session<T: Transport>(transport: T) {
    survives(transport, "upload@2:expire-session", |emu, _| {
        assert_eq!(
            emu.inspect().sessions.len(),
            2,
            "a new session replaced the dead one"
        );
    })
    .await;
}

/// Hands out `first`, then `second` after a refusal of `first`; counts refreshes.
struct Rotating {
    refreshes: AtomicUsize,
}

impl Rotating {
    fn current(&self) -> AccessToken {
        AccessToken::new(if self.refreshes.load(Ordering::SeqCst) == 0 {
            "first"
        } else {
            "second"
        })
    }
}

impl Authorizer for Rotating {
    async fn token(&self) -> Result<Option<AccessToken>, AuthError> {
        Ok(Some(self.current()))
    }

    async fn refresh(&self, refused: Option<&AccessToken>) -> Result<(), AuthError> {
        if refused == Some(&self.current()) {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

pub async fn refused_token_is_refreshed<T: Transport>(transport: T) {
    let emu = emulator();
    fault(&emu, "start@1:expire-token");
    let bytes = data(6 * GRANULE, 3);
    let mut upload = machine(&emu, "refresh.jpg", bytes.len(), 3);
    let auth = Rotating {
        refreshes: AtomicUsize::new(0),
    };
    let driver = Driver::new(transport, &auth);
    let result = driver
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(&bytes)))
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(auth.refreshes.load(Ordering::SeqCst), 1);
    assert_stored(&emu, &[("refresh.jpg".into(), bytes)]);
}

/// A fixed token that is refused stops the upload with a clear error; a later run with a new token
/// resumes the same session.
pub async fn refused_static_token_resumes_later<T: Transport + Clone>(transport: T) {
    let emu = emulator();
    fault(&emu, "start@1:expire-token");
    let bytes = data(6 * GRANULE, 4);
    let mut upload = machine(&emu, "static.jpg", bytes.len(), 4);
    let first = Driver::new(transport.clone(), token());
    let stopped = first
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(&bytes)))
        .await;
    assert!(
        matches!(stopped, Err(DriveError::Auth(AuthError::CannotRefresh))),
        "{stopped:?}"
    );
    assert_eq!(upload.phase(), Phase::Authorizing);
    let second = Driver::new(transport, StaticToken(AccessToken::new("a-new-token")));
    let result = second
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(&bytes)))
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(emu.inspect().sessions.len(), 1);
    assert_stored(&emu, &[("static.jpg".into(), bytes)]);
}

pub async fn daily_quota_stops<T: Transport>(transport: T) {
    let emu = emulator();
    fault(&emu, "start@1:quota");
    let bytes = data(3 * GRANULE, 5);
    let mut upload = machine(&emu, "quota.jpg", bytes.len(), 5);
    let driver = Driver::new(transport, token());
    let result = driver
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(&bytes)))
        .await;
    assert!(
        matches!(result, Err(DriveError::Upload(Error::DailyQuota))),
        "{result:?}"
    );
    assert!(emu.inspect().objects.is_empty());
}

/// Forty files, eight at a time, optionally under random faults, then `batchCreate` in calls of at
/// most 50: every file arrives once, byte-exact, as exactly one media item, and never more than
/// eight requests are in flight.
pub async fn many_files<T: Transport>(transport: T, random_faults: bool) {
    let config = Config {
        random_faults: random_faults.then_some(RandomFaults {
            seed: 7,
            probability: 0.05,
        }),
        ..Config::default()
    };
    let emu = emulator_with(config);
    let files: Vec<(String, Vec<u8>)> = (0..40usize)
        .map(|i| {
            let len = 1 + (i * 7919) % (3 * CHUNK);
            (format!("many-{i:02}.jpg"), data(len, 100 + i as u64))
        })
        .collect();
    let mut uploads: Vec<Upload> = files
        .iter()
        .zip(100..)
        .map(|((name, bytes), seed)| machine(&emu, name, bytes.len(), seed))
        .collect();
    let driver = Driver::new(Observed::new(transport), token());
    let jobs = uploads
        .iter_mut()
        .zip(&files)
        .map(|(upload, (_, bytes))| (upload, BlockingSource(std::io::Cursor::new(bytes))));
    let results = driver
        .upload_many(jobs, NonZeroUsize::new(8).expect("positive"))
        .await;
    assert_eq!(results.len(), files.len());
    let mut items = Vec::new();
    for (result, (name, _)) in results.into_iter().zip(&files) {
        match result {
            Ok(token) => items.push(NewMediaItem::new(token).with_file_name(name.clone())),
            Err(error) => panic!("{name}: {error}"),
        }
    }
    assert_stored(&emu, &files);
    let tally = &driver.transport().tally;
    let max = tally.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 8, "at most 8 requests in flight, saw {max}");
    assert!(max >= 2, "uploads overlapped (saw {max} in flight at most)");
    assert!(tally.max_body.load(Ordering::SeqCst) <= CHUNK);

    create_media_items(&driver, &emu, items).await;
    assert_media_items(&emu, &files);
}

/// Runs `batchCreate` one call at a time; an ambiguous call is re-sent once, marked as such (its
/// single-use tokens cannot create anything twice).
async fn create_media_items<T: Transport, A: Authorizer>(
    driver: &Driver<T, A>,
    emu: &Emulator,
    items: Vec<NewMediaItem>,
) -> usize {
    let endpoint = Endpoint::parse(&emu.base_url()).expect("the emulator's root is a URL");
    let mut ambiguous = 0;
    for (seed, batch) in
        (0..).zip(BatchCreate::split(items, &Destination::library()).expect("valid items"))
    {
        let mut call = Call::new(endpoint.clone(), batch.clone(), quick_retry(), seed);
        let created = match driver.call(&mut call).await {
            Ok(created) => created,
            Err(DriveError::Ambiguous(_)) => {
                ambiguous += 1;
                let mut again = Call::new(
                    endpoint.clone(),
                    batch.after_ambiguous(),
                    quick_retry(),
                    seed,
                );
                driver
                    .call(&mut again)
                    .await
                    .expect("the re-sent batchCreate succeeds")
            }
            Err(error) => panic!("batchCreate: {error}"),
        };
        assert!(created.all_created(), "{created:?}");
    }
    ambiguous
}

/// The emulator holds exactly one media item per file, with the file's bytes.
pub fn assert_media_items(emu: &Emulator, files: &[(String, Vec<u8>)]) {
    let state = emu.inspect();
    assert_eq!(
        state.media_items.len(),
        files.len(),
        "one media item per file"
    );
    for (name, bytes) in files {
        let matching: Vec<_> = state
            .media_items
            .iter()
            .filter(|m| m.filename == *name)
            .collect();
        assert_eq!(matching.len(), 1, "{name}: exactly one media item");
        assert_eq!(matching[0].size, bytes.len() as u64, "{name}");
        let object = state
            .objects
            .iter()
            .find(|o| o.sha256 == matching[0].sha256)
            .expect("the media item's object");
        let stored = std::fs::read(object.path.as_ref().expect("stored")).expect("readable");
        assert!(
            stored == *bytes,
            "{name}: the media item's bytes differ from the file"
        );
    }
}

/// A `batchCreate` whose reply is lost (503 after which the effect is unknown) ends ambiguous; the
/// re-send marked `after_ambiguous` creates the items, once.
pub async fn ambiguous_batch_create_is_resolved<T: Transport>(transport: T) {
    let emu = emulator();
    let files: Vec<(String, Vec<u8>)> = (0..3usize)
        .map(|i| (format!("amb-{i}.jpg"), data(GRANULE + i, 40 + i as u64)))
        .collect();
    let driver = Driver::new(transport, token());
    let mut items = Vec::new();
    for (i, (name, bytes)) in (0..).zip(&files) {
        let mut upload = machine(&emu, name, bytes.len(), 40 + i);
        let token = driver
            .upload(&mut upload, BlockingSource(std::io::Cursor::new(bytes)))
            .await
            .expect("uploaded");
        items.push(NewMediaItem::new(token).with_file_name(name.clone()));
    }
    fault(&emu, "batch_create@1:status=503");
    let ambiguous = create_media_items(&driver, &emu, items).await;
    assert_eq!(ambiguous, 1, "the 503 left the first call ambiguous");
    assert_media_items(&emu, &files);
}

/// The installed-app flow against the emulator's OAuth endpoints (consent, code exchange), then an
/// upload whose access token is revoked mid-way: [`OAuthTokens`] refreshes it once at the token
/// endpoint, saves the new file, and the upload finishes in its one session.
pub async fn oauth_refresh_through_the_token_endpoint<T: Transport>(transport: T) {
    let emu = emulator_with(Config {
        access_token: Some("not-the-one-we-use".into()),
        ..Config::default()
    });
    let client = OAuthClient::installed("client-id.apps", ClientSecret::new("client-secret"))
        .with_endpoints(&emu.auth_uri(), &emu.token_uri())
        .expect("loopback endpoints");
    let consent =
        Consent::new(&client, 45_678, &[Scope::AppendOnly], [1; 32], [2; 32]).expect("a scope");
    let redirect = transport
        .send(
            http::Request::get(consent.authorization_url())
                .body(InMemory::empty())
                .expect("a request"),
        )
        .await
        .expect("the consent page answers");
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().expect("ASCII");
    let code = consent
        .parse_redirect(location)
        .expect("a code and our state");
    let file = exchange_token(&transport, &consent.exchange(&code), &quick_retry())
        .await
        .expect("the code exchange");
    let first = file.token.clone().expect("an access token");

    let saved = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let saving = std::sync::Arc::clone(&saved);
    let tokens = OAuthTokens::new(&transport, file)
        .with_retry(quick_retry())
        .on_refresh(Box::new(move |file| {
            saving.lock().unwrap().push(file.to_json());
            Ok(())
        }));
    fault(&emu, "start@1:expire-token");
    let bytes = data(6 * GRANULE, 8);
    let mut upload = machine(&emu, "oauth.jpg", bytes.len(), 8);
    let driver = Driver::new(&transport, &tokens);
    let result = driver
        .upload(&mut upload, BlockingSource(std::io::Cursor::new(&bytes)))
        .await;
    assert!(result.is_ok(), "{result:?}");
    let now = tokens.token_file().await;
    assert_ne!(now.token, Some(first), "the access token was refreshed");
    assert_eq!(saved.lock().unwrap().len(), 1, "refreshed and saved once");
    assert_eq!(
        emu.inspect().requests_of(RequestKind::Token).count(),
        2,
        "code exchange, one refresh"
    );
    assert_eq!(emu.inspect().sessions.len(), 1);
    assert_stored(&emu, &[("oauth.jpg".into(), bytes)]);
}

/// Drops the driver future when `stop` completes (mid-chunk), then finishes the upload twice over:
/// once by re-running on the same machine, once from a serde snapshot taken after the drop. Each
/// ends byte-exact in the one session it started.
pub async fn resume_after_drop<T, F>(transport: T, rule: Option<&str>, stop: F, snapshot: bool)
where
    T: Transport,
    F: Future<Output = ()>,
{
    let emu = emulator();
    if let Some(rule) = rule {
        fault(&emu, rule);
    }
    let bytes = data(12 * GRANULE + 99, 6);
    let mut upload = machine(&emu, "dropped.jpg", bytes.len(), 6);
    let driver = Driver::new(transport, token());
    let source = || BlockingSource(std::io::Cursor::new(&bytes));
    let stopped = until(driver.upload(&mut upload, source()), stop).await;
    assert!(
        stopped.is_none(),
        "the upload was dropped before it finished"
    );
    let confirmed = upload.progress().confirmed;
    assert!(
        0 < confirmed && confirmed < bytes.len() as u64,
        "dropped mid-file ({confirmed} bytes confirmed)"
    );
    // A later run: the server needs a moment to notice the dead connection. A rerun within that
    // moment races it (the query may report a size the dying request is still changing).
    driver
        .transport()
        .sleep_until(Instant::now() + Duration::from_millis(200))
        .await;
    let mut upload = if snapshot {
        let saved = serde_json::to_string(&upload).expect("the machine serializes");
        serde_json::from_str::<Upload>(&saved).expect("and restores")
    } else {
        upload
    };
    let result = driver.upload(&mut upload, source()).await;
    assert!(result.is_ok(), "{result:?} {:#?}", emu.inspect().requests);
    let state = emu.inspect();
    assert_eq!(state.sessions.len(), 1, "the same session was resumed");
    assert_stored(&emu, &[("dropped.jpg".into(), bytes)]);
}

/// Keeps the journal in memory, counts finished files, and fires `stop` after `stop_after` of them.
#[derive(Default)]
struct Journal {
    records: Vec<Record>,
    finished: usize,
    stop_after: Option<(usize, super::Signal)>,
    /// Confirmed bytes of the whole job after each reply.
    confirmed: Vec<u64>,
}

impl JobObserver for Journal {
    async fn journal(&mut self, record: Record) -> std::io::Result<()> {
        // What a file journal would hold: each record survives a round trip through its line.
        let line = record.to_line();
        let parsed = Record::parse_journal(&line).expect("a record reads back");
        self.records.extend(parsed);
        Ok(())
    }

    fn after_reply(&mut self, job: &Job) {
        self.confirmed.push(job.progress().bytes_confirmed);
    }

    fn finished(&mut self, _index: usize, _outcome: &FileOutcome) {
        self.finished += 1;
        if let Some((after, signal)) = &self.stop_after
            && self.finished >= *after
        {
            signal.fire();
        }
    }
}

fn job_files(count: usize) -> (Vec<JobFile>, Vec<(String, Vec<u8>)>) {
    let contents: Vec<(String, Vec<u8>)> = (0..count)
        .map(|i| {
            let len = 1 + (i * 7919) % (3 * CHUNK);
            (format!("job-{i:02}.jpg"), data(len, 200 + i as u64))
        })
        .collect();
    let files = contents
        .iter()
        .map(|(name, bytes)| JobFile {
            key: FileKey {
                path: format!("/photos/{name}"),
                size: bytes.len() as u64,
                modified: 1,
            },
            mime_type: "image/jpeg".into(),
            file_name: Some(name.clone()),
            description: None,
        })
        .collect();
    (files, contents)
}

fn job_now() -> Now {
    Now {
        instant: Instant::now(),
        unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    }
}

fn job_config() -> JobConfig {
    JobConfig {
        concurrency: 8,
        album: AlbumChoice::Create("Trip".into()),
        upload: UploadConfig {
            chunk_size: CHUNK as u64,
            retry: quick_retry(),
            ..UploadConfig::default()
        },
        simple_upload_max: CHUNK as u64,
        ..JobConfig::default()
    }
}

fn assert_album(emu: &Emulator, files: usize) {
    let state = emu.inspect();
    assert_eq!(state.albums.len(), 1, "the album was created once");
    assert_eq!(state.albums[0].title, "Trip");
    assert_eq!(
        state.albums[0].media_item_ids.len(),
        files,
        "every item is in the album"
    );
}

/// The core's multi-file job over 40 files, eight at a time, optionally under random faults:
/// one album, one media item per file, byte-exact, never more than eight uploads plus the one
/// creating call the job allows in flight.
pub async fn job_many_files<T: Transport>(transport: T, random_faults: bool) {
    let emu = emulator_with(Config {
        random_faults: random_faults.then_some(RandomFaults {
            seed: 11,
            probability: 0.05,
        }),
        ..Config::default()
    });
    let endpoint = Endpoint::parse(&emu.base_url()).expect("the emulator's root is a URL");
    let (files, contents) = job_files(40);
    let mut job = Job::new(endpoint, files, job_config(), &[], job_now());
    let driver = Driver::new(Observed::new(transport), token());
    let mut journal = Journal::default();
    let outcomes = driver
        .run_job(
            &mut job,
            |index, _| BlockingSource(std::io::Cursor::new(contents[index].1.clone())),
            &mut journal,
        )
        .await
        .expect("the job runs");
    for (outcome, (name, _)) in outcomes.iter().zip(&contents) {
        assert!(
            matches!(outcome, FileOutcome::Created { .. }),
            "{name}: {outcome:?}"
        );
    }
    assert_eq!(journal.finished, 40);
    let total: u64 = contents.iter().map(|(_, bytes)| bytes.len() as u64).sum();
    assert_eq!(
        journal.confirmed.last(),
        Some(&total),
        "progress ends at every byte"
    );
    assert_media_items(&emu, &contents);
    assert_album(&emu, 40);
    let tally = &driver.transport().tally;
    let max = tally.max_in_flight.load(Ordering::SeqCst);
    assert!(
        max <= 9,
        "at most 8 uploads and 1 call in flight, saw {max}"
    );
    assert!(
        max >= 2,
        "requests overlapped (saw {max} in flight at most)"
    );
    assert!(tally.max_body.load(Ordering::SeqCst) <= CHUNK);
}

/// A job run (batches of 8) dropped once ten files are media items, with others mid-upload or
/// waiting for their batch, resumes in a new `Job` built from its journal, as a new process would:
/// nothing is created twice and every file arrives.
pub async fn job_resumes_from_its_journal<T: Transport>(transport: T) {
    let emu = emulator();
    let endpoint = Endpoint::parse(&emu.base_url()).expect("the emulator's root is a URL");
    let (files, contents) = job_files(40);
    let driver = Driver::new(transport, token());
    let open =
        |index: usize, _: &JobFile| BlockingSource(std::io::Cursor::new(contents[index].1.clone()));

    let stop = super::Signal::default();
    let mut journal = Journal {
        stop_after: Some((10, stop.clone())),
        ..Journal::default()
    };
    let config = JobConfig {
        batch_size: 8,
        ..job_config()
    };
    let mut job = Job::new(
        endpoint.clone(),
        files.clone(),
        config.clone(),
        &[],
        job_now(),
    );
    let first = until(driver.run_job(&mut job, open, &mut journal), stop.wait()).await;
    assert!(first.is_none(), "the run was dropped before it finished");
    let created_before = emu.inspect().media_items.len();
    assert!(
        created_before < 40,
        "dropped mid-job ({created_before} items)"
    );

    // A later run, in a "new process": only the journal survives.
    driver
        .transport()
        .sleep_until(Instant::now() + Duration::from_millis(200))
        .await;
    let records = std::mem::take(&mut journal.records);
    let mut job = Job::new(endpoint, files, config, &records, job_now());
    let mut journal = Journal::default();
    let outcomes = driver
        .run_job(&mut job, open, &mut journal)
        .await
        .expect("the resumed job runs");
    // A batchCreate caught in flight by the drop may have created its items: the resumed job
    // re-sends its single-use tokens, and the refusal marks those files unconfirmed, never
    // uploaded again. Either way each file is one media item, which the emulator confirms.
    for (outcome, (name, _)) in outcomes.iter().zip(&contents) {
        assert!(
            matches!(
                outcome,
                FileOutcome::Created { .. }
                    | FileOutcome::AlreadyCreated { .. }
                    | FileOutcome::Unconfirmed { .. }
            ),
            "{name}: {outcome:?}"
        );
    }
    assert_media_items(&emu, &contents);
    assert_album(&emu, 40);
}
