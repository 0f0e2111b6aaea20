//! A job for scripts: files described from their paths, a journal file kept on disk, and one call
//! that runs everything and reports one outcome per file. Built on [`Client::run_job`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use gphotos_upload::job::{
    FileError, FileKey, FileOutcome, Job, JobConfig, JobFile, JobProgress, Now, Record,
};

use crate::{Client, Error, JobObserver, mime};

/// Describes the file at `path` for a job: its identity (path, size, modification time), its MIME
/// type from the extension, and its name.
///
/// # Errors
/// [`Error::UnknownMediaType`], or [`Error::Source`] when the file cannot be read, is not a regular
/// file, or its path is not UTF-8 (the journal keeps paths as text).
pub fn job_file(path: impl AsRef<Path>) -> Result<JobFile, Error> {
    let path = path.as_ref();
    let source_error = |e| Error::source_io(Some(path.to_path_buf()), e);
    let mime_type = mime::for_path(path).ok_or_else(|| Error::UnknownMediaType {
        path: path.to_path_buf(),
    })?;
    let text = path.to_str().ok_or_else(|| {
        source_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path is not valid UTF-8; rename the file",
        ))
    })?;
    let metadata = fs::metadata(path).map_err(source_error)?;
    if !metadata.is_file() {
        return Err(source_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Ok(JobFile {
        key: FileKey {
            path: text.to_owned(),
            size: metadata.len(),
            modified,
        },
        mime_type: mime_type.to_owned(),
        file_name: path.file_name().and_then(|n| n.to_str()).map(str::to_owned),
        description: None,
    })
}

/// A job's journal on disk: one JSON record per line, each appended and flushed to disk before
/// the request that follows it, so that a process killed at any moment resumes from it. Created
/// with mode 0600 on Unix (it holds upload tokens).
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    records: Vec<Record>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads the records of earlier runs. A torn last
    /// line (the process died while writing it) is ignored.
    ///
    /// # Errors
    /// [`Error::Journal`] when it cannot be opened or holds an unreadable line.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let path = path.into();
        let fail = |e: &dyn std::fmt::Display| {
            Error::Journal(io::Error::other(format!("{}: {e}", path.display())))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(fail(&e)),
        };
        let records = Record::parse_journal(&text).map_err(|e| fail(&e))?;
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(|e| fail(&e))?;
        if text.last().is_some_and(|b| *b != b'\n') {
            // After a torn line, the next record starts on a line of its own.
            file.write_all(b"\n").map_err(|e| fail(&e))?;
        }
        Ok(Self {
            path,
            file,
            records,
        })
    }

    /// The records read when it was opened, for [`Client::new_job`].
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` (and syncs it when [`Record::must_sync`] says so).
    ///
    /// # Errors
    /// The write or the flush failed.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Appends `records` in one write, and syncs them to disk (one sync for all: group commit)
    /// when one of them must be durable before the next request ([`Record::must_sync`]).
    ///
    /// # Errors
    /// The write or the flush failed.
    pub fn append_all(&mut self, records: &[Record]) -> io::Result<()> {
        let lines: Vec<u8> = records.iter().flat_map(Record::to_line).collect();
        self.file.write_all(&lines)?;
        if records.iter().any(Record::must_sync) {
            self.file.sync_data()?;
        }
        Ok(())
    }
}

impl Drop for Journal {
    // Records that needed no sync of their own reach the disk when the run ends (best effort: a
    // killed process loses nothing it wrote anyway, only a power cut could).
    fn drop(&mut self) {
        let _ = self.file.sync_data();
    }
}

/// A journal is the simplest job observer: it persists every record and ignores the rest.
impl JobObserver for Journal {
    fn journal(&mut self, record: &Record) -> io::Result<()> {
        self.append(record)
    }

    fn journal_all(&mut self, records: &[Record]) -> io::Result<()> {
        self.append_all(records)
    }
}

/// What [`Client::upload_files`] ended with.
#[derive(Debug, Clone)]
pub struct JobReport {
    /// One outcome per file, in the order given.
    pub outcomes: Vec<FileOutcome>,
    /// Why the run stopped early (the daily quota, refused credentials), if it did.
    pub stopped: Option<String>,
    /// The last counts.
    pub progress: JobProgress,
}

impl JobReport {
    /// Whether every file is a media item now (created in this run or an earlier one).
    pub fn all_created(&self) -> bool {
        self.outcomes.iter().all(|outcome| {
            matches!(
                outcome,
                FileOutcome::Created { .. } | FileOutcome::AlreadyCreated { .. }
            )
        })
    }
}

/// Collects outcomes and writes the journal, if any.
struct Collect<'a> {
    journal: Option<&'a mut Journal>,
    outcomes: Vec<Option<FileOutcome>>,
}

impl JobObserver for Collect<'_> {
    fn journal(&mut self, record: &Record) -> io::Result<()> {
        self.journal_all(std::slice::from_ref(record))
    }

    fn journal_all(&mut self, records: &[Record]) -> io::Result<()> {
        match self.journal.as_deref_mut() {
            Some(journal) => journal.append_all(records),
            None => Ok(()),
        }
    }

    fn finished(&mut self, _job: &Job, index: usize, outcome: &FileOutcome) {
        if let Some(slot) = self.outcomes.get_mut(index) {
            *slot = Some(outcome.clone());
        }
    }
}

impl Client {
    /// A job configuration with this client's upload settings (chunk size, retry policy) and the
    /// simple upload for files of up to one chunk.
    pub fn job_config(&self) -> JobConfig {
        let upload = self.upload_config().clone();
        JobConfig {
            simple_upload_max: upload.chunk_size,
            upload,
            ..JobConfig::default()
        }
    }

    /// A job over `files` against this client's endpoint, picking up where `records` (from
    /// [`Journal::records`]; empty for a first run) left off. Run it with [`Client::run_job`].
    pub fn new_job(&self, files: Vec<JobFile>, config: JobConfig, records: &[Record]) -> Job {
        let now = Now {
            instant: Instant::now(),
            unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        Job::new(self.endpoint().clone(), files, config, records, now)
    }

    /// Uploads `files` and creates their media items, `config.concurrency` uploads at once, and
    /// returns one outcome per file. With a `journal`, every step is recorded first, so that the
    /// same call after a crash (with the same journal) resumes partial uploads, reuses fresh tokens,
    /// skips created files and never creates an item twice.
    ///
    /// ```no_run
    /// # use gphotos_upload_ureq::{Client, Credentials, Endpoint, Journal, job_file};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let client = Client::new(Endpoint::google(), Credentials::bearer("t"))?;
    /// let files = ["a.jpg", "b.mp4"].iter().map(job_file).collect::<Result<Vec<_>, _>>()?;
    /// let mut journal = Journal::open("upload.journal")?;
    /// let report = client.upload_files(files, client.job_config(), Some(&mut journal))?;
    /// println!("all created: {}", report.all_created());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Client::run_job`]. A file that fails does not stop the others: its outcome says why.
    pub fn upload_files(
        &self,
        files: Vec<JobFile>,
        config: JobConfig,
        journal: Option<&mut Journal>,
    ) -> Result<JobReport, Error> {
        let workers = config.concurrency.max(1) + 1;
        let records = journal.as_deref().map_or(&[][..], Journal::records);
        let mut job = self.new_job(files, config, records);
        let mut collect = Collect {
            outcomes: vec![None; job.files().len()],
            journal,
        };
        self.run_job(&mut job, workers, &mut collect)?;
        let stopped = job.stopped().map(str::to_owned);
        let outcomes = collect
            .outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| {
                    FileOutcome::Failed(FileError::Stopped(
                        stopped
                            .clone()
                            .unwrap_or_else(|| "the run ended before this file".into()),
                    ))
                })
            })
            .collect();
        Ok(JobReport {
            outcomes,
            stopped,
            progress: job.progress(),
        })
    }
}
