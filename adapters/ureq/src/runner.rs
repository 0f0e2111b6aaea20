//! The multi-file job on worker threads: the core's [`Job`] decides what to send, in what order,
//! what to journal and when to create items; this module performs its requests on a pool of
//! threads, streams chunk bytes from the files, and hands back replies.
//!
//! The journal comes first: every record the job emits is handed to [`JobObserver::journal_all`]
//! (which must make it durable) before the next request is performed, so a process killed at any
//! moment resumes from its journal without losing or duplicating anything. Records that pile up
//! while a sync is under way (replies of parallel uploads) go to the observer together, so a journal
//! file syncs once for all of them (group commit) instead of once per record.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gphotos_upload::job::{FileOutcome, Job, JobAction, JobEvent, JobProgress, Now, Record};
use gphotos_upload::{Payload, RequestId};
use http::{Request, Response};

use crate::drive::Authorizer;
use crate::transport::{Failure, Transport};
use crate::{Client, Error};

/// How often a waiting runner wakes to refresh progress displays.
const TICK: Duration = Duration::from_millis(100);

/// Hears what a job does: journal records to persist, files that finished, and progress.
pub trait JobObserver {
    /// Makes `record` durable (append and fsync, or write-and-rename). The runner performs no further
    /// request until this returns.
    ///
    /// # Errors
    /// The write failed: the run stops, since continuing without a journal could lose track of an
    /// upload or create an item twice on a rerun.
    fn journal(&mut self, record: &Record) -> io::Result<()>;

    /// Makes `records` durable, in order: all the records the job produced since the last call.
    /// The runner performs no further request until this returns. The default hands them to
    /// [`JobObserver::journal`] one by one; a journal file should append them all and sync once,
    /// since each sync can take milliseconds and the records of parallel uploads arrive together.
    ///
    /// # Errors
    /// As [`JobObserver::journal`].
    fn journal_all(&mut self, records: &[Record]) -> io::Result<()> {
        records.iter().try_for_each(|record| self.journal(record))
    }

    /// The file at `index` of [`Job::files`] has its outcome for this run.
    fn finished(&mut self, job: &Job, index: usize, outcome: &FileOutcome) {
        let _ = (job, index, outcome);
    }

    /// Called after each step and at least every 100 ms while requests are out: `progress` is the
    /// job's own count, `unconfirmed` the bytes sent in requests still awaiting their reply (they
    /// keep a rate display moving during long chunks; a fault can make some go out again).
    fn tick(&mut self, progress: &JobProgress, unconfirmed: u64) {
        let _ = (progress, unconfirmed);
    }
}

/// The current time as the job wants it.
pub(crate) fn now() -> Now {
    Now {
        instant: Instant::now(),
        unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    }
}

/// One request for a worker.
struct Work {
    id: RequestId,
    request: Request<Payload>,
    /// The file a `Payload::Range` is read from.
    file: Option<PathBuf>,
    /// Bytes of the body sent so far, for progress.
    sent: Arc<AtomicU64>,
}

/// A worker's report.
struct Done {
    /// The worker, free again.
    worker: usize,
    id: RequestId,
    outcome: Result<Response<Vec<u8>>, Failure>,
    /// The file the request read from, to name it in a source error.
    file: Option<PathBuf>,
}

impl Client {
    /// Runs `job` to its end with `workers` threads performing its requests (at least the job's
    /// concurrency, plus one for the `batchCreate` calls that run beside uploads).
    ///
    /// File bytes are read from the paths in each file's [`gphotos_upload::job::FileKey::path`].
    ///
    /// # Errors
    /// [`Error::Journal`] when the observer could not persist a record, [`Error::Credentials`] (or
    /// another credentials error) when no access token can be had. The job's per-file failures are
    /// not errors: they come to [`JobObserver::finished`]. After an error the job's remaining files
    /// have no outcome; the journal lets a rerun resume them.
    pub fn run_job(
        &self,
        job: &mut Job,
        workers: usize,
        observer: &mut dyn JobObserver,
    ) -> Result<(), Error> {
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let transport = self.transport();
        thread::scope(|scope| {
            // A channel per worker, and the runner hands each request to a worker it knows is idle:
            // one wake-up per hand-off. (With one shared queue the idle workers queue on its lock,
            // and every hand-off wakes two threads; on 2 cores the CLI was 0.77x the ureq library
            // with 8 small uploads at once.)
            let mut work = Vec::new();
            for n in 0..workers.max(1) {
                let (work_tx, work_rx) = mpsc::channel::<Work>();
                let done_tx = done_tx.clone();
                let spawned = thread::Builder::new()
                    .name(format!("gphotos-upload-{n}"))
                    .spawn_scoped(scope, move || worker(n, transport, &work_rx, &done_tx));
                match spawned {
                    Ok(_) => work.push(work_tx),
                    // Fewer workers only slow the run down, but none at all would stall it.
                    Err(error) if n == 0 => {
                        return Err(Error::misuse(format!(
                            "cannot start a worker thread: {error}"
                        )));
                    }
                    Err(_) => break,
                }
            }
            drop(done_tx);
            let mut runner = Runner {
                auth: Authorizer::new(self.credentials()),
                idle: (0..work.len()).rev().collect(),
                backlog: VecDeque::new(),
                work,
                done: done_rx,
                in_flight: HashMap::new(),
            };
            let result = runner.drive(job, observer);
            // Dropping the sender lets the workers finish their request and leave.
            drop(runner);
            result
        })
    }
}

