//! `gphotos-upload upload`: many files, resumable, crash-safe.
//!
//! The core's job decides everything (which upload runs, where each resumes, when items are
//! created); the ureq adapter performs its requests on worker threads; this module finds the
//! files, keeps the journal, and tells the user what happened.

mod journal;
mod progress;
mod report;
mod scan;

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gphotos_upload::job::{AlbumChoice, FileOutcome, Job, JobConfig, JobFile, JobProgress, Record};
use gphotos_upload::oauth::Scope;
use gphotos_upload::{Endpoint, RetryPolicy, UploadConfig};
use gphotos_upload_ureq::oauth::{Exchanger, load_token_file};
use gphotos_upload_ureq::{Client, Credentials, JobObserver, Journal, Timeouts};

use self::progress::Progress;
use self::report::Report;
pub use self::report::{FileResult, Status};
use self::scan::{Found, MediaInput};
use crate::args::{Tuning, UploadArgs};
use crate::failure::Failure;
use crate::places::default_token_file;

/// Longest description Google accepts (characters).
const MAX_DESCRIPTION: usize = 1000;

/// Everything an upload run needs, whichever command asked for it (`upload` or `demo`).
#[derive(Debug, Clone)]
pub struct Options {
    /// The API root.
    pub endpoint: Endpoint,
    /// Files and directories.
    pub paths: Vec<PathBuf>,
    /// Where the items go.
    pub album: AlbumChoice,
    /// Description of every item.
    pub description: Option<String>,
    /// Files at once.
    pub concurrency: usize,
    /// Bytes per request.
    pub chunk_size: u64,
    /// The journal; `None` picks the default for these inputs.
    pub journal: Option<PathBuf>,
    /// JSON lines on stdout.
    pub json: bool,
    /// Draw the progress display (when stderr is a terminal).
    pub progress: bool,
    /// Retries.
    pub retry: RetryPolicy,
    /// Network timeouts.
    pub timeouts: Timeouts,
}

/// What an upload run did.
#[derive(Debug)]
pub struct Outcome {
    /// Every input file's result, in the order they finished.
    pub results: Vec<FileResult>,
    /// Whether every file was created (skipped ones aside).
    pub all_created: bool,
}

/// `gphotos-upload upload`: resolves credentials and options, runs, and prints.
///
/// # Errors
/// A usage failure for bad options or missing credentials (nothing was attempted).
pub fn run(args: &UploadArgs) -> Result<Outcome, Failure> {
    let options = options(args)?;
    let credentials = credentials(args.token_file.as_ref(), &options)?;
    execute(&options, credentials)
}

fn options(args: &UploadArgs) -> Result<Options, Failure> {
    let endpoint =
        Endpoint::parse(&args.endpoint).map_err(|e| Failure::usage(format!("--endpoint: {e}")))?;
    if let Some(description) = &args.description
        && description.chars().count() >= MAX_DESCRIPTION
    {
        return Err(Failure::usage(format!(
            "--description is {} characters; Google accepts fewer than {MAX_DESCRIPTION}",
            description.chars().count()
        )));
    }
    let album = match (&args.album, &args.album_title) {
        (Some(id), _) if id.trim().is_empty() => {
            return Err(Failure::usage("--album needs an album id"));
        }
        (Some(id), _) => AlbumChoice::Existing(id.clone()),
        (None, Some(title)) if title.trim().is_empty() => {
            return Err(Failure::usage("--album-title needs a title"));
        }
        (None, Some(title)) => AlbumChoice::Create(title.clone()),
        (None, None) => AlbumChoice::None,
    };
    Ok(Options {
        endpoint,
        paths: args.paths.clone(),
        album,
        description: args.description.clone(),
        concurrency: usize::from(args.concurrency),
        chunk_size: args.chunk_size,
        journal: args.journal.clone(),
        json: args.json,
        progress: !args.no_progress,
        retry: retry_policy(&args.tuning),
        timeouts: args
            .tuning
            .timeout
            .map_or_else(Timeouts::default, Timeouts::uniform),
    })
}

fn retry_policy(tuning: &Tuning) -> RetryPolicy {
    RetryPolicy {
        initial: tuning.retry_initial,
        max_delay: tuning.retry_max_delay.max(tuning.retry_initial),
        throttle_floor: tuning.retry_floor,
        max_attempts: tuning.retry_attempts,
        ..RetryPolicy::default()
    }
}

