//! The multi-file job: which uploads run, how finished tokens are grouped into `batchCreate` calls,
//! and what is written to the journal so that a killed run resumes.
//!
//! The job drives the other machines ([`Upload`], the simple upload and `batchCreate`
//! [`Call`]s): up to `concurrency` uploads at once, and at most one Library call that creates
//! something at a time (Google asks that `batchCreate` run serially per user). Like every machine of
//! this crate it does no I/O: [`Job::poll_action`] names the next request, the adapter performs it
//! and reports back; [`Job::poll_event`] yields journal records to persist and files that finished.
//!
//! Quota economy: files that fit in one chunk go by the simple upload (one request instead of two),
//! and tokens are created in calls of 50; a smaller call goes out only when nothing else is left to
//! upload or when its oldest token nears the end of its one-day life.

mod journal;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use http::Response;

pub use self::journal::{FileKey, JournalError, Record};
use crate::library::{
    BatchCreate, BatchCreated, Call, CallAction, CreateAlbum, Destination, ItemFailure,
    ItemOutcome, LibraryError, NewMediaItem, SimpleUpload,
};
use crate::{
    Action, Endpoint, Error, MediaFile, Misuse, RequestId, Transmit, Upload, UploadConfig,
    UploadToken,
};

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFile {
    /// Path, size and modification time: the file's identity in the journal.
    pub key: FileKey,
    /// MIME type, such as `image/jpeg`.
    pub mime_type: String,
    /// The name the media item gets (usually the path's last component).
    pub file_name: Option<String>,
    /// The media item's description.
    pub description: Option<String>,
}

/// The album the items go to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AlbumChoice {
    /// The library only.
    #[default]
    None,
    /// An existing album, by id.
    Existing(String),
    /// A new album with this title, created once (the journal remembers it across reruns).
    Create(String),
}

/// Tunables of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobConfig {
    /// Uploads in flight at once.
    pub concurrency: usize,
    /// Where the items go.
    pub album: AlbumChoice,
    /// Tunables of each upload (chunk size, retries); its seed is varied per file.
    pub upload: UploadConfig,
    /// Files up to this size go by the simple upload (one request). Defaults to the chunk size.
    pub simple_upload_max: u64,
    /// Items per `batchCreate` call (at most 50).
    pub batch_size: usize,
    /// How long an upload token lives (Google: one day).
    pub token_lifetime: Duration,
    /// A partial `batchCreate` goes out once its oldest token is this close to expiry.
    pub token_margin: Duration,
    /// Times a file whose item failed transiently is tried again within a run.
    pub item_attempts: u32,
}

impl Default for JobConfig {
    fn default() -> Self {
        let upload = UploadConfig::default();
        Self {
            concurrency: 4,
            album: AlbumChoice::None,
            simple_upload_max: upload.chunk_size,
            upload,
            batch_size: crate::library::MAX_BATCH,
            token_lifetime: Duration::from_secs(24 * 3600),
            token_margin: Duration::from_secs(2 * 3600),
            item_attempts: 3,
        }
    }
}

/// The current time, as the job needs it: a monotonic instant for waits and wall-clock seconds for
/// token ages that must survive a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// For backoff deadlines.
    pub instant: Instant,
    /// Seconds since the Unix epoch, for the age of upload tokens.
    pub unix: u64,
}

/// A request to perform for the job.
#[derive(Debug)]
pub struct JobTransmit {
    /// The request; a `Payload::Range` body is read from the file at index `file`.
    pub transmit: Transmit,
    /// The index (in the job's file list) of the file whose bytes a `Payload::Range` refers to.
    pub file: Option<usize>,
}

/// What the adapter should do next.
// `Send` dominates and moves straight into I/O; boxing it would allocate for every request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum JobAction {
    /// Perform this request (possibly while others are in flight) and report its outcome.
    Send(JobTransmit),
    /// Nothing to send before this instant unless a reply arrives first.
    WaitUntil(Instant),
    /// Requests are in flight and nothing else can start: wait for a reply.
    AwaitReply,
    /// The access token was refused: refresh it, then call [`Job::token_refreshed`].
    RefreshToken,
    /// Every file has its outcome.
    Finished,
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// The media item exists.
    Created {
        /// Its id.
        media_item_id: String,
    },
    /// A previous run created it (per the journal); nothing was sent.
    AlreadyCreated {
        /// Its id.
        media_item_id: String,
    },
    /// Most likely created, but unconfirmed: never uploaded again, to avoid a duplicate.
    Unconfirmed {
        /// Why.
        reason: String,
    },
    /// Not created; a rerun tries again (resuming its upload where possible).
    Failed(FileError),
}

