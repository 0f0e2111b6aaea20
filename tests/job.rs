//! The multi-file job against the scripted server: batching, albums, per-item failures, the daily
//! quota, token refresh, and journal replay after a crash at any point.

mod support;

use std::time::{Duration, Instant};

use gphotos_upload::job::{
    AlbumChoice, FileError, FileKey, FileOutcome, Job, JobAction, JobConfig, JobEvent, JobFile,
    Now, Record,
};
use gphotos_upload::{RetryPolicy, UploadConfig};
use proptest::prelude::*;
use support::{FakeServer, Fault, Outcome, endpoint};

const G: u64 = 1024;

fn files(sizes: &[u64]) -> Vec<JobFile> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| JobFile {
            key: FileKey {
                path: format!("/photos/{i}.jpg"),
                size,
                modified: 1_700_000_000_000_000_000 + i as u64,
            },
            mime_type: "image/jpeg".into(),
            file_name: Some(format!("{i}.jpg")),
            description: None,
        })
        .collect()
}

fn config(concurrency: usize) -> JobConfig {
    let upload = UploadConfig {
        chunk_size: 4 * G,
        retry: RetryPolicy {
            max_elapsed: Duration::from_secs(100_000),
            ..RetryPolicy::default()
        },
        ..UploadConfig::default()
    };
    JobConfig {
        concurrency,
        simple_upload_max: upload.chunk_size,
        upload,
        ..JobConfig::default()
    }
}

/// Runs a job to the end (or `limit` actions), one request at a time, collecting journal records
/// and outcomes like an adapter would.
struct Run {
    journal: Vec<Record>,
    outcomes: Vec<Option<FileOutcome>>,
    now: Now,
    refreshes: usize,
}

impl Run {
    fn new(count: usize) -> Self {
        Self {
            journal: Vec::new(),
            outcomes: vec![None; count],
            now: Now {
                instant: Instant::now(),
                unix: 1_800_000_000,
            },
            refreshes: 0,
        }
    }

    fn drain(&mut self, job: &mut Job) {
        while let Some(event) = job.poll_event() {
            match event {
                JobEvent::Journal(record) => self.journal.push(record),
                JobEvent::FileFinished { index, outcome } => {
                    assert!(
                        self.outcomes[index].is_none(),
                        "file {index} finished twice"
                    );
                    self.outcomes[index] = Some(outcome);
                }
            }
        }
    }

    /// Returns `false` when the limit struck first (a crash); `lose_reply` decides whether the
    /// request in flight at the crash reached the server.
    fn drive(
        &mut self,
        job: &mut Job,
        server: &mut FakeServer,
        limit: usize,
        lose_reply: bool,
    ) -> bool {
        for step in 0..limit {
            let action = job.poll_action(self.now);
            self.drain(job);
            match action {
                JobAction::Send(t) => {
                    let id = t.transmit.id;
                    let request = t.transmit.authorize(None);
                    if step + 1 == limit {
                        // The process dies with this request in flight.
                        if !lose_reply {
                            server.handle(&request);
                        }
                        return false;
                    }
                    match server.handle(&request) {
                        Outcome::Reply(reply) => job.handle_response(self.now, id, &reply).unwrap(),
                        Outcome::TransportError => {
                            job.handle_transport_error(self.now, id, &"reset").unwrap();
                        }
                    }
                    self.drain(job);
                }
                JobAction::WaitUntil(at) => {
                    self.now.unix += (at - self.now.instant).as_secs();
                    self.now.instant = at;
                }
                JobAction::RefreshToken => {
                    self.refreshes += 1;
                    job.token_refreshed();
                }
                JobAction::AwaitReply => {
                    panic!("a sequential driver never leaves a request in flight")
                }
                JobAction::Finished => return true,
            }
        }
        false
    }
}

fn run_all(sizes: &[u64], config: JobConfig, server: &mut FakeServer) -> Run {
    let files = files(sizes);
    let mut run = Run::new(files.len());
    let mut job = Job::new(endpoint(), files, config, &[], run.now);
    assert!(run.drive(&mut job, server, 100_000, false), "the job ends");
    run
}

fn created(run: &Run) -> usize {
    run.outcomes
        .iter()
        .filter(|o| matches!(o, Some(FileOutcome::Created { .. })))
        .count()
}

#[test]
fn small_files_go_raw_and_large_ones_resumable_and_all_are_created_once() {
    let mut server = FakeServer::new(G, vec![]);
    let sizes = [10, 4 * G, 4 * G + 1, 9 * G + 7, 1];
    let run = run_all(&sizes, config(2), &mut server);
    assert_eq!(created(&run), 5);
    assert_eq!(server.items.len(), 5);
    assert_eq!(
        server.batches,
        [5],
        "nothing else pending: one partial call"
    );
    // Raw uploads are sessions created already final; resumable ones start active.
    let raw = server
        .sessions
        .iter()
        .filter(|s| s.bytes_in == s.size)
        .count();
    assert_eq!(raw, 5);
}

