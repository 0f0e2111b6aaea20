//! The multi-file job on worker threads against the emulator: many files created exactly once,
//! albums, reruns from the journal, a crash-like stop resumed without re-sending more than a chunk,
//! and uploads that really run in parallel.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gphotos_emulator::{Config, Emulator, RequestKind};
use gphotos_upload_ureq::job::{AlbumChoice, FileOutcome, Job, JobFile, JobProgress, Record};
use gphotos_upload_ureq::{
    Client, Credentials, Endpoint, JobObserver, Journal, RetryPolicy, Timeouts, job_file,
};
use sha2::{Digest, Sha256};

const G: usize = 64 * 1024;

fn emulator() -> Emulator {
    Emulator::start(Config {
        granularity: G as u64,
        ..Config::default()
    })
    .unwrap()
}

fn client(emu: &Emulator, attempts: u32) -> Client {
    Client::builder(
        Endpoint::parse(&emu.base_url()).unwrap(),
        Credentials::bearer("test-token"),
    )
    .chunk_size(2 * G as u64)
    .retry(RetryPolicy {
        initial: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        throttle_floor: Duration::from_millis(10),
        max_attempts: attempts,
        max_elapsed: Duration::from_secs(20),
    })
    .timeouts(Timeouts::uniform(Duration::from_secs(10)))
    .build()
    .unwrap()
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gphotos-ureq-job-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `sizes.len()` files and returns them with the SHA-256 of each.
fn files(dir: &Path, sizes: &[usize]) -> (Vec<JobFile>, HashMap<String, String>) {
    let mut jobs = Vec::new();
    let mut hashes = HashMap::new();
    for (i, &size) in sizes.iter().enumerate() {
        let path = dir.join(format!("img-{i:03}.jpg"));
        let bytes: Vec<u8> = (0..size).map(|b| (b ^ (i * 37)).to_le_bytes()[0]).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = job_file(&path).unwrap();
        hashes.insert(file.file_name.clone().unwrap(), sha256_hex(&bytes));
        jobs.push(file);
    }
    (jobs, hashes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// Persists to a journal and counts what it hears.
struct Seen<'a> {
    journal: &'a mut Journal,
    finished: usize,
    ticks: usize,
}

impl JobObserver for Seen<'_> {
    fn journal(&mut self, record: &Record) -> std::io::Result<()> {
        self.journal.append(record)
    }

    fn finished(&mut self, _job: &Job, _index: usize, _outcome: &FileOutcome) {
        self.finished += 1;
    }

    fn tick(&mut self, _progress: &JobProgress, _unconfirmed: u64) {
        self.ticks += 1;
    }
}

#[test]
fn sixty_files_become_sixty_items_once_and_a_rerun_sends_nothing() {
    let emu = emulator();
    let client = client(&emu, 4);
    let dir = fresh_dir("sixty");
    let sizes: Vec<usize> = (0..60)
        .map(|i| match i % 10 {
            0 => 5 * G + 11, // resumable, several chunks
            1 => 1,
            _ => 1000 + i * 997,
        })
        .collect();
    let (jobs, hashes) = files(&dir, &sizes);
    let mut config = client.job_config();
    config.concurrency = 4;
    config.album = AlbumChoice::Create("Sixty".into());

    // First through run_job with an observer of our own, as the CLI does.
    let mut journal = Journal::open(dir.join("journal.jsonl")).unwrap();
    let mut job = client.new_job(jobs.clone(), config.clone(), journal.records());
    let mut seen = Seen {
        journal: &mut journal,
        finished: 0,
        ticks: 0,
    };
    client.run_job(&mut job, 5, &mut seen).unwrap();
    assert_eq!(seen.finished, 60);
    assert!(seen.ticks > 0);
    let progress = job.progress();
    assert_eq!(progress.bytes_confirmed, progress.bytes);
    assert_eq!(progress.finished, 60);

    let state = emu.inspect();
    assert_eq!(state.media_items.len(), 60, "exactly one item per file");
    for item in &state.media_items {
        assert_eq!(
            Some(&item.sha256),
            hashes.get(&item.filename),
            "{}",
            item.filename
        );
    }
    assert_eq!(state.albums.len(), 1);
    assert_eq!(state.albums[0].media_item_ids.len(), 60);
    assert!(state.requests_of(RequestKind::BatchCreate).count() <= 3);
    let requests = state.requests.len();

    // The same job again through the script-level call: everything is already done. The first
    // journal is closed first (like a finished process): a journal is open in one place at a time.
    drop(journal);
    let mut journal = Journal::open(dir.join("journal.jsonl")).unwrap();
    let report = client
        .upload_files(jobs, config, Some(&mut journal))
        .unwrap();
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| matches!(o, FileOutcome::AlreadyCreated { .. })),
        "{:?}",
        report.outcomes
    );
    let state = emu.inspect();
    assert_eq!(state.requests.len(), requests, "a rerun sends nothing");
    assert_eq!(state.albums.len(), 1, "the album is not created twice");
}

