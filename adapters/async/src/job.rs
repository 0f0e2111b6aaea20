//! The driver of the core's multi-file [`Job`]: many requests in flight at once, inside one future.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::Poll;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use gphotos_upload::job::{FileError, FileOutcome, Job, JobAction, JobEvent, JobFile, Now, Record};
use gphotos_upload::{AccessToken, Payload, RequestId};

use crate::body::{BodyOutcome, RequestBody};
use crate::frame::Frames;
use crate::{Authorizer, DriveError, Driver, Source, Transport};

/// What a job run hands to the caller besides requests: journal records to persist, and files that
/// reached their outcome (for progress displays and reports).
pub trait JobObserver {
    /// Appends `record` to the journal durably (append and flush to disk, or write and rename)
    /// before the job's next request goes out. A failure stops the run: without its journal, a
    /// rerun could create items twice.
    ///
    /// # Errors
    /// The I/O error.
    fn journal(&mut self, record: Record) -> impl Future<Output = io::Result<()>>;

    /// File `index` reached `outcome` in this run.
    fn finished(&mut self, index: usize, outcome: &FileOutcome) {
        let _ = (index, outcome);
    }

    /// The job took in a reply (or a failure): a chance to show progress, for example
    /// [`Job::progress`] at most a few times a second (it walks every file).
    fn after_reply(&mut self, job: &Job) {
        let _ = job;
    }
}

/// What one request of the job came back with, and what it borrowed.
struct Returned<S> {
    id: RequestId,
    file: Option<(usize, S)>,
    frames: Frames,
    outcome: Outcome,
}

enum Outcome {
    Reply(http::Response<Vec<u8>>),
    NoReply(String),
}

/// The job and the requests it has in flight. If a run is dropped mid-flight, every such request
/// is reported to the job as interrupted, so that the job (kept by the caller) stays consistent;
/// its journal lets a new process resume as well.
struct Guard<'j> {
    job: &'j mut Job,
    in_flight: HashSet<RequestId>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let now = now();
        for id in self.in_flight.drain() {
            let accepted =
                self.job
                    .handle_transport_error(now, id, &"the request was abandoned mid-flight");
            debug_assert!(accepted.is_ok(), "the driver reports its own requests");
        }
    }
}

fn now() -> Now {
    Now {
        instant: Instant::now(),
        unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    }
}