/// Why a file was not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// The upload failed.
    Upload(Error),
    /// A Library call failed.
    Library(LibraryError),
    /// Google refused the item.
    Refused(ItemFailure),
    /// The album could not be created, so no item was.
    Album(String),
    /// The run stopped before this file (daily quota, or the credentials failed).
    Stopped(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upload(error) => write!(f, "{error}"),
            Self::Library(error) => write!(f, "{error}"),
            Self::Refused(failure) => write!(f, "{failure}"),
            Self::Album(why) => write!(f, "the album is unavailable: {why}"),
            Self::Stopped(why) => write!(f, "not attempted: {why}"),
        }
    }
}

/// Something the adapter must act on besides requests.
// Events are few (one per file and per journal record) and handed straight on.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// Append this record to the journal durably before performing the next request.
    Journal(Record),
    /// The file at this index has its final outcome for this run.
    FileFinished {
        /// Index in the job's file list.
        index: usize,
        /// The outcome.
        outcome: FileOutcome,
    },
}

/// Counts for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobProgress {
    /// Files in the job.
    pub files: usize,
    /// Files with a final outcome.
    pub finished: usize,
    /// Bytes of all files.
    pub bytes: u64,
    /// Bytes the server confirmed (files already uploaded count in full).
    pub bytes_confirmed: u64,
}

/// Where one file stands.
#[derive(Debug, Clone)]
enum FileState {
    /// Not started.
    Pending,
    /// Being uploaded by the task in this slot.
    Uploading,
    /// A resumable upload from the journal, waiting for a slot.
    Resumable(Box<Upload>),
    /// Uploaded; the token waits for a `batchCreate`.
    Uploaded {
        token: UploadToken,
        issued_at: u64,
        /// The token was in a call whose outcome is unknown: re-send with `after_ambiguous`.
        ambiguous: bool,
        /// Sent alone, to find which item made a whole call fail.
        alone: bool,
    },
    /// In the `batchCreate` call in flight.
    Creating {
        token: UploadToken,
        issued_at: u64,
    },
    Finished(FileOutcome),
}

/// A sub-machine at work.
enum Task {
    Upload {
        file: usize,
        upload: Box<Upload>,
    },
    Simple {
        file: usize,
        call: Call<SimpleUpload>,
    },
    Batch {
        files: Vec<usize>,
        call: Call<BatchCreate>,
    },
    Album {
        call: Call<CreateAlbum>,
    },
}

/// What a task reported back, in one shape for all machines.
#[allow(clippy::large_enum_variant)]
enum Step {
    Send(Transmit),
    Wait(Instant),
    Await,
    Refresh,
    End(TaskEnd),
}

enum TaskEnd {
    Token(UploadToken),
    UploadFailed(Error),
    CallFailed(LibraryError),
    Created(BatchCreated),
    Ambiguous(String),
    Album(String),
}