#[test]
fn a_run_cut_short_resumes_from_the_journal() {
    let emu = emulator();
    let dir = fresh_dir("resume");
    let big = 10 * G + 5;
    let (jobs, hashes) = files(&dir, &[big, 3000]);
    // Every chunk after the second fails: the first run ends with a partial upload.
    emu.inject("upload@3+:status=503".parse().unwrap()).unwrap();
    let impatient = client(&emu, 1);
    let mut journal = Journal::open(dir.join("journal.jsonl")).unwrap();
    let report = impatient
        .upload_files(jobs.clone(), impatient.job_config(), Some(&mut journal))
        .unwrap();
    assert!(
        matches!(report.outcomes[0], FileOutcome::Failed(_)),
        "{:?}",
        report.outcomes
    );
    assert!(matches!(report.outcomes[1], FileOutcome::Created { .. }));
    let first = emu.inspect();
    let kept = first.sessions[0].bytes_received;
    assert!(
        kept >= 4 * G as u64,
        "two chunks confirmed before the faults"
    );

    emu.clear_faults();
    drop(journal);
    let mut journal = Journal::open(dir.join("journal.jsonl")).unwrap();
    let patient = client(&emu, 4);
    let report = patient
        .upload_files(jobs, patient.job_config(), Some(&mut journal))
        .unwrap();
    assert!(matches!(report.outcomes[0], FileOutcome::Created { .. }));
    assert!(matches!(
        report.outcomes[1],
        FileOutcome::AlreadyCreated { .. }
    ));

    let state = emu.inspect();
    assert_eq!(state.sessions.len(), 1, "the same session went on");
    assert_eq!(state.media_items.len(), 2);
    let item = state
        .media_items
        .iter()
        .find(|m| m.filename == "img-000.jpg")
        .unwrap();
    assert_eq!(Some(&item.sha256), hashes.get("img-000.jpg"));
    let seen_after = state.sessions[0].bytes_seen - first.sessions[0].bytes_seen;
    assert!(
        seen_after <= big as u64 - kept + 2 * G as u64,
        "resumed at the server's size: {seen_after} bytes sent for {} missing",
        big as u64 - kept
    );
}

#[test]
fn fewer_workers_than_the_job_wants_still_upload_everything_once() {
    let emu = emulator();
    let client = client(&emu, 4);
    let dir = fresh_dir("few-workers");
    let (jobs, hashes) = files(&dir, &[1, 1000, 3 * G + 5, 2000, 7, 5 * G, 3000, 4000]);
    let mut config = client.job_config();
    config.concurrency = 4;
    let mut journal = Journal::open(dir.join("journal.jsonl")).unwrap();
    let mut job = client.new_job(jobs, config, journal.records());
    let mut seen = Seen {
        journal: &mut journal,
        finished: 0,
        ticks: 0,
    };
    // One worker for four uploads at once plus the creating calls: requests wait their turn.
    client.run_job(&mut job, 1, &mut seen).unwrap();
    assert_eq!(seen.finished, 8);
    let state = emu.inspect();
    assert_eq!(state.media_items.len(), 8, "exactly one item per file");
    for item in &state.media_items {
        assert_eq!(Some(&item.sha256), hashes.get(&item.filename));
    }
}

#[test]
fn uploads_run_in_parallel() {
    let emu = emulator();
    emu.inject("raw@every:stall=300ms".parse().unwrap())
        .unwrap();
    let client = client(&emu, 4);
    let dir = fresh_dir("parallel");
    let (jobs, _) = files(&dir, &[1000; 8]);
    let mut config = client.job_config();
    config.concurrency = 4;
    let started = Instant::now();
    let report = client.upload_files(jobs, config, None).unwrap();
    let elapsed = started.elapsed();
    assert!(report.all_created());
    assert!(
        elapsed < Duration::from_millis(1800),
        "8 stalled uploads on 4 threads took {elapsed:?} (serially it would be 2.4 s)"
    );
}

#[test]
fn a_missing_file_fails_alone_and_the_quota_stops_the_run() {
    let emu = emulator();
    let client = client(&emu, 3);
    let dir = fresh_dir("missing");
    let (mut jobs, _) = files(&dir, &[100, 200, 300]);
    std::fs::remove_file(&jobs[1].key.path).unwrap();
    let report = client
        .upload_files(jobs.clone(), client.job_config(), None)
        .unwrap();
    assert!(matches!(report.outcomes[0], FileOutcome::Created { .. }));
    assert!(matches!(report.outcomes[2], FileOutcome::Created { .. }));
    let FileOutcome::Failed(error) = &report.outcomes[1] else {
        panic!("{:?}", report.outcomes[1]);
    };
    assert!(error.to_string().contains("img-001.jpg"), "{error}");

    emu.inject("raw@1+:quota".parse().unwrap()).unwrap();
    jobs.remove(1);
    let (more, _) = files(&fresh_dir("quota"), &[10, 20, 30]);
    let report = client
        .upload_files(more, client.job_config(), None)
        .unwrap();
    assert!(report.stopped.is_some(), "{report:?}");
    assert!(!report.all_created());
}