#[test]
fn calls_carry_fifty_items_while_uploads_go_on() {
    let mut server = FakeServer::new(G, vec![]);
    let sizes = vec![100; 120];
    let run = run_all(&sizes, config(4), &mut server);
    assert_eq!(created(&run), 120);
    assert_eq!(server.batches, [50, 50, 20]);
    // The first call went out before the last upload: creation overlaps uploading.
    let first_create = run
        .journal
        .iter()
        .position(|r| matches!(r, Record::Creating { .. }))
        .unwrap();
    let last_upload = run
        .journal
        .iter()
        .rposition(|r| matches!(r, Record::Uploaded { .. }))
        .unwrap();
    assert!(first_create < last_upload);
}

#[test]
fn a_session_is_journaled_once_not_after_every_chunk() {
    // Nine chunks: a record per chunk would mean a journal sync between every two chunks.
    let mut server = FakeServer::new(G, vec![]);
    let run = run_all(&[36 * G + 5], config(1), &mut server);
    assert_eq!(created(&run), 1);
    let sessions = run
        .journal
        .iter()
        .filter(|r| matches!(r, Record::Session { .. }))
        .count();
    assert_eq!(sessions, 1, "{:?}", run.journal);
}

#[test]
fn an_album_is_created_once_even_across_reruns() {
    let mut server = FakeServer::new(G, vec![]);
    let mut cfg = config(2);
    cfg.album = AlbumChoice::Create("Holidays".into());
    let files = files(&[10, 20]);
    let mut run = Run::new(2);
    let mut job = Job::new(endpoint(), files.clone(), cfg.clone(), &[], run.now);
    assert!(run.drive(&mut job, &mut server, 1000, false));
    assert_eq!(server.albums.len(), 1);
    assert!(
        run.journal
            .iter()
            .any(|r| matches!(r, Record::AlbumCreated { album_id, .. } if album_id == "album-0"))
    );

    let mut rerun = Run::new(2);
    let mut job = Job::new(endpoint(), files, cfg, &run.journal, rerun.now);
    assert!(rerun.drive(&mut job, &mut server, 1000, false));
    assert_eq!(server.albums.len(), 1, "no second album");
    assert!(
        rerun
            .outcomes
            .iter()
            .all(|o| matches!(o, Some(FileOutcome::AlreadyCreated { .. })))
    );
    assert_eq!(server.items.len(), 2, "nothing created twice");
}

#[test]
fn token_refresh_in_the_middle_of_an_upload() {
    // start, chunk 1, then 401 on chunk 2.
    let mut server = FakeServer::new(G, vec![Fault::None, Fault::None, Fault::Status(401, None)]);
    let run = run_all(&[12 * G], config(1), &mut server);
    assert_eq!(run.refreshes, 1);
    assert_eq!(created(&run), 1);
}

#[test]
fn daily_quota_stops_the_run_and_a_rerun_finishes_it() {
    let mut server = FakeServer::new(G, vec![]);
    let quota = Fault::Status(429, None);
    // The fake answers scripted statuses with a generic body; make it a per-day one.
    let files = files(&[10, 20, 30]);
    let mut run = Run::new(3);
    let mut job = Job::new(endpoint(), files.clone(), config(1), &[], run.now);
    // First raw upload succeeds; the next request meets the daily quota.
    server.script = vec![Fault::None, quota].into();
    server.daily_quota = true;
    assert!(run.drive(&mut job, &mut server, 1000, false));
    assert!(job.stopped().unwrap().contains("daily request quota"));
    let stopped = run
        .outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Some(FileOutcome::Failed(
                    FileError::Stopped(_) | FileError::Library(_)
                ))
            )
        })
        .count();
    assert_eq!(stopped, 3, "{:?}", run.outcomes);
    assert!(server.items.is_empty());

    server.daily_quota = false;
    let mut rerun = Run::new(3);
    let mut job = Job::new(endpoint(), files, config(1), &run.journal, rerun.now);
    assert!(rerun.drive(&mut job, &mut server, 1000, false));
    assert_eq!(created(&rerun), 3);
    assert_eq!(server.items.len(), 3);
    let raw_uploads = server.sessions.len();
    assert_eq!(
        raw_uploads, 3,
        "the token from the first run was reused, not uploaded again"
    );
}

#[test]
fn lost_batch_reply_is_resolved_without_duplicates() {
    let mut server = FakeServer::new(G, vec![Fault::None, Fault::None, Fault::DropAfter]);
    let run = run_all(&[10, 20], config(1), &mut server);
    assert_eq!(
        server.items.len(),
        2,
        "created once, by the call whose reply was lost"
    );
    assert!(
        run.outcomes
            .iter()
            .all(|o| matches!(o, Some(FileOutcome::Unconfirmed { .. }))),
        "{:?}",
        run.outcomes
    );
}