/// `GPHOTOS_ACCESS_TOKEN` when set, else the token file.
fn credentials(token_file: Option<&PathBuf>, options: &Options) -> Result<Credentials, Failure> {
    if let Ok(token) = std::env::var("GPHOTOS_ACCESS_TOKEN")
        && !token.trim().is_empty()
    {
        tracing::info!("using the access token from GPHOTOS_ACCESS_TOKEN");
        return Ok(Credentials::bearer(token.trim()));
    }
    let path = match token_file {
        Some(path) => path.clone(),
        None => default_token_file()?,
    };
    if !path.exists() {
        return Err(Failure::usage(format!(
            "no credentials: there is no token file at {}; run `gphotos-upload auth login \
             --client-secrets client_secret.json` first, pass --token-file, or set \
             GPHOTOS_ACCESS_TOKEN",
            path.display()
        )));
    }
    let file = load_token_file(&path).map_err(|e| Failure::usage(e.to_string()))?;
    if file
        .missing_scopes(&[Scope::AppendOnly])
        .contains(&Scope::AppendOnly)
    {
        eprintln!(
            "warning: the token in {} lacks the appendonly scope that uploading needs; run \
             `gphotos-upload auth login` again if uploads are refused",
            path.display()
        );
    }
    tracing::info!(token_file = %path.display(), "using the token file");
    let exchanger = Exchanger::new(options.retry, options.timeouts);
    Credentials::token_file_with(path, exchanger).map_err(|e| Failure::usage(e.to_string()))
}

/// Runs an upload with the given credentials: the code path of `upload` and `demo` alike.
///
/// # Errors
/// A usage failure when the journal location cannot be found; a runtime failure when the journal
/// cannot be opened. Per-file failures are not errors: they are in the outcome.
pub fn execute(options: &Options, credentials: Credentials) -> Result<Outcome, Failure> {
    let album_key = match &options.album {
        AlbumChoice::None => String::new(),
        AlbumChoice::Existing(id) => format!("id:{id}"),
        AlbumChoice::Create(title) => format!("title:{title}"),
    };
    let journal_path = match &options.journal {
        Some(path) => path.clone(),
        None => journal::default_path(&options.endpoint, &options.paths, &album_key)?,
    };
    let mut journal = journal::open(&journal_path)?;
    let records = journal.take_records();
    tracing::info!(journal = %journal.path().display(), records = records.len(), "journal opened");

    let mut report = Report::new(options.json);
    let media = find_media(&options.paths, &mut report);
    if media.is_empty() {
        eprintln!("gphotos-upload: {}", report.summary(0));
        return Ok(Outcome {
            all_created: report.all_created(),
            results: report.results().to_vec(),
        });
    }

    let files: Vec<JobFile> = media
        .iter()
        .map(|input| JobFile {
            key: input.key.clone(),
            mime_type: input.mime_type.to_owned(),
            file_name: input.file_name.clone(),
            description: options.description.clone(),
        })
        .collect();
    let config = JobConfig {
        concurrency: options.concurrency,
        album: options.album.clone(),
        upload: UploadConfig {
            chunk_size: options.chunk_size,
            retry: options.retry,
            seed: seed(),
            ..UploadConfig::default()
        },
        simple_upload_max: options.chunk_size,
        ..JobConfig::default()
    };
    let client = Client::builder(options.endpoint.clone(), credentials)
        .chunk_size(options.chunk_size)
        .retry(options.retry)
        .timeouts(options.timeouts)
        .max_idle_connections(options.concurrency + 2)
        .user_agent(concat!("gphotos-upload/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let mut job = client.new_job(files, config, &records);
    drop(records);

    let total: u64 = media.iter().map(|m| m.key.size).sum();
    let mut sink = Sink {
        journal: &mut journal,
        report: &mut report,
        progress: Progress::new(options.progress, total, media.len()),
        media: &media,
        done: vec![false; media.len()],
        bytes_created: 0,
    };
    let started = Instant::now();
    let run = client.run_job(&mut job, options.concurrency + 1, &mut sink);
    sink.progress.finish();
    if let Err(error) = &run {
        tracing::warn!(%error, "the run stopped");
        sink.fail_unfinished(&format!("not finished: {error}"));
    }
    let bytes_created = sink.bytes_created;
    tracing::info!(elapsed = ?started.elapsed(), bytes = bytes_created, "run over");
    eprintln!("gphotos-upload: {}", report.summary(bytes_created));
    if let Some(why) = job.stopped() {
        eprintln!("gphotos-upload: the run stopped early: {why}");
    }
    if let Err(error) = run {
        eprintln!("gphotos-upload: {error}");
    }
    if report.retryable() {
        eprintln!(
            "gphotos-upload: rerun the same command to retry the failed files; it resumes from \
             the journal {}",
            journal.path().display()
        );
    }
    Ok(Outcome {
        all_created: report.all_created(),
        results: report.results().to_vec(),
    })
}

/// Scans the inputs, reports skipped and unreadable ones at once, and returns the media files.
fn find_media(paths: &[PathBuf], report: &mut Report) -> Vec<MediaInput> {
    let quiet = Progress::new(false, 0, 0);
    let mut media = Vec::new();
    for item in scan::scan(paths) {
        match item {
            Found::Media(input) => media.push(input),
            Found::Skipped { shown, reason } => {
                report.file(&quiet, &shown, Status::Skipped(reason));
            }
            Found::Unreadable { shown, reason } => {
                report.file(&quiet, &shown, Status::Failed(reason));
            }
        }
    }
    media
}

/// The job's observer: journal first, then the report and the progress display.
struct Sink<'a> {
    journal: &'a mut Journal,
    report: &'a mut Report,
    progress: Progress,
    media: &'a [MediaInput],
    done: Vec<bool>,
    bytes_created: u64,
}

impl Sink<'_> {
    /// Reports every file without an outcome as failed for `why`.
    fn fail_unfinished(&mut self, why: &str) {
        for (input, done) in self.media.iter().zip(&mut self.done) {
            if !std::mem::replace(done, true) {
                self.report
                    .file(&self.progress, &input.shown, Status::Failed(why.to_owned()));
            }
        }
    }
}