/// The multi-file job.
pub struct Job {
    endpoint: Endpoint,
    config: JobConfig,
    files: Vec<JobFile>,
    states: Vec<FileState>,
    /// How many times each file's item was attempted in this run.
    attempts: Vec<u32>,
    /// Files waiting to upload, in order.
    queue: VecDeque<usize>,
    tasks: BTreeMap<u64, Task>,
    next_task: u64,
    /// Job request id → (task, the task's own request id).
    in_flight: HashMap<RequestId, (u64, RequestId)>,
    next_request: u64,
    album: AlbumState,
    /// Confirmed bytes per uploading file, for progress.
    confirmed: HashMap<usize, u64>,
    /// Per uploading file, how many sessions its upload had opened when its session was last
    /// journaled.
    journaled_sessions: HashMap<usize, u32>,
    events: VecDeque<JobEvent>,
    /// Why the run stopped early (daily quota, credentials): nothing new starts.
    stopped: Option<String>,
    seed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AlbumState {
    None,
    Ready(String),
    ToCreate(String),
    Creating,
    Failed(String),
}

impl Job {
    /// A job over `files`, picking up where `journal` (the records of earlier runs, possibly
    /// empty) left off. Files the journal shows created are reported at once as
    /// [`FileOutcome::AlreadyCreated`] through [`Job::poll_event`].
    pub fn new(
        endpoint: Endpoint,
        files: Vec<JobFile>,
        config: JobConfig,
        journal: &[Record],
        now: Now,
    ) -> Self {
        let (states, album_created) = replay(&files, &config.album, journal);
        let mut job = Self {
            endpoint,
            attempts: vec![0; files.len()],
            queue: VecDeque::new(),
            tasks: BTreeMap::new(),
            next_task: 0,
            in_flight: HashMap::new(),
            next_request: 0,
            album: match (&config.album, album_created) {
                (AlbumChoice::None, _) => AlbumState::None,
                (AlbumChoice::Existing(id), _) => AlbumState::Ready(id.clone()),
                (AlbumChoice::Create(_), Some(id)) => AlbumState::Ready(id),
                (AlbumChoice::Create(title), None) => AlbumState::ToCreate(title.clone()),
            },
            seed: config.upload.seed,
            config,
            files,
            states,
            confirmed: HashMap::new(),
            journaled_sessions: HashMap::new(),
            events: VecDeque::new(),
            stopped: None,
        };
        for i in 0..job.files.len() {
            match &job.states[i] {
                FileState::Finished(outcome) => job.events.push_back(JobEvent::FileFinished {
                    index: i,
                    outcome: outcome.clone(),
                }),
                FileState::Uploaded {
                    issued_at,
                    ambiguous: false,
                    ..
                } if !job.token_fresh(*issued_at, now) => {
                    // Too old to use: upload again. A token whose call's outcome is unknown is
                    // re-sent instead, however old: if that call created the item, a new upload
                    // would make a duplicate, while the re-send can only be refused.
                    job.states[i] = FileState::Pending;
                    job.journal(Record::TokenDropped {
                        file: job.files[i].key.clone(),
                    });
                    job.queue.push_back(i);
                }
                FileState::Pending | FileState::Resumable(_) => job.queue.push_back(i),
                _ => {}
            }
        }
        job
    }

    /// The next request to perform, or what to wait for. Call it until it returns something other
    /// than [`JobAction::Send`] to fill every free slot; drain [`Job::poll_event`] before performing
    /// a returned request.
    pub fn poll_action(&mut self, now: Now) -> JobAction {
        self.start_tasks(now);
        let mut earliest: Option<Instant> = None;
        let mut refresh = false;
        let ids: Vec<u64> = self.tasks.keys().copied().collect();
        for task_id in ids {
            match self.poll_task(task_id, now.instant) {
                Step::Send(transmit) => return JobAction::Send(self.wrap(task_id, transmit)),
                Step::Wait(at) => earliest = Some(earliest.map_or(at, |e| e.min(at))),
                Step::Await => {}
                Step::Refresh => refresh = true,
                Step::End(end) => {
                    if let Some(task) = self.tasks.remove(&task_id) {
                        self.finish_task(task, end, now);
                    }
                    // Finishing may free a slot or fill a batch: look again.
                    return self.poll_action(now);
                }
            }
        }
        if refresh {
            JobAction::RefreshToken
        } else if let Some(at) = earliest {
            JobAction::WaitUntil(at)
        } else if self.in_flight.is_empty() && self.tasks.is_empty() {
            JobAction::Finished
        } else {
            JobAction::AwaitReply
        }
    }

    /// The next journal record or finished file, in order.
    pub fn poll_event(&mut self) -> Option<JobEvent> {
        self.events.pop_front()
    }

    /// Hands back the reply to request `id`.
    ///
    /// # Errors
    /// [`Misuse::UnexpectedReply`] when `id` is not in flight.
    pub fn handle_response<B: AsRef<[u8]>>(
        &mut self,
        now: Now,
        id: RequestId,
        response: &Response<B>,
    ) -> Result<(), Misuse> {
        let (task_id, inner) = self.take(id)?;
        let instant = now.instant;
        match self.tasks.get_mut(&task_id) {
            Some(Task::Upload { upload, .. }) => {
                upload.handle_response(instant, inner, response)?;
            }
            Some(Task::Simple { call, .. }) => call.handle_response(instant, inner, response)?,
            Some(Task::Batch { call, .. }) => call.handle_response(instant, inner, response)?,
            Some(Task::Album { call }) => call.handle_response(instant, inner, response)?,
            None => return Err(Misuse::UnexpectedReply { id }),
        }
        self.after_reply(task_id);
        Ok(())
    }