#[test]
fn journal_lines_round_trip_and_a_torn_tail_is_ignored() {
    let mut server = FakeServer::new(G, vec![]);
    let run = run_all(&[10, 9 * G], config(1), &mut server);
    let mut text: Vec<u8> = run.journal.iter().flat_map(Record::to_line).collect();
    assert_eq!(Record::parse_journal(&text).unwrap(), run.journal);
    text.extend_from_slice(b"{\"record\":\"crea");
    assert_eq!(Record::parse_journal(&text).unwrap(), run.journal);
    let shown = format!("{:?}", run.journal);
    assert!(
        !shown.contains("token-"),
        "no upload token in Debug: {shown}"
    );
    let mut broken = b"garbage\n".to_vec();
    broken.extend(run.journal[0].to_line());
    assert_eq!(Record::parse_journal(&broken).unwrap_err().line, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// For any crash point (with the request in flight lost or delivered), replaying the journal
    /// ends with every file created exactly once.
    #[test]
    fn replay_after_any_crash_creates_every_file_exactly_once(
        sizes in prop::collection::vec(prop_oneof![1u64..=4 * G, 4 * G + 1..=14 * G], 1..8),
        crash in 1usize..120,
        lose_reply in any::<bool>(),
        concurrency in 1usize..4,
        batch_size in 1usize..4,
        script in prop::collection::vec(prop_oneof![6 => Just(Fault::None), 1 => Just(Fault::DropAfter), 1 => Just(Fault::Status(503, None))], 0..10),
    ) {
        let mut server = FakeServer::new(G, script);
        let files = files(&sizes);
        let mut cfg = config(concurrency);
        cfg.batch_size = batch_size;
        let mut first = Run::new(files.len());
        let mut job = Job::new(endpoint(), files.clone(), cfg.clone(), &[], first.now);
        let finished = first.drive(&mut job, &mut server, crash, lose_reply);
        drop(job);
        let mut journal = first.journal.clone();
        let mut outcomes = first.outcomes.clone();
        let mut now = first.now;
        // The user reruns the same command until nothing is left to settle.
        let unsettled = |outcomes: &[Option<FileOutcome>]| outcomes.iter().any(|o| !matches!(o, Some(FileOutcome::Created { .. } | FileOutcome::AlreadyCreated { .. } | FileOutcome::Unconfirmed { .. })));
        let mut reruns = 0;
        while (!finished || unsettled(&outcomes)) && reruns < 4 {
            let mut next = Run::new(files.len());
            next.now = now;
            let mut job = Job::new(endpoint(), files.clone(), cfg.clone(), &journal, next.now);
            prop_assert!(next.drive(&mut job, &mut server, 100_000, false));
            journal.extend(next.journal);
            outcomes = next.outcomes;
            now = next.now;
            reruns += 1;
        }
        for (i, file) in files.iter().enumerate() {
            let name = file.file_name.clone().unwrap();
            let count = server.items.iter().filter(|(_, n, _)| *n == name).count();
            prop_assert_eq!(count, 1, "file {} has {} media items; outcome {:?}", i, count, outcomes[i]);
            prop_assert!(
                matches!(outcomes[i], Some(FileOutcome::Created { .. } | FileOutcome::AlreadyCreated { .. } | FileOutcome::Unconfirmed { .. })),
                "file {}: {:?}", i, outcomes[i]
            );
        }
    }
}

#[test]
fn quota_on_batch_create_keeps_the_tokens_for_the_rerun() {
    let mut server = FakeServer::new(G, vec![Fault::None, Fault::None, Fault::Status(429, None)]);
    server.daily_quota = true;
    let files = files(&[10, 20]);
    let mut run = Run::new(2);
    let mut job = Job::new(endpoint(), files.clone(), config(1), &[], run.now);
    assert!(run.drive(&mut job, &mut server, 1000, false));
    assert!(job.stopped().is_some());
    assert!(
        !run.journal
            .iter()
            .any(|r| matches!(r, Record::TokenDropped { .. }))
    );

    let mut rerun = Run::new(2);
    let mut job = Job::new(endpoint(), files, config(1), &run.journal, rerun.now);
    assert!(rerun.drive(&mut job, &mut server, 1000, false));
    assert_eq!(created(&rerun), 2);
    assert_eq!(server.sessions.len(), 2, "no file uploaded twice");
}

#[test]
fn only_records_that_guard_against_duplicates_must_be_synced_first() {
    let mut server = FakeServer::new(G, vec![]);
    let mut cfg = config(2);
    cfg.album = AlbumChoice::Create("Trip".into());
    let files = files(&[10, 9 * G]);
    let mut run = Run::new(2);
    let mut job = Job::new(endpoint(), files, cfg, &[], run.now);
    assert!(run.drive(&mut job, &mut server, 1000, false));
    for record in &run.journal {
        let guards = matches!(
            record,
            Record::Creating { .. } | Record::AlbumCreated { .. }
        );
        assert_eq!(record.must_sync(), guards, "{record:?}");
    }
    assert!(run.journal.iter().any(Record::must_sync));
    assert!(run.journal.iter().any(|r| !r.must_sync()));
}