struct Runner<'a> {
    auth: Authorizer<'a>,
    /// Each worker's queue, by worker number.
    work: Vec<Sender<Work>>,
    /// Workers with nothing to do.
    idle: Vec<usize>,
    /// Requests waiting for a worker (only when the job has more out than there are workers).
    backlog: VecDeque<Work>,
    done: Receiver<Done>,
    in_flight: HashMap<RequestId, Arc<AtomicU64>>,
}

impl Runner<'_> {
    fn drive(&mut self, job: &mut Job, observer: &mut dyn JobObserver) -> Result<(), Error> {
        loop {
            // Replies that arrived while the previous request went out.
            while let Ok(done) = self.done.try_recv() {
                self.feed(job, done)?;
            }
            flush(job, observer)?;
            let action = job.poll_action(now());
            // Records the poll produced (such as "about to create these items") are durable
            // before the request they announce is performed.
            flush(job, observer)?;
            match action {
                JobAction::Send(next) => {
                    let id = next.transmit.id;
                    let file = next
                        .file
                        .and_then(|index| job.files().get(index))
                        .map(|file| PathBuf::from(&file.key.path));
                    let request = self.auth.authorize(next.transmit)?;
                    let sent = Arc::new(AtomicU64::new(0));
                    self.in_flight.insert(id, Arc::clone(&sent));
                    let work = Work {
                        id,
                        request,
                        file,
                        sent,
                    };
                    match self.idle.pop() {
                        Some(worker) => self.hand(worker, work)?,
                        // More requests out than workers: the first to finish takes it.
                        None => self.backlog.push_back(work),
                    }
                }
                JobAction::WaitUntil(until) => {
                    let wait = until.saturating_duration_since(Instant::now()).min(TICK);
                    self.wait(job, wait)?;
                }
                JobAction::AwaitReply => self.wait(job, TICK)?,
                JobAction::RefreshToken => {
                    self.auth.refresh()?;
                    job.token_refreshed();
                }
                JobAction::Finished => {
                    flush(job, observer)?;
                    observer.tick(&job.progress(), 0);
                    return Ok(());
                }
            }
            observer.tick(&job.progress(), self.unconfirmed());
        }
    }

    /// Waits up to `wait` for a reply and feeds it to the job.
    fn wait(&mut self, job: &mut Job, wait: Duration) -> Result<(), Error> {
        if wait.is_zero() {
            return Ok(());
        }
        match self.done.recv_timeout(wait) {
            Ok(done) => self.feed(job, done),
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => {
                if self.in_flight.is_empty() {
                    Ok(())
                } else {
                    Err(Error::misuse("the worker threads are gone"))
                }
            }
        }
    }

    fn hand(&self, worker: usize, work: Work) -> Result<(), Error> {
        let gone = || Error::misuse("the worker threads are gone");
        let queue = self.work.get(worker).ok_or_else(gone)?;
        queue.send(work).map_err(|_| gone())
    }

    fn feed(&mut self, job: &mut Job, done: Done) -> Result<(), Error> {
        match self.backlog.pop_front() {
            Some(work) => self.hand(done.worker, work)?,
            None => self.idle.push(done.worker),
        }
        self.in_flight.remove(&done.id);
        let now = now();
        match done.outcome {
            Ok(reply) => job.handle_response(now, done.id, &reply)?,
            // Whether the request may have reached the server or not, the job asks the server where
            // it stands before sending again (and never repeats a creating call blindly).
            Err(Failure::Network(what) | Failure::Unsent(what)) => {
                job.handle_transport_error(now, done.id, &what)?;
            }
            // The upload retries, then fails this file with the message; the others go on.
            Err(Failure::Source(error)) => {
                let path = done
                    .file
                    .as_deref()
                    .map_or_else(|| "the file".to_owned(), |p| p.display().to_string());
                let what = format!("cannot read {path}: {error}");
                job.handle_transport_error(now, done.id, &what)?;
            }
            Err(failure @ Failure::NoSource) => {
                job.handle_transport_error(now, done.id, &failure)?;
            }
        }
        Ok(())
    }

    fn unconfirmed(&self) -> u64 {
        self.in_flight
            .values()
            .map(|sent| sent.load(Ordering::Relaxed))
            .sum()
    }
}

/// Hands every pending event to the observer: the journal records first, all at once (one sync for
/// the lot), then the files that finished, so that a file is reported only once its records are
/// durable.
fn flush(job: &mut Job, observer: &mut dyn JobObserver) -> Result<(), Error> {
    let mut records = Vec::new();
    let mut finished = Vec::new();
    while let Some(event) = job.poll_event() {
        match event {
            JobEvent::Journal(record) => records.push(record),
            JobEvent::FileFinished { index, outcome } => finished.push((index, outcome)),
        }
    }
    if !records.is_empty() {
        observer.journal_all(&records).map_err(Error::Journal)?;
    }
    for (index, outcome) in finished {
        observer.finished(job, index, &outcome);
    }
    Ok(())
}

/// Performs requests until the runner hangs up.
fn worker(number: usize, transport: &Transport, work: &Receiver<Work>, done: &Sender<Done>) {
    loop {
        let Ok(Work {
            id,
            request,
            file,
            sent,
        }) = work.recv()
        else {
            return;
        };
        let on_sent = &mut |n: u64| {
            sent.fetch_add(n, Ordering::Relaxed);
        };
        let outcome = match (request.body(), &file) {
            (Payload::Range { .. }, Some(path)) => match File::open(path) {
                Ok(mut source) => transport.perform(request, Some(&mut source), on_sent),
                Err(error) => Err(Failure::Source(error)),
            },
            _ => transport.perform(request, None, on_sent),
        };
        let done_with = Done {
            worker: number,
            id,
            outcome,
            file,
        };
        if done.send(done_with).is_err() {
            return;
        }
    }
}