    /// Reports that request `id` failed in transport (it may have reached the server).
    ///
    /// # Errors
    /// [`Misuse::UnexpectedReply`] when `id` is not in flight.
    pub fn handle_transport_error(
        &mut self,
        now: Now,
        id: RequestId,
        error: &dyn fmt::Display,
    ) -> Result<(), Misuse> {
        let (task_id, inner) = self.take(id)?;
        let instant = now.instant;
        match self.tasks.get_mut(&task_id) {
            Some(Task::Upload { upload, .. }) => {
                upload.handle_transport_error(instant, inner, error)?;
            }
            Some(Task::Simple { call, .. }) => {
                call.handle_transport_error(instant, inner, error)?;
            }
            Some(Task::Batch { call, .. }) => call.handle_transport_error(instant, inner, error)?,
            Some(Task::Album { call }) => call.handle_transport_error(instant, inner, error)?,
            None => return Err(Misuse::UnexpectedReply { id }),
        }
        self.after_reply(task_id);
        Ok(())
    }

    /// Reports that a fresh access token is in place after [`JobAction::RefreshToken`].
    pub fn token_refreshed(&mut self) {
        for task in self.tasks.values_mut() {
            match task {
                Task::Upload { upload, .. } => upload.token_refreshed(),
                Task::Simple { call, .. } => call.token_refreshed(),
                Task::Batch { call, .. } => call.token_refreshed(),
                Task::Album { call } => call.token_refreshed(),
            }
        }
    }

    /// The files, in the order outcomes refer to them.
    pub fn files(&self) -> &[JobFile] {
        &self.files
    }

    /// Counts for a progress display.
    pub fn progress(&self) -> JobProgress {
        let mut progress = JobProgress {
            files: self.files.len(),
            ..JobProgress::default()
        };
        for (i, (file, state)) in self.files.iter().zip(&self.states).enumerate() {
            progress.bytes += file.key.size;
            progress.bytes_confirmed += match state {
                FileState::Pending => 0,
                FileState::Uploading => self.confirmed.get(&i).copied().unwrap_or(0),
                FileState::Resumable(upload) => upload.progress().confirmed,
                FileState::Uploaded { .. }
                | FileState::Creating { .. }
                | FileState::Finished(_) => file.key.size,
            };
            if matches!(state, FileState::Finished(_)) {
                progress.finished += 1;
            }
        }
        progress
    }

    /// Why the run stopped early, if it did (the daily quota, refused credentials).
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    fn take(&mut self, id: RequestId) -> Result<(u64, RequestId), Misuse> {
        self.in_flight
            .remove(&id)
            .ok_or(Misuse::UnexpectedReply { id })
    }

    fn wrap(&mut self, task_id: u64, mut transmit: Transmit) -> JobTransmit {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.in_flight.insert(id, (task_id, transmit.id));
        transmit.id = id;
        let file = match self.tasks.get(&task_id) {
            Some(Task::Upload { file, .. } | Task::Simple { file, .. }) => Some(*file),
            _ => None,
        };
        JobTransmit { transmit, file }
    }

    fn journal(&mut self, record: Record) {
        self.events.push_back(JobEvent::Journal(record));
    }

    fn finish(&mut self, file: usize, outcome: FileOutcome) {
        self.states[file] = FileState::Finished(outcome.clone());
        self.confirmed.remove(&file);
        self.journaled_sessions.remove(&file);
        self.events.push_back(JobEvent::FileFinished {
            index: file,
            outcome,
        });
    }

    /// Journals a resumable upload's session when the upload opens one (its first, or a new one
    /// after the server dropped the old): the session URL is what a rerun needs to resume. Progress
    /// inside a session is not journaled: a restored upload asks the server where it stands anyway
    /// (`Upload::resume` queries), and a record per chunk would put a journal sync (milliseconds on
    /// many disks) between every two chunks of a large file.
    fn after_reply(&mut self, task_id: u64) {
        let Some(Task::Upload { file, upload }) = self.tasks.get(&task_id) else {
            return;
        };
        let (file, confirmed) = (*file, upload.progress().confirmed);
        let sessions = upload.sessions_started();
        self.confirmed.insert(file, confirmed);
        let new_session = sessions > 0
            && self.journaled_sessions.get(&file) != Some(&sessions)
            && confirmed < upload.progress().total;
        if new_session {
            let record = Record::Session {
                file: self.files[file].key.clone(),
                upload: upload.clone(),
            };
            self.journaled_sessions.insert(file, sessions);
            self.journal(record);
        }
    }

    fn uploads_running(&self) -> usize {
        self.tasks
            .values()
            .filter(|t| matches!(t, Task::Upload { .. } | Task::Simple { .. }))
            .count()
    }

    fn creating(&self) -> bool {
        self.tasks
            .values()
            .any(|t| matches!(t, Task::Batch { .. } | Task::Album { .. }))
    }

    fn token_fresh(&self, issued_at: u64, now: Now) -> bool {
        now.unix.saturating_sub(issued_at) < self.config.token_lifetime.as_secs()
    }

