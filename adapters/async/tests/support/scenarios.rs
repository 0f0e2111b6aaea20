//! End-to-end scenarios against the emulator, generic over the transport, so that every executor
//! runs exactly the same ones.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gphotos_emulator::{Config, Emulator, FaultRule, RandomFaults};
use gphotos_upload::{
    AccessToken, Endpoint, Error, MediaFile, Phase, RetryPolicy, Upload, UploadConfig,
};
use gphotos_upload_async::{
    AuthError, Authorizer, BlockingSource, DriveError, Driver, StaticToken, Transport,
};

use super::{Observed, until};

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

impl Authorizer for Rotating {
    fn current(&self) -> Option<AccessToken> {
        Some(AccessToken::new(
            if self.refreshes.load(Ordering::SeqCst) == 0 {
                "first"
            } else {
                "second"
            },
        ))
    }

    async fn refresh(&self, refused: Option<&AccessToken>) -> Result<(), AuthError> {
        if refused == self.current().as_ref() {
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

/// Forty files, eight at a time, optionally under random faults: all arrive once, byte-exact, and
/// never more than eight requests are in flight.
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
    for (result, (name, _)) in results.iter().zip(&files) {
        assert!(result.is_ok(), "{name}: {result:?}");
    }
    assert_stored(&emu, &files);
    let tally = &driver.transport().tally;
    let max = tally.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= 8, "at most 8 requests in flight, saw {max}");
    assert!(max >= 2, "uploads overlapped (saw {max} in flight at most)");
    assert!(tally.max_body.load(Ordering::SeqCst) <= CHUNK);
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