impl JobObserver for Sink<'_> {
    fn journal(&mut self, record: &Record) -> io::Result<()> {
        self.journal_all(std::slice::from_ref(record))
    }

    fn journal_all(&mut self, records: &[Record]) -> io::Result<()> {
        for record in records {
            if let Record::Session { upload, .. } = record {
                let progress = upload.progress();
                tracing::debug!(
                    uploader_id = upload.upload_id().unwrap_or("-"),
                    confirmed = progress.confirmed,
                    total = progress.total,
                    "journal: {record:?}"
                );
            } else {
                tracing::debug!("journal: {record:?}");
            }
        }
        self.journal.append_all(records)
    }

    fn finished(&mut self, _job: &Job, index: usize, outcome: &FileOutcome) {
        let Some(input) = self.media.get(index) else {
            return;
        };
        if std::mem::replace(&mut self.done[index], true) {
            return;
        }
        let status = match outcome {
            FileOutcome::Created { media_item_id } => {
                self.bytes_created += input.key.size;
                tracing::info!(path = %input.shown, size = input.key.size, media_item_id, "created");
                Status::Created {
                    media_item_id: media_item_id.clone(),
                    earlier: false,
                }
            }
            FileOutcome::AlreadyCreated { media_item_id } => Status::Created {
                media_item_id: media_item_id.clone(),
                earlier: true,
            },
            FileOutcome::Unconfirmed { reason } => Status::Unconfirmed(format!(
                "probably created, but unconfirmed ({reason}); it is not uploaded again, to avoid \
                 a duplicate: check Google Photos"
            )),
            FileOutcome::Failed(error) => {
                tracing::info!(path = %input.shown, %error, "failed");
                Status::Failed(error.to_string())
            }
        };
        self.report.file(&self.progress, &input.shown, status);
    }

    fn tick(&mut self, progress: &JobProgress, unconfirmed: u64) {
        self.progress.update(
            progress.bytes_confirmed + unconfirmed,
            progress.finished,
            progress.files,
        );
    }
}

/// A jitter seed that differs between runs, so that parallel clients do not retry in step.
fn seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos()
            .try_into()
            .unwrap_or(0x5EED)
    })
}