    fn start_tasks(&mut self, now: Now) {
        if self.stopped.is_some() {
            self.stop_queue();
            return;
        }
        if let AlbumState::ToCreate(title) = &self.album {
            match CreateAlbum::new(title.clone()) {
                Ok(request) => {
                    let call = Call::new(
                        self.endpoint.clone(),
                        request,
                        self.config.upload.retry,
                        self.seed,
                    );
                    self.album = AlbumState::Creating;
                    self.add_task(Task::Album { call });
                }
                Err(error) => self.album = AlbumState::Failed(error.to_string()),
            }
        }
        while self.uploads_running() < self.config.concurrency.max(1) {
            let Some(file) = self.queue.pop_front() else {
                break;
            };
            self.start_upload(file);
        }
        if !self.creating() {
            self.start_batch(now);
        }
    }

    fn start_upload(&mut self, file: usize) {
        let spec = &self.files[file];
        let media = MediaFile {
            size: spec.key.size,
            mime_type: spec.mime_type.clone(),
            file_name: spec.file_name.clone(),
        };
        let state = std::mem::replace(&mut self.states[file], FileState::Uploading);
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let task = match state {
            FileState::Resumable(mut upload) => {
                upload.resume();
                self.confirmed.insert(file, upload.progress().confirmed);
                // Its session is in the journal already: the record it was restored from.
                self.journaled_sessions
                    .insert(file, upload.sessions_started());
                Task::Upload { file, upload }
            }
            _ if media.size <= self.config.simple_upload_max => match SimpleUpload::new(&media) {
                Ok(request) => Task::Simple {
                    file,
                    call: Call::new(
                        self.endpoint.clone(),
                        request,
                        self.config.upload.retry,
                        self.seed,
                    ),
                },
                Err(error) => {
                    let error = FileError::Library(LibraryError::Invalid(error));
                    self.finish(file, FileOutcome::Failed(error));
                    return;
                }
            },
            _ => {
                let config = UploadConfig {
                    seed: self.seed,
                    ..self.config.upload.clone()
                };
                match Upload::new(self.endpoint.clone(), media, config) {
                    Ok(upload) => Task::Upload {
                        file,
                        upload: Box::new(upload),
                    },
                    Err(error) => {
                        self.finish(file, FileOutcome::Failed(FileError::Upload(error)));
                        return;
                    }
                }
            }
        };
        self.add_task(task);
    }

    /// Sends a `batchCreate` when one is due: a full call, or a partial one when nothing else is
    /// left to upload or a token nears expiry.
    fn start_batch(&mut self, now: Now) {
        let destination = match &self.album {
            AlbumState::None => Destination::library(),
            AlbumState::Ready(id) => Destination::album(id.clone()),
            AlbumState::ToCreate(_) | AlbumState::Creating => return,
            AlbumState::Failed(why) => {
                let why = why.clone();
                for file in 0..self.files.len() {
                    if matches!(self.states[file], FileState::Uploaded { .. }) {
                        self.finish(file, FileOutcome::Failed(FileError::Album(why.clone())));
                    }
                }
                return;
            }
        };
        let Some((files, ambiguous)) = self.due_batch(now) else {
            return;
        };
        let items: Vec<NewMediaItem> = files.iter().filter_map(|&i| self.new_item(i)).collect();
        let request = match BatchCreate::new(items, &destination) {
            Ok(request) if ambiguous => request.after_ambiguous(),
            Ok(request) => request,
            Err(error) => {
                // Invalid input (a name or description too long): those files cannot be created.
                let error = FileError::Library(LibraryError::Invalid(error));
                for file in files {
                    self.finish(file, FileOutcome::Failed(error.clone()));
                }
                return;
            }
        };
        self.journal(Record::Creating {
            files: files.iter().map(|i| self.files[*i].key.clone()).collect(),
        });
        for &file in &files {
            self.attempts[file] += 1;
            let state = std::mem::replace(&mut self.states[file], FileState::Pending);
            if let FileState::Uploaded {
                token, issued_at, ..
            } = state
            {
                self.states[file] = FileState::Creating { token, issued_at };
            }
        }
        self.seed = self.seed.wrapping_add(1);
        let call = Call::new(
            self.endpoint.clone(),
            request,
            self.config.upload.retry,
            self.seed,
        );
        self.add_task(Task::Batch { files, call });
    }

