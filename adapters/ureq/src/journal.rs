//! A job for scripts: files described from their paths, a journal file kept on disk, and one call
//! that runs everything and reports one outcome per file. Built on [`Client::run_job`]. The
//! journal file is the one the CLI keeps too.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use gphotos_upload::job::{
    FileError, FileKey, FileOutcome, Job, JobConfig, JobFile, JobProgress, JournalError, Record,
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

/// A job's journal on disk: the core's [`Record`]s as JSON lines, written ahead of the requests
/// they announce, so that a process killed at any moment resumes from it ([`Client::new_job`],
/// [`Client::upload_files`]) without losing track of an upload or creating an item twice.
///
/// - **Private**: created with mode 0600 on Unix (it holds upload tokens and session URLs), in a
///   directory created with mode 0700 when missing.
/// - **Locked**: while it is open, opening it again (from another process, or another `Journal`
///   in this one) gets [`JournalOpenError::InUse`] instead of interleaving records (an exclusive
///   `flock` on Unix; no lock elsewhere). The lock dies with the process, so a killed run never blocks its
///   rerun.
/// - **Torn tails**: a last line cut short (the process died while writing it, so the step it
///   announces never happened) is ignored and cut off, and so is what a failed append left behind:
///   the next record always starts on a line of its own.
/// - **Group commit**: [`Journal::append_all`] writes records in one write and syncs them to disk
///   (one `fdatasync` for all) only when one of them must be durable before the next request
///   ([`Record::must_sync`]). The others are in the file as soon as the call returns (a killed
///   process loses none of them) and reach the disk with a later sync or when the journal is
///   dropped.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Locked,
    /// Where the last complete record ends.
    len: u64,
    /// A failed append may have left part of a line after `len`.
    torn: bool,
    records: Vec<Record>,
}

#[cfg(unix)]
type Locked = nix::fcntl::Flock<File>;
#[cfg(not(unix))]
type Locked = File;

impl Journal {
    /// Opens (or creates) the journal at `path`, locks it, and reads the records of earlier runs,
    /// cutting off a torn last line.
    ///
    /// # Errors
    /// [`JournalOpenError::InUse`] when it is open elsewhere,
    /// [`JournalOpenError::Damaged`] when a line other than the last is unreadable (the file is
    /// left as it is), [`JournalOpenError::Io`] when it cannot be created, opened, locked, read or
    /// repaired.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, JournalOpenError> {
        let path = path.into();
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |error| JournalOpenError::Io {
                path,
                action,
                error,
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(io("create its directory", &path))?;
        }
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(io("open it", &path))?;
        let mut file = lock(file, &path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("read it", &path))?;
        let complete = bytes
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |at| at + 1);
        let (lines, tail) = bytes.split_at(complete);
        let mut records =
            Record::parse_journal(lines).map_err(|error| JournalOpenError::Damaged {
                path: path.clone(),
                error,
            })?;
        let mut len = bytes.len() as u64;
        if !tail.is_empty() {
            // A single line is the last one, so it never fails to parse: it is a record or torn.
            let last = Record::parse_journal(tail).unwrap_or_default();
            let repaired = if last.is_empty() {
                len = complete as u64;
                file.set_len(len)
            } else {
                // A whole record that lost only its newline: the core reads it, so it stays.
                records.extend(last);
                len += 1;
                file.write_all(b"\n")
            };
            repaired
                .and_then(|()| file.sync_data())
                .map_err(io("repair its torn last line", &path))?;
        }
        Ok(Self {
            path,
            file,
            len,
            torn: false,
            records,
        })
    }

    /// The records read when it was opened (unless [`Journal::take_records`] took them), for
    /// [`Client::new_job`].
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Takes the records read when it was opened, leaving none, so that a long journal's records
    /// need not stay in memory once the job has been built from them.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record`, and syncs it to disk when [`Record::must_sync`] says so.
    ///
    /// # Errors
    /// The write or the sync failed.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Appends `records` in one write; when one of them must be durable before the next request
    /// ([`Record::must_sync`]), waits until all are on disk: one sync for all (group commit), since
    /// a sync can take milliseconds and parallel uploads produce records together.
    ///
    /// # Errors
    /// The write or the sync failed, or what an earlier failed write left behind could not be cut
    /// off.
    pub fn append_all(&mut self, records: &[Record]) -> io::Result<()> {
        if self.torn {
            self.file.set_len(self.len)?;
            self.torn = false;
        }
        let lines: Vec<u8> = records.iter().flat_map(Record::to_line).collect();
        if let Err(error) = self.file.write_all(&lines) {
            self.torn = true;
            return Err(error);
        }
        self.len += lines.len() as u64;
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

#[cfg(unix)]
fn lock(file: File, path: &Path) -> Result<Locked, JournalOpenError> {
    use nix::errno::Errno;
    use nix::fcntl::{Flock, FlockArg};
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
        if errno == Errno::EWOULDBLOCK {
            JournalOpenError::InUse {
                path: path.to_path_buf(),
            }
        } else {
            JournalOpenError::Io {
                path: path.to_path_buf(),
                action: "lock it",
                error: io::Error::from(errno),
            }
        }
    })
}

#[cfg(not(unix))]
#[allow(clippy::unnecessary_wraps)]
fn lock(file: File, _path: &Path) -> Result<Locked, JournalOpenError> {
    Ok(file)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Why [`Journal::open`] failed. Messages name the file and say what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum JournalOpenError {
    /// The journal is open elsewhere: another run of the same job is under way (in another
    /// process, or through another [`Journal`] in this one). Running both would interleave their
    /// records and upload the same files twice.
    InUse {
        /// The journal.
        path: PathBuf,
    },
    /// A line other than the last cannot be read: the file was changed by something else. It is
    /// left as it is.
    Damaged {
        /// The journal.
        path: PathBuf,
        /// Which line, and what is wrong with it.
        error: JournalError,
    },
    /// The journal or its directory could not be created, opened, locked, read or repaired.
    Io {
        /// The journal.
        path: PathBuf,
        /// What was being done ("open it", "read it", ...).
        action: &'static str,
        /// What went wrong.
        error: io::Error,
    },
}

impl JournalOpenError {
    /// The journal the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::InUse { path } | Self::Damaged { path, .. } | Self::Io { path, .. } => path,
        }
    }
}

impl fmt::Display for JournalOpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InUse { path } => write!(
                f,
                "journal {}: already in use by another run; wait for it to finish, or give this \
                 run a journal of its own",
                path.display()
            ),
            Self::Damaged { path, error } => write!(f, "journal {}: {error}", path.display()),
            Self::Io {
                path,
                action,
                error,
            } => write!(
                f,
                "journal {}: cannot {action}: {error}; check the permissions of the file and its \
                 directory, and that the disk is not full",
                path.display()
            ),
        }
    }
}

impl std::error::Error for JournalOpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InUse { .. } => None,
            Self::Damaged { error, .. } => Some(error),
            Self::Io { error, .. } => Some(error),
        }
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
        Job::new(
            self.endpoint().clone(),
            files,
            config,
            records,
            crate::runner::now(),
        )
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