impl<T: Transport, A: Authorizer> Driver<T, A> {
    /// Runs a multi-file [`Job`] to its end: up to the job's concurrency of uploads in flight at
    /// once, `batchCreate` calls as the job groups them, the album if it creates one. Every
    /// decision is the job's; this loop performs its requests, persists its journal records through
    /// `observer` before the next request, and reports finished files.
    ///
    /// `open` gives the source of file `index` when its bytes are first needed; the source is
    /// dropped (closing the file) once the file has its outcome, so at most the job's concurrency
    /// of files are open. Memory: the frames of each request in flight ([`crate::FRAME_SIZE`]
    /// each, a few per request), reused.
    ///
    /// A source that cannot be read counts as a failed request for that file (the job retries it
    /// within its bounds, then reports the file failed); other files go on.
    ///
    /// Returns each file's outcome, in the order of [`Job::files`]. Dropping the future leaves the
    /// job consistent (requests in flight count as interrupted), and the journal lets a new `Job`
    /// resume the run in another process.
    ///
    /// # Errors
    /// [`DriveError::Journal`] when a record cannot be persisted, [`DriveError::Auth`] when no
    /// token can be had (the job, and its journal, resume later).
    pub async fn run_job<S, F, O>(
        &self,
        job: &mut Job,
        mut open: F,
        observer: &mut O,
    ) -> Result<Vec<FileOutcome>, DriveError>
    where
        S: Source,
        F: FnMut(usize, &JobFile) -> S,
        O: JobObserver,
    {
        let files = job.files().len();
        let mut outcomes: Vec<Option<FileOutcome>> = vec![None; files];
        let mut sources: Vec<Option<S>> = (0..files).map(|_| None).collect();
        let mut pools: Vec<Frames> = Vec::new();
        let mut running = FuturesUnordered::new();
        let mut sent: Option<AccessToken> = None;
        let mut guard = Guard {
            job,
            in_flight: HashSet::new(),
        };
        loop {
            drain_events(&mut guard, observer, &mut outcomes, &mut sources).await?;
            let token = self.auth.token().await.map_err(DriveError::Auth)?;
            let returned = match guard.job.poll_action(now()) {
                JobAction::Send(request) => {
                    // The job may have emitted records with this request (a batchCreate is
                    // journalled before it goes out).
                    drain_events(&mut guard, observer, &mut outcomes, &mut sources).await?;
                    let transmit = request.transmit;
                    let file = match (transmit.request.body(), request.file) {
                        (Payload::Range { .. }, Some(index)) if index < files => {
                            let source = sources[index]
                                .take()
                                .unwrap_or_else(|| open(index, &guard.job.files()[index]));
                            Some((index, source))
                        }
                        _ => None,
                    };
                    guard.in_flight.insert(transmit.id);
                    let frames = pools.pop().unwrap_or_default();
                    let (id, token_sent) = (transmit.id, token.clone());
                    running.push(async move {
                        let mut returned = Returned {
                            id,
                            file,
                            frames,
                            outcome: Outcome::NoReply(String::new()),
                        };
                        returned.outcome = self
                            .perform(transmit, token_sent.as_ref(), &mut returned)
                            .await;
                        returned
                    });
                    sent = token;
                    continue;
                }
                JobAction::WaitUntil(deadline) => {
                    let sleep = pin!(self.transport.sleep_until(deadline));
                    next_or(&mut running, sleep).await
                }
                JobAction::AwaitReply => match running.next().await {
                    Some(returned) => Some(returned),
                    None => return Err(DriveError::ForeignRequestInFlight),
                },
                JobAction::RefreshToken => {
                    self.auth
                        .refresh(sent.as_ref())
                        .await
                        .map_err(DriveError::Auth)?;
                    guard.job.token_refreshed();
                    None
                }
                JobAction::Finished => break,
            };
            if let Some(returned) = returned {
                guard.in_flight.remove(&returned.id);
                let now = now();
                let accepted = match &returned.outcome {
                    Outcome::Reply(response) => {
                        guard.job.handle_response(now, returned.id, response)
                    }
                    Outcome::NoReply(error) => {
                        guard.job.handle_transport_error(now, returned.id, error)
                    }
                };
                debug_assert!(accepted.is_ok(), "the driver reports its own requests");
                observer.after_reply(guard.job);
                if let Some((index, source)) = returned.file
                    && outcomes[index].is_none()
                {
                    sources[index] = Some(source);
                }
                pools.push(returned.frames);
            }
        }
        drain_events(&mut guard, observer, &mut outcomes, &mut sources).await?;
        Ok(outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| {
                    FileOutcome::Failed(FileError::Stopped("the job reported no outcome".into()))
                })
            })
            .collect())
    }

    /// Sends one request of the job, streaming its body (if any) from the file.
    async fn perform<S: Source>(
        &self,
        transmit: gphotos_upload::Transmit,
        token: Option<&AccessToken>,
        returned: &mut Returned<S>,
    ) -> Outcome {
        let (parts, payload) = transmit.authorize(token).into_parts();
        let mut body = BodyOutcome::default();
        let source = returned.file.as_mut().map(|(_, source)| source);
        let sent = self
            .transport
            .send(http::Request::from_parts(
                parts,
                RequestBody::new(payload, source, &returned.frames, &mut body),
            ))
            .await;
        if let Some(error) = body.failure {
            // The server never got the whole body: a reply, if any, does not answer this request.
            return Outcome::NoReply(format!("could not read the file: {error}"));
        }
        match sent {
            Ok(response) => Outcome::Reply(response),
            Err(error) => Outcome::NoReply(error.to_string()),
        }
    }
}

async fn drain_events<O: JobObserver, S>(
    guard: &mut Guard<'_>,
    observer: &mut O,
    outcomes: &mut [Option<FileOutcome>],
    sources: &mut [Option<S>],
) -> Result<(), DriveError> {
    while let Some(event) = guard.job.poll_event() {
        match event {
            JobEvent::Journal(record) => observer
                .journal(record)
                .await
                .map_err(DriveError::Journal)?,
            JobEvent::FileFinished { index, outcome } => {
                observer.finished(index, &outcome);
                if let (Some(slot), Some(source)) =
                    (outcomes.get_mut(index), sources.get_mut(index))
                {
                    *source = None;
                    *slot = Some(outcome);
                }
            }
        }
    }
    Ok(())
}

/// The next request to come back, or `None` when `deadline` comes first.
async fn next_or<F: Future, D: Future<Output = ()> + Unpin>(
    running: &mut FuturesUnordered<F>,
    mut deadline: D,
) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        if !running.is_empty()
            && let Poll::Ready(Some(output)) = running.poll_next_unpin(cx)
        {
            return Poll::Ready(Some(output));
        }
        std::pin::Pin::new(&mut deadline).poll(cx).map(|()| None)
    })
    .await
}