    /// The files of the `batchCreate` call that is due, if one is, and whether it re-sends an
    /// ambiguous call. Ambiguous and isolated tokens go in calls of their own kind.
    fn due_batch(&self, now: Now) -> Option<(Vec<usize>, bool)> {
        let ready: Vec<(usize, bool, bool, u64)> = (0..self.files.len())
            .filter_map(|i| match &self.states[i] {
                FileState::Uploaded {
                    ambiguous,
                    alone,
                    issued_at,
                    ..
                } => Some((i, *ambiguous, *alone, *issued_at)),
                _ => None,
            })
            .collect();
        let &(_, ambiguous, alone, _) = ready.first()?;
        let size = if alone {
            1
        } else {
            self.config.batch_size.clamp(1, crate::library::MAX_BATCH)
        };
        let group: Vec<(usize, u64)> = ready
            .iter()
            .filter(|(_, a, l, _)| *a == ambiguous && *l == alone)
            .take(size)
            .map(|(i, _, _, at)| (*i, *at))
            .collect();
        let more_to_come = !self.queue.is_empty() || self.uploads_running() > 0;
        let oldest = group.iter().map(|(_, at)| *at).min().unwrap_or(now.unix);
        let deadline = self
            .config
            .token_lifetime
            .saturating_sub(self.config.token_margin)
            .as_secs();
        let due =
            group.len() >= size || !more_to_come || now.unix.saturating_sub(oldest) >= deadline;
        due.then(|| (group.into_iter().map(|(i, _)| i).collect(), ambiguous))
    }

    /// The `batchCreate` item of an uploaded file.
    fn new_item(&self, file: usize) -> Option<NewMediaItem> {
        let FileState::Uploaded { token, .. } = &self.states[file] else {
            return None;
        };
        let spec = &self.files[file];
        let mut item = NewMediaItem::new(token.clone());
        if let Some(name) = &spec.file_name {
            item = item.with_file_name(name.clone());
        }
        if let Some(description) = &spec.description {
            item = item.with_description(description.clone());
        }
        Some(item)
    }

    fn add_task(&mut self, task: Task) {
        self.tasks.insert(self.next_task, task);
        self.next_task += 1;
    }

    fn poll_task(&mut self, task_id: u64, now: Instant) -> Step {
        let Some(task) = self.tasks.get_mut(&task_id) else {
            return Step::Await;
        };
        match task {
            Task::Upload { upload, .. } => match upload.poll_action(now) {
                Action::Send(t) => Step::Send(t),
                Action::WaitUntil(at) => Step::Wait(at),
                Action::AwaitReply => Step::Await,
                Action::RefreshToken => Step::Refresh,
                Action::Done(token) => Step::End(TaskEnd::Token(token)),
                Action::Failed(error) => Step::End(TaskEnd::UploadFailed(error)),
            },
            Task::Simple { call, .. } => call_step(call.poll_action(now), TaskEnd::Token),
            Task::Batch { call, .. } => call_step(call.poll_action(now), TaskEnd::Created),
            Task::Album { call } => {
                call_step(call.poll_action(now), |album| TaskEnd::Album(album.id))
            }
        }
    }

    fn finish_task(&mut self, task: Task, end: TaskEnd, now: Now) {
        match (task, end) {
            (Task::Album { .. }, TaskEnd::Album(album_id)) => {
                if let AlbumChoice::Create(title) = &self.config.album {
                    let title = title.clone();
                    self.journal(Record::AlbumCreated {
                        title,
                        album_id: album_id.clone(),
                    });
                }
                self.album = AlbumState::Ready(album_id);
            }
            (Task::Album { .. }, TaskEnd::CallFailed(error)) => {
                self.stop_if_fatal_library(&error);
                self.album = AlbumState::Failed(error.to_string());
            }
            (Task::Album { .. }, TaskEnd::Ambiguous(why)) => {
                self.album = AlbumState::Failed(format!(
                    "whether the album was created is unknown ({why}); look for it in Google Photos \
                     and rerun with its id, or rerun to create another"
                ));
            }
            (Task::Upload { file, .. } | Task::Simple { file, .. }, TaskEnd::Token(token)) => {
                self.confirmed.remove(&file);
                self.journaled_sessions.remove(&file);
                self.journal(Record::Uploaded {
                    file: self.files[file].key.clone(),
                    token: token.clone(),
                    issued_at: now.unix,
                });
                self.states[file] = FileState::Uploaded {
                    token,
                    issued_at: now.unix,
                    ambiguous: false,
                    alone: false,
                };
            }
            (Task::Upload { file, .. }, TaskEnd::UploadFailed(error)) => {
                if matches!(error, Error::DailyQuota | Error::Unauthorized) {
                    self.stop(error.to_string());
                }
                // The journal holds the session: a rerun resumes it.
                self.finish(file, FileOutcome::Failed(FileError::Upload(error)));
            }
            (Task::Simple { file, .. }, TaskEnd::CallFailed(error)) => {
                self.stop_if_fatal_library(&error);
                self.finish(file, FileOutcome::Failed(FileError::Library(error)));
            }
            (Task::Simple { file, .. }, TaskEnd::Ambiguous(why)) => {
                let error = LibraryError::Protocol { detail: why };
                self.finish(file, FileOutcome::Failed(FileError::Library(error)));
            }
            (Task::Batch { files, .. }, TaskEnd::Created(created)) => {
                self.on_created(&files, created);
            }
            (Task::Batch { files, .. }, TaskEnd::CallFailed(error)) => {
                self.stop_if_fatal_library(&error);
                // The server acted on nothing: the tokens are intact. A refused call of several
                // items is split up to find the culprit.
                let split = matches!(error, LibraryError::Rejected { status: 400, .. })
                    && files.len() > 1
                    && self.stopped.is_none();
                for file in files {
                    let FileState::Creating { token, issued_at } =
                        std::mem::replace(&mut self.states[file], FileState::Pending)
                    else {
                        continue;
                    };
                    if split {
                        self.states[file] = FileState::Uploaded {
                            token,
                            issued_at,
                            ambiguous: false,
                            alone: true,
                        };
                    } else {
                        // A refused call may be about the token itself (expired, unknown): a
                        // rerun uploads afresh. After a quota stop, an unusable credential or
                        // exhausted retries the token is still good, and a rerun reuses it.
                        if matches!(
                            error,
                            LibraryError::Rejected { .. } | LibraryError::Invalid(_)
                        ) {
                            let key = self.files[file].key.clone();
                            self.journal(Record::TokenDropped { file: key });
                        } else {
                            self.states[file] = FileState::Uploaded {
                                token,
                                issued_at,
                                ambiguous: false,
                                alone: false,
                            };
                        }
                        self.finish(file, FileOutcome::Failed(FileError::Library(error.clone())));
                    }
                }
            }
            (Task::Batch { files, .. }, TaskEnd::Ambiguous(why)) => {
                for file in files {
                    self.retry_ambiguous(file, &why);
                }
            }
            // Each task ends only in the shapes above.
            (_, _) => debug_assert!(false, "a task ended in a way its machine cannot"),
        }
    }

    /// The item's fate is unknown: re-send its token (marked, so a refusal reads as "already
    /// created"), or leave that to a rerun (the journal's last word on it is `Creating`).
    fn retry_ambiguous(&mut self, file: usize, why: &str) {
        let FileState::Creating { token, issued_at } =
            std::mem::replace(&mut self.states[file], FileState::Pending)
        else {
            return;
        };
        if self.attempts[file] < self.config.item_attempts && self.stopped.is_none() {
            self.states[file] = FileState::Uploaded {
                token,
                issued_at,
                ambiguous: true,
                alone: false,
            };
        } else {
            let error = LibraryError::Protocol {
                detail: format!(
                    "the outcome of creating the item is unknown ({why}); rerun to settle it"
                ),
            };
            self.finish(file, FileOutcome::Failed(FileError::Library(error)));
        }
    }

    fn on_created(&mut self, files: &[usize], created: BatchCreated) {
        for (&file, result) in files.iter().zip(created.items) {
            let key = self.files[file].key.clone();
            match result.outcome {
                ItemOutcome::Created(item) => {
                    self.journal(Record::Created {
                        file: key,
                        media_item_id: item.id.clone(),
                    });
                    self.finish(
                        file,
                        FileOutcome::Created {
                            media_item_id: item.id,
                        },
                    );
                }
                ItemOutcome::Failed(failure) => {
                    let retry = failure.is_transient()
                        && self.attempts[file] < self.config.item_attempts
                        && self.stopped.is_none();
                    if let (true, FileState::Creating { token, issued_at }) = (
                        retry,
                        std::mem::replace(&mut self.states[file], FileState::Pending),
                    ) {
                        self.states[file] = FileState::Uploaded {
                            token,
                            issued_at,
                            ambiguous: false,
                            alone: false,
                        };
                    } else {
                        // Not created; the token may be spent, so a rerun uploads afresh.
                        self.journal(Record::TokenDropped { file: key });
                        self.finish(file, FileOutcome::Failed(FileError::Refused(failure)));
                    }
                }
                ItemOutcome::Unconfirmed(why) => {
                    let reason = match why {
                        crate::library::Unconfirmed::SuccessWithoutMediaItem { message } => {
                            format!("Google reported success without the media item ({message})")
                        }
                        crate::library::Unconfirmed::TokenSpent(failure) => format!(
                            "an earlier call whose reply was lost most likely created it ({failure})"
                        ),
                    };
                    self.journal(Record::Unconfirmed {
                        file: key,
                        reason: reason.clone(),
                    });
                    self.finish(file, FileOutcome::Unconfirmed { reason });
                }
                ItemOutcome::NoResult => {
                    self.retry_ambiguous(file, "the reply held no result for it");
                }
            }
        }
    }

    fn stop_if_fatal_library(&mut self, error: &LibraryError) {
        if matches!(error, LibraryError::DailyQuota | LibraryError::Unauthorized) {
            self.stop(error.to_string());
        }
    }

    /// Nothing new starts; files not yet under way are reported as not attempted.
    fn stop(&mut self, why: String) {
        if self.stopped.is_none() {
            self.stopped = Some(why);
        }
        self.stop_queue();
    }

    fn stop_queue(&mut self) {
        let why = self.stopped.clone().unwrap_or_default();
        while let Some(file) = self.queue.pop_front() {
            self.finish(file, FileOutcome::Failed(FileError::Stopped(why.clone())));
        }
        for file in 0..self.files.len() {
            if matches!(self.states[file], FileState::Uploaded { .. }) {
                // The token stays in the journal; a rerun (within a day) creates the item.
                self.finish(file, FileOutcome::Failed(FileError::Stopped(why.clone())));
            }
        }
    }
}

/// Where each file stands after the journal's records, and the album a previous run created.
fn replay(
    files: &[JobFile],
    album: &AlbumChoice,
    journal: &[Record],
) -> (Vec<FileState>, Option<String>) {
    let index: HashMap<&FileKey, usize> =
        files.iter().enumerate().map(|(i, f)| (&f.key, i)).collect();
    let mut states = vec![FileState::Pending; files.len()];
    let mut album_created = None;
    for record in journal {
        let file = |key: &FileKey| index.get(key).copied();
        match record {
            Record::AlbumCreated { title, album_id } => {
                if *album == AlbumChoice::Create(title.clone()) {
                    album_created = Some(album_id.clone());
                }
            }
            Record::Session { file: key, upload } => {
                // A session of another size is not this file's (a damaged or edited journal): it
                // would ask for bytes the file does not have, so the file starts afresh instead.
                if let Some(i) = file(key)
                    && upload.file().size == key.size
                {
                    states[i] = FileState::Resumable(upload.clone());
                }
            }
            Record::Uploaded {
                file: key,
                token,
                issued_at,
            } => {
                if let Some(i) = file(key) {
                    states[i] = FileState::Uploaded {
                        token: token.clone(),
                        issued_at: *issued_at,
                        ambiguous: false,
                        alone: false,
                    };
                }
            }
            Record::Creating { files: keys } => {
                // Until an outcome follows, the call's fate is unknown.
                for i in keys.iter().filter_map(file) {
                    if let FileState::Uploaded { ambiguous, .. } = &mut states[i] {
                        *ambiguous = true;
                    }
                }
            }
            Record::Created {
                file: key,
                media_item_id,
            } => {
                if let Some(i) = file(key) {
                    states[i] = FileState::Finished(FileOutcome::AlreadyCreated {
                        media_item_id: media_item_id.clone(),
                    });
                }
            }
            Record::Unconfirmed { file: key, reason } => {
                if let Some(i) = file(key) {
                    states[i] = FileState::Finished(FileOutcome::Unconfirmed {
                        reason: reason.clone(),
                    });
                }
            }
            Record::TokenDropped { file: key } => {
                if let Some(i) = file(key) {
                    states[i] = FileState::Pending;
                }
            }
        }
    }
    (states, album_created)
}

/// Maps a Library call's action onto the job's task step.
fn call_step<T>(action: CallAction<T>, done: impl FnOnce(T) -> TaskEnd) -> Step {
    match action {
        CallAction::Send(t) => Step::Send(t),
        CallAction::WaitUntil(at) => Step::Wait(at),
        CallAction::AwaitReply => Step::Await,
        CallAction::RefreshToken => Step::Refresh,
        CallAction::Done(output) => Step::End(done(output)),
        CallAction::Failed(error) => Step::End(TaskEnd::CallFailed(error)),
        CallAction::Ambiguous(ambiguity) => Step::End(TaskEnd::Ambiguous(ambiguity.to_string())),
    }
}
